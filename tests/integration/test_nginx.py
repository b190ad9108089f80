"""The deployment guide's nginx configuration, run for real in front of two server processes on one Redis.

The configuration under test is the one printed in ``docs/operations/deployment.md`` (the block after its
``<!-- nginx: NAME -->`` comment), with only its addresses changed: ``listen 80`` becomes a free loopback port and
the servers' ports 3001 and 3002 become those of the two servers started here. So the page cannot drift from what
works.

Debian's nginx runs as an ordinary child process with a prefix, temporary folders, pid file and logs of its own in
a temporary folder. Behind it, one module-level ``app.py`` (Redis adapter, a short heartbeat) is served twice, in
fresh processes as a user would start it: ``aiosocketio run app:io`` and ``uvicorn app:app`` with the flags the
page recommends. The clients are socket.io-client 4.8 (long-polling only, WebSocket only, and the upgrade; with
``withCredentials: true`` so that it keeps the proxy's cookie) and python-socketio's ``AsyncClient`` (which keeps
cookies of ``localhost``, not of an IP address host). Each asks its server for its process id, so the test knows
the clients were spread over both servers.

Also: a client whose server crashes is moved to the other one and kept there; the page's by-address variant keeps
each client on one server; and, with a plain round-robin upstream instead, long-polling clients fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from apps import REPO, AppProcess, start_app
from conftest import free_port, scaled
from jsclient import JS_DIR, TESTS_DIR

pytestmark = pytest.mark.node

PROMPTLY = scaled(5.0)
DEPLOYMENT = REPO / "docs" / "operations" / "deployment.md"
#: The servers' ports in the page's configuration.
DOC_PORTS = (3001, 3002)
PING_INTERVAL = 0.4
PING_TIMEOUT = scaled(1.5)
#: How long nginx leaves a server alone after a failed attempt (``fail_timeout``, 10 s unless configured).
NGINX_FAIL_TIMEOUT = 10.0

APP = """\
import os

import aiosocketio
from aiosocketio.adapters.redis import create_adapter

io = aiosocketio.Server(
    adapter=create_adapter({redis!r}, key="nginx-test"),
    ping_interval={ping_interval},
    ping_timeout={ping_timeout},
)


@io.on("connection")
async def on_connection(socket):
    @socket.on("pid")
    def pid():
        return os.getpid()

    @socket.on("shout")
    async def shout(word):
        await io.emit("news", os.getpid(), word)   # to every client of every server
        return os.getpid()

    @socket.on("bye")
    async def bye():
        await io.emit("bye")


app = io.asgi_app()
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    assert found, (
        "nginx is needed for the deployment guide's test: apt-get install nginx (.ci/run installs it)"
    )
    return found


def doc_config(name: str) -> str:
    """The ``nginx`` block of the deployment page that follows ``<!-- nginx: name -->``."""
    text = DEPLOYMENT.read_text(encoding="utf-8")
    match = re.search(rf"<!-- nginx: {re.escape(name)} -->\s*```nginx\n(.*?)^```", text, re.M | re.S)
    assert match, f"{DEPLOYMENT.relative_to(REPO)} has no nginx block marked <!-- nginx: {name} -->"
    return match.group(1)


def localise(config: str, backends: tuple[int, int]) -> str:
    """The page's configuration with the test's addresses, nothing else changed: the servers' ports, and
    ``$PORT`` (which :func:`run_nginx` fills in) on loopback to listen on."""
    assert "listen 80;" in config
    config = config.replace("listen 80;", "listen 127.0.0.1:$PORT;")
    for documented, actual in zip(DOC_PORTS, backends, strict=True):
        assert re.search(rf"\b{documented}\b", config)
        config = re.sub(rf"\b{documented}\b", str(actual), config)
    return config


@contextlib.contextmanager
def run_nginx(site: str) -> Iterator[int]:
    """nginx serving ``site`` (the content of an ``http`` block) on a free loopback port, stopped at the end."""
    binary = nginx_binary()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="aiosocketio-nginx-") as name:
        folder = Path(name)
        # When the tests run as root, nginx's workers run as nobody: they must be able to use the temporary folders.
        folder.chmod(0o755)
        temps = {kind: folder / kind for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for path in temps.values():
            path.mkdir()
            path.chmod(0o777)
        conf = folder / "nginx.conf"
        conf.write_text(
            f"daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log notice;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"    access_log {folder}/access.log;\n"
            + "".join(f"    {kind}_temp_path {path};\n" for kind, path in temps.items())
            + f"{site.replace('$PORT', str(port))}\n}}\n",
            encoding="utf-8",
        )
        argv = [binary, "-p", f"{folder}/", "-e", f"{folder}/error.log", "-c", str(conf)]
        with (folder / "stderr.log").open("wb") as stderr:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)

        def logs() -> str:
            parts = [conf.read_text()]
            for log in ("stderr.log", "error.log", "access.log"):
                with contextlib.suppress(FileNotFoundError):
                    parts.append(f"----- {log} -----\n{(folder / log).read_text(errors='replace')}")
            return "\n".join(parts)

        try:
            deadline = time.monotonic() + scaled(10.0)
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"nginx exited with {proc.returncode}\n{logs()}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"nginx did not listen\n{logs()}") from None
                    time.sleep(0.05)
            try:
                yield port
            except BaseException:
                print(logs())
                raise
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(scaled(5.0))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture(scope="module")
def backends(redis_url: str) -> Iterator[tuple[AppProcess, AppProcess]]:
    """The test app served twice on one Redis: the built-in server (the command) and uvicorn."""
    source = APP.format(redis=redis_url, ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT)
    port_a, port_b = free_port(), free_port()
    builtin = f"aiosocketio run app:io --host 127.0.0.1 --port {port_a}"
    uvicorn = f"uvicorn app:app --host 127.0.0.1 --port {port_b} --ws websockets-sansio --ws-per-message-deflate false"
    with (
        start_app(source, "aiosocketio run", port_a, shell=builtin) as a,
        start_app(source, "uvicorn", port_b, shell=uvicorn) as b,
    ):
        yield a, b


class NodeClients:
    """``js/proxy_clients.mjs`` running, its reports read as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.reports: list[dict[str, Any]] = []

    async def until(self, event: str, timeout: float) -> list[dict[str, Any]]:
        """Read reports until a new one is ``event``; every report so far is returned."""
        assert self.proc.stdout is not None
        start = len(self.reports)
        async with asyncio.timeout(timeout):
            while len(self.reports) == start or self.reports[-1].get("event") != event:
                line = await self.proc.stdout.readline()
                if not line:
                    await self.proc.wait()
                    stderr = (await self.proc.stderr.read()).decode() if self.proc.stderr else ""
                    raise AssertionError(f"the clients ended before {event!r}: {self.reports}\n{stderr}")
                self.reports.append(json.loads(line))
        return self.reports


@contextlib.asynccontextmanager
async def node_clients(url: str, specs: list[str], mode: str) -> AsyncIterator[NodeClients]:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/setup installs the npm clients)"
    proc = await asyncio.create_subprocess_exec(
        node,
        str(JS_DIR / "proxy_clients.mjs"),
        url,
        ",".join(specs),
        mode,
        cwd=TESTS_DIR,
        env=dict(os.environ, AIOSOCKETIO_TEST_TIMEOUT_FACTOR=str(scaled(1.0))),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    clients = NodeClients(proc)
    try:
        yield clients
    except BaseException:
        print("node clients reported:", *clients.reports, sep="\n")
        raise
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        # Read the pipes to their end, so that nothing of the process is left open for the garbage collector.
        await proc.communicate()


class PyClient:
    """python-socketio's client through the proxy, recording every ``news`` and ``bye``."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.client = socketio.AsyncClient(reconnection=False)
        self.news: list[tuple[Any, ...]] = []
        self.bye = asyncio.Event()
        self.disconnects: list[Any] = []
        self.client.on("news", lambda *args: self.news.append(args))
        self.client.on("bye", self.bye.set)
        self.client.on("disconnect", lambda *args: self.disconnects.append(args))
        self.pid = 0
        self.sid: str | None = None

    async def connect(self, url: str) -> None:
        transports = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": ["polling", "websocket"]}
        await self.client.connect(url, transports=transports[self.spec], wait_timeout=PROMPTLY)
        self.pid = await self.client.call("pid", timeout=PROMPTLY)
        self.sid = self.client.get_sid()


TRANSPORT_AFTER = {"polling": "polling", "websocket": "websocket", "upgrade": "websocket"}


async def test_the_guides_nginx_config_keeps_every_client_on_its_server(
    backends: tuple[AppProcess, AppProcess],
) -> None:
    """Through the page's configuration, clients of every transport connect to both servers, stay connected for
    several heartbeats, and get a broadcast of each server exactly once."""
    a, b = backends
    site = localise(doc_config("sticky-cookie"), (a.port, b.port))
    js_specs = ["polling", "polling", "websocket", "websocket", "upgrade", "upgrade"]
    py_clients = [PyClient(spec) for spec in ("polling", "polling", "websocket", "upgrade", "upgrade")]
    shouters = [socketio.AsyncClient(reconnection=False) for _ in (a, b)]
    with run_nginx(site) as port:
        async with node_clients(f"http://127.0.0.1:{port}", js_specs, "stay") as js:
            try:
                reports = await js.until("ready", scaled(40.0))
                # aiohttp keeps no cookie of a host given as an IP address: the Python clients use a name.
                for py in py_clients:
                    await py.connect(f"http://localhost:{port}")
                pids = [r["pid"] for r in reports if r["event"] == "connect"] + [py.pid for py in py_clients]
                assert len(pids) == len(js_specs) + len(py_clients), reports
                assert set(pids) == {a.proc.pid, b.proc.pid}, f"not spread over both servers: {pids}"

                # Several heartbeats through the proxy: nothing may drop.
                await asyncio.sleep(8 * PING_INTERVAL)

                # One broadcast from each server (its clients asked directly, not through nginx), then bye.
                for shouter, backend, word in zip(shouters, (a, b), ("from a", "from b"), strict=True):
                    await shouter.connect(backend.url, transports=["websocket"], wait_timeout=PROMPTLY)
                    assert await shouter.call("shout", word, timeout=PROMPTLY) == backend.proc.pid
                await asyncio.sleep(scaled(1.0))  # a copy too many would arrive by now
                await shouters[0].emit("bye")
                reports = await js.until("done", scaled(20.0))
                for py in py_clients:
                    await asyncio.wait_for(py.bye.wait(), PROMPTLY)
                    assert py.client.connected, py.spec
                    assert py.client.get_sid() == py.sid, f"{py.spec}: reconnected"
                    assert py.client.transport() == TRANSPORT_AFTER[py.spec], py.spec
                    assert py.disconnects == [], py.spec
            finally:
                for client in [*shouters, *(py.client for py in py_clients)]:
                    await client.disconnect()

    expected = Counter([(a.proc.pid, "from a"), (b.proc.pid, "from b")])
    # (Each JS client is disconnected by the script itself at the end: "io client disconnect".)
    problems = [
        r
        for r in reports
        if r["event"] == "error" or r.get("reason", "io client disconnect") != "io client disconnect"
    ]
    assert not problems, problems
    for client, spec in enumerate(js_specs):
        (connect,) = [r for r in reports if r["event"] == "connect" and r["client"] == client]
        (bye,) = [r for r in reports if r["event"] == "bye" and r["client"] == client]
        assert bye == {
            "event": "bye",
            "client": client,
            "connected": True,
            "id": connect["id"],
            "transport": TRANSPORT_AFTER[spec],
        }
        news = Counter(tuple(r["args"]) for r in reports if r["event"] == "news" and r["client"] == client)
        assert news == expected, f"js client {client} ({spec})"
    for py in py_clients:
        assert Counter(py.news) == expected, f"python client ({py.spec})"


async def test_without_stickiness_long_polling_fails(backends: tuple[AppProcess, AppProcess]) -> None:
    """The same configuration with a plain round-robin upstream: long-polling clients cannot stay connected (their
    requests reach a server that does not know their session), while WebSocket-only clients still can."""
    a, b = backends
    site = localise(doc_config("sticky-cookie"), (a.port, b.port))
    sticky = "proxy_pass http://$socketio_upstream;"
    assert sticky in site
    site = site.replace(sticky, "proxy_pass http://socketio_any;")
    with run_nginx(site) as port:
        async with node_clients(f"http://127.0.0.1:{port}", ["polling", "polling", "websocket"], "try") as js:
            reports = await js.until("done", scaled(60.0))
        py = PyClient("polling")
        with contextlib.suppress(socketio.exceptions.ConnectionError, TimeoutError):
            await py.connect(f"http://localhost:{port}")
            await asyncio.sleep(scaled(2.0))
        py_connected = py.client.connected
        await py.client.disconnect()

    status = {r["client"]: r["connected"] for r in reports if r["event"] == "status"}
    assert status == {0: False, 1: False, 2: True}, reports
    assert not py_connected, "a long-polling Python client stayed connected without sticky sessions"


async def test_the_guides_by_address_variant(backends: tuple[AppProcess, AppProcess]) -> None:
    """The page's ``hash $remote_addr consistent`` group in place of the cookie: every request of a client goes
    to one server (here every client is 127.0.0.1, so all of them go to the same one)."""
    a, b = backends
    cookie_site = doc_config("sticky-cookie")
    sticky = "proxy_pass http://$socketio_upstream;"
    assert sticky in cookie_site
    config = (
        doc_config("sticky-address")
        + "\n"
        + cookie_site.replace(sticky, "proxy_pass http://socketio_by_address;")
    )
    site = localise(config, (a.port, b.port))
    with run_nginx(site) as port:
        async with node_clients(f"http://127.0.0.1:{port}", ["polling", "upgrade"], "try") as js:
            reports = await js.until("done", scaled(40.0))
    status = {r["client"]: r["connected"] for r in reports if r["event"] == "status"}
    assert status == {0: True, 1: True}, reports
    pids = {r["pid"] for r in reports if r["event"] == "connect"}
    assert len(pids) == 1, reports
    assert pids <= {a.proc.pid, b.proc.pid}


async def test_the_guides_nginx_config_moves_the_clients_of_a_server_that_fails(redis_url: str) -> None:
    """A server goes away: its long-polling client reconnects through the page's configuration, is sent to the
    other server (the ``backup`` of its group), and the cookie follows it there, so that it stays on that server
    even once the first one is back."""
    source = APP.format(redis=redis_url, ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT)
    ports = free_port(), free_port()

    def serve(port: int) -> contextlib.AbstractContextManager[AppProcess]:
        return start_app(source, "aiosocketio run", port, shell=f"aiosocketio run app:io --port {port}")

    with contextlib.ExitStack() as stack:
        a, b = (stack.enter_context(serve(port)) for port in ports)
        port = stack.enter_context(run_nginx(localise(doc_config("sticky-cookie"), ports)))
        async with node_clients(f"http://127.0.0.1:{port}", ["polling"], "follow") as js:
            first = (await js.until("connect", scaled(20.0)))[-1]
            failing, other = (a, b) if first["pid"] == a.proc.pid else (b, a)
            assert first["pid"] == failing.proc.pid

            failing.proc.kill()  # a crash: nothing is said to the clients
            failing.proc.wait()
            crashed = time.monotonic()
            second = (await js.until("connect", scaled(20.0)))[-1]
            assert second["pid"] == other.proc.pid, js.reports

            # The failed server is back on its port: the client's cookie now names the other one.
            again = stack.enter_context(serve(failing.port))
            # nginx sends nothing to a server for 10 s after it failed (fail_timeout): only after that would a
            # cookie that still named it send the client back there, to a server that does not know its session.
            await asyncio.sleep(
                max(8 * PING_INTERVAL, NGINX_FAIL_TIMEOUT + 1.0 - (time.monotonic() - crashed))
            )
            shouter = socketio.AsyncClient(reconnection=False)
            await shouter.connect(again.url, transports=["websocket"], wait_timeout=PROMPTLY)
            try:
                await shouter.emit("bye")
                reports = await js.until("done", scaled(20.0))
            finally:
                await shouter.disconnect()
    byes = [r for r in reports if r["event"] == "bye"]
    assert byes == [
        {"event": "bye", "client": 0, "connected": True, "id": second["id"], "pid": other.proc.pid}
    ]
    assert [r["event"] for r in reports].count("connect") == 2, reports
