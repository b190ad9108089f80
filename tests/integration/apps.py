"""Run documented examples as their readers would: a module-level ``app.py`` in a fresh process, started each way
the documentation names.

The samples themselves are found and sorted by :mod:`docsamples`; this module runs them.

- :func:`run_program` runs a program to its end (a client, an emitter) and returns what it printed.
- :func:`compose` makes a program from an example and one of its *alternatives*: a later block of the section
  that shows another way to write part of it (an ``io = ...`` line, the ``if __name__ == "__main__":`` block).
- :func:`start_app` writes ``app.py`` into a folder of its own (with ``node_modules`` linked there, as in a
  reader's project) and starts it with one of :data:`WAYS` (``python app.py``, ``uvicorn app:app``, ``hypercorn
  app:app``, ``gunicorn -k uvicorn.workers.UvicornWorker app:app``) or a documented command line, waits until
  the port answers, and always stops it (SIGTERM, then SIGKILL); a traceback in its output fails the test.

The examples are written for readers, so nothing in them is test-specific: :func:`docsamples.localise` changes
their addresses (ports, Redis, PostgreSQL), and nothing else.
"""

from __future__ import annotations

import ast
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from conftest import scaled

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / "tests" / "node_modules"

WAYS = ("python", "uvicorn", "hypercorn", "gunicorn")
"""How an ``app.py`` is started: ``python app.py`` (the program listens where it says), or an ASGI server serving
its module-level ``app`` on the port the test gives."""


def _statements(source: str) -> list[tuple[tuple[str, ...] | None, str]]:
    """The top-level statements of ``source`` as ``(key, text)``; the key says what a statement defines
    (``("import",)``, ``("=", name)``, ``("def", name)``, ``("main",)``), None for anything else."""
    lines = source.splitlines(keepends=True)
    found = []
    for node in ast.parse(source).body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
        text = "".join(lines[first - 1 : node.end_lineno])
        key: tuple[str, ...] | None = None
        if isinstance(node, ast.Import | ast.ImportFrom):
            key = ("import",)
        elif (
            isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ):
            key = ("=", node.targets[0].id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            key = ("def", node.name)
        elif (
            isinstance(node, ast.If) and ast.unparse(node.test).replace("'", '"') == '__name__ == "__main__"'
        ):
            key = ("main",)
        found.append((key, text))
    return found


def compose(program: str, alternative: str) -> str:
    """``program`` with ``alternative`` in place of what it redefines: its imports join the program's, a
    statement that defines the same name (or an ``if __name__ == "__main__":`` block) replaces the program's,
    and anything new goes before the program's ``if __name__ == "__main__":`` block."""
    result = _statements(program)
    for key, text in _statements(alternative):
        keys = [k for k, _ in result]
        if key == ("import",):
            last_import = max((i for i, k in enumerate(keys) if k == ("import",)), default=-1)
            result.insert(last_import + 1, (key, text))
        elif key is not None and key in keys:
            result[keys.index(key)] = (key, text)
        else:
            at = keys.index(("main",)) if ("main",) in keys else len(result)
            result.insert(at, (key, text))
    return "\n".join(text for _, text in result)


class AppProcess:
    """A started ``app.py``: its port, its URL and its output."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, folder: Path, way: str) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.folder = folder
        self.way = way

    def output(self) -> str:
        parts = []
        for name in ("stdout", "stderr"):
            with contextlib.suppress(FileNotFoundError):
                parts.append(f"----- {name} -----\n" + (self.folder / name).read_text(errors="replace"))
        return f"===== app.py ({self.way}) on port {self.port} =====\n" + "\n".join(parts)

    def stderr(self) -> str:
        try:
            return (self.folder / "stderr").read_text(errors="replace")
        except FileNotFoundError:
            return ""


def command(way: str, port: int) -> list[str]:
    """The command line that starts ``app.py`` (in the current folder) ``way``."""
    python = sys.executable
    if way == "python":
        return [python, "app.py"]
    if way == "uvicorn":
        return [python, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)]
    if way == "hypercorn":
        return [python, "-m", "hypercorn", "app:app", "--bind", f"127.0.0.1:{port}"]
    if way == "gunicorn":
        worker = "uvicorn.workers.UvicornWorker"
        return [python, "-m", "gunicorn", "-k", worker, "-w", "1", "-b", f"127.0.0.1:{port}", "app:app"]
    raise ValueError(f"unknown way {way!r}: one of {WAYS}")


def _app_folder(folder: Path, source: str) -> dict[str, str]:
    """Write ``app.py`` into ``folder``, link the npm packages there as a reader's project would have them
    (``serve_client=True`` finds ``node_modules/socket.io-client`` from the working directory), and return the
    environment to run it with."""
    (folder / "app.py").write_text(source, encoding="utf-8")
    if NODE_MODULES.is_dir():
        (folder / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    # The package under test comes from PYTHONPATH (the checkout's src/), as for every test server; the
    # interpreter's own bin/ comes first on PATH, so that a command (``aiosocketio``, ``uvicorn``) is its own.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(folder)]),
        PATH=path,
    )


@contextlib.contextmanager
def start_app(
    source: str,
    way: str,
    port: int,
    *,
    ready_timeout: float = 20.0,
    stop_grace: float = 5.0,
    shell: str | None = None,
) -> Iterator[AppProcess]:
    """Write ``source`` as ``app.py`` in a new folder and start it ``way`` (see :data:`WAYS`); ``port`` is where
    it listens (the program's own choice with ``python``: pass the port it was given). Stopped at the end.

    ``shell``: a command line to start it with instead (as a reader would type it; run by ``bash`` with
    ``exec``, so that the signals reach the server itself); ``way`` then only names it in messages."""
    with tempfile.TemporaryDirectory(prefix="aiosocketio-app-") as name:
        folder = Path(name)
        env = _app_folder(folder, source)
        argv = ["bash", "-c", f"exec {shell}"] if shell is not None else command(way, port)
        with (folder / "stdout").open("wb") as out, (folder / "stderr").open("wb") as err:
            proc = subprocess.Popen(
                argv, cwd=folder, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env
            )
        app = AppProcess(proc, port, folder, way)
        try:
            _wait_until_listening(app, scaled(ready_timeout))
            yield app
            _stop(proc, scaled(stop_grace))
            assert "Traceback" not in app.stderr(), f"app.py logged a traceback:\n{app.output()}"
        except BaseException:
            _stop(proc, scaled(stop_grace))
            print(app.output())
            raise


def _wait_until_listening(app: AppProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if app.proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {app.proc.returncode} before listening\n{app.output()}")
        try:
            with socket.create_connection(("127.0.0.1", app.port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"app.py did not listen on {app.port} within {timeout:.0f} s\n{app.output()}")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)


def run_program(source: str, *, timeout: float = 20.0) -> str:
    """Write ``source`` as ``app.py`` in a new folder, run ``python app.py`` to its end and return its stdout; it
    must exit with status 0, within ``timeout``, without a traceback."""
    with tempfile.TemporaryDirectory(prefix="aiosocketio-app-") as name:
        env = _app_folder(Path(name), source)
        done = subprocess.run(
            [sys.executable, "app.py"],
            cwd=name,
            env=env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=scaled(timeout),
            check=False,
        )
    output = f"----- stdout -----\n{done.stdout.decode()}\n----- stderr -----\n{done.stderr.decode()}"
    assert done.returncode == 0, f"app.py failed:\n{output}"
    assert b"Traceback" not in done.stderr, f"app.py logged a traceback:\n{output}"
    return done.stdout.decode()
