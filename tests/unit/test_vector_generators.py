"""The reference vectors are what the installed reference computes: each generator of ``tests/vectors`` recomputes
its file's expectations from the cases' inputs with the Node.js packages of ``tests/node_modules`` and must find
the committed file unchanged (``--check``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parents[1]
GENERATORS = sorted((TESTS_DIR / "vectors").glob("gen_*.mjs"))


def test_every_vector_file_has_its_generator() -> None:
    files = sorted(path.stem for path in (TESTS_DIR / "vectors").glob("*.json"))
    assert sorted(path.stem.removeprefix("gen_") for path in GENERATORS) == files


@pytest.mark.node
@pytest.mark.parametrize("generator", GENERATORS, ids=lambda path: path.stem)
def test_committed_vectors_are_what_the_reference_computes(generator: Path) -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/setup installs the npm packages)"
    done = subprocess.run(
        [node, str(generator), "--check"],
        cwd=TESTS_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
