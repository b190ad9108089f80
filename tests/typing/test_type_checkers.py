"""The typed event maps (docs/guide/typing.md) under both type checkers a user may run: mypy and pyright.

``ok_*.py`` must type-check with no error at all (their ``assert_type`` calls check the inferred types); in
``bad_*.py`` every line marked ``# E`` must be reported, and no other line. A mark that names checkers
(``# E: mypy``) expects the error from those only. Both run in their strict modes, as a careful user would
run them; pyright's ``reportUnusedFunction`` is off because a handler registered by a decorator inside the
connection handler is used, through the decorator, though pyright cannot see it.

pyright is the npm package locked in ``tests/package-lock.json`` (installed by ``scripts/setup``); the variable
``AIOSOCKETIO_PYRIGHT`` may name another command (``npx --yes pyright``). A missing pyright fails the test:
the claims of the guide hold for both checkers or the test says which one it could not run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parent.parent
SAMPLES_OK = sorted(HERE.glob("ok_*.py"))
SAMPLES_BAD = sorted(HERE.glob("bad_*.py"))
_MARK = re.compile(r"#\s*E(?::\s*(?P<checkers>[a-z, ]+?))?(?:\s{2,}|\s*$)")


def expected_errors(path: Path, checker: str) -> set[int]:
    """The 1-based lines of ``path`` where ``checker`` must report an error."""
    lines = set()
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = _MARK.search(line)
        if match is None:
            continue
        checkers = match.group("checkers")
        if checkers is None or checker in {name.strip() for name in checkers.split(",")}:
            lines.add(number)
    return lines


def run_mypy(paths: list[Path], tmp_path: Path) -> dict[str, set[int]]:
    env = dict(os.environ, MYPYPATH=os.pathsep.join([str(REPO / "src"), str(HERE)]))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "mypy")]
        + [str(path) for path in paths],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
    )
    errors: dict[str, set[int]] = {}
    for line in result.stdout.splitlines():
        match = re.match(r"(?P<file>[^:]+\.py):(?P<line>\d+): error:", line)
        if match:
            errors.setdefault(Path(match["file"]).name, set()).add(int(match["line"]))
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return errors


def pyright_command() -> list[str]:
    override = os.environ.get("AIOSOCKETIO_PYRIGHT")
    if override:
        return shlex.split(override)
    locked = Path(__file__).resolve().parents[1] / "node_modules" / ".bin" / "pyright"
    if locked.exists():
        return [str(locked)]
    pytest.fail(
        f"pyright is not installed at {locked}: it is locked in tests/package-lock.json (scripts/setup runs "
        "npm ci); or set AIOSOCKETIO_PYRIGHT to a command that runs it, such as 'npx --yes pyright'"
    )


def run_pyright(paths: list[Path], tmp_path: Path) -> dict[str, set[int]]:
    config = {
        "extraPaths": [str(REPO / "src"), str(HERE)],
        "pythonVersion": "3.11",
        "pythonPlatform": "Linux",
        "typeCheckingMode": "strict",
        "reportUnusedFunction": False,
    }
    config_file = tmp_path / "pyrightconfig.json"
    config_file.write_text(json.dumps(config))
    command = [
        *pyright_command(),
        "--outputjson",
        "--pythonpath",
        sys.executable,
        "-p",
        str(config_file),
        *map(str, paths),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"pyright did not run: {result.stdout}{result.stderr}")
    errors: dict[str, set[int]] = {}
    for diagnostic in report["generalDiagnostics"]:
        if diagnostic["severity"] == "error":
            name = Path(diagnostic["file"]).name
            errors.setdefault(name, set()).add(diagnostic["range"]["start"]["line"] + 1)
    return errors


CHECKERS = {"mypy": run_mypy, "pyright": run_pyright}


@pytest.mark.parametrize("checker", sorted(CHECKERS))
def test_samples_type_check_as_marked(checker: str, tmp_path: Path) -> None:
    assert SAMPLES_OK
    assert SAMPLES_BAD
    reported = CHECKERS[checker]([*SAMPLES_OK, *SAMPLES_BAD], tmp_path)
    problems = []
    for path in [*SAMPLES_OK, *SAMPLES_BAD]:
        expected = expected_errors(path, checker)
        got = reported.get(path.name, set())
        if missing := sorted(expected - got):
            problems.append(f"{path.name}: {checker} reports no error on the marked line(s) {missing}")
        if unexpected := sorted(got - expected):
            problems.append(f"{path.name}: {checker} reports an error on the unmarked line(s) {unexpected}")
    assert not problems, "\n".join(problems)


def test_every_bad_sample_marks_errors() -> None:
    for path in SAMPLES_BAD:
        assert expected_errors(path, "mypy"), path.name
        assert expected_errors(path, "pyright"), path.name
