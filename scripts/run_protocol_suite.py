#!/usr/bin/env python3
"""Run one of our protocol conformance suites several times in a row against one server on port 3000.

This is the setting of the official protocol test suites (socketio/engine.io-protocol, socketio/socket.io-protocol):
a server at http://localhost:3000 with ping interval 300 ms and ping timeout 200 ms.

* ``eio``: the Engine.IO echo server (``tests/servers/eio_echo.py``, path /engine.io/, max payload 1 000 000 bytes)
  and the checks of ``tests/integration/test_engineio_protocol.py``, pointed at it through ``AIOSOCKETIO_EIO_URL``.
* ``sio``: the Socket.IO suite server (``tests/servers/sio_suite.py``, path /socket.io/, connect timeout 1 s,
  namespaces "/" and "/custom") and ``tests/integration/test_socketio_protocol.py`` through
  ``AIOSOCKETIO_SIO_URL`` (the checks of disconnect reasons need the server's output and are skipped in this mode;
  run the file with pytest directly for those).

    .venv/bin/python scripts/run_protocol_suite.py eio                     # the built-in runner, 5 runs
    .venv/bin/python scripts/run_protocol_suite.py sio --frontend uvicorn --runs 3
    .venv/bin/python scripts/run_protocol_suite.py eio -- -k "not TestSpecDetails"   # after --: pytest arguments

The exit status is 0 only if every run passed. The server's output is printed at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: suite -> (server script, checks, the variable that points the checks at a running server)
SUITES = {
    "eio": ("eio_echo.py", "test_engineio_protocol.py", "AIOSOCKETIO_EIO_URL"),
    "sio": ("sio_suite.py", "test_socketio_protocol.py", "AIOSOCKETIO_SIO_URL"),
}


def wait_for_port(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the server did not listen on {host}:{port} within {timeout:.0f} s")


def main() -> int:
    argv = sys.argv[1:]
    pytest_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, pytest_args = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("suite", choices=sorted(SUITES))
    parser.add_argument("--frontend", choices=("runner", "uvicorn", "hypercorn"), default="runner")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    script, checks, url_variable = SUITES[args.suite]
    server_script = ROOT / "tests" / "servers" / script
    suite = ROOT / "tests" / "integration" / checks

    factor = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
    with tempfile.TemporaryFile() as log:
        command = [sys.executable, str(server_script), "--frontend", args.frontend]
        server = subprocess.Popen(
            [*command, "--host", args.host, "--port", str(args.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        results: list[int] = []
        try:
            wait_for_port(args.host, args.port, server, 15 * factor)
            env = dict(os.environ, **{url_variable: f"http://{args.host}:{args.port}"})
            for run in range(1, args.runs + 1):
                print(
                    f"===== run {run}/{args.runs} against {args.frontend} on port {args.port} =====",
                    flush=True,
                )
                command = [
                    sys.executable,
                    "-m",
                    "pytest",
                    str(suite),
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    *pytest_args,
                ]
                results.append(subprocess.call(command, cwd=ROOT, env=env))
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=5 * factor)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.seek(0)
            print("===== server output =====")
            print(log.read().decode(errors="replace"))
    passed = sum(1 for status in results if status == 0)
    print(f"===== {passed}/{args.runs} runs passed =====")
    return 0 if results and passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
