"""Real Socket.IO clients against the protocol-suite server: what a user of those clients sees.

- The official JavaScript client (npm ``socket.io-client`` 4.8): ``tests/integration/js/sio_client.mjs`` runs
  one scenario with Node.js and prints its observations as JSON lines.
- python-socketio's ``socketio.AsyncClient`` (with aiohttp), in this process.

Both connect to ``/`` and ``/custom`` with auth, receive the ``auth`` event, emit text and binary and receive
``message-back``, emit with an acknowledgement, get "Invalid namespace" for ``/random``, and disconnect, over
HTTP long-polling, WebSocket, and polling upgraded to WebSocket. The server (``tests/servers/sio_suite.py``, and
its reference twin ``sio_suite.mjs`` under Node.js) prints ``CONNECT <nsp> <sid>`` / ``DISCONNECT <sid>
<reason>``, so both ends of each socket are checked.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from jsclient import run_js_scenario

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
PROMPTLY = 5.0 * FACTOR

TESTS_DIR = Path(__file__).resolve().parent.parent
CLIENT_SCRIPT = Path(__file__).resolve().parent / "js" / "sio_client.mjs"
NODE = shutil.which("node")

TRANSPORTS = ("polling", "websocket", "upgrade")

needs_node = pytest.mark.node  # scripts/setup installs Node.js clients; a missing one fails, never skips


# --------------------------------------------------------------------------------------------------
# helpers


async def server_lines(server: Any, prefix: str, key: str, index: int, count: int = 1) -> list[list[str]]:
    """The server's stdout lines ``<prefix> ...`` whose word ``index`` is ``key``, waiting for ``count``."""
    deadline = time.monotonic() + PROMPTLY
    while True:
        lines = [words for words in server.lines(prefix) if len(words) > index and words[index] == key]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        await asyncio.sleep(0.05)


async def check_server_side(server: Any, sockets: dict[str, str], *reasons: str) -> None:
    """Each socket (namespace → id) was connected on that namespace and left with one of ``reasons``."""
    if server.frontend == "external":
        return  # the server's output is not captured
    for nsp, sid in sockets.items():
        connects = await server_lines(server, "CONNECT", sid, 2)
        assert [words[1] for words in connects] == [nsp], connects
        disconnects = await server_lines(server, "DISCONNECT", sid, 1)
        assert len(disconnects) == 1, disconnects
        assert " ".join(disconnects[0][2:]) in reasons, disconnects


# --------------------------------------------------------------------------------------------------
# the official JavaScript client


async def run_js_client(server: Any, transport: str) -> list[dict[str, Any]]:
    """Run ``js/sio_client.mjs``; return its reports, checking that it finished cleanly."""
    return await run_js_scenario("sio_client.mjs", server.url, transport, timeout=60)


@needs_node
@pytest.mark.node
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_js_client(sio_server: Any, transport: str) -> None:
    events = await run_js_client(sio_server, transport)
    assert [e for e in events if e["event"] in ("error", "timeout")] == [], events
    connects = [e for e in events if e["event"] == "connect"]
    assert [e["nsp"] for e in connects] == ["/", "/custom"]
    main_id, custom_id = connects[0]["id"], connects[1]["id"]
    engine_id = connects[0]["engineId"]
    # One Engine.IO connection carries both namespaces; Socket.IO ids are their own.
    assert connects[1]["engineId"] == engine_id
    assert len({main_id, custom_id, engine_id}) == 3, connects
    final = "websocket" if transport == "upgrade" else transport
    assert connects[0]["openedWith"] == ("polling" if transport == "upgrade" else transport)

    # Everything else, in order, exactly as the application sees it.
    rest = [e for e in events if e["event"] != "connect"]
    expected: list[dict[str, Any]] = [{"event": "auth", "nsp": "/", "args": [{"token": "123"}]}]
    if transport == "upgrade":
        expected.append({"event": "upgrade", "transport": "websocket"})
    expected += [
        {
            "event": "message-back",
            "nsp": "/",
            "args": ["hello", {"$bytes": "010203"}, {"nested": {"$bytes": "0405"}}, 42, "héllo 😀"],
            "transport": final,
        },
        {"event": "ack", "nsp": "/", "args": [1, "2", {"3": [False]}, {"$bytes": "0607"}]},
        {"event": "emitWithAck", "nsp": "/", "value": "first"},
        {"event": "auth", "nsp": "/custom", "args": [{"token": "abc"}]},
        {
            "event": "message-back",
            "nsp": "/custom",
            "args": ["to custom", {"$bytes": "08"}],
            "transport": final,
        },
        {"event": "connect_error", "nsp": "/random", "message": "Invalid namespace", "data": None},
        {"event": "disconnect", "nsp": "/custom", "reason": "io client disconnect", "connected": False},
        {"event": "disconnect", "nsp": "/", "reason": "io client disconnect", "connected": False},
        # The client closes the Engine.IO connection itself once no namespace is left.
        {"event": "engine-close", "reason": "forced close"},
        {"event": "done"},
    ]
    assert rest == expected
    await check_server_side(sio_server, {"/": main_id, "/custom": custom_id}, "client namespace disconnect")


@needs_node
@pytest.mark.node
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_js_client_gets_events_emitted_by_a_namespace_middleware(
    sio_server: Any, transport: str
) -> None:
    # What a namespace middleware emits reaches the application just before its "connect" event, and an
    # acknowledgement asked for there is answered once connected.
    events = await run_js_scenario("sio_early_client.mjs", sio_server.url, transport, timeout=60)
    assert events == [
        {"event": "early", "args": [{"token": "t"}]},
        {"event": "early-ack", "connected": True},
        {"event": "connect"},
        {"event": "auth", "args": [{"token": "t"}]},
        {"event": "acked", "args": ["yes"]},
        {"event": "disconnect", "reason": "io client disconnect"},
        {"event": "done"},
    ]


# --------------------------------------------------------------------------------------------------
# python-socketio's AsyncClient


class Recorder:
    """Collects what the client's event handlers receive, one queue per (event, namespace)."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        self.client = client
        self.queues: dict[tuple[str, str], asyncio.Queue[tuple[Any, ...]]] = {}

    def listen(self, event: str, namespace: str) -> None:
        queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.queues[event, namespace] = queue
        self.client.on(event, lambda *args: queue.put_nowait(args), namespace=namespace)

    async def next(self, event: str, namespace: str) -> tuple[Any, ...]:
        try:
            async with asyncio.timeout(PROMPTLY):
                return await self.queues[event, namespace].get()
        except TimeoutError:
            pytest.fail(f"the client got no {event!r} on {namespace} within {PROMPTLY:.1f} s")

    def pending(self, event: str, namespace: str) -> int:
        return self.queues[event, namespace].qsize()


def python_transports(transport: str) -> list[str]:
    return ["polling", "websocket"] if transport == "upgrade" else [transport]


@pytest.fixture
async def client() -> AsyncIterator[socketio.AsyncClient]:
    # Our own HTTP session: python-engineio leaves the one it creates open when a connection attempt fails.
    async with aiohttp.ClientSession() as http:
        client = socketio.AsyncClient(reconnection=False, request_timeout=PROMPTLY, http_session=http)
        try:
            yield client
        finally:
            if client.connected:
                await client.disconnect()
            await client.shutdown()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_python_client(sio_server: Any, client: socketio.AsyncClient, transport: str) -> None:
    recorder = Recorder(client)
    for namespace in ("/", "/custom"):
        for event in ("auth", "message-back", "disconnect"):
            recorder.listen(event, namespace)
    await client.connect(
        sio_server.url,
        auth={"token": "123"},
        transports=python_transports(transport),
        namespaces=["/", "/custom"],
        wait_timeout=PROMPTLY,
    )
    assert client.connected
    # python-engineio upgrades while connecting when both transports are allowed.
    assert client.transport() == ("websocket" if transport == "upgrade" else transport)
    main_id, custom_id = client.get_sid("/"), client.get_sid("/custom")
    assert main_id is not None
    assert custom_id is not None
    assert len({main_id, custom_id, client.eio.sid}) == 3

    # python-socketio sends the same auth to every namespace.
    assert await recorder.next("auth", "/") == ({"token": "123"},)
    assert await recorder.next("auth", "/custom") == ({"token": "123"},)

    sent = ("hello", b"\x01\x02\x03", {"nested": b"\x04\x05"}, 42, "héllo 😀")
    await client.emit("message", sent)
    assert await recorder.next("message-back", "/") == sent

    # An acknowledgement with several arguments comes back as a tuple, one argument as itself.
    acked = await client.call("message-with-ack", (1, "2", {"3": [False]}, b"\x06\x07"), timeout=PROMPTLY)
    assert acked == (1, "2", {"3": [False]}, b"\x06\x07")
    assert await client.call("message-with-ack", "only", timeout=PROMPTLY) == "only"

    await client.emit("message", ("to custom", b"\x08"), namespace="/custom")
    assert await recorder.next("message-back", "/custom") == ("to custom", b"\x08")
    got_ack: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
    await client.emit(
        "message-with-ack", ("x", b"\x09"), namespace="/custom", callback=lambda *a: got_ack.set_result(a)
    )
    assert await asyncio.wait_for(got_ack, PROMPTLY) == ("x", b"\x09")
    # Nothing was delivered twice, nor on the wrong namespace.
    assert recorder.pending("message-back", "/") == 0
    assert recorder.pending("message-back", "/custom") == 0

    await client.disconnect()
    assert await recorder.next("disconnect", "/") == (client.reason.CLIENT_DISCONNECT,)
    assert await recorder.next("disconnect", "/custom") == (client.reason.CLIENT_DISCONNECT,)
    assert not client.connected
    reasons = ["client namespace disconnect"]
    if transport == "polling":
        # Over polling the client sends its DISCONNECT packets and the Engine.IO close in one POST; the
        # connection closes before the sockets see the DISCONNECTs (see test_socketio_protocol.py:
        # test_disconnect_and_close_in_one_payload).
        reasons = ["transport close"]
    elif transport != "polling":
        # python-engineio closes the WebSocket without waiting for its queue to be flushed, so the DISCONNECT
        # packets usually never leave the client: the server then sees the WebSocket close.
        reasons.append("transport close")
    await check_server_side(sio_server, {"/": main_id, "/custom": custom_id}, *reasons)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_python_client_invalid_namespace(
    sio_server: Any, client: socketio.AsyncClient, transport: str
) -> None:
    errors: list[Any] = []
    client.on("connect_error", lambda data: errors.append(data), namespace="/random")
    with pytest.raises(socketio.exceptions.ConnectionError, match="failed to connect: /random"):
        await client.connect(
            sio_server.url,
            transports=python_transports(transport),
            namespaces=["/random"],
            wait_timeout=PROMPTLY,
        )
    assert errors == [{"message": "Invalid namespace"}]
    assert not client.connected
