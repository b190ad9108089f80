"""The ``aiosocketio run`` command, as a user runs it: a fresh process on an app module in a directory of its own.

Both ways of starting it are covered: ``python -m aiosocketio`` and the console script's entry point
(``aiosocketio.cli:main``, called as the installed ``aiosocketio`` script calls it, without the current
directory on ``sys.path``). Real clients (python-socketio's ``AsyncClient`` and the official socket.io-client)
connect and get an acknowledgement; SIGINT and SIGTERM stop the server within a second with status 0, and the
clients see the server's disconnect. Each mistake a user can make ends the command with one line on stderr, no
traceback, and status 1 (2 for a command line that does not parse); ``io.run()`` and ``aiosocketio.run()`` in a
script end the same way when the address cannot be had.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from conftest import free_port, scaled
from jsclient import JS_DIR, TESTS_DIR

APP_MODULE = """
import aiosocketio

io = aiosocketio.Server()
app = io.asgi_app()


def make():
    return io


@io.on("connection")
async def on_connection(socket):
    @socket.on("chat")
    async def on_chat(message):
        return ["received", message]
"""

#: What the installed ``aiosocketio`` script does: call ``main()`` with the command's arguments, from a
#: ``sys.path`` that does not hold the current directory (the script's own directory comes first there).
CONSOLE_SCRIPT = """
import os, sys
sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
from aiosocketio.cli import main
sys.argv = ["aiosocketio", *sys.argv[1:]]
sys.exit(main())
"""

ENTRIES = {
    "python-m": [sys.executable, "-m", "aiosocketio"],
    "console-script": [sys.executable, "-c", CONSOLE_SCRIPT],
}


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(APP_MODULE, encoding="utf-8")
    (tmp_path / "broken.py").write_text("import no_such_module_here\n", encoding="utf-8")
    (tmp_path / "typo.py").write_text("def f(:\n", encoding="utf-8")
    return tmp_path


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONUNBUFFERED="1")


def run_command(entry: str, cwd: Path, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ENTRIES[entry], *args],
        cwd=cwd,
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=scaled(timeout),
    )


class Served:
    """The command running in a subprocess; its stderr (the log) goes to a file."""

    def __init__(self, entry: str, cwd: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = cwd / f"server-{self.port}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [*ENTRIES[entry], "run", *args, "--port", str(self.port)],
                cwd=cwd,
                env=_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_listening(self) -> None:
        deadline = time.monotonic() + scaled(15)
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the server exited with {self.proc.returncode}:\n{self.log()}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                await asyncio.sleep(0.05)
        raise AssertionError(f"the server did not listen:\n{self.log()}")

    async def stop(self, sig: signal.Signals) -> float:
        """Send ``sig``; the seconds until the process ended."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        deadline = started + scaled(10)
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"the server did not stop:\n{self.log()}"
            await asyncio.sleep(0.01)
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@asynccontextmanager
async def served(entry: str, cwd: Path, *args: str) -> AsyncIterator[Served]:
    server = Served(entry, cwd, *args)
    try:
        await server.wait_listening()
        yield server
    finally:
        server.kill()
        print(f"server log:\n{server.log()}")


class JsClient:
    """``js/cli_client.mjs`` in a subprocess, its report lines read as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.reports: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, url: str, transport: str, path: str, message: str) -> JsClient:
        node = shutil.which("node")
        assert node is not None, "Node.js is needed (scripts/setup installs the npm clients)"
        proc = await asyncio.create_subprocess_exec(
            node,
            str(JS_DIR / "cli_client.mjs"),
            url,
            transport,
            path,
            message,
            cwd=TESTS_DIR,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def until(self, event: str) -> dict[str, Any]:
        """Read reports up to the first ``event`` (fails on an error, a timeout or the end of the output)."""
        assert self.proc.stdout is not None
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), scaled(15))
            if not line:
                assert self.proc.stderr is not None
                stderr = (await self.proc.stderr.read()).decode()
                raise AssertionError(f"the client ended before {event!r}: {self.reports}\n{stderr}")
            report = json.loads(line)
            self.reports.append(report)
            assert report["event"] not in ("error", "timeout"), self.reports
            if report["event"] == event:
                return report

    async def finish(self) -> None:
        await self.until("done")
        assert await asyncio.wait_for(self.proc.wait(), scaled(5)) == 0

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


async def python_client(url: str, path: str = "socket.io") -> tuple[socketio.AsyncClient, list[str]]:
    """A connected ``AsyncClient`` (WebSocket only) and the list its disconnect reasons go to."""
    client = socketio.AsyncClient(reconnection=False)
    reasons: list[str] = []

    async def on_disconnect(reason: str = "") -> None:
        reasons.append(reason)

    client.on("disconnect", on_disconnect)
    await client.connect(url, transports=["websocket"], socketio_path=path, wait_timeout=scaled(5))
    return client, reasons


async def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + scaled(5)
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("entry", list(ENTRIES))
async def test_serves_clients_and_stops_gracefully_on_a_signal(
    app_dir: Path, entry: str, sig: signal.Signals
) -> None:
    async with served(entry, app_dir, "app:io") as server:
        js = await JsClient.start(server.url, "polling", "/socket.io/", "from js")
        try:
            client, reasons = await python_client(server.url)
            assert await client.call("chat", "from python", timeout=scaled(5)) == ["received", "from python"]
            await js.until("ready")
            assert js.reports[1] == {"event": "ack", "args": [["received", "from js"]]}
            # The polling client sends its next GET right after the ack came: let it arrive, as it has for an
            # idle client (one stopped between two polls sees its next request fail: "transport error").
            await asyncio.sleep(0.2)

            took = await server.stop(sig)
            assert server.proc.returncode == 0, server.log()
            assert took < scaled(1.0), f"stopping took {took:.2f} s"
            await js.finish()
            # As with the reference's io.close(): the sockets are closed with the engine's connections, no
            # DISCONNECT packet, so the clients see their transport close at once (not after a ping timeout).
            # The polling client gets a CLOSE packet; the WebSocket is closed without one, which
            # python-engineio reports as "transport error".
            assert {"event": "disconnect", "reason": "transport close"} in js.reports
            await wait_for(lambda: reasons, "the Python client saw no disconnect")
            assert reasons == ["transport error"]
            await client.disconnect()
        finally:
            js.kill()
        log = server.log()
        assert f"serving on http://127.0.0.1:{server.port} (uvloop)" in log
        assert "shutting down" in log
        assert "Traceback" not in log


@pytest.mark.parametrize(
    "args",
    [["app:app"], ["app:make", "--factory"]],
    ids=["asgi-app", "factory"],
)
async def test_serves_the_asgi_app_and_a_factory(app_dir: Path, args: list[str]) -> None:
    async with served("python-m", app_dir, *args) as server:
        client, reasons = await python_client(server.url)
        assert await client.call("chat", "hi", timeout=scaled(5)) == ["received", "hi"]
        assert await server.stop(signal.SIGTERM) < scaled(1.0)
        assert server.proc.returncode == 0
        await wait_for(lambda: reasons, "the Python client saw no disconnect")
        await client.disconnect()
        assert "Traceback" not in server.log()


async def test_root_path_serves_socketio_under_the_prefix(app_dir: Path) -> None:
    async with served("console-script", app_dir, "app:io", "--root-path", "/chat/") as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            outside = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
            assert outside.status_code == 404
            inside = await http.get("/chat/socket.io/", params={"EIO": "4", "transport": "polling"})
            assert inside.status_code == 200
            assert inside.text.startswith('0{"sid":')
        js = await JsClient.start(server.url, "upgrade", "/chat/socket.io/", "under a prefix")
        try:
            client, _ = await python_client(server.url, "/chat/socket.io")
            assert await client.call("chat", "prefixed", timeout=scaled(5)) == ["received", "prefixed"]
            await js.until("ready")
            assert {"event": "ack", "args": [["received", "under a prefix"]]} in js.reports
            assert await server.stop(signal.SIGINT) < scaled(1.0)
            assert server.proc.returncode == 0
            await js.finish()
            await client.disconnect()
        finally:
            js.kill()
        assert f"serving on http://127.0.0.1:{server.port}/chat (uvloop)" in server.log()


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["broken:io"],
            "aiosocketio: error: cannot import 'broken': ModuleNotFoundError: No module named 'no_such_module_here'",
        ),
        (
            ["typo:io"],
            "aiosocketio: error: cannot import 'typo': SyntaxError: invalid syntax (typo.py, line 1)",
        ),
        (
            ["nowhere:io"],
            "aiosocketio: error: cannot import 'nowhere': ModuleNotFoundError: No module named 'nowhere'",
        ),
        (["app:missing"], "aiosocketio: error: module 'app' has no attribute 'missing'"),
        (["app:io.nothing"], "aiosocketio: error: 'app:io' has no attribute 'nothing'"),
        (
            ["app:make"],
            "aiosocketio: error: 'app:make' is the function make, not a Server, an EngineServer or an ASGI app"
            ": if it builds one, pass --factory",
        ),
        (
            ["app:on_connection"],
            "aiosocketio: error: 'app:on_connection' is the function on_connection, not a Server, an EngineServer"
            " or an ASGI app: if it builds one, pass --factory",
        ),
        (
            ["app:aiosocketio"],
            "aiosocketio: error: 'app:aiosocketio' is a module, not a Server, an EngineServer or an ASGI app",
        ),
        (
            ["app:io", "--factory"],
            "aiosocketio: error: --factory: 'app:io' is an object of type aiosocketio.server.Server, not a callable",
        ),
        (
            ["app:on_connection", "--factory"],
            "aiosocketio: error: the factory 'app:on_connection' failed: TypeError: on_connection() missing 1"
            " required positional argument: 'socket'",
        ),
        (["app"], "aiosocketio: error: APP must be MODULE:ATTRIBUTE, such as chat:io, got 'app'"),
        (
            ["app:io", "--root-path", "chat"],
            "aiosocketio: error: root_path must be a path starting with '/', such as '/chat', got 'chat'",
        ),
        (
            ["app:io", "--host", "nosuch.invalid"],
            "aiosocketio: error: cannot listen on nosuch.invalid:{port}: the host cannot be resolved",
        ),
        (
            ["app:io", "--workers", "2", "--ssl-certfile", "cert.pem"],
            "aiosocketio: error: --workers cannot serve TLS (a polling request that reaches the wrong worker is"
            " handed over by its request line, which TLS hides): terminate TLS in a proxy in front, or serve with"
            " one worker",
        ),
    ],
    ids=lambda value: value[0] if isinstance(value, list) and len(value) == 1 else None,
)
@pytest.mark.parametrize("entry", list(ENTRIES))
def test_a_mistake_is_one_line_and_status_1(app_dir: Path, entry: str, args: list[str], message: str) -> None:
    port = free_port()
    result = run_command(entry, app_dir, "run", *args, "--port", str(port))
    assert result.returncode == 1, result.stderr
    assert _one_line_error(result).startswith(message.format(port=port))


@pytest.mark.parametrize("entry", list(ENTRIES))
def test_a_port_in_use_is_one_line_and_status_1(app_dir: Path, entry: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_command(entry, app_dir, "run", "app:io", "--port", str(port))
    assert result.returncode == 1
    assert _one_line_error(result) == (
        f"aiosocketio: error: cannot listen on 127.0.0.1:{port}: the address is already in use"
        " (is another server running there?)"
    )


def test_traceback_shows_the_import_error_in_full(app_dir: Path) -> None:
    result = run_command("python-m", app_dir, "run", "broken:io", "--traceback")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert 'broken.py", line 1' in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "aiosocketio: error: cannot import 'broken': ModuleNotFoundError: No module named 'no_such_module_here'"
    )


def test_a_command_line_that_does_not_parse_exits_with_status_2(app_dir: Path) -> None:
    result = run_command("python-m", app_dir, "run", "app:io", "--port", "99999")
    assert result.returncode == 2
    assert "argument --port: a port is between 0 and 65535, got 99999" in result.stderr
    assert run_command("python-m", app_dir).returncode == 2  # no command
    workers = run_command("python-m", app_dir, "run", "app:io", "--workers", "0")
    assert workers.returncode == 2
    assert "argument --workers: at least one worker, got 0" in workers.stderr
    version = run_command("console-script", app_dir, "--version")
    assert version.returncode == 0
    assert version.stdout.startswith("aiosocketio ")


@pytest.mark.parametrize(
    "call",
    ["io.run(host={host!r}, port={port})", "aiosocketio.run(io, host={host!r}, port={port})"],
    ids=["io.run", "aiosocketio.run"],
)
@pytest.mark.parametrize("problem", ["port-in-use", "bad-host"])
def test_a_script_that_cannot_listen_ends_with_one_line(tmp_path: Path, call: str, problem: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        host = "127.0.0.1" if problem == "port-in-use" else "nosuch.invalid"
        script = tmp_path / "serve.py"
        script.write_text(
            f"import aiosocketio\nio = aiosocketio.Server()\n{call.format(host=host, port=port)}\n",
            encoding="utf-8",
        )
        result = subprocess.run(
            [sys.executable, str(script)],
            env=_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=scaled(30),
        )
    assert result.returncode == 1
    line = _one_line_error(result)
    if problem == "port-in-use":
        assert line == (
            f"aiosocketio: error: cannot listen on 127.0.0.1:{port}: the address is already in use"
            " (is another server running there?)"
        )
    else:
        assert line.startswith(f"aiosocketio: error: cannot listen on nosuch.invalid:{port}: ")
        assert "the host cannot be resolved" in line
