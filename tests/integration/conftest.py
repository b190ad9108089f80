"""Fixtures for the integration tests: real server processes on loopback, driven by real clients.

- ``free_port()``: a TCP port nobody listens on right now.
- ``start_server(script, *args, frontend=...)``: a context manager that starts ``script`` (a path under
  ``tests/servers/``) in a subprocess with ``--port`` and ``--frontend``, waits until the port accepts TCP
  connections, and always stops the process at the end (SIGTERM, then SIGKILL).
- ``server_factory``: the same as a function-scoped fixture; the logs of every server it started are printed
  at teardown, so pytest shows them with a failing test.
- ``eio_server``: the Engine.IO echo server (``tests/servers/eio_echo.py``), one process per test module and
  front-end. Tests that use it run once per server: ``node`` (the reference, ``tests/servers/eio_echo.mjs``
  under Node.js), ``runner`` and ``uvicorn``, plus ``hypercorn`` for tests marked ``all_frontends``. When a
  test fails, the server output written during that test is printed.
- ``redis_url`` / ``postgres_url``: a redis-server / a PostgreSQL cluster of our own on a free port;
  ``postgres_instance``: a PostgreSQL cluster of the test's own, which it may stop and start again.
- ``sio_server``: the Socket.IO protocol-suite server (``tests/servers/sio_suite.py``), one process per test
  module and server (``node``, its reference twin ``tests/servers/sio_suite.mjs``; ``runner`` and ``uvicorn``);
  its output is printed the same way when a test fails.
- ``start_server`` runs a ``.mjs`` script under Node.js (``NodeServer``), from ``tests/`` so that
  ``node_modules`` resolves; a protocol test tells the reference apart with ``rawengine.is_reference``.

Environment:

- ``AIOSOCKETIO_TEST_TIMEOUT_FACTOR`` (default 1) multiplies every timeout, for slow machines.
- ``AIOSOCKETIO_EIO_URL`` (e.g. ``http://127.0.0.1:3000``): run the ``eio_server`` tests against an Engine.IO
  echo server that is already running there instead of starting one (see ``scripts/run_protocol_suite.py eio``).
- ``AIOSOCKETIO_SIO_URL``: the same for the ``sio_server`` tests and the Socket.IO suite server
  (``tests/servers/sio_suite.py``, see ``scripts/run_protocol_suite.py sio``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent.parent
SERVERS_DIR = TESTS_DIR / "servers"
EIO_ECHO = SERVERS_DIR / "eio_echo.py"
SIO_SUITE = SERVERS_DIR / "sio_suite.py"
#: Their reference twins under Node.js (engine.io 6.6 / socket.io 4.8), with the same settings and output.
NODE_EIO_ECHO = SERVERS_DIR / "eio_echo.mjs"
NODE_SIO_SUITE = SERVERS_DIR / "sio_suite.mjs"

TIMEOUT_FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
EXTERNAL_EIO_URL = os.environ.get("AIOSOCKETIO_EIO_URL", "").rstrip("/")
EXTERNAL_SIO_URL = os.environ.get("AIOSOCKETIO_SIO_URL", "").rstrip("/")

CORE_FRONTENDS = ("runner", "uvicorn")
ALL_FRONTENDS = ("runner", "uvicorn", "hypercorn")
#: The protocol suites run against the reference too: "node" is its server, our front-ends come after.
PROTOCOL_SERVERS = ("node", *CORE_FRONTENDS)


def scaled(seconds: float) -> float:
    """``seconds`` multiplied by ``AIOSOCKETIO_TEST_TIMEOUT_FACTOR``."""
    return seconds * TIMEOUT_FACTOR


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server script running in a subprocess, its stdout and stderr captured to files."""

    def __init__(
        self, script: Path | str, args: tuple[str, ...], frontend: str, host: str, port: int
    ) -> None:
        self.script = Path(script)
        self.args = args
        self.frontend = frontend
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self.ws_url = f"ws://{host}:{port}"
        self._dir = tempfile.TemporaryDirectory(prefix="aiosocketio-server-")
        self.stdout_path = Path(self._dir.name) / "stdout.log"
        self.stderr_path = Path(self._dir.name) / "stderr.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"{self.script.name} [{self.frontend}] on port {self.port}"

    def start(self, ready_timeout: float) -> None:
        command = [
            sys.executable,
            str(self.script),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--frontend",
            self.frontend,
            *self.args,
        ]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        self._wait_until_listening(ready_timeout)

    def _wait_until_listening(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with status {self.proc.returncode} before listening\n{self.logs()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name} did not accept connections within {timeout:.1f} s\n{self.logs()}"
                )
            time.sleep(0.05)

    def stop(self, grace: float) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)

    def close(self) -> None:
        self._dir.cleanup()

    def stdout(self) -> str:
        """Everything the server printed to stdout so far."""
        try:
            return self.stdout_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_sizes(self) -> tuple[int, int]:
        sizes = []
        for path in (self.stdout_path, self.stderr_path):
            try:
                sizes.append(path.stat().st_size)
            except FileNotFoundError:
                sizes.append(0)
        return sizes[0], sizes[1]

    def logs(self, since: tuple[int, int] = (0, 0)) -> str:
        status = "running" if self.proc is not None and self.proc.poll() is None else "stopped"
        if self.proc is not None and self.proc.returncode is not None:
            status = f"exited with status {self.proc.returncode}"
        parts = [f"===== {self.name} ({status}) ====="]
        for label, text, offset in (
            ("stdout", self.stdout(), since[0]),
            ("stderr", self.stderr(), since[1]),
        ):
            parts.append(f"----- {label} -----")
            parts.append(text[offset:] if offset else text)
        return "\n".join(parts)

    def lines(self, prefix: str) -> list[list[str]]:
        """The stdout lines starting with ``prefix``, split into words."""
        return [line.split() for line in self.stdout().splitlines() if line.startswith(prefix)]


class NodeServer(ServerProcess):
    """A reference server script (``.mjs``) under Node.js, run from ``tests/`` so that ``node_modules`` resolves.

    It is started as ``node SCRIPT PORT HOST`` and prints the same life-cycle lines as its Python twin.
    """

    def start(self, ready_timeout: float) -> None:
        node = shutil.which("node")
        assert node is not None, "Node.js is needed (scripts/setup installs the npm packages)"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [node, str(self.script), str(self.port), self.host, *self.args],
                cwd=TESTS_DIR,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=dict(os.environ),
            )
        self._wait_until_listening(ready_timeout)


@contextlib.contextmanager
def start_server(
    script: Path | str,
    *args: str,
    frontend: str = "runner",
    host: str = "127.0.0.1",
    port: int | None = None,
    ready_timeout: float = 15.0,
    stop_grace: float = 5.0,
) -> Iterator[ServerProcess]:
    """Run ``script`` on ``port`` (a free one by default) until the block exits; it is always stopped.

    A ``.mjs`` script is a reference server and runs under Node.js (``frontend`` is then only a label).
    Client mistakes must never put a traceback in the server's log: when the block ends normally, a
    ``Traceback`` in the server's stderr (for Node.js: anything at all on stderr) fails the test (or the module,
    for module-scoped servers).
    """
    kind = NodeServer if str(script).endswith(".mjs") else ServerProcess
    server = kind(script, args, frontend, host, port or free_port(host))
    try:
        server.start(scaled(ready_timeout))
        yield server
        server.stop(scaled(stop_grace))
        stderr = server.stderr()
        if "Traceback" in stderr or (kind is NodeServer and stderr.strip()):
            raise AssertionError(f"{server.name} logged a traceback:\n{server.logs()}")
    finally:
        server.stop(scaled(stop_grace))
        server.close()


class ExternalServer:
    """Stands in for a ``ServerProcess`` when the tests target a server someone else runs."""

    frontend = "external"

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws_url = "ws" + url.removeprefix("http")
        self.name = f"external server at {url}"

    def stdout(self) -> str:
        return ""

    def log_sizes(self) -> tuple[int, int]:
        return 0, 0

    def logs(self, since: tuple[int, int] = (0, 0)) -> str:
        return f"===== {self.name}: output not captured ====="

    def lines(self, prefix: str) -> list[list[str]]:
        return []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "all_frontends: also run the test against hypercorn (besides the runner and uvicorn)"
    )


_reports_key = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    item.stash.setdefault(_reports_key, {})[report.when] = report
    return report


def _failed(item: pytest.Item) -> bool:
    reports = item.stash.get(_reports_key, {})
    return any(report.failed for report in reports.values())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "eio_server" not in metafunc.fixturenames:
        return
    if EXTERNAL_EIO_URL:
        frontends: tuple[str, ...] = ("external",)
    elif metafunc.definition.get_closest_marker("all_frontends"):
        frontends = ("node", *ALL_FRONTENDS)
    else:
        frontends = PROTOCOL_SERVERS
    metafunc.parametrize("eio_server", frontends, indirect=True, scope="module")


@pytest.fixture(scope="module")
def eio_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess | ExternalServer]:
    """The Engine.IO echo server with the protocol suite's settings, on a free port."""
    frontend = request.param
    if frontend == "external":
        yield ExternalServer(EXTERNAL_EIO_URL)
        return
    with start_server(NODE_EIO_ECHO if frontend == "node" else EIO_ECHO, frontend=frontend) as server:
        yield server


@pytest.fixture(autouse=True)
def _print_server_output_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """When a test that used ``eio_server`` fails, show what the server printed during that test."""
    if "eio_server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("eio_server")
    since = server.log_sizes()
    yield
    if _failed(request.node):
        # Give the server a moment to write what the failure provoked.
        time.sleep(0.2)
        print(server.logs(since))


@pytest.fixture
def server_factory(request: pytest.FixtureRequest) -> Iterator[object]:
    """``start = server_factory; server = start(script, *args, frontend=...)``: stopped at teardown."""
    with contextlib.ExitStack() as stack:
        started: list[ServerProcess] = []

        def start(script: Path | str, *args: str, frontend: str = "runner", **kwargs: Any) -> ServerProcess:
            server = stack.enter_context(start_server(script, *args, frontend=frontend, **kwargs))
            started.append(server)
            return server

        yield start
        for server in started:
            if server.proc is not None and server.proc.poll() is None:
                server.stop(scaled(5.0))
            print(server.logs())


@pytest.fixture(scope="module", params=("external",) if EXTERNAL_SIO_URL else PROTOCOL_SERVERS)
def sio_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess | ExternalServer]:
    """The Socket.IO protocol-suite server (``tests/servers/sio_suite.py``, or its Node.js twin) on a free port."""
    frontend = request.param
    if frontend == "external":
        yield ExternalServer(EXTERNAL_SIO_URL)
        return
    with start_server(NODE_SIO_SUITE if frontend == "node" else SIO_SUITE, frontend=frontend) as server:
        yield server


@pytest.fixture(autouse=True)
def _print_sio_server_output_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """When a test that used ``sio_server`` fails, show what the server printed during that test."""
    if "sio_server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("sio_server")
    since = server.log_sizes()
    yield
    if _failed(request.node):
        time.sleep(0.2)
        print(server.logs(since))


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A redis-server of our own on a free port (Debian's ``redis-server``), always stopped at the end.

    Pub/sub channels are global to a server, so tests that share it use their own key prefix.
    """
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed: apt-get install redis-server (.ci/run installs it)"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="aiosocketio-redis-") as folder:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        proc = subprocess.Popen(
            [*args, "--dir", folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + scaled(10.0)
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(scaled(5.0))


def _postgres_binaries() -> Path:
    """The folder with ``initdb`` and ``postgres``: from PATH, else the newest ``/usr/lib/postgresql/*/bin``."""
    found = shutil.which("initdb")
    if found:
        folder = Path(found).resolve().parent
        if (folder / "postgres").exists():
            return folder
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    candidates.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    assert candidates, "PostgreSQL is needed: apt-get install postgresql (.ci/run installs it)"
    return candidates[0]


class PostgresInstance:
    """A private PostgreSQL cluster in a temporary folder, on a free loopback port, trusting local connections.

    PostgreSQL refuses to run as root: as root, the folder belongs to the ``postgres`` user (created by Debian's
    package) and the server runs as that user. :meth:`stop` and :meth:`start` keep the data and the port.
    """

    def __init__(self) -> None:
        self.bin = _postgres_binaries()
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._dir = tempfile.mkdtemp(prefix="aiosocketio-postgres-")
        self.data = Path(self._dir) / "data"
        self.log = Path(self._dir) / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._user: dict[str, Any] = {}
        if os.geteuid() == 0:
            import pwd

            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise AssertionError(
                    "PostgreSQL cannot run as root and there is no postgres user (apt-get install postgresql)"
                ) from None
            os.chown(self._dir, account.pw_uid, account.pw_gid)
            self._user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        command = [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"]
        command += ["-E", "UTF8", "--locale=C", "--no-sync"]
        done = subprocess.run(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self._dir,
            check=False,
            **self._user,
        )
        if done.returncode != 0:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise RuntimeError(f"initdb failed:\n{done.stderr.decode(errors='replace')}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        assert self.proc is None
        start_at = self.log.stat().st_size if self.log.exists() else 0
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": self._dir,
            "fsync": "off",
            "full_page_writes": "off",
            "shared_buffers": "16MB",
            "max_connections": "200",
        }
        command = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=self._dir, **self._user
            )
        deadline = time.monotonic() + scaled(30.0)
        while True:
            with self.log.open("rb") as log:
                log.seek(start_at)
                if b"database system is ready to accept connections" in log.read():
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Fast shutdown (SIGINT: clients are disconnected at once), then SIGKILL if it lingers."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(scaled(10.0))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresInstance]:
    instance = PostgresInstance()
    try:
        instance.start()
        yield instance
    finally:
        instance.remove()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server of our own for the whole session, always stopped at the end.

    LISTEN/NOTIFY channels are global to a database, so tests that share it use their own channel prefix (and
    attachment table).
    """
    with running_postgres() as instance:
        yield instance.url


@pytest.fixture
def postgres_instance() -> Iterator[PostgresInstance]:
    """A PostgreSQL server for this test only (it may stop and start it: ``stop()``, ``start()``)."""
    with running_postgres() as instance:
        yield instance
