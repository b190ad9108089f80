"""What the tests of the deployment guide's proxies share: the app behind the proxy, its clients, and the checks.

``docs/operations/deployment.md`` prints a configuration for each proxy (nginx, HAProxy), each block after a
``<!-- PROXY: NAME -->`` comment; :func:`doc_config` reads one, :func:`localise` changes only its addresses (the
servers' ports 3001 and 3002, the port it listens on). Behind the proxy, one module-level ``app.py`` (Redis
adapter, a short heartbeat) is served twice, in fresh processes as a user would start it
(:func:`serve_twice`): ``aiosocketio run app:io`` and ``uvicorn app:app`` with the flags the page recommends.

The clients are socket.io-client 4.8 (``js/proxy_clients.mjs``: long-polling only, WebSocket only, and the
upgrade; with ``withCredentials: true`` so that it keeps the proxy's cookie) and python-socketio's
``AsyncClient`` (which keeps cookies of ``localhost``, not of an IP address host). Each asks its server for its
process id, so a test knows the clients were spread over both servers. The checks every proxy must pass:
:func:`check_sticky` (every client stays on its server and gets each server's broadcast once),
:func:`check_not_sticky` (without stickiness long-polling clients fail: the configuration is what makes it
work), :func:`check_by_address` (stickiness by client address) and :func:`check_failover` (the clients of a
server that crashed move to the other one and stay there).
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
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import socketio
from apps import REPO, AppProcess, start_app
from conftest import free_port, scaled
from jsclient import JS_DIR, TESTS_DIR

PROMPTLY = scaled(5.0)
DEPLOYMENT = REPO / "docs" / "operations" / "deployment.md"
#: The servers' ports in the page's configurations.
DOC_PORTS = (3001, 3002)
PING_INTERVAL = 0.4
PING_TIMEOUT = scaled(1.5)

APP = """\
import os

import aiosocketio
from aiosocketio.adapters.redis import create_adapter

io = aiosocketio.Server(
    adapter=create_adapter({redis!r}, key="proxy-test"),
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


def doc_config(proxy: str, name: str) -> str:
    """The ``proxy`` block of the deployment page that follows ``<!-- proxy: name -->``."""
    text = DEPLOYMENT.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {proxy}: {re.escape(name)} -->\s*```{proxy}\n(.*?)^```", text, re.M | re.S)
    assert match, f"{DEPLOYMENT.relative_to(REPO)} has no {proxy} block marked <!-- {proxy}: {name} -->"
    return match.group(1)


def localise(config: str, listen: str, backends: tuple[int, int]) -> str:
    """The page's configuration with the test's addresses, nothing else changed: the servers' ports, and
    ``$PORT`` on loopback in place of ``listen`` (the page's line that listens on port 80)."""
    assert listen in config, f"no {listen!r} in {config}"
    config = config.replace(listen, re.sub(r"(\s|^)(:?)80\b", r"\g<1>127.0.0.1:$PORT", listen))
    for documented, actual in zip(DOC_PORTS, backends, strict=True):
        assert re.search(rf"\b{documented}\b", config)
        config = re.sub(rf"\b{documented}\b", str(actual), config)
    return config


@contextlib.contextmanager
def run_proxy_process(
    name: str, argv: list[str], port: int, folder: Path, conf: Path, logs: tuple[str, ...]
) -> Iterator[None]:
    """Run the proxy ``argv`` (its configuration ``conf``, its ``logs`` in ``folder``, its standard error to
    ``stderr.log`` there) until it listens on ``port``; stop it at the end. On a failure the configuration and the
    logs are printed."""
    with (folder / "stderr.log").open("wb") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)

    def report() -> str:
        parts = [conf.read_text()]
        for log in logs:
            with contextlib.suppress(FileNotFoundError):
                parts.append(f"----- {log} -----\n{(folder / log).read_text(errors='replace')}")
        return "\n".join(parts)

    try:
        deadline = time.monotonic() + scaled(10.0)
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}\n{report()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{name} did not listen\n{report()}") from None
                time.sleep(0.05)
        try:
            yield
        except BaseException:
            print(report())
            raise
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(scaled(5.0))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def app_source(redis_url: str) -> str:
    """The app behind the proxy, on ``redis_url``."""
    return APP.format(redis=redis_url, ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT)


@contextlib.contextmanager
def serve_twice(redis_url: str) -> Iterator[tuple[AppProcess, AppProcess]]:
    """The test app served twice on one Redis: the built-in server (the command) and uvicorn."""
    source = app_source(redis_url)
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


async def check_sticky(port: int, a: AppProcess, b: AppProcess) -> None:
    """Through the proxy on ``port``, clients of every transport connect to both servers, stay connected for
    several heartbeats, and get a broadcast of each server exactly once."""
    js_specs = ["polling", "polling", "websocket", "websocket", "upgrade", "upgrade"]
    py_clients = [PyClient(spec) for spec in ("polling", "polling", "websocket", "upgrade", "upgrade")]
    shouters = [socketio.AsyncClient(reconnection=False) for _ in (a, b)]
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

            # One broadcast from each server (its clients asked directly, not through the proxy), then bye.
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


async def check_not_sticky(port: int) -> None:
    """Through a proxy on ``port`` that spreads requests with no stickiness: long-polling clients cannot stay
    connected (their requests reach a server that does not know their session), WebSocket-only clients can."""
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


async def check_by_address(port: int, a: AppProcess, b: AppProcess) -> None:
    """Through a proxy on ``port`` sticky by client address: every request of a client goes to one server (here
    every client is 127.0.0.1, so all of them go to the same one), and the clients stay connected."""
    async with node_clients(f"http://127.0.0.1:{port}", ["polling", "upgrade"], "try") as js:
        reports = await js.until("done", scaled(40.0))
    status = {r["client"]: r["connected"] for r in reports if r["event"] == "status"}
    assert status == {0: True, 1: True}, reports
    pids = {r["pid"] for r in reports if r["event"] == "connect"}
    assert len(pids) == 1, reports
    assert pids <= {a.proc.pid, b.proc.pid}


async def check_failover(
    redis_url: str,
    run_proxy: Callable[[tuple[int, int]], contextlib.AbstractContextManager[int]],
    back_in_use: Callable[[float], float],
) -> None:
    """A server goes away: its long-polling client reconnects through the proxy, is sent to the other server, and
    the proxy's cookie follows it there, so that it stays on that server even once the first one is back.

    ``run_proxy(ports)`` runs the proxy in front of the servers on ``ports`` and gives its port;
    ``back_in_use(seconds since the crash)`` is how long to wait, once the failed server is back, until the proxy
    would send it requests again (so that a cookie still naming it would send the client back there, to a server
    that does not know its session)."""
    source = app_source(redis_url)
    ports = free_port(), free_port()

    def serve(port: int) -> contextlib.AbstractContextManager[AppProcess]:
        return start_app(source, "aiosocketio run", port, shell=f"aiosocketio run app:io --port {port}")

    with contextlib.ExitStack() as stack:
        a, b = (stack.enter_context(serve(port)) for port in ports)
        port = stack.enter_context(run_proxy(ports))
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
            await asyncio.sleep(max(8 * PING_INTERVAL, back_in_use(time.monotonic() - crashed)))
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
