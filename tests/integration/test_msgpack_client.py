"""The msgpack parser (docs/protocol/msgpack.md) end to end: real clients against ``Server(parser=parsers.msgpack)``.

Each test builds the server in this process and serves it with the built-in runner (``io.listen``) on a
loopback port. Clients:

- the official JavaScript client (npm ``socket.io-client`` 4.8 with ``socket.io-msgpack-parser`` 3.0.2):
  ``tests/integration/js/sio_msgpack_client.mjs`` runs the scenario of the default parser's client test
  (``test_socketio_client.py``) with Node.js and prints what the application sees, as JSON lines: connect with
  auth on "/" and "/custom", receive an event, send text and binary (Buffer and plain Uint8Array, which
  notepack writes as ``ext`` type 0) and get them back, acknowledgements in both directions, the values whose
  MessagePack form is special (integral floats, -0, integer-like keys, a Date, undefined), "Invalid namespace"
  for "/random" (whose CONNECT carries ``data: undefined``), and disconnection; over HTTP long-polling,
  WebSocket, and polling upgraded to WebSocket;
- a hand-written Engine.IO client (WebSocket and polling), checking the bytes on the wire: one binary message
  per packet, and a text message closing the connection;
- python-socketio's ``AsyncClient(serializer="msgpack")``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest
import socketio
from jsclient import run_js_scenario
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

import aiosocketio
import aiosocketio.parsers.msgpack as msgpack_parser

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
PROMPTLY = 5.0 * FACTOR
HOST = "127.0.0.1"
PATH = "/socket.io/"

TESTS_DIR = Path(__file__).resolve().parent.parent
CLIENT_SCRIPT = Path(__file__).resolve().parent / "js" / "sio_msgpack_client.mjs"
NODE = shutil.which("node")

TRANSPORTS = ("polling", "websocket", "upgrade")

needs_node = pytest.mark.node  # scripts/setup installs Node.js clients; a missing one fails, never skips

# What the "types" event acknowledges with, and how the JavaScript client reads it (tags as in the script).
TYPES: list[Any] = [
    1.0,
    -0.0,
    0.5,
    2.0**53,
    None,
    True,
    {"b": 1, "2": "two", "a": [1.5]},
    datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC),
    b"\x00\xff",
    msgpack_parser.UNDEFINED,
    "héllo 😀",
]
TYPES_AS_SEEN_BY_JS: list[Any] = [
    1,
    0,  # -0.0 is written as the int 0, like notepack does
    0.5,
    9007199254740992,
    None,
    True,
    {"$object": [["2", "two"], ["b", 1], ["a", [1.5]]]},  # integer-like keys first, as in JavaScript
    {"$date": 1704164645678},
    {"$bytes": "00ff"},
    {"$undefined": True},
    "héllo 😀",
]


# --------------------------------------------------------------------------------------------------
# the server


class Recorder:
    """What the server saw: ``("CONNECT", nsp, id)`` and ``("DISCONNECT", id, reason)``."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str]] = []
        self.changed = asyncio.Event()

    def add(self, *line: str) -> None:
        self.lines.append((line[0], line[1], line[2]))
        self.changed.set()

    async def wait_for(self, line: tuple[str, str, str]) -> None:
        async with asyncio.timeout(PROMPTLY):
            while line not in self.lines:
                self.changed.clear()
                await self.changed.wait()


def build(recorder: Recorder) -> aiosocketio.Server:
    """The protocol-suite contract (``tests/servers/sio_suite.py``) with the msgpack parser, plus ``types``
    and ``ask-me`` (module docstring)."""
    io = aiosocketio.Server(parser=msgpack_parser, ping_interval=0.3, ping_timeout=0.2, connect_timeout=1.0)

    async def on_connection(socket: aiosocketio.Socket) -> None:
        recorder.add("CONNECT", socket.nsp.name, socket.id)

        @socket.on("message")
        async def on_message(*args: Any) -> None:
            await socket.emit("message-back", *args)

        @socket.on("message-with-ack")
        def on_message_with_ack(*args: Any) -> tuple[Any, ...]:
            return args

        @socket.on("types")
        def on_types() -> tuple[Any, ...]:
            return tuple(TYPES)

        @socket.on("ask-me")
        async def on_ask_me(text: str) -> Any:
            return await socket.timeout(PROMPTLY).emit_with_ack("question", text, b"\x09\x0a")

        def on_disconnect(reason: str, description: Any = None) -> None:
            recorder.add("DISCONNECT", socket.id, reason)

        socket.on("disconnect", on_disconnect)
        await socket.emit("auth", socket.handshake.auth)

    io.on("connection", on_connection)
    io.of("/custom").on("connection", on_connection)
    return io


class Served:
    def __init__(self, io: aiosocketio.Server, url: str, recorder: Recorder) -> None:
        self.io = io
        self.url = url
        self.recorder = recorder


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    recorder = Recorder()
    io = build(recorder)
    running = await io.listen(host=HOST, port=0)
    try:
        yield Served(io, f"http://{HOST}:{running.port}", recorder)
    finally:
        await asyncio.wait_for(io.close(), PROMPTLY)


# --------------------------------------------------------------------------------------------------
# the official JavaScript client


async def run_js_client(url: str, transport: str) -> list[dict[str, Any]]:
    """Run ``js/sio_msgpack_client.mjs``; return its reports, checking that it finished cleanly."""
    return await run_js_scenario("sio_msgpack_client.mjs", url, transport, timeout=60)


@needs_node
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_js_client(served: Served, transport: str) -> None:
    events = await run_js_client(served.url, transport)
    assert [e for e in events if e["event"] in ("error", "timeout")] == [], events
    connects = [e for e in events if e["event"] == "connect"]
    assert [e["nsp"] for e in connects] == ["/", "/custom"]
    main_id, custom_id = connects[0]["id"], connects[1]["id"]
    engine_id = connects[0]["engineId"]
    assert connects[1]["engineId"] == engine_id
    assert len({main_id, custom_id, engine_id}) == 3, connects
    final = "websocket" if transport == "upgrade" else transport
    assert connects[0]["openedWith"] == ("polling" if transport == "upgrade" else transport)

    rest = [e for e in events if e["event"] != "connect"]
    expected: list[dict[str, Any]] = [
        {"event": "auth", "nsp": "/", "args": [{"$object": [["token", "123"]]}]}
    ]
    if transport == "upgrade":
        expected.append({"event": "upgrade", "transport": "websocket"})
    expected += [
        {
            "event": "message-back",
            "nsp": "/",
            "args": [
                "hello",
                {"$bytes": "010203"},
                {"$object": [["nested", {"$bytes": "0405"}]]},
                42,
                "héllo 😀",
                1.5,
                -7,
                None,
                True,
            ],
            "transport": final,
        },
        {"event": "ack", "nsp": "/", "args": [1, "2", {"$object": [["3", [False]]]}, {"$bytes": "0607"}]},
        {"event": "emitWithAck", "nsp": "/", "value": "first"},
        {"event": "types", "args": TYPES_AS_SEEN_BY_JS},
        {"event": "question", "args": ["why?", {"$bytes": "090a"}]},
        {"event": "ask-me", "args": ["answer", {"$bytes": "0b"}]},
        {"event": "auth", "nsp": "/custom", "args": [{"$object": [["token", "abc"]]}]},
        {
            "event": "message-back",
            "nsp": "/custom",
            "args": ["to custom", {"$bytes": "08"}],
            "transport": final,
        },
        {"event": "connect_error", "nsp": "/random", "message": "Invalid namespace", "data": None},
        {"event": "disconnect", "nsp": "/custom", "reason": "io client disconnect", "connected": False},
        {"event": "disconnect", "nsp": "/", "reason": "io client disconnect", "connected": False},
        {"event": "engine-close", "reason": "forced close"},
        {"event": "done"},
    ]
    assert rest == expected
    for nsp, sid in (("/", main_id), ("/custom", custom_id)):
        assert ("CONNECT", nsp, sid) in served.recorder.lines
        await served.recorder.wait_for(("DISCONNECT", sid, "client namespace disconnect"))


# --------------------------------------------------------------------------------------------------
# Engine.IO by hand: the bytes on the wire


def packet_bytes(**fields: Any) -> bytes:
    return msgpack.packb(fields, use_bin_type=True)


async def test_raw_websocket(served: Served) -> None:
    ws_url = "ws" + served.url.removeprefix("http") + PATH + "?EIO=4&transport=websocket"
    async with connect(ws_url, ping_interval=None, compression=None) as ws:
        opening = await asyncio.wait_for(ws.recv(), PROMPTLY)
        assert isinstance(opening, str)
        assert opening.startswith("0{")

        async def next_binary() -> bytes:
            while True:
                message = await asyncio.wait_for(ws.recv(), PROMPTLY)
                if message == "2":
                    await ws.send("3")
                    continue
                # every packet is one binary message (docs/protocol/msgpack.md)
                assert isinstance(message, bytes), message
                return message

        # The JavaScript client's CONNECT: data undefined (d4 00 00) is a CONNECT without auth.
        await ws.send(bytes.fromhex("83a47479706500a464617461d40000a36e7370a12f"))
        reply = await next_binary()
        sid = msgpack.unpackb(reply)["data"]["sid"]
        # Byte for byte what the reference server writes without connection state recovery (pid left out).
        assert reply == packet_bytes(type=0, data={"sid": sid}, nsp="/")
        assert await next_binary() == packet_bytes(type=2, data=["auth", {}], nsp="/")

        await ws.send(packet_bytes(type=2, nsp="/", data=["message-with-ack", 1.5, b"\x01"], id=7))
        assert await next_binary() == packet_bytes(id=7, type=3, data=[1.5, b"\x01"], nsp="/")

        await ws.send(packet_bytes(type=0, nsp="/nope"))
        assert await next_binary() == packet_bytes(type=4, nsp="/nope", data={"message": "Invalid namespace"})

        # A default-parser client: its text packet is a decode error, which closes the connection.
        await ws.send('42["message"]')
        with pytest.raises(ConnectionClosed):
            await next_binary()  # nothing more comes: the server closes the connection
    await served.recorder.wait_for(("DISCONNECT", sid, "forced close"))


async def test_raw_polling(served: Served) -> None:
    base = served.url + PATH + "?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        async with http.get(base) as response:
            opening = await response.text()
        assert opening.startswith("0{")
        url = base + "&sid=" + json.loads(opening[1:])["sid"]
        connect_packet = packet_bytes(type=0, nsp="/", data={"token": "p"})
        async with http.post(url, data="b" + base64.b64encode(connect_packet).decode()) as response:
            assert response.status == 200
        received: list[bytes] = []
        while len(received) < 2:
            async with http.get(url) as response:
                payload = await response.text()
            for item in payload.split("\x1e"):
                if item.startswith("b"):  # binary messages travel as "b" + base64 in polling payloads
                    received.append(base64.b64decode(item[1:]))
                else:
                    assert item == "2", item
                    async with http.post(url, data="3"):
                        pass
        sid = msgpack.unpackb(received[0])["data"]["sid"]
        assert received == [
            packet_bytes(type=0, data={"sid": sid}, nsp="/"),
            packet_bytes(type=2, data=["auth", {"token": "p"}], nsp="/"),
        ]


# --------------------------------------------------------------------------------------------------
# python-socketio's msgpack serializer


async def test_python_socketio_msgpack_client(served: Served) -> None:
    sio = socketio.AsyncClient(reconnection=False, serializer="msgpack", request_timeout=PROMPTLY)
    received: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue()
    sio.on("*", lambda event, *args: received.put_nowait((event, args)))
    try:
        # python-socketio writes data: nil when there is no auth, which the reference refuses for a CONNECT
        # (vector decode_reject_connect_data_nil): give it some auth.
        await sio.connect(served.url, transports=["websocket"], auth={"token": "py"}, wait_timeout=PROMPTLY)
        assert await asyncio.wait_for(received.get(), PROMPTLY) == ("auth", ({"token": "py"},))
        await sio.emit("message", ("bytes", b"\x01\x02", {"n": 2.5}))
        assert await asyncio.wait_for(received.get(), PROMPTLY) == (
            "message-back",
            ("bytes", b"\x01\x02", {"n": 2.5}),
        )
        answer = await sio.call("message-with-ack", ("a", b"\xff"), timeout=PROMPTLY)
        assert answer == ("a", b"\xff")
    finally:
        await sio.disconnect()
        await sio.shutdown()
