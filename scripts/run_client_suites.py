#!/usr/bin/env python3
"""Run the official JavaScript clients' own Node.js test suites against our server.

socket.io-client and engine.io-client test themselves with mocha against a small Node.js server (their
``test/support``). ``tests/servers/client_suite_sio.py`` and ``tests/servers/client_suite_eio.py`` are our ports of
those servers; this script starts one on the port its suite expects, runs the suite's node tests against it and
reports how many passed.

    .venv/bin/python scripts/run_client_suites.py CHECKOUT                       # both suites, both front-ends
    .venv/bin/python scripts/run_client_suites.py CHECKOUT --suite sio --frontend uvicorn --runs 3
    .venv/bin/python scripts/run_client_suites.py CHECKOUT --suite sio --grep "connect' handler" --runs 20

``CHECKOUT`` is a work tree of the socket.io monorepo (github socketio/socket.io) that has at least
``packages/socket.io-client`` and ``packages/engine.io-client``; getting it is up to the caller.

What is run, per suite:

* ``sio``: ``packages/socket.io-client/test/index.ts`` (mocha with tsx), server on port 3210.
* ``eio``: ``packages/engine.io-client/test/index.js`` (mocha), server at ``/engine.io/`` on port 3000. The
  WebTransport tests (``test/webtransport.mjs``) are left out: they start an HTTP/3 server of their own.

The sio suite's two "reconnect timeout" tests run in a mocha process of their own, after the others: they install
fake timers for the whole process, and when connections that earlier tests left closing are still doing I/O,
the fake clock runs their timers early and the tests fail (and, as they never uninstall the fake timers then,
every test after them times out). That happens whatever the server, the Node.js reference too, as soon as it
runs in a process of its own (the suite's hooks run it inside mocha's process, which changes the timing).

Both leave out the suite's own ``--require test/support/hooks.*`` (it would start the Node.js server) and run
without ``--bail``, so that every failure is listed. The client under test is the published npm build of the
version in the checkout's ``package.json`` (the suite loads it as ``../build``), so nothing is compiled; the test
files are copied from the checkout as they are. Those builds and the tools the tests need (mocha, expect.js, tsx,
@sinonjs/fake-timers, has-cors, text-blob-builder, base64-arraybuffer) are installed with npm, once, into a cache
outside the repository: ``--cache`` (default ``$AIOSOCKETIO_SUITE_CACHE`` or ``~/.cache/aiosocketio/client-suites``).
Our server runs this work tree's ``src``; a port still taken by another program is waited for (two minutes).

Each run prints mocha's report; the last line sums up the runs (``N passed, N failed`` counts runs). The exit
status is 0 only if every run of every suite passed. With ``-v`` the server's output follows each suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ROOT / "tests" / "servers"


@dataclass(frozen=True)
class Suite:
    package: str  # the monorepo package, and the npm package whose build is tested
    server: str  # our port of its support server, under tests/servers/
    port: int
    mocha_args: tuple[str, ...]
    tools: tuple[str, ...]  # npm packages the tests need besides the client itself
    node_options: str = ""  # for mocha and the processes its tests start (fixtures run with plain node)
    #: Tests run in a mocha process of their own (see the module docstring), by title pattern.
    isolated: tuple[str, ...] = ()


SUITES = {
    "sio": Suite(
        package="socket.io-client",
        server="client_suite_sio.py",
        port=3210,
        mocha_args=("--import=tsx", "--exit", "test/index.ts"),
        tools=(
            "mocha@^10.6.0",
            "expect.js@^0.3.1",
            "tsx@~4.20.6",
            "@sinonjs/fake-timers@^11.2.2",
            "has-cors@^1.1.0",
            "text-blob-builder@^0.0.1",
            "base64-arraybuffer@^1.0.2",
        ),
        node_options="--import=tsx",
        isolated=("reconnect timeout",),
    ),
    "eio": Suite(
        package="engine.io-client",
        server="client_suite_eio.py",
        port=3000,
        mocha_args=("--exit", "test/index.js"),
        tools=("mocha@^10.6.0", "expect.js@^0.3.1", "@sinonjs/fake-timers@^11.2.2"),
    ),
}


def default_cache() -> Path:
    configured = os.environ.get("AIOSOCKETIO_SUITE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "aiosocketio" / "client-suites"


def prepare(suite: Suite, checkout: Path, cache: Path) -> Path:
    """Lay out ``<cache>/<package>-<version>/``: the npm installs in its ``node_modules``, and in ``pkg/`` the
    package's ``package.json`` and tests from the checkout beside the published build. Returns ``pkg/``."""
    source = checkout / "packages" / suite.package
    manifest = source / "package.json"
    if not manifest.is_file():
        raise SystemExit(f"{manifest} not found: CHECKOUT must be a work tree of the socket.io monorepo")
    version = json.loads(manifest.read_text())["version"]
    work = cache / f"{suite.package}-{version}"
    work.mkdir(parents=True, exist_ok=True)
    wanted = [f"{suite.package}@{version}", *suite.tools]
    complete = _installed_version(work, suite.package) == version and all(
        (work / "node_modules" / _name(spec) / "package.json").is_file() for spec in suite.tools
    )
    if not complete:
        # A package.json of its own, so that npm installs here and not into a parent folder's project; every
        # package is named each time, so that npm keeps them all.
        (work / "package.json").write_text(json.dumps({"name": "aiosocketio-client-suite", "private": True}))
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm is needed to install the suite's tools")
        print(f"===== installing {' '.join(wanted)} into {work} =====", flush=True)
        subprocess.run([npm, "install", "--no-audit", "--no-fund", *wanted], cwd=work, check=True)
    pkg = work / "pkg"
    if pkg.exists():
        shutil.rmtree(pkg)
    pkg.mkdir()
    shutil.copy2(manifest, pkg / "package.json")
    shutil.copytree(source / "test", pkg / "test")
    shutil.copytree(work / "node_modules" / suite.package / "build", pkg / "build")
    return pkg


def _name(spec: str) -> str:
    """The package name of an npm install spec (``@scope/name@range`` or ``name@range``)."""
    return spec[: spec.index("@", 1)] if "@" in spec[1:] else spec


def _installed_version(work: Path, package: str) -> str | None:
    manifest = work / "node_modules" / package / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.is_file() else None


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the server did not listen on port {port} within {timeout:.0f} s")


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def run_suite(
    name: str, frontend: str, pkg: Path, runs: int, grep: str | None, verbose: bool, timeout: float
) -> list[bool]:
    """Start our server for ``name`` on ``frontend`` and run mocha ``runs`` times; True for each run that passed."""
    suite = SUITES[name]
    deadline = time.monotonic() + 120
    while not port_is_free(suite.port):  # another program may be using it for a while (a protocol suite run)
        if time.monotonic() > deadline:
            raise SystemExit(f"port {suite.port} is taken: the {name} suite needs it")
        time.sleep(1)
    mocha = [str(pkg.parent / "node_modules" / ".bin" / "mocha"), *suite.mocha_args]
    if grep:
        commands = [[*mocha, "--grep", grep]]
    elif suite.isolated:
        pattern = "|".join(suite.isolated)
        commands = [[*mocha, "--grep", pattern, "--invert"]]
        commands += [[*mocha, "--grep", title] for title in suite.isolated]
    else:
        commands = [mocha]
    env = dict(os.environ)
    if suite.node_options:
        env["NODE_OPTIONS"] = (env.get("NODE_OPTIONS", "") + " " + suite.node_options).strip()
    results: list[bool] = []
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [
                sys.executable,
                str(SERVERS / suite.server),
                "--port",
                str(suite.port),
                "--host",
                "0.0.0.0",
                "--frontend",
                frontend,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(_python_path())),
        )
        try:
            wait_for_port(suite.port, server, 20)
            for run in range(1, runs + 1):
                print(f"===== {name} suite on {frontend}, run {run}/{runs} =====", flush=True)
                status = 0
                for command in commands:  # all of them, even after a failure
                    try:
                        code = subprocess.run(command, cwd=pkg, env=env, timeout=timeout).returncode
                    except subprocess.TimeoutExpired:
                        print(f"===== the run did not finish within {timeout:.0f} s =====", flush=True)
                        code = -1
                    status = status or code
                results.append(status == 0)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.seek(0)
            output = log.read().decode(errors="replace")
            if verbose or re.search(r"Traceback|ERROR", output):
                print(f"===== server output ({name}, {frontend}) =====\n{output}", flush=True)
    return results


def _python_path() -> list[str]:
    """Our sources first, so that the server runs the code of this work tree."""
    paths = [str(ROOT / "src")]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkout", type=Path, help="a work tree of the socket.io monorepo")
    parser.add_argument("--suite", choices=("sio", "eio", "all"), default="all")
    parser.add_argument(
        "--frontend",
        choices=("runner", "uvicorn", "hypercorn", "all"),
        default="all",
        help="all: the built-in runner and uvicorn",
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--grep", help="only the tests whose title matches (mocha --grep)")
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("--timeout", type=float, default=600, help="seconds for one run of a suite")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the server's output")
    args = parser.parse_args()
    suites = ["sio", "eio"] if args.suite == "all" else [args.suite]
    frontends = ["runner", "uvicorn"] if args.frontend == "all" else [args.frontend]
    summary: list[tuple[str, str, list[bool]]] = []
    for name in suites:
        pkg = prepare(SUITES[name], args.checkout.resolve(), args.cache)
        for frontend in frontends:
            results = run_suite(name, frontend, pkg, args.runs, args.grep, args.verbose, args.timeout)
            summary.append((name, frontend, results))
    print("===== summary =====")
    for name, frontend, results in summary:
        print(f"{name} on {frontend}: {sum(results)}/{len(results)} runs passed")
    passed = sum(sum(results) for _, _, results in summary)
    failed = sum(len(results) for _, _, results in summary) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
