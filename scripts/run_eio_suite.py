#!/usr/bin/env python3
"""Run our Engine.IO protocol suite several times in a row against one echo server on port 3000.

This is the setting of the official Engine.IO protocol test suite: an echo server at http://localhost:3000,
path /engine.io/, ping interval 300 ms, ping timeout 200 ms, max payload 1 000 000 bytes. The server is
``tests/servers/eio_echo.py``; the checks are ``tests/integration/test_engineio_protocol.py``, pointed at the
running server through ``AIOSOCKETIO_EIO_URL``.

    .venv/bin/python scripts/run_eio_suite.py                      # the built-in runner, 5 runs
    .venv/bin/python scripts/run_eio_suite.py --frontend uvicorn --runs 3
    .venv/bin/python scripts/run_eio_suite.py -- -k "not TestSpecDetails"   # after --: pytest arguments

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
SERVER = ROOT / "tests" / "servers" / "eio_echo.py"
SUITE = ROOT / "tests" / "integration" / "test_engineio_protocol.py"


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
    parser.add_argument("--frontend", choices=("runner", "uvicorn", "hypercorn"), default="runner")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    factor = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
    with tempfile.TemporaryFile() as log:
        command = [sys.executable, str(SERVER), "--frontend", args.frontend]
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
            env = dict(os.environ, AIOSOCKETIO_EIO_URL=f"http://{args.host}:{args.port}")
            for run in range(1, args.runs + 1):
                print(
                    f"===== run {run}/{args.runs} against {args.frontend} on port {args.port} =====",
                    flush=True,
                )
                command = [
                    sys.executable,
                    "-m",
                    "pytest",
                    str(SUITE),
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
