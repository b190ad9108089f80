"""The locks agree with pyproject.toml, so a fresh clone installs exactly what was tested (scripts/setup, scripts/lock).

``uv lock --check`` compares the requirements recorded in uv.lock with pyproject.toml's; it runs offline here (what it
needs is in uv's cache once scripts/setup has run). The bootstrap file scripts/uv-requirements.txt, which pip reads
before uv exists, must name the uv release the lock pins, with the same hashes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"  # every environment has uv: it is part of the locked dev group


def uv_lock_check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(UV), "lock", "--check", "--offline", "--python", sys.executable],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "UV_PYTHON_DOWNLOADS": "never", "HOME": str(Path.home())},
    )


def copy_project(tmp_path: Path) -> Path:
    """The files uv reads to lock the project: pyproject.toml, uv.lock, and what hatchling's metadata needs."""
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "src" / "aiosocketio").mkdir(parents=True)
    shutil.copy(ROOT / "src/aiosocketio/version.py", tmp_path / "src/aiosocketio/version.py")
    return tmp_path


def test_lock_matches_pyproject() -> None:
    result = uv_lock_check(ROOT)
    assert result.returncode == 0, (
        f"uv.lock is out of date with pyproject.toml; run scripts/lock\n{result.stderr}"
    )


def test_lock_check_notices_a_changed_requirement(tmp_path: Path) -> None:
    """The check above can fail: a bound raised in pyproject.toml without scripts/lock is caught."""
    project = copy_project(tmp_path)
    assert uv_lock_check(project).returncode == 0
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert '"orjson>=3.9"' in text
    pyproject.write_text(text.replace('"orjson>=3.9"', '"orjson>=3.10"'))
    result = uv_lock_check(project)
    assert result.returncode != 0
    assert "lockfile" in result.stderr.lower()


def locked_package(name: str) -> dict[str, object]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (package,) = [p for p in lock["package"] if p["name"] == name]
    return dict(package)


def test_uv_bootstrap_is_the_locked_uv() -> None:
    text = (ROOT / "scripts/uv-requirements.txt").read_text()
    match = re.search(r"^uv==(\S+)", text, re.MULTILINE)
    assert match, "scripts/uv-requirements.txt names no uv version; run scripts/lock"
    uv = locked_package("uv")
    assert match.group(1) == uv["version"]
    files = [*uv["wheels"], uv["sdist"]]  # type: ignore[misc]
    locked_hashes = {f["hash"].removeprefix("sha256:") for f in files}
    assert set(re.findall(r"--hash=sha256:([0-9a-f]{64})", text)) == locked_hashes


@pytest.mark.parametrize("name", ["orjson", "httptools", "uvloop", "redis", "mypy", "ruff", "pytest"])
def test_environment_has_the_locked_versions(name: str) -> None:
    """The interpreter running the suite was set up from the lock (scripts/setup), not from whatever is newest."""
    from importlib.metadata import version

    assert version(name) == locked_package(name)["version"]
