"""The public Socket.IO API (``docs/api-contract.md``, docs/protocol/socketio.md#events-and-acks, docs/protocol/socketio.md#disconnection, docs/protocol/socketio.md#reserved-names, docs/protocol/socketio.md#emit-flags, docs/protocol/server.md) seen through real clients.

Each test builds an ``aiosocketio.Server`` in this process, serves it on loopback (the built-in runner, or
uvicorn with ``io.asgi_app()`` for the tests parametrized over ``frontend``) and drives it with real clients:

- python-socketio's ``socketio.AsyncClient`` (aiohttp), in the same event loop (:class:`Peer`);
- raw WebSocket connections speaking Engine.IO/Socket.IO by hand, for clients that misbehave on purpose
  (never pong, never ack, send garbage) (:class:`RawClient`);
- the official JavaScript ``socket.io-client`` for a representative scenario
  (``tests/integration/js/sio_api_client.mjs``).

Most tests run on the main namespace ``/`` and on ``/admin``. Waits use futures and queues with timeouts;
"nothing else arrived" is checked after a barrier: a later event on the same connection (packets of one
connection arrive in order). Timeouts scale with ``AIOSOCKETIO_TEST_TIMEOUT_FACTOR``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import itertools
import json
import logging
import math
import os
import re
import shutil
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
import uvicorn
from jsclient import run_js_scenario
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import aiosocketio
from aiosocketio import AckTimeoutError, ConnectError

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
#: Upper bound for anything that should happen "at once".
PROMPTLY = 5.0 * FACTOR
HOST = "127.0.0.1"
PATH = "/socket.io/"
FRONTENDS = ("runner", "uvicorn")
NAMESPACES = ("/", "/admin")

TESTS_DIR = Path(__file__).resolve().parent.parent
JS_CLIENT = Path(__file__).resolve().parent / "js" / "sio_api_client.mjs"
NODE = shutil.which("node")

# What python-socketio's client reports as the reason of a disconnection.
SERVER_DISCONNECT = socketio.AsyncClient.reason.SERVER_DISCONNECT  # a DISCONNECT packet came
TRANSPORT_ERROR = socketio.AsyncClient.reason.TRANSPORT_ERROR  # the connection went away

JS_DATE = re.compile(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{4} \d{2}:\d{2}:\d{2} GMT[+-]\d{4} \(.+\)$")

needs_node = pytest.mark.node  # scripts/setup installs Node.js clients; a missing one fails, never skips


#: The transport of clients whose test does not choose one: every test runs once per transport (the fixture below).
DEFAULT_TRANSPORT = ["websocket"]


@pytest.fixture(autouse=True, params=["websocket", "polling", "upgrade"])
def default_transport(request: pytest.FixtureRequest) -> Iterator[str]:
    DEFAULT_TRANSPORT[0] = request.param
    yield request.param
    DEFAULT_TRANSPORT[0] = "websocket"


# --------------------------------------------------------------------------------------------------
# helpers


async def within(awaitable: Awaitable[Any], what: str, timeout: float = PROMPTLY) -> Any:
    """``await awaitable``, failing the test with ``what`` when it takes longer than ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            return await awaitable
    except TimeoutError:
        pass
    pytest.fail(f"timed out after {timeout:.1f} s waiting for {what}")


async def eventually(condition: Callable[[], bool], what: str, timeout: float = PROMPTLY) -> None:
    """Poll ``condition`` until it holds (for server state that no event announces)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.1f} s waiting for {what}")
        await asyncio.sleep(0.01)


class Queues:
    """Values collected by key (an event name, a socket id...), each key its own queue."""

    def __init__(self) -> None:
        self._queues: dict[Any, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)

    def put(self, key: Any, value: Any = None) -> None:
        self._queues[key].put_nowait(value)

    async def next(self, key: Any, timeout: float = PROMPTLY) -> Any:
        return await within(self._queues[key].get(), f"{key!r}", timeout)

    def drain(self, key: Any) -> list[Any]:
        queue = self._queues[key]
        items = []
        while not queue.empty():
            items.append(queue.get_nowait())
        return items


class Peer:
    """A python-socketio ``AsyncClient`` that records everything it receives, per (namespace, event).

    A catch-all handler records every event (and acknowledges with no arguments when asked); ``on`` installs
    a handler that answers (its return value is the acknowledgement) and records too.
    """

    def __init__(self, sio: socketio.AsyncClient, namespaces: Iterable[str], release: asyncio.Event) -> None:
        self.sio = sio
        self.namespaces = tuple(namespaces)
        self.received = Queues()
        self._release = release
        for ns in self.namespaces:
            sio.on("*", self._catch_all(ns), namespace=ns)
            sio.on("disconnect", self._recorder(ns, "disconnect"), namespace=ns)
            sio.on("connect_error", self._recorder(ns, "connect_error"), namespace=ns)

    def _catch_all(self, ns: str) -> Callable[..., None]:
        def record(event: str, *args: Any) -> None:
            self.received.put((ns, event), args)

        return record

    def _recorder(self, ns: str, event: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.received.put((ns, event), args)

        return record

    def on(self, event: str, answer: Callable[..., Any], ns: str = "/") -> None:
        """Answer ``event`` with ``answer(*args)`` (sync or async); the call is recorded like any event."""
        if inspect.iscoroutinefunction(answer):

            async def async_handler(*args: Any) -> Any:
                self.received.put((ns, event), args)
                return await answer(*args)

            self.sio.on(event, async_handler, namespace=ns)
        else:

            def handler(*args: Any) -> Any:
                self.received.put((ns, event), args)
                return answer(*args)

            self.sio.on(event, handler, namespace=ns)

    def never_answer(self, event: str, ns: str = "/") -> None:
        """Receive ``event`` but hold the acknowledgement back until the end of the test."""

        async def hold(*args: Any) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), 60 * FACTOR)

        self.on(event, hold, ns)

    async def connect(
        self,
        url: str,
        *,
        transport: str | None = None,
        auth: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        transport = transport or DEFAULT_TRANSPORT[0]
        await self.sio.connect(
            url,
            namespaces=list(self.namespaces),
            transports=["polling", "websocket"] if transport == "upgrade" else [transport],
            auth=auth,
            headers=headers or {},
            wait_timeout=PROMPTLY,
        )

    def sid(self, ns: str = "/") -> str:
        sid = self.sio.get_sid(ns)
        assert sid is not None, f"not connected to {ns}"
        return sid

    async def next(self, event: str, ns: str = "/") -> tuple[Any, ...]:
        result: tuple[Any, ...] = await self.received.next((ns, event))
        return result

    def drain(self, event: str, ns: str = "/") -> list[tuple[Any, ...]]:
        return self.received.drain((ns, event))

    async def call(self, event: str, *args: Any, ns: str = "/") -> tuple[Any, ...]:
        """Emit with an acknowledgement; return the ack's arguments exactly (``()`` for an empty ack)."""
        future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        await self.sio.emit(event, args, namespace=ns, callback=lambda *answer: future.set_result(answer))
        result: tuple[Any, ...] = await within(future, f"the ack of {event!r} on {ns}")
        return result

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(PROMPTLY):
                if self.sio.connected:
                    await self.sio.disconnect()
                elif self.sio.eio.state == "connected":
                    await self.sio.eio.disconnect()
        await self.sio.shutdown()


class RawClient:
    """One WebSocket speaking Engine.IO v4 / Socket.IO v5 by hand (text packets, with the ``4`` prefix)."""

    def __init__(self, ws: ClientConnection, answer_pings: bool) -> None:
        self.ws = ws
        self.answer_pings = answer_pings
        self.sid = ""

    @classmethod
    async def open(cls, url: str, *, answer_pings: bool = True) -> RawClient:
        ws_url = "ws" + url.removeprefix("http") + PATH + "?EIO=4&transport=websocket"
        ws = await within(
            connect(ws_url, ping_interval=None, compression=None, max_size=None), "the WebSocket to open"
        )
        raw = cls(ws, answer_pings)
        opening = await raw.recv()
        assert opening.startswith("0{"), opening
        raw.sid = json.loads(opening[1:])["sid"]
        return raw

    async def recv(self) -> str:
        """The next message that is not a ping (answered unless ``answer_pings`` is false)."""
        while True:
            message = await within(self.ws.recv(), "a message from the server")
            assert isinstance(message, str), message
            if message == "2":
                if self.answer_pings:
                    await self.ws.send("3")
                continue
            return message

    async def send(self, text: str) -> None:
        await self.ws.send(text)

    async def join(self, ns: str = "/", auth: Any = None) -> str:
        """CONNECT to ``ns``; return the socket id of the CONNECT reply."""
        prefix = "40" if ns == "/" else f"40{ns},"
        await self.send(prefix + ("" if auth is None else json.dumps(auth)))
        reply = await self.recv()
        assert reply.startswith(prefix + "{"), reply
        sid: str = json.loads(reply[len(prefix) :])["sid"]
        return sid

    async def wait_closed(self) -> list[str | bytes]:
        """Read messages until the server closes the connection; those received meanwhile (pings aside)."""
        received: list[str | bytes] = []
        try:
            async with asyncio.timeout(PROMPTLY):
                while True:
                    message = await self.ws.recv()
                    if message == "2" and self.answer_pings:
                        await self.ws.send("3")
                    elif message != "2":
                        received.append(message)
        except ConnectionClosed:
            return received
        except TimeoutError:
            pass
        pytest.fail("the server did not close the raw connection")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), PROMPTLY)


class Harness:
    """Starts servers and clients for one test and stops all of them at the end."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        #: Set at the end of the test: handlers that hold their acknowledgement back give up.
        self.release = asyncio.Event()
        self._servers: list[tuple[aiosocketio.Server, Any]] = []
        self._peers: list[Peer] = []
        self._raws: list[RawClient] = []

    async def serve(self, io: aiosocketio.Server, frontend: str = "runner") -> str:
        """Serve ``io`` on a loopback port; return its URL (``http://127.0.0.1:<port>``)."""
        if frontend == "runner":
            running = await io.listen(host=HOST, port=0)
            self._servers.append((io, None))
            return f"http://{HOST}:{running.port}"
        assert frontend == "uvicorn", frontend
        # As docs/frameworks.md configures uvicorn: our per_message_deflate=False holds (no deflate warning).
        config = uvicorn.Config(
            io.asgi_app(),
            host=HOST,
            port=0,
            log_level="warning",
            log_config=None,
            ws="websockets-sansio",
            ws_per_message_deflate=False,
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        self._servers.append((io, (server, task)))
        await eventually(lambda: server.started or task.done(), "uvicorn to start")
        if task.done():
            task.result()  # raises what went wrong
            pytest.fail("uvicorn stopped at once")
        port = server.servers[0].sockets[0].getsockname()[1]
        return f"http://{HOST}:{port}"

    def peer(self, namespaces: Iterable[str] = ("/",)) -> Peer:
        """A python-socketio client, not connected yet (install handlers, then ``await peer.connect()``)."""
        sio = socketio.AsyncClient(reconnection=False, request_timeout=PROMPTLY, http_session=self.http)
        peer = Peer(sio, namespaces, self.release)
        self._peers.append(peer)
        return peer

    async def connected(self, url: str, namespaces: Iterable[str] = ("/",), **options: Any) -> Peer:
        peer = self.peer(namespaces)
        await peer.connect(url, **options)
        return peer

    async def raw(self, url: str, *, answer_pings: bool = True) -> RawClient:
        raw = await RawClient.open(url, answer_pings=answer_pings)
        self._raws.append(raw)
        return raw

    async def aclose(self) -> None:
        self.release.set()
        await asyncio.sleep(0.01)  # let the held handlers finish
        for peer in self._peers:
            await peer.close()
        for raw in self._raws:
            await raw.close()
        for io, extra in reversed(self._servers):
            await within(io.close(), "io.close()")
            if extra is not None:
                server, task = extra
                server.should_exit = True
                await within(task, "uvicorn to stop")


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    async with aiohttp.ClientSession() as http:
        harness = Harness(http)
        try:
            yield harness
        finally:
            await harness.aclose()


def nsp_of(io: aiosocketio.Server, ns: str) -> Any:
    """What the application uses for ``ns``: the server's shortcuts for ``/``, else ``io.of(ns)``."""
    return io if ns == "/" else io.of(ns)


def server_socket(io: aiosocketio.Server, peer: Peer, ns: str = "/") -> aiosocketio.Socket:
    """The server-side ``Socket`` of ``peer`` on ``ns``."""
    sock: aiosocketio.Socket = io.of(ns).sockets[peer.sid(ns)]
    return sock


def record_disconnects(sock: aiosocketio.Socket, into: Queues) -> None:
    """Put ``(event, reason, rooms, connected)`` into ``into[sock.id]`` for disconnecting and disconnect."""
    for event in ("disconnecting", "disconnect"):

        def listener(reason: str, description: Any = None, event: str = event) -> None:
            into.put(sock.id, (event, reason, sock.rooms, sock.connected))

        sock.on(event, listener)


async def expect_disconnect(into: Queues, sid: str, reason: str, rooms: set[str] | None = None) -> None:
    """``disconnecting`` (still in ``rooms``) then ``disconnect`` (in no room) with ``reason``."""
    first = await into.next(sid)
    second = await into.next(sid)
    assert first[:2] == ("disconnecting", reason), first
    assert second == ("disconnect", reason, set(), False), second
    if rooms is not None:
        assert first[2] == rooms, first
    assert first[3] is True, first  # still connected while disconnecting


_barrier_numbers = itertools.count()


async def deliveries(target: Any, peers: dict[str, Peer], event: str, ns: str) -> dict[str, list[Any]]:
    """What each peer received of ``event`` since the last call: a ``barrier`` is emitted to everyone on
    ``ns`` (``target`` is the namespace or the server) and awaited by every peer first."""
    number = next(_barrier_numbers)
    await target.emit("barrier", number)
    result: dict[str, list[Any]] = {}
    for name, peer in peers.items():
        while (await peer.next("barrier", ns)) != (number,):
            pass
        got = peer.drain(event, ns)
        if got:
            result[name] = got
    return result


# --------------------------------------------------------------------------------------------------
# connection: events, ids, handshake, rooms, data, conn, request


@pytest.mark.parametrize("ns", NAMESPACES)
@pytest.mark.parametrize("transport", ["polling", "websocket"])
@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_connection(h: Harness, frontend: str, transport: str, ns: str) -> None:
    io = aiosocketio.Server()
    target = nsp_of(io, ns)
    order: list[tuple[str, str]] = []
    seen: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    @target.on("connect")
    def on_connect(sock: aiosocketio.Socket) -> None:
        order.append(("connect", sock.id))

    @target.on("connection")
    def on_connection(sock: aiosocketio.Socket) -> None:
        order.append(("connection", sock.id))
        if seen.done():
            return
        sock.data["user"] = "alice"
        seen.set_result(
            {
                "socket": sock,
                "rooms": sock.rooms,
                "connected": sock.connected,
                "listed": io.of(ns).sockets.get(sock.id) is sock,
            }
        )

    url = await h.serve(io, frontend)
    started = time.time()
    peer = await h.connected(
        url + "/?room=blue",
        [ns],
        transport=transport,
        auth={"token": "abc", "n": [1, 2]},
        headers={"X-Custom-Header": "Yes"},
    )
    info = await within(seen, "the connection event")
    sock: aiosocketio.Socket = info["socket"]

    # connect fires before connection, both once; the socket is connected and listed by then
    assert order == [("connect", sock.id), ("connection", sock.id)]
    assert info["connected"] is True
    assert info["listed"] is True
    assert info["rooms"] == {sock.id}

    # ids: the Socket.IO id is the client's, and not the Engine.IO id
    assert sock.id == peer.sid(ns)
    assert sock.id != peer.sio.eio.sid
    assert sock.conn.id == peer.sio.eio.sid
    assert sock.conn.transport.name == transport
    assert sock.nsp is io.of(ns)
    assert sock.nsp.name == ns
    assert sock.server is io
    assert sock.connected is True
    assert sock.disconnected is False
    assert sock.recovered is False
    assert sock.rooms == {sock.id}
    assert isinstance(sock.rooms, set)
    assert sock.data == {"user": "alice"}

    hs = sock.handshake
    assert isinstance(hs.headers, dict)
    assert all(isinstance(k, str) and k == k.lower() for k in hs.headers), hs.headers
    assert all(isinstance(v, str) for v in hs.headers.values()), hs.headers
    assert hs.headers["x-custom-header"] == "Yes"
    assert hs.headers["host"] == url.removeprefix("http://")
    assert isinstance(hs.time, str)
    assert JS_DATE.match(hs.time), hs.time
    assert hs.address == "127.0.0.1"
    assert hs.xdomain is False  # no Origin header
    assert hs.secure is False
    assert type(hs.issued) is int
    assert started * 1000 - 2000 <= hs.issued <= time.time() * 1000 + 2000
    assert hs.url.startswith(PATH + "?"), hs.url
    assert "room=blue" in hs.url
    assert isinstance(hs.query, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in hs.query.items()), hs.query
    assert hs.query["room"] == "blue"
    assert hs.query["EIO"] == "4"
    assert hs.query["transport"] == transport
    assert hs.auth == {"token": "abc", "n": [1, 2]}
    # The handshake crosses the cluster as JSON: every field survives a JSON round trip unchanged.
    fields = dataclasses.asdict(hs)
    assert sorted(fields) == sorted(
        ["headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"]
    )
    assert json.loads(json.dumps(fields)) == fields

    request = sock.request
    assert request.method == "GET"
    assert request.path.startswith(PATH)
    assert request.query["EIO"] == "4"
    assert request.query["room"] == "blue"
    assert request.headers["X-CUSTOM-HEADER"] == "Yes"  # case-insensitive
    assert request.remote_address == "127.0.0.1"
    assert request.secure is False

    # the socket works both ways
    await sock.emit("hello", "from", "server")
    assert await peer.next("hello", ns) == ("from", "server")

    # a cross-origin client: xdomain is true; every socket gets its own id
    other_seen: asyncio.Future[aiosocketio.Socket] = asyncio.get_running_loop().create_future()
    target.on("connection", lambda s: None if other_seen.done() or s is sock else other_seen.set_result(s))
    other = await h.connected(url, [ns], transport=transport, headers={"Origin": "http://example.com"})
    other_sock = await within(other_seen, "the second connection")
    assert other_sock.handshake.xdomain is True
    assert other_sock.handshake.headers["origin"] == "http://example.com"
    assert other_sock.handshake.auth == {}
    assert other_sock.id == other.sid(ns)
    assert other_sock.id != sock.id
    assert set(io.of(ns).sockets) == {sock.id, other_sock.id}


# --------------------------------------------------------------------------------------------------
# namespace middlewares (io.use / nsp.use)


@pytest.mark.parametrize("ns", NAMESPACES)
async def test_middlewares(h: Harness, ns: str) -> None:
    io = aiosocketio.Server()
    nsp = io.of(ns)
    use = io.use if ns == "/" else nsp.use
    calls: list[Any] = []
    disconnects: list[str] = []
    connections = Queues()

    def first(sock: aiosocketio.Socket) -> None:  # a plain function
        calls.append(("first", sock.connected, sock.id in nsp.sockets, sock.rooms))
        sock.data["checked"] = True
        sock.on("disconnect", lambda reason, description=None: disconnects.append(sock.id))

    async def second(sock: aiosocketio.Socket) -> None:  # a coroutine function
        await asyncio.sleep(0)
        await sock.join(["mw-room", "mw-other"])
        calls.append("second")
        token = sock.handshake.auth.get("token")
        if token == "refuse":
            raise ConnectError("not authorized", data={"code": 401, "fields": ["token"]})
        if token == "bare":
            raise ConnectError("no data here")
        if token == "crash":
            raise RuntimeError("the middleware crashed")

    def third(sock: aiosocketio.Socket) -> None:
        calls.append("third")

    use(first)
    use(second)
    use(third)
    nsp.on("connection", lambda sock: connections.put("connection", sock))
    url = await h.serve(io)

    async def refused(token: str) -> tuple[Any, ...]:
        calls.clear()
        peer = h.peer([ns])
        with pytest.raises(socketio.exceptions.ConnectionError):
            await peer.connect(url, auth={"token": token})
        assert calls[1:] == ["second"]  # the chain stopped at the refusal
        return await peer.next("connect_error", ns)

    # ConnectError: message and data reach the client's connect_error
    assert await refused("refuse") == (
        {"message": "not authorized", "data": {"code": 401, "fields": ["token"]}},
    )
    # during the middlewares the socket was not connected, not listed, in no room
    assert calls[0] == ("first", False, False, set())
    # ConnectError without data: no data; any other exception: its str() as the message
    assert await refused("bare") == ({"message": "no data here"},)
    assert await refused("crash") == ({"message": "the middleware crashed"},)
    # rooms joined by a refused socket were left
    assert "mw-room" not in nsp.adapter.rooms
    assert "mw-other" not in nsp.adapter.rooms
    assert await nsp.in_("mw-room").all_sockets() == set()
    assert nsp.sockets == {}
    # the refused clients went away; no disconnect event ever fired for their sockets
    await eventually(lambda: io.engine.clients_count == 0, "the refused clients to close")
    assert disconnects == []
    assert connections.drain("connection") == []

    # accepted: every middleware ran in order; rooms and data set by middlewares are kept
    calls.clear()
    peer = await h.connected(url, [ns], auth={"token": "ok"})
    sock = await connections.next("connection")
    assert calls == [("first", False, False, set()), "second", "third"]
    assert sock.id == peer.sid(ns)
    assert sock.rooms == {sock.id, "mw-room", "mw-other"}
    assert sock.data == {"checked": True}
    assert await nsp.in_("mw-room").all_sockets() == {sock.id}
    # and the disconnect listener added by the middleware fires for this one
    await peer.sio.disconnect()
    await eventually(lambda: disconnects == [sock.id], "the accepted socket's disconnect")


# --------------------------------------------------------------------------------------------------
# per-packet middlewares (socket.use)


@pytest.mark.parametrize("ns", NAMESPACES)
async def test_socket_use(h: Harness, ns: str) -> None:
    io = aiosocketio.Server()
    nsp = io.of(ns)
    seen: list[list[Any]] = []
    handled: list[str] = []
    errors = Queues()

    @nsp.on("connection")
    def on_connection(sock: aiosocketio.Socket) -> None:
        def guard(packet: list[Any]) -> None:
            seen.append(list(packet))
            if packet[0] == "forbidden":
                raise PermissionError("forbidden event")

        async def async_guard(packet: list[Any]) -> None:
            await asyncio.sleep(0)
            if packet[0] == "async-forbidden":
                raise ValueError("refused later")
            if packet[0] == "rewrite":
                packet[1] = "rewritten"

        sock.use(guard)
        sock.use(async_guard)
        sock.on("error", lambda err: errors.put("error", err))
        sock.on("forbidden", lambda *args: handled.append("forbidden"))
        sock.on("async-forbidden", lambda *args: handled.append("async-forbidden"))
        sock.on("allowed", lambda value: ("ok", value))
        sock.on("rewrite", lambda value: value)

    url = await h.serve(io)
    peer = await h.connected(url, [ns])

    assert await peer.call("allowed", 1, ns=ns) == ("ok", 1)
    dropped: list[Any] = []
    await peer.sio.emit("forbidden", ("x", {"y": 2}), namespace=ns, callback=lambda *a: dropped.append(a))
    err = await errors.next("error")
    assert isinstance(err, PermissionError)
    assert str(err) == "forbidden event"
    await peer.sio.emit("async-forbidden", "z", namespace=ns, callback=lambda *a: dropped.append(a))
    err = await errors.next("error")
    assert isinstance(err, ValueError)
    assert str(err) == "refused later"
    # a middleware may change the packet before it is dispatched
    assert await peer.call("rewrite", "original", ns=ns) == ("rewritten",)
    # the dropped events reached no handler, were never acknowledged, and the client got no "error"
    assert await peer.call("allowed", 2, ns=ns) == ("ok", 2)
    assert handled == []
    assert dropped == []
    assert peer.drain("error", ns) == []
    assert seen == [
        ["allowed", 1],
        ["forbidden", "x", {"y": 2}],
        ["async-forbidden", "z"],
        ["rewrite", "original"],
        ["allowed", 2],
    ]
    assert peer.sio.connected


# --------------------------------------------------------------------------------------------------
# listeners: on / once / off, catch-all incoming and outgoing


@pytest.mark.parametrize("ns", NAMESPACES)
async def test_listeners(h: Harness, ns: str) -> None:
    io = aiosocketio.Server()
    nsp = io.of(ns)
    sockets: asyncio.Queue[aiosocketio.Socket] = asyncio.Queue()
    nsp.on("connection", sockets.put_nowait)
    url = await h.serve(io)
    peer = await h.connected(url, [ns])
    sock = await within(sockets.get(), "the connection")
    sock.on("flush", lambda: "flushed")

    calls: list[Any] = []

    async def emit_then_flush(*events: tuple[Any, ...]) -> None:
        """The client emits ``events`` then "flush" with an ack: when the ack comes, all were dispatched."""
        for event, *args in events:
            await peer.sio.emit(event, tuple(args), namespace=ns)
        assert await peer.call("flush", ns=ns) == ("flushed",)

    def a1(*args: Any) -> None:
        calls.append(("a1", *args))

    sock.on("a", a1)

    @sock.on("a")
    def a2(*args: Any) -> None:
        calls.append(("a2", *args))

    def b(*args: Any) -> None:
        calls.append(("b", *args))

    sock.once("b", b)
    assert sock.listeners("a") == [a1, a2]
    await emit_then_flush(("a", 1), ("b", 2), ("b", 3))
    assert calls == [("a1", 1), ("a2", 1), ("b", 2)]  # once: the second "b" reached nobody

    calls.clear()
    sock.off("a", a1)
    assert sock.listeners("a") == [a2]
    await emit_then_flush(("a", 4))
    assert calls == [("a2", 4)]
    calls.clear()
    sock.off("a")
    assert sock.listeners("a") == []
    await emit_then_flush(("a", 5))
    assert calls == []
    # a once listener removed before it fired never fires
    sock.once("c", b)
    sock.off("c", b)
    await emit_then_flush(("c", 6))
    assert calls == []

    # catch-all, incoming: (event, *args) for every event, prepend_any first
    def any1(event: str, *args: Any) -> None:
        if event != "flush":
            calls.append(("any1", event, *args))

    def any0(event: str, *args: Any) -> None:
        if event != "flush":
            calls.append(("any0", event, *args))

    sock.on_any(any1)
    sock.prepend_any(any0)
    assert sock.listeners_any() == [any0, any1]
    await emit_then_flush(("d", 7, "eight"), ("unhandled",))
    assert calls == [
        ("any0", "d", 7, "eight"),
        ("any1", "d", 7, "eight"),
        ("any0", "unhandled"),
        ("any1", "unhandled"),
    ]
    calls.clear()
    sock.off_any(any0)
    assert sock.listeners_any() == [any1]
    await emit_then_flush(("d", 9))
    assert calls == [("any1", "d", 9)]
    calls.clear()
    sock.off_any()
    assert sock.listeners_any() == []
    await emit_then_flush(("d", 10))
    assert calls == []


@pytest.mark.parametrize("ns", NAMESPACES)
async def test_outgoing_listeners(h: Harness, ns: str) -> None:
    """on_any_outgoing and its siblings: the socket's own emits, and the broadcasts that reach it."""
    io = aiosocketio.Server()
    nsp = io.of(ns)
    sockets: asyncio.Queue[aiosocketio.Socket] = asyncio.Queue()
    nsp.on("connection", sockets.put_nowait)
    url = await h.serve(io)
    peer = await h.connected(url, [ns])
    sock = await within(sockets.get(), "the connection")
    calls: list[Any] = []

    def out1(event: str, *args: Any) -> None:
        calls.append(("out1", event, *args))

    def out0(event: str, *args: Any) -> None:
        calls.append(("out0", event, *args))

    sock.on_any_outgoing(out1)
    sock.prepend_any_outgoing(out0)
    assert sock.listeners_any_outgoing() == [out0, out1]
    await sock.emit("direct", 1)
    assert calls == [("out0", "direct", 1), ("out1", "direct", 1)]
    calls.clear()
    await nsp.emit("to-everyone", 2)
    await nsp.to(sock.id).emit("to-room", 3)
    await nsp.to("nobody-here").emit("to-nobody", 4)  # does not reach this socket
    await sock.send("text")
    assert await sock.timeout(2).emit_with_ack("asked", 5) is None  # the catch-all acks with no argument
    assert calls == [
        ("out0", "to-everyone", 2),
        ("out1", "to-everyone", 2),
        ("out0", "to-room", 3),
        ("out1", "to-room", 3),
        ("out0", "message", "text"),
        ("out1", "message", "text"),
        ("out0", "asked", 5),
        ("out1", "asked", 5),
    ]
    calls.clear()
    sock.off_any_outgoing(out0)
    assert sock.listeners_any_outgoing() == [out1]
    await sock.emit("direct", 6)
    assert calls == [("out1", "direct", 6)]
    calls.clear()
    sock.off_any_outgoing()
    assert sock.listeners_any_outgoing() == []
    await sock.emit("direct", 7)
    await nsp.emit("to-everyone", 8)
    assert calls == []

    # the client received what was sent, in order
    assert await peer.next("direct", ns) == (1,)
    assert await peer.next("to-everyone", ns) == (2,)
    assert await peer.next("to-room", ns) == (3,)
    assert await peer.next("message", ns) == ("text",)
    assert await peer.next("asked", ns) == (5,)
    assert await peer.next("direct", ns) == (6,)
    assert await peer.next("direct", ns) == (7,)
    assert await peer.next("to-everyone", ns) == (8,)
    assert peer.drain("to-nobody", ns) == []


# --------------------------------------------------------------------------------------------------
# acknowledgements, both ways, and broadcasts with acknowledgements


@pytest.mark.parametrize("ns", NAMESPACES)
@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_acks(h: Harness, frontend: str, ns: str) -> None:
    io = aiosocketio.Server()
    nsp = io.of(ns)
    target = nsp_of(io, ns)
    sockets: asyncio.Queue[aiosocketio.Socket] = asyncio.Queue()

    @nsp.on("connection")
    def on_connection(sock: aiosocketio.Socket) -> None:
        sock.on("one", lambda: "one")
        sock.on("many", lambda *args: ("many", len(args), None, {"k": [1]}))
        sock.on("none", lambda *args: None)
        sock.on("echo", lambda *args: args)

        @sock.on("async-one")
        async def async_one(value: Any) -> Any:
            await asyncio.sleep(0.01)
            return {"got": value}

        @sock.on("async-many")
        async def async_many() -> Any:
            await asyncio.sleep(0)
            return (1, "two")

        sockets.put_nowait(sock)

    url = await h.serve(io, frontend)

    # client → server: the handler's return value is the ack
    peer = await h.connected(url, [ns])
    sock = await within(sockets.get(), "the connection")
    assert await peer.call("one", ns=ns) == ("one",)
    assert await peer.call("many", 1, 2, 3, ns=ns) == ("many", 3, None, {"k": [1]})
    assert await peer.call("none", ns=ns) == ()  # an ack with no argument
    assert await peer.call("echo", "a", [1, {"b": None}], ns=ns) == ("a", [1, {"b": None}])
    assert await peer.call("async-one", 5, ns=ns) == ({"got": 5},)
    assert await peer.call("async-many", ns=ns) == (1, "two")

    # server → client: the client's answer; several arguments as a tuple; none as None
    peer.on("double", lambda x: x * 2, ns)
    peer.on("pair", lambda x: (x, "b"), ns)
    peer.on("nothing", lambda: None, ns)
    assert await within(sock.emit_with_ack("double", 21), "the ack of double") == 42
    assert await sock.timeout(2).emit_with_ack("pair", "a") == ("a", "b")
    assert await sock.timeout(2).emit_with_ack("nothing") is None
    assert await peer.next("double", ns) == (21,)

    # a client that never answers: AckTimeoutError (a TimeoutError) after the timeout
    peer.never_answer("silent", ns)
    started = time.monotonic()
    with pytest.raises(AckTimeoutError) as caught:
        await sock.timeout(0.2).emit_with_ack("silent", 1)
    elapsed = time.monotonic() - started
    assert isinstance(caught.value, TimeoutError)
    assert str(caught.value) == "operation has timed out"
    assert 0.15 <= elapsed < 0.2 + PROMPTLY
    assert await peer.next("silent", ns) == (1,)
    # the socket still works
    assert await sock.timeout(2).emit_with_ack("double", 1) == 2

    # broadcasts: every targeted client's first ack argument
    voters = [peer]
    for name in ("v1", "v2"):
        voter = h.peer([ns])
        voter.on("vote", lambda question, name=name: (f"{name}:{question}", "ignored"), ns)
        await voter.connect(url)
        voters.append(voter)
    peer.on("vote", lambda question: f"v0:{question}", ns)
    for voter in voters:
        await server_socket(io, voter, ns).join("voters")
    answers = await target.timeout(2).emit_with_ack("vote", "q1")
    assert sorted(answers) == ["v0:q1", "v1:q1", "v2:q1"]
    answers = await target.to("voters").except_(peer.sid(ns)).timeout(2).emit_with_ack("vote", "q2")
    assert sorted(answers) == ["v1:q2", "v2:q2"]
    answers = await nsp.in_("voters").timeout(2).emit_with_ack("vote", "q3")
    assert sorted(answers) == ["v0:q3", "v1:q3", "v2:q3"]
    # nobody targeted: no answer to wait for
    assert await target.to("empty-room").timeout(2).emit_with_ack("vote", "q4") == []

    # one client does not answer: AckTimeoutError with the answers that arrived
    mute = h.peer([ns])
    mute.never_answer("vote", ns)
    await mute.connect(url)
    started = time.monotonic()
    with pytest.raises(AckTimeoutError) as caught:
        await target.timeout(0.3).emit_with_ack("vote", "q5")
    assert time.monotonic() - started >= 0.25
    assert isinstance(caught.value, TimeoutError)
    assert sorted(caught.value.responses) == ["v0:q5", "v1:q5", "v2:q5"]
    assert await mute.next("vote", ns) == ("q5",)

    # a broadcast with acks needs a timeout
    with pytest.raises(ValueError, match="timeout"):
        await target.emit_with_ack("vote", "q6")
    with pytest.raises(ValueError, match="timeout"):
        await nsp.to("voters").emit_with_ack("vote", "q6")
    # each voter got each question once
    for index, voter in enumerate(voters):
        questions = [args[0] for args in voter.drain("vote", ns)]
        expected = ["q1", "q3", "q5"] if index == 0 else ["q1", "q2", "q3", "q5"]
        assert questions == expected, (index, questions)


# --------------------------------------------------------------------------------------------------
# rooms and broadcasting


async def four_peers(h: Harness, io: aiosocketio.Server, url: str, ns: str) -> dict[str, Peer]:
    """Peers A (in r1), B (r1, r2), C (r2, r3), D (no room) on ``ns``; each socket's data holds its name."""
    peers: dict[str, Peer] = {}
    for name in "ABCD":
        peers[name] = await h.connected(url, [ns], auth={"name": name})
    sockets = {name: server_socket(io, peer, ns) for name, peer in peers.items()}
    await sockets["A"].join("r1")  # a str
    await sockets["B"].join(["r1", "r2"])  # a list
    await sockets["C"].join(("r2", "r3", "temporary"))  # any iterable
    await sockets["C"].leave("temporary")
    await sockets["D"].join([])
    for name, sock in sockets.items():
        sock.data["name"] = name
    assert sockets["A"].rooms == {sockets["A"].id, "r1"}
    assert sockets["B"].rooms == {sockets["B"].id, "r1", "r2"}
    assert sockets["C"].rooms == {sockets["C"].id, "r2", "r3"}
    assert sockets["D"].rooms == {sockets["D"].id}
    return peers


@pytest.mark.parametrize("ns", NAMESPACES)
@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_broadcasting(h: Harness, frontend: str, ns: str) -> None:
    io = aiosocketio.Server()
    nsp = io.of(ns)
    target = nsp_of(io, ns)
    url = await h.serve(io, frontend)
    peers = await four_peers(h, io, url, ns)
    socks = {name: server_socket(io, peer, ns) for name, peer in peers.items()}
    # a client on the other namespace, in the same rooms: broadcasts on ``ns`` never reach it
    other_ns = "/admin" if ns == "/" else "/"
    io.of(other_ns)
    outsider = await h.connected(url, [other_ns])
    await server_socket(io, outsider, other_ns).join(["r1", "r2", "r3"])

    async def got(event: str = "ev") -> dict[str, list[Any]]:
        return await deliveries(target, peers, event, ns)

    everyone = {name: [(0,)] for name in "ABCD"}

    # to / in_ / except_, with str and lists; several target rooms: union, each socket once
    await target.to("r1").emit("ev", 0)
    assert await got() == {"A": [(0,)], "B": [(0,)]}
    await target.in_("r1").emit("ev", 0)
    assert await got() == {"A": [(0,)], "B": [(0,)]}
    await target.to(["r1", "r2"]).emit("ev", 0)
    assert await got() == {"A": [(0,)], "B": [(0,)], "C": [(0,)]}
    await target.to("r1").in_("r2").emit("ev", 0)
    assert await got() == {"A": [(0,)], "B": [(0,)], "C": [(0,)]}
    await target.to("r1").to("r3").emit("ev", 0)
    assert await got() == {"A": [(0,)], "B": [(0,)], "C": [(0,)]}
    await target.to(["r1", "r1", "r2", "r3"]).emit("ev", 0)
    assert await got() == {"A": [(0,)], "B": [(0,)], "C": [(0,)]}
    await target.except_("r1").emit("ev", 0)
    assert await got() == {"C": [(0,)], "D": [(0,)]}
    await target.except_(["r1", "r3"]).emit("ev", 0)
    assert await got() == {"D": [(0,)]}
    await target.except_("r1").except_("r3").emit("ev", 0)
    assert await got() == {"D": [(0,)]}
    await target.to("r2").except_("r3").emit("ev", 0)
    assert await got() == {"B": [(0,)]}
    await target.to(["r1", "r2"]).except_(socks["B"].id).emit("ev", 0)
    assert await got() == {"A": [(0,)], "C": [(0,)]}
    await target.to(socks["D"].id).emit("ev", 0)  # every socket is in the room of its own id
    assert await got() == {"D": [(0,)]}
    await target.to("no-such-room").emit("ev", 0)
    assert await got() == {}
    await target.emit("ev", 0)
    assert await got() == everyone
    # operators are immutable
    only_r1 = target.to("r1")
    wider = only_r1.to("r3")
    await only_r1.emit("ev", 0)
    assert await got() == {"A": [(0,)], "B": [(0,)]}
    await wider.emit("ev", 0)
    assert await got() == {"A": [(0,)], "B": [(0,)], "C": [(0,)]}
    # flags
    await target.local.emit("ev", 0)
    assert await got() == everyone
    await target.local.to("r3").emit("ev", 0)
    assert await got() == {"C": [(0,)]}
    await target.compress(False).emit("ev", 0)
    assert await got() == everyone
    await target.compress(True).to("r1").emit("ev", 0)
    assert await got() == {"A": [(0,)], "B": [(0,)]}
    # volatile: delivered when the transport is idle (the barrier has been received: nothing is queued);
    # over long-polling "idle" means a GET is waiting, which the test cannot arrange: delivered or dropped (docs/protocol/socketio.md#emit-flags)
    await target.volatile.emit("ev", 0)
    if DEFAULT_TRANSPORT[0] == "websocket":
        assert await got() == everyone
    else:
        assert set(await got()) <= set(everyone)
    await target.volatile.to("r2").emit("ev", 0)
    if DEFAULT_TRANSPORT[0] == "websocket":
        assert await got() == {"B": [(0,)], "C": [(0,)]}
    else:
        assert set(await got()) <= {"B", "C"}
    # send = the "message" event
    await target.send("hi", 1)
    assert await got("message") == {name: [("hi", 1)] for name in "ABCD"}
    await target.to("r3").send("only C")
    assert await got("message") == {"C": [("only C",)]}
    await nsp.send("via nsp")
    assert await got("message") == {name: [("via nsp",)] for name in "ABCD"}
    # several arguments and every JSON type, as the client sees them
    await target.to("r3").emit("ev", "s", 1, 1.5, True, None, [1, "x"], {"k": {"n": None}}, b"\x00\xff")
    assert await got() == {"C": [("s", 1, 1.5, True, None, [1, "x"], {"k": {"n": None}}, b"\x00\xff")]}

    # from a socket: never to the sender itself
    await socks["A"].to("r1").emit("ev", 0)
    assert await got() == {"B": [(0,)]}
    await socks["A"].in_("r1").emit("ev", 0)
    assert await got() == {"B": [(0,)]}
    await socks["B"].to(["r1", "r2"]).emit("ev", 0)
    assert await got() == {"A": [(0,)], "C": [(0,)]}
    await socks["A"].to(socks["A"].id).emit("ev", 0)
    assert await got() == {}
    await socks["A"].broadcast.emit("ev", 0)
    assert await got() == {"B": [(0,)], "C": [(0,)], "D": [(0,)]}
    await socks["A"].broadcast.to("r2").emit("ev", 0)
    assert await got() == {"B": [(0,)], "C": [(0,)]}
    await socks["C"].except_("r1").emit("ev", 0)
    assert await got() == {"D": [(0,)]}
    await socks["D"].local.emit("ev", 0)
    assert await got() == {"A": [(0,)], "B": [(0,)], "C": [(0,)]}
    await socks["A"].broadcast.send("psst")
    assert await got("message") == {name: [("psst",)] for name in "BCD"}

    # from a socket, to itself only: flags apply to that emit
    await socks["A"].volatile.emit("ev", 0)
    # over long-polling a volatile packet may be dropped (docs/protocol/socketio.md#emit-flags)
    if DEFAULT_TRANSPORT[0] == "websocket":
        assert await got() == {"A": [(0,)]}
    else:
        assert set(await got()) <= {"A"}
    await socks["B"].compress(False).emit("ev", 0)
    assert await got() == {"B": [(0,)]}
    await socks["C"].send("for C")
    assert await got("message") == {"C": [("for C",)]}

    # a client's event handled by socket.to(room): the sender is left out
    @socks["B"].on("shout")
    async def shout(text: str) -> str:
        await socks["B"].to("r1").emit("ev", text)
        return "shouted"

    assert await peers["B"].call("shout", "hey", ns=ns) == ("shouted",)
    assert await got() == {"A": [("hey",)]}

    # nothing crossed to the other namespace
    await io.of(other_ns).emit("barrier", "end")
    assert await outsider.next("barrier", other_ns) == ("end",)
    assert outsider.drain("ev", other_ns) == []
    assert outsider.drain("message", other_ns) == []


# --------------------------------------------------------------------------------------------------
# utility methods: fetch_sockets, all_sockets, sockets_join, sockets_leave, disconnect_sockets


@pytest.mark.parametrize("ns", NAMESPACES)
async def test_utility_methods(h: Harness, ns: str) -> None:
    io = aiosocketio.Server()
    nsp = io.of(ns)
    target = nsp_of(io, ns)
    url = await h.serve(io)
    peers = await four_peers(h, io, url, ns)
    socks = {name: server_socket(io, peer, ns) for name, peer in peers.items()}
    ids = {name: sock.id for name, sock in socks.items()}
    by_id = {sid: name for name, sid in ids.items()}
    disconnects = Queues()
    for sock in socks.values():
        record_disconnects(sock, disconnects)

    def names(sids: Iterable[str]) -> set[str]:
        return {by_id[sid] for sid in sids}

    def members(room: str) -> set[str]:
        return {name for name, sock in socks.items() if room in sock.rooms}

    # fetch_sockets: the Socket objects themselves, with id, rooms and data
    found = await target.fetch_sockets()
    assert all(isinstance(sock, aiosocketio.Socket) for sock in found)
    assert {sock.id: sock for sock in found} == {sock.id: sock for sock in socks.values()}
    assert {sock.data["name"] for sock in found} == set("ABCD")
    fetched_b = next(sock for sock in found if sock.data["name"] == "B")
    assert fetched_b.id == ids["B"]
    assert fetched_b.rooms == {ids["B"], "r1", "r2"}
    assert names(s.id for s in await target.in_("r2").fetch_sockets()) == {"B", "C"}
    assert names(s.id for s in await target.to(["r1", "r3"]).fetch_sockets()) == {"A", "B", "C"}
    assert names(s.id for s in await target.except_("r1").fetch_sockets()) == {"C", "D"}
    assert names(s.id for s in await target.to("r1").except_("r2").fetch_sockets()) == {"A"}
    assert names(s.id for s in await target.local.fetch_sockets()) == set("ABCD")
    assert names(s.id for s in await target.local.in_("r3").except_("r1").fetch_sockets()) == {"C"}
    assert [s.id for s in await target.in_(ids["D"]).fetch_sockets()] == [ids["D"]]
    assert await target.in_("no-such-room").fetch_sockets() == []

    # all_sockets: the ids
    assert names(await target.all_sockets()) == set("ABCD")
    assert names(await target.in_("r1").all_sockets()) == {"A", "B"}
    assert names(await target.to(["r1", "r2"]).except_("r3").all_sockets()) == {"A", "B"}
    assert names(await target.except_(["r1", "r2"]).all_sockets()) == {"D"}
    assert names(await target.local.all_sockets()) == set("ABCD")

    # sockets_join
    await target.in_("r1").sockets_join("j1")
    assert members("j1") == {"A", "B"}
    await target.except_("r1").sockets_join(["j2", "j3"])
    assert members("j2") == members("j3") == {"C", "D"}
    await target.sockets_join("all")
    assert members("all") == set("ABCD")
    await target.to("r2").except_("r3").local.sockets_join(["only-b"])
    assert members("only-b") == {"B"}
    await target.in_(ids["D"]).sockets_join("just-d")
    assert members("just-d") == {"D"}
    assert names(await target.in_("j2").all_sockets()) == {"C", "D"}

    # sockets_leave
    await target.in_("r2").except_("r3").sockets_leave(["all", "only-b"])
    assert members("all") == {"A", "C", "D"}
    assert members("only-b") == set()
    await target.local.sockets_leave("j1")
    assert members("j1") == set()
    await target.in_("j2").except_(ids["C"]).sockets_leave(["j2", "j3"])
    assert members("j2") == members("j3") == {"C"}
    await target.sockets_leave("all")
    assert members("all") == set()
    assert socks["B"].rooms == {ids["B"], "r1", "r2"}  # the other rooms are untouched

    # the sockets' rooms changed, so broadcasts follow
    await target.to("just-d").emit("ev", 1)
    assert await deliveries(target, peers, "ev", ns) == {"D": [(1,)]}

    # disconnect_sockets: the matching sockets leave with "server namespace disconnect"
    await target.in_("r3").disconnect_sockets()
    await expect_disconnect(
        disconnects, ids["C"], "server namespace disconnect", {ids["C"], "r2", "r3", "j2", "j3"}
    )
    assert await peers["C"].next("disconnect", ns) == (SERVER_DISCONNECT,)
    assert set(nsp.sockets) == {ids["A"], ids["B"], ids["D"]}
    await target.except_("r1").local.disconnect_sockets()
    await expect_disconnect(disconnects, ids["D"], "server namespace disconnect")
    assert await peers["D"].next("disconnect", ns) == (SERVER_DISCONNECT,)
    # the others are still connected and receive broadcasts
    del peers["C"], peers["D"]
    await target.emit("ev", 2)
    assert await deliveries(target, peers, "ev", ns) == {"A": [(2,)], "B": [(2,)]}
    await target.disconnect_sockets()
    for name in "AB":
        await expect_disconnect(disconnects, ids[name], "server namespace disconnect")
        assert await peers[name].next("disconnect", ns) == (SERVER_DISCONNECT,)
    assert nsp.sockets == {}
    assert await target.fetch_sockets() == []
    assert nsp.adapter.rooms == {}


async def test_disconnect_sockets_close(h: Harness) -> None:
    """close=False: only that namespace; close=True: the whole connection, every namespace on it."""
    io = aiosocketio.Server()
    admin = io.of("/admin")
    url = await h.serve(io)
    first = await h.connected(url, ["/", "/admin"])
    second = await h.connected(url, ["/", "/admin"])
    disconnects = Queues()
    for peer in (first, second):
        for ns in ("/", "/admin"):
            record_disconnects(server_socket(io, peer, ns), disconnects)
    assert io.engine.clients_count == 2

    await admin.in_(first.sid("/admin")).disconnect_sockets()
    await expect_disconnect(disconnects, first.sid("/admin"), "server namespace disconnect")
    assert await first.next("disconnect", "/admin") == (SERVER_DISCONNECT,)
    # "/" of the same connection carries on
    assert first.sio.connected
    await io.to(first.sid("/")).emit("still", "here")
    assert await first.next("still") == ("here",)
    assert io.engine.clients_count == 2

    await admin.in_(second.sid("/admin")).disconnect_sockets(close=True)
    await expect_disconnect(disconnects, second.sid("/admin"), "server namespace disconnect")
    await expect_disconnect(disconnects, second.sid("/"), "server namespace disconnect")
    # every namespace of that connection got its DISCONNECT before the connection closed
    assert await second.next("disconnect", "/admin") == (SERVER_DISCONNECT,)
    assert await second.next("disconnect", "/") == (SERVER_DISCONNECT,)
    await eventually(lambda: io.engine.clients_count == 1, "the connection to close")
    assert not second.sio.connected
    # the first client is untouched
    await io.emit("still", "there")
    assert await first.next("still") == ("there",)
    assert set(io.sockets.sockets) == {first.sid("/")}
    assert admin.sockets == {}


async def test_disconnect_sockets_seed_example(h: Harness) -> None:
    """The example of the seed page, exactly: ``io.of("/admin").in_("room1").except_("room2").local``."""
    io = aiosocketio.Server()
    io.of("/admin")
    url = await h.serve(io)
    peers = {name: await h.connected(url, ["/admin"]) for name in ("room1", "both", "room2", "none")}
    main = await h.connected(url, ["/"])
    await server_socket(io, main).join("room1")
    await server_socket(io, peers["room1"], "/admin").join("room1")
    await server_socket(io, peers["both"], "/admin").join(["room1", "room2"])
    await server_socket(io, peers["room2"], "/admin").join("room2")

    await io.of("/admin").in_("room1").except_("room2").local.disconnect_sockets()

    assert await peers["room1"].next("disconnect", "/admin") == (SERVER_DISCONNECT,)
    assert not peers["room1"].sio.connected
    remaining = {name: peer for name, peer in peers.items() if name != "room1"}
    assert await deliveries(io.of("/admin"), remaining, "disconnect", "/admin") == {}
    assert all(peer.sio.connected for peer in remaining.values())
    assert main.sio.connected
    assert len(io.of("/admin").sockets) == 3


# --------------------------------------------------------------------------------------------------
# server_side_emit with the in-memory adapter


@pytest.mark.parametrize("ns", NAMESPACES)
async def test_server_side_emit(h: Harness, ns: str) -> None:
    io = aiosocketio.Server()
    nsp = io.of(ns)
    target = nsp_of(io, ns)
    called: list[Any] = []

    @target.on("hello")
    def on_hello(*args: Any) -> str:
        called.append(args)
        return "answer"

    url = await h.serve(io)
    peer = await h.connected(url, [ns])

    # a single server: nobody to reach, not even this server or its clients
    assert await target.server_side_emit("hello", 1, {"two": 2}) is None
    assert await target.server_side_emit_with_ack("hello", 1) == []
    assert await nsp.server_side_emit_with_ack("hello", timeout=0.5) == []
    assert await nsp.server_side_emit("hello") is None
    assert called == []
    await target.emit("barrier", "end")
    assert await peer.next("barrier", ns) == ("end",)
    assert peer.drain("hello", ns) == []

    # reserved names
    for name in ("connection", "connect", "new_namespace"):
        with pytest.raises(ValueError, match=name):
            await target.server_side_emit(name, 1)
        with pytest.raises(ValueError, match=name):
            await nsp.server_side_emit_with_ack(name, timeout=0.5)


# --------------------------------------------------------------------------------------------------
# programmer mistakes: reserved event names and wrong types


RESERVED_EVENTS = ("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener")


@pytest.mark.parametrize("ns", NAMESPACES)
async def test_emit_refuses_reserved_names_and_wrong_types(h: Harness, ns: str) -> None:
    io = aiosocketio.Server()
    nsp = io.of(ns)
    target = nsp_of(io, ns)
    url = await h.serve(io)
    peer = await h.connected(url, [ns])
    sock = server_socket(io, peer, ns)

    # each emitter's lambda has its own line, so a failure's traceback shows which one did not raise
    emitters: list[Callable[[Any], Awaitable[Any]]] = [
        lambda e: sock.emit(e, 1),
        lambda e: sock.volatile.emit(e),
        lambda e: sock.timeout(0.5).emit_with_ack(e),
        lambda e: sock.to("room").emit(e),
        lambda e: sock.broadcast.emit(e),
        lambda e: target.emit(e),
        lambda e: nsp.emit(e),
        lambda e: target.to("room").emit(e),
        lambda e: target.except_("room").emit(e),
        lambda e: target.timeout(0.5).emit_with_ack(e),
    ]
    for emit in emitters:
        for name in RESERVED_EVENTS:
            with pytest.raises(ValueError, match=name):
                await emit(name)
        for wrong in (None, b"event", ["event"], {"event": 1}, object()):
            with pytest.raises(TypeError):
                await emit(wrong)
    # arguments that JSON cannot carry
    with pytest.raises(TypeError):
        await sock.emit("event", object())
    with pytest.raises(TypeError):
        await target.emit("event", {1, 2})
    # room names are str
    with pytest.raises(TypeError):
        await sock.join(["ok", 1])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        target.to(42)
    with pytest.raises(TypeError):
        target.except_([b"room"])
    # nothing reached the client, and the socket still works
    await sock.emit("fine", 1)
    assert await peer.next("fine", ns) == (1,)
    assert sock.rooms == {sock.id}


# --------------------------------------------------------------------------------------------------
# disconnecting / disconnect and their reasons


@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_disconnect_reasons(h: Harness, frontend: str) -> None:
    io = aiosocketio.Server()
    io.of("/admin")
    disconnects = Queues()
    joined = Queues()
    for ns in NAMESPACES:

        @io.of(ns).on("connection")
        async def on_connection(sock: aiosocketio.Socket) -> None:
            record_disconnects(sock, disconnects)
            await sock.join("room")
            joined.put(sock.id)

    url = await h.serve(io, frontend)

    async def raw_in_both() -> tuple[RawClient, str, str]:
        raw = await h.raw(url)
        main, admin = await raw.join("/"), await raw.join("/admin")
        await joined.next(main)
        await joined.next(admin)
        return raw, main, admin

    # "client namespace disconnect": the client leaves one namespace; its other one carries on
    raw, main, admin = await raw_in_both()
    await raw.send("41/admin,")
    await expect_disconnect(disconnects, admin, "client namespace disconnect", {admin, "room"})
    assert main in io.sockets.sockets
    await io.to(main).emit("still", 1)
    assert await raw.recv() == '42["still",1]'
    await raw.send("41")
    await expect_disconnect(disconnects, main, "client namespace disconnect", {main, "room"})
    # the Engine.IO connection stays open: the client can join again
    again = await raw.join("/")
    await joined.next(again)
    assert again != main

    # "transport close": the client closes the WebSocket
    raw, main, admin = await raw_in_both()
    await raw.close()
    await expect_disconnect(disconnects, main, "transport close", {main, "room"})
    await expect_disconnect(disconnects, admin, "transport close", {admin, "room"})

    # "server namespace disconnect": socket.disconnect(); the client sees a server disconnection
    peer = await h.connected(url, ["/", "/admin"])
    for ns in NAMESPACES:
        await joined.next(peer.sid(ns))
    admin_socket = server_socket(io, peer, "/admin")
    await admin_socket.disconnect()
    assert admin_socket.connected is False
    assert admin_socket.disconnected is True
    assert admin_socket.rooms == set()
    await expect_disconnect(
        disconnects, admin_socket.id, "server namespace disconnect", {admin_socket.id, "room"}
    )
    assert await peer.next("disconnect", "/admin") == (SERVER_DISCONNECT,)
    assert peer.sio.connected  # still on "/"
    main_socket = server_socket(io, peer, "/")
    await main_socket.disconnect()
    await expect_disconnect(
        disconnects, main_socket.id, "server namespace disconnect", {main_socket.id, "room"}
    )
    assert await peer.next("disconnect", "/") == (SERVER_DISCONNECT,)

    # "server shutting down": io.close() closes every socket of every namespace; no DISCONNECT is sent, so
    # the client sees its transport go away
    peer = await h.connected(url, ["/", "/admin"])
    raw, main, admin = await raw_in_both()
    sids = [peer.sid("/"), peer.sid("/admin"), main, admin]
    for sid in sids[:2]:
        await joined.next(sid)
    await io.close()
    for sid in sids:
        await expect_disconnect(disconnects, sid, "server shutting down", {sid, "room"})
    # io.close() sends no DISCONNECT; the client sees the transport go (a held GET is answered with an
    # Engine.IO close packet, which python-socketio reports as a server disconnect over long-polling)
    gone = (TRANSPORT_ERROR,) if DEFAULT_TRANSPORT[0] != "polling" else (SERVER_DISCONNECT,)
    assert await peer.next("disconnect", "/") == gone
    assert await peer.next("disconnect", "/admin") == gone
    await raw.wait_closed()
    assert io.sockets.sockets == {}
    assert io.of("/admin").sockets == {}
    await eventually(lambda: io.engine.clients_count == 0, "every session to close")


@pytest.mark.parametrize("ns", NAMESPACES)
async def test_disconnected_socket_is_inert(h: Harness, ns: str) -> None:
    """After the disconnection (the connection itself still open): join does nothing (docs/protocol/socketio.md#disconnection, docs/protocol/server.md#rooms), emits are
    dropped, and a second disconnect does nothing."""
    io = aiosocketio.Server()
    io.of("/admin")
    handled: list[Any] = []
    for name in NAMESPACES:
        io.of(name).on("connection", lambda sock: sock.on("echo", lambda *args: handled.append(args) or args))
    url = await h.serve(io)
    other_ns = "/admin" if ns == "/" else "/"
    peer = await h.connected(url, [other_ns, ns])
    sock = server_socket(io, peer, ns)
    disconnects = Queues()
    record_disconnects(sock, disconnects)
    await sock.disconnect()
    await expect_disconnect(disconnects, sock.id, "server namespace disconnect", {sock.id})
    assert await peer.next("disconnect", ns) == (SERVER_DISCONNECT,)

    await sock.join("late")
    await sock.join(["later", "latest"])
    assert sock.rooms == set()
    assert io.of(ns).adapter.rooms == {}
    assert await io.of(ns).in_("late").all_sockets() == set()
    await sock.emit("lost", 1)
    await sock.send("lost too")
    await sock.disconnect()
    await sock.disconnect(close=True)
    assert disconnects.drain(sock.id) == []
    # the other namespace of the same connection is untouched, and nothing reached the client
    assert await peer.call("echo", "ok", ns=other_ns) == ("ok",)
    assert peer.sio.connected
    assert peer.drain("lost", ns) == []
    assert peer.drain("message", ns) == []


@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_ping_timeout(h: Harness, frontend: str) -> None:
    """A client that stops answering pings leaves with "ping timeout"; a client that answers stays."""
    io = aiosocketio.Server(ping_interval=0.2, ping_timeout=0.2)
    io.of("/admin")
    disconnects = Queues()

    def on_connection(sock: aiosocketio.Socket) -> None:
        record_disconnects(sock, disconnects)
        sock.on("alive", lambda: "yes")

    for ns in NAMESPACES:
        io.of(ns).on("connection", on_connection)
    url = await h.serve(io, frontend)
    peer = await h.connected(url, ["/", "/admin"])
    raw = await h.raw(url, answer_pings=False)
    main, admin = await raw.join("/"), await raw.join("/admin")
    started = time.monotonic()
    await expect_disconnect(disconnects, main, "ping timeout", {main})
    await expect_disconnect(disconnects, admin, "ping timeout", {admin})
    assert time.monotonic() - started < 0.4 + PROMPTLY
    await raw.wait_closed()
    # the python client answers its pings: still connected after several intervals
    await asyncio.sleep(0.5)
    assert peer.sio.connected
    assert await peer.call("alive") == ("yes",)
    assert await peer.call("alive", ns="/admin") == ("yes",)
    assert set(io.sockets.sockets) == {peer.sid("/")}
    assert set(io.of("/admin").sockets) == {peer.sid("/admin")}


@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_close(h: Harness, frontend: str) -> None:
    io = aiosocketio.Server()
    io.of("/admin")
    url = await h.serve(io, frontend)
    peer = await h.connected(url, ["/", "/admin"])
    polling = DEFAULT_TRANSPORT[0] == "polling"
    if polling:
        # connect() returns before the client's first long-poll GET reaches the server: on Python 3.12+, whose
        # asyncio.wait_for no longer runs the awaited event in a task of its own, a few loop turns sooner. A
        # session closed with no GET waiting gets no close packet (as in the reference): its next GET is
        # refused as unknown, which the client reports as a transport error. This test is about the held GET.
        transport = server_socket(io, peer).conn.transport
        await eventually(lambda: transport.writable, "the client's long-poll GET to be held")
    await io.close()
    # io.close() sends no DISCONNECT; the client sees the transport go (a held GET is answered with an
    # Engine.IO close packet, which python-socketio reports as a server disconnect over long-polling)
    gone = (SERVER_DISCONNECT,) if polling else (TRANSPORT_ERROR,)
    assert await peer.next("disconnect", "/") == gone
    assert await peer.next("disconnect", "/admin") == gone
    assert io.engine.clients_count == 0
    await io.close()  # a second close does nothing
    if frontend == "runner":
        # the built-in server stopped listening
        late = h.peer()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await late.connect(url)


# --------------------------------------------------------------------------------------------------
# dynamic namespaces


async def test_dynamic_namespaces(h: Harness) -> None:
    io = aiosocketio.Server()
    created: list[aiosocketio.Namespace] = []
    io.on("new_namespace", created.append)
    calls: list[tuple[str, str]] = []

    # a regex parent, with a middleware and a connection listener that every child copies
    dyn = io.of(re.compile(r"^/dyn-\d+$"))

    @dyn.use
    def early(sock: aiosocketio.Socket) -> None:
        calls.append(("early", sock.nsp.name))
        sock.data["by"] = "early"

    @dyn.on("connection")
    def on_dyn_connection(sock: aiosocketio.Socket) -> None:
        calls.append(("connection", sock.nsp.name))
        sock.on("where", lambda: sock.nsp.name)

    # a function parent (sync) and one that is a coroutine function
    def allow(name: str, auth: dict[str, Any]) -> bool:
        return name.startswith("/fn-") and auth.get("allow") is True

    async def allow_async(name: str, auth: dict[str, Any]) -> bool:
        await asyncio.sleep(0)
        return name == "/async-ns"

    fn_parent = io.of(allow)
    async_parent = io.of(allow_async)
    for parent in (fn_parent, async_parent):
        parent.on("connection", lambda sock: sock.on("where", lambda: sock.nsp.name))
    url = await h.serve(io)
    assert created == []

    # a regex match creates the child: new_namespace, the parent's middleware and listener
    one = await h.connected(url, ["/dyn-1"])
    assert [nsp.name for nsp in created] == ["/dyn-1"]
    child = created[0]
    assert isinstance(child, aiosocketio.Namespace)
    assert io.of("/dyn-1") is child
    assert calls == [("early", "/dyn-1"), ("connection", "/dyn-1")]
    sock = server_socket(io, one, "/dyn-1")
    assert sock.nsp is child
    assert sock.data == {"by": "early"}
    assert await one.call("where", ns="/dyn-1") == ("/dyn-1",)

    # no match: "Invalid namespace"
    for name, auth in (
        ("/dyn-x", None),
        ("/dyn-1/extra", None),
        ("/fn-no", {"allow": False}),
        ("/other", None),
    ):
        failed = h.peer([name])
        with pytest.raises(socketio.exceptions.ConnectionError):
            await failed.connect(url, auth=auth)
        assert await failed.next("connect_error", name) == ({"message": "Invalid namespace"},)
    assert [nsp.name for nsp in created] == ["/dyn-1"]

    # a middleware added to the parent later reaches only the children created later
    @dyn.use
    def late(sock: aiosocketio.Socket) -> None:
        calls.append(("late", sock.nsp.name))

    calls.clear()
    await h.connected(url, ["/dyn-1"])
    two = await h.connected(url, ["/dyn-2"])
    assert calls == [
        ("early", "/dyn-1"),
        ("connection", "/dyn-1"),
        ("early", "/dyn-2"),
        ("late", "/dyn-2"),
        ("connection", "/dyn-2"),
    ]
    assert [nsp.name for nsp in created] == ["/dyn-1", "/dyn-2"]
    # io.of() of a name a regex parent matches makes a child of it
    calls.clear()
    static = io.of("/dyn-77")
    assert [nsp.name for nsp in created] == ["/dyn-1", "/dyn-2", "/dyn-77"]
    assert created[-1] is static
    await h.connected(url, ["/dyn-77"])
    assert calls == [("early", "/dyn-77"), ("late", "/dyn-77"), ("connection", "/dyn-77")]

    # the parent emits to every child
    await dyn.emit("to-children", "hi")
    assert await one.next("to-children", "/dyn-1") == ("hi",)
    assert await two.next("to-children", "/dyn-2") == ("hi",)

    # function parents: sync and async; they see the CONNECT's auth
    fn = await h.connected(url, ["/fn-a"], auth={"allow": True})
    assert await fn.call("where", ns="/fn-a") == ("/fn-a",)
    asynchronous = await h.connected(url, ["/async-ns"])
    assert await asynchronous.call("where", ns="/async-ns") == ("/async-ns",)
    assert [nsp.name for nsp in created][-2:] == ["/fn-a", "/async-ns"]
    assert io.of("/fn-a").sockets.keys() == {fn.sid("/fn-a")}


@pytest.mark.parametrize("cleanup", [True, False])
async def test_cleanup_empty_child_namespaces(h: Harness, cleanup: bool) -> None:
    io = aiosocketio.Server(cleanup_empty_child_namespaces=cleanup)
    static_nsp = io.of("/static")
    created: list[aiosocketio.Namespace] = []
    io.on("new_namespace", created.append)
    disconnects = Queues()
    dyn = io.of(re.compile(r"^/dyn-\d+$"))

    @dyn.use
    def refuse(sock: aiosocketio.Socket) -> None:
        if sock.handshake.auth.get("refuse"):
            raise ConnectError("refused")

    dyn.on("connection", lambda sock: sock.on("disconnect", lambda *args: disconnects.put("disconnect")))
    static_nsp.on("connection", lambda sock: sock.on("disconnect", lambda *a: disconnects.put("static")))
    url = await h.serve(io)

    first = await h.connected(url, ["/dyn-1"])
    await first.sio.disconnect()
    await disconnects.next("disconnect")
    # the next connection: a new child when the empty one was removed, else the same one
    second = await h.connected(url, ["/dyn-1"])
    assert [nsp.name for nsp in created] == (["/dyn-1", "/dyn-1"] if cleanup else ["/dyn-1"])
    assert created[-1] is io.of("/dyn-1")
    assert second.sio.connected
    # the child with a socket left is not removed
    third = await h.connected(url, ["/dyn-1"])
    await third.sio.disconnect()
    await disconnects.next("disconnect")
    assert server_socket(io, second, "/dyn-1").nsp is created[-1]
    await h.connected(url, ["/dyn-1"])
    assert len(created) == (2 if cleanup else 1)

    # a child whose only socket was refused by a middleware is removed too
    refused = h.peer(["/dyn-5"])
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(url, auth={"refuse": True})
    assert await refused.next("connect_error", "/dyn-5") == ({"message": "refused"},)
    await h.connected(url, ["/dyn-5"])
    names = [nsp.name for nsp in created]
    assert names.count("/dyn-5") == (2 if cleanup else 1)

    # a static namespace is never removed
    static = await h.connected(url, ["/static"])
    await static.sio.disconnect()
    await disconnects.next("static")
    assert io.of("/static") is static_nsp
    assert static_nsp.sockets == {}


# --------------------------------------------------------------------------------------------------
# bad input from one client never disturbs the others


# (what the raw client sends after joining "/", the disconnect reason of its socket)
BAD_INPUT = [
    (["42{}"], "forced close"),  # EVENT data not an array
    (
        ['451-["a",{"_placeholder":true,"num":0}]', '42["b"]'],
        "forced close",
    ),  # text instead of the attachment
    (['451-["a"]', "4hello"], "forced close"),  # an attachment announced, then text
    (['451-["a"]', "hello"], "parse error"),  # ... then something that is not even Engine.IO
    (['42["disconnect"]'], "forced close"),  # a reserved event name
    (['42["a",NaN]'], "forced close"),  # not strict JSON
    (['42["a"]x'], "forced close"),  # trailing garbage
    (["4abc"], "forced close"),  # unknown packet type
    (["4"], "forced close"),  # an Engine.IO message with no Socket.IO packet
    ([b"\x01\x02\x03"], "forced close"),  # binary data nobody announced
    (["40"], "forced server close"),  # a second CONNECT for "/"
    (['42/admin,["echo",1]'], "forced server close"),  # an event for a namespace not joined
    (['44{"message":"x"}'], "forced server close"),  # a CONNECT_ERROR from the client
]


async def test_event_for_the_main_namespace_not_joined_closes_the_connection(h: Harness) -> None:
    # The decoder's fast path reads 2[...] as an event on "/" without a Packet; when only another namespace
    # was joined it must still be the "wrong state" close, as for any other namespace not joined.
    io = aiosocketio.Server()
    disconnects = Queues()
    echoed: list[Any] = []
    io.on("connection", lambda sock: sock.on("echo", lambda *args: echoed.append(args)))
    io.of("/admin").on("connection", lambda sock: record_disconnects(sock, disconnects))
    url = await h.serve(io)
    raw = await h.raw(url)
    admin = await raw.join("/admin")
    await raw.send('421["echo",1]')
    await raw.wait_closed()
    await expect_disconnect(disconnects, admin, "forced server close")
    assert echoed == []


async def test_bad_input_does_not_disturb_others(h: Harness) -> None:
    io = aiosocketio.Server()
    io.of("/admin")
    disconnects = Queues()

    @io.on("connection")
    def on_connection(sock: aiosocketio.Socket) -> None:
        record_disconnects(sock, disconnects)
        sock.on("echo", lambda *args: args)

    url = await h.serve(io)
    peer = await h.connected(url)
    peer_socket = server_socket(io, peer)
    ticks = itertools.count()

    async def others_carry_on() -> None:
        tick = next(ticks)
        await io.emit("tick", tick)
        assert await peer.next("tick") == (tick,)
        assert await peer.call("echo", tick) == (tick,)
        assert peer_socket.connected
        assert peer.sio.connected

    for messages, reason in BAD_INPUT:
        raw = await h.raw(url)
        sid = await raw.join("/")
        for message in messages:
            await raw.send(message)
        await raw.wait_closed()
        event, got, *_ = await disconnects.next(sid)
        assert (event, got) == ("disconnecting", reason), messages
        assert (await disconnects.next(sid))[:2] == ("disconnect", reason)
        await others_carry_on()

    # not errors: an EVENT without data, an ACK nobody waits for, a CONNECT to an unknown namespace
    raw = await h.raw(url)
    sid = await raw.join("/")
    await raw.send("42")
    await raw.send("43999[]")
    await raw.send("40/nowhere,")
    assert await raw.recv() == '44/nowhere,{"message":"Invalid namespace"}'
    await raw.send('421["echo","still here"]')
    assert await raw.recv() == '431["still here"]'
    await others_carry_on()

    # huge ack ids: refused as a decode error (the reference would answer with its id rounded to a double, in
    # exponent form or "Infinity", which no client can match; test_socketio_protocol.py's test_huge_ack_id holds
    # both servers to their answers): the connection closes with "forced close" and nothing comes back for it.
    for digits in (30, 5000):
        await raw.send("42" + "7" * digits + '["echo","big"]')
        assert [r for r in await raw.wait_closed() if not str(r).startswith('42["tick"')] == []
        await expect_disconnect(disconnects, sid, "forced close", {sid})
        raw = await h.raw(url)
        sid = await raw.join("/")
        await others_carry_on()
    assert len(io.sockets.sockets) == 2


async def test_deeply_nested_argument(h: Harness) -> None:
    """An argument nested 100,000 levels deep, to a handler that would echo it as an ack and broadcast it."""
    io = aiosocketio.Server()
    disconnects = Queues()
    handled: list[Any] = []

    @io.on("connection")
    async def on_connection(sock: aiosocketio.Socket) -> None:
        record_disconnects(sock, disconnects)
        await sock.join("room")

        @sock.on("echo")
        async def echo(*args: Any) -> Any:
            handled.append(len(args))
            await sock.to("room").emit("echoed", *args)
            return args

    url = await h.serve(io)
    peers = [await h.connected(url) for _ in range(2)]
    raw = await h.raw(url)
    sid = await raw.join("/")
    await raw.send('420["echo",' + "[" * 100_000 + "]" * 100_000 + "]")
    # The parser refuses a value nested deeper than it can walk: the sender's connection closes with "forced
    # close" and no handler runs. (There is no reference answer to copy: the Node server decodes the packet,
    # then overflows its stack on the value's recursive walks and the whole process dies of the RangeError.)
    assert await raw.wait_closed() == []
    await expect_disconnect(disconnects, sid, "forced close")
    assert handled == []
    # every other client carries on: broadcasts, acks, new connections
    await io.to("room").emit("tick", 1)
    for peer in peers:
        assert await peer.next("tick") == (1,)
        assert peer.drain("echoed") == []
        assert peer.sio.connected
    assert await peers[0].call("echo", "small") == ("small",)
    assert await peers[1].next("echoed") == ("small",)
    assert await peers[1].call("echo", "again") == ("again",)
    assert await peers[0].next("echoed") == ("again",)
    late = await h.connected(url)
    assert await late.call("echo", [[["ok"]]]) == ([[["ok"]]],)


@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_huge_integers_from_a_client_are_echoed_as_a_node_server_would(
    h: Harness, frontend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A client sends a 400-digit and a 30-digit integer; the handler acknowledges with what it got. A Node
    server reads both as doubles (Infinity and 1.2345678901234568e+29) and answers
    ``[null,1.2345678901234568e+29]`` (tests/unit/data/js_numbers_vectors.json); so must we, without a
    traceback in the log."""
    io = aiosocketio.Server()
    got: list[tuple[Any, ...]] = []

    @io.on("connection")
    def on_connection(sock: aiosocketio.Socket) -> None:
        def echo(*args: Any) -> tuple[Any, ...]:
            got.append(args)
            return args

        sock.on("echo", echo)

    url = await h.serve(io, frontend)
    huge, thirty = 10**399, 123456789012345678901234567890
    peer = await h.connected(url)  # python-socketio writes Python ints with all their digits
    with caplog.at_level(logging.DEBUG, logger="aiosocketio"):
        assert await peer.call("echo", huge, thirty, 7) == (None, 1.2345678901234568e29, 7)
        raw = await h.raw(url)
        await raw.join("/")
        await raw.send(f'421["echo",{huge},{thirty},-{thirty}]')
        assert await raw.recv() == "431[null,1.2345678901234568e+29,-1.2345678901234568e+29]"
    assert got[0] == (math.inf, 1.2345678901234568e29, 7)
    assert peer.sio.connected
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING] == []


async def test_an_application_int_beyond_64_bits_is_a_clear_error(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """JavaScript has no such number (JSON.stringify throws for a BigInt): emit() raises at once; a handler
    that returns one gets one error line naming the acknowledgement, no traceback, and the client no ack."""
    io = aiosocketio.Server()
    sockets: list[aiosocketio.Socket] = []

    @io.on("connection")
    def on_connection(sock: aiosocketio.Socket) -> None:
        sockets.append(sock)
        sock.on("big", lambda: 2**70)
        sock.on("echo", lambda *args: args)

    url = await h.serve(io)
    peer = await h.connected(url)
    sock = sockets[0]
    for emitting in (
        sock.emit("x", 2**70),
        io.emit("x", [2**70]),
        sock.timeout(1).emit_with_ack("x", -(2**70)),
    ):
        with pytest.raises(aiosocketio.parsers.packet.EncodeError, match="cannot send a 71-bit int"):
            await emitting
    with caplog.at_level(logging.DEBUG, logger="aiosocketio"):
        await peer.sio.emit("big", callback=lambda *answer: pytest.fail(f"an ack came: {answer}"))
        assert await peer.call("echo", 2**64 - 1) == (18446744073709552000,)  # a barrier, as Node answers it
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(":")[0] for r in errors] == [
        f"cannot send acknowledgement 1 of socket {sock.id} (/)"  # python-socketio numbers its acks from 1
    ]
    assert "71-bit int" in errors[0].getMessage()
    assert errors[0].exc_info is None
    await io.emit("still", "fine")
    assert await peer.next("still") == ("fine",)


# --------------------------------------------------------------------------------------------------
# the official JavaScript client


async def run_js_client(url: str, transport: str) -> list[dict[str, Any]]:
    """Run ``js/sio_api_client.mjs``; return its reports, checking that it finished cleanly."""
    return await run_js_scenario("sio_api_client.mjs", url, transport, timeout=30)


@needs_node
@pytest.mark.node
@pytest.mark.parametrize("transport", ["polling", "websocket"])
@pytest.mark.parametrize("frontend", FRONTENDS)
async def test_js_client_sees_the_api(h: Harness, frontend: str, transport: str) -> None:
    io = aiosocketio.Server()
    admin = io.of("/admin")
    disconnects = Queues()
    server_seen: dict[str, Any] = {}

    @io.on("connection")
    async def on_root(sock: aiosocketio.Socket) -> None:
        record_disconnects(sock, disconnects)
        server_seen["/"] = sock
        sock.on("multi", lambda *args: ("several", len(args)))
        sock.on("nothing", lambda: None)

        @sock.on("ask-me")
        async def ask_me() -> None:
            answer = await sock.timeout(PROMPTLY).emit_with_ack("ask", 21)
            await sock.emit("asked", answer)

        @sock.on("start-poll")
        async def start_poll(question: str) -> Any:
            return await io.timeout(PROMPTLY).emit_with_ack("poll", question)

        await sock.emit(
            "welcome",
            {
                "id": sock.id,
                "auth": sock.handshake.auth,
                "client": sock.handshake.query.get("client"),
                "rooms": sorted(sock.rooms),
                "transport": sock.conn.transport.name,
            },
        )

    @admin.use
    def check_token(sock: aiosocketio.Socket) -> None:
        if sock.handshake.auth.get("token") != "ok":
            raise ConnectError("not authorized", data={"code": 401})

    @admin.on("connection")
    def on_admin(sock: aiosocketio.Socket) -> None:
        record_disconnects(sock, disconnects)
        server_seen["/admin"] = sock

        @sock.on("join")
        async def join(rooms: list[str]) -> list[str]:
            await sock.join(rooms)
            return sorted(sock.rooms - {sock.id})

        @sock.on("fanout")
        async def fanout() -> None:
            await admin.to(["r1", "r2"]).emit("news", "once")  # the socket is in both rooms
            await sock.emit("news-done")

        @sock.on("kick")
        async def kick() -> None:
            await sock.disconnect()

    url = await h.serve(io, frontend)
    reports = await run_js_client(url, transport)
    assert [r for r in reports if r["event"] in ("error", "timeout")] == [], reports
    connects = [r for r in reports if r["event"] == "connect"]
    assert [r["nsp"] for r in connects] == ["/", "/admin"]
    root_id, admin_id = connects[0]["id"], connects[1]["id"]
    engine_id = connects[0]["engineId"]
    assert connects[1]["engineId"] == engine_id
    assert len({root_id, admin_id, engine_id}) == 3
    assert server_seen["/"].id == root_id
    assert server_seen["/admin"].id == admin_id

    rest = [r for r in reports if r["event"] != "connect"]
    assert rest == [
        {
            "event": "welcome",
            "args": [
                {
                    "id": root_id,
                    "auth": {"token": "js"},
                    "client": "js",
                    "rooms": [root_id],
                    "transport": transport,
                }
            ],
        },
        {"event": "asked", "args": [[42, "twice"]]},
        {"event": "ack", "name": "multi", "args": ["several", 3]},
        {"event": "ack", "name": "nothing", "args": []},
        {"event": "poll", "value": ["js:colour?"]},
        {"event": "connect_error", "nsp": "/admin", "message": "not authorized", "data": {"code": 401}},
        {"event": "joined", "value": ["r1", "r2"]},
        {"event": "news", "count": 1},
        {"event": "disconnect", "nsp": "/admin", "reason": "io server disconnect"},
        {"event": "disconnect", "nsp": "/", "reason": "io client disconnect"},
        {"event": "engine-close", "reason": "forced close"},
        {"event": "done"},
    ]
    await expect_disconnect(disconnects, admin_id, "server namespace disconnect", {admin_id, "r1", "r2"})
    await expect_disconnect(disconnects, root_id, "client namespace disconnect", {root_id})
