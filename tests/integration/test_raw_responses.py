"""What both front-ends (the built-in runner and uvicorn) put on the wire, read byte for byte over loopback:
the header lines of polling answers and WebSocket upgrades (a raw HTTP/1.1 client, so nothing merges or
splits headers on the way), and the close frame of a WebSocket that sent too big a message."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from aiosocketio.engineio import EngineServer
from aiosocketio.runner import serve
from aiosocketio.web import Request

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
PROMPTLY = 5.0 * FACTOR
HOST = "127.0.0.1"
PATH = "/engine.io/"
Serve = Callable[[EngineServer], "contextlib.AbstractAsyncContextManager[int]"]


@contextlib.asynccontextmanager
async def on_runner(engine: EngineServer) -> AsyncIterator[int]:
    running = await serve([engine], host=HOST, port=0)
    try:
        yield running.port
    finally:
        await running.close()


@contextlib.asynccontextmanager
async def on_uvicorn(engine: EngineServer) -> AsyncIterator[int]:
    server = uvicorn.Server(
        uvicorn.Config(engine.asgi_app(), host=HOST, port=0, log_level="warning", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(PROMPTLY):
        while not server.started:
            assert not task.done(), "uvicorn stopped at once"
            await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        await engine.shutdown()
        server.should_exit = True
        await asyncio.wait_for(task, PROMPTLY)


@pytest.fixture(params=["runner", "uvicorn"])
def served(request: pytest.FixtureRequest) -> Serve:
    """``async with served(engine) as port``: ``engine`` on a loopback port of the front-end under test."""
    return on_runner if request.param == "runner" else on_uvicorn


async def raw_exchange(port: int, head: str, body: bytes = b"") -> tuple[int, list[tuple[str, str]], bytes]:
    """Send one request on a new connection; the status, every header line in order (names in lower case),
    and the body (by Content-Length; none for a 101)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(head.encode("latin-1") + body)
        async with asyncio.timeout(PROMPTLY):
            raw = await reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            pairs = [line.split(":", 1) for line in lines[1:] if line]
            headers = [(name.lower(), value.strip()) for name, value in pairs]
            length = dict(headers).get("content-length")
            content = await reader.readexactly(int(length)) if length else b""
        return status, headers, content
    finally:
        writer.close()


def get(target: str) -> str:
    return f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"


def post(target: str, body: bytes) -> str:
    return (
        f"POST {target} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n"
        f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n"
    )


def upgrade(target: str) -> str:
    return (
        f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )


def values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key == name]


async def test_a_list_set_by_a_header_hook_is_one_header_line_per_item(served: Serve) -> None:
    # As Node's writeHead writes an array value: one line each, so a hook can set several cookies.
    engine = EngineServer(PATH, cookie=True, ping_interval=30)

    def initial(headers: dict[str, object], request: Request) -> None:
        headers["set-cookie"] = ["1=1; Max-Age=86400", "2=2"]

    def every(headers: dict[str, object], request: Request) -> None:
        headers["X-Tags"] = ("a", "b", "c")
        headers["X-None"] = []  # an empty list: no line at all
        headers["X-Count"] = 3

    engine.on("initial_headers", initial)
    engine.on("headers", every)
    engine.on("connection", lambda socket: socket.on("message", socket.write))  # an echo
    async with served(engine) as port:
        status, headers, body = await raw_exchange(port, get(f"{PATH}?EIO=4&transport=polling"))
        assert status == 200
        sid = json.loads(body[1:])["sid"]
        # the engine's own cookie (cookie=True) under its own key, then the hook's two
        assert values(headers, "set-cookie") == [
            f"io={sid}; Path=/; HttpOnly; SameSite=Lax",
            "1=1; Max-Age=86400",
            "2=2",
        ]
        assert values(headers, "x-tags") == ["a", "b", "c"]
        assert values(headers, "x-none") == []
        assert values(headers, "x-count") == ["3"]

        query = f"{PATH}?EIO=4&transport=polling&sid={sid}"
        status, headers, body = await raw_exchange(port, post(query, b"4hi"), b"4hi")
        assert (status, body) == (200, b"ok")
        assert values(headers, "x-tags") == ["a", "b", "c"]
        assert values(headers, "set-cookie") == []  # initial_headers is for the handshake only
        status, headers, body = await raw_exchange(port, get(query))
        assert (status, body) == (200, b"4hi")
        assert values(headers, "x-tags") == ["a", "b", "c"]

        # The WebSocket upgrade of that session (not a handshake), and a session opened over WebSocket.
        status, headers, _ = await raw_exchange(port, upgrade(f"{PATH}?EIO=4&transport=websocket&sid={sid}"))
        assert status == 101
        assert values(headers, "x-tags") == ["a", "b", "c"]
        assert values(headers, "set-cookie") == []
        status, headers, _ = await raw_exchange(port, upgrade(f"{PATH}?EIO=4&transport=websocket"))
        assert status == 101
        assert values(headers, "set-cookie") == ["1=1; Max-Age=86400", "2=2"]
        assert values(headers, "x-tags") == ["a", "b", "c"]
        assert values(headers, "x-none") == []


async def raw_frames_after_upgrade(port: int, frames: bytes) -> bytes:
    """Open a WebSocket session by hand, send ``frames`` after the open packet, and read to the end."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(upgrade(f"{PATH}?EIO=4&transport=websocket").encode())
        async with asyncio.timeout(PROMPTLY):
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
            writer.write(frames)
            return await reader.read()
    finally:
        writer.close()


async def test_too_big_a_message_closes_with_1009_and_no_reason(served: Serve) -> None:
    # As the reference (ws) does: the status code alone, whatever the limit that was passed.
    engine = EngineServer(PATH, max_http_buffer_size=1000, ping_interval=30)
    async with served(engine) as port, connect(f"ws://{HOST}:{port}{PATH}?EIO=4&transport=websocket") as ws:
        assert str(await ws.recv()).startswith("0{")
        await ws.send("4" + "x" * 2000)
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(PROMPTLY):
                await ws.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1009, "")


def client_frame(opcode: int, payload: bytes, *, mask: bytes | None = b"abcd") -> bytes:
    """One final frame as a client sends it (masked unless ``mask`` is None); payloads under 126 bytes."""
    if mask is None:
        return bytes((0x80 | opcode, len(payload))) + payload
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + masked


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (client_frame(1, b"hi", mask=None), 1002),  # an unmasked client frame
        (client_frame(1, b"\xff\xfe"), 1007),  # text that is not UTF-8
    ],
    ids=["1002-unmasked", "1007-bad-utf8"],
)
async def test_the_runner_closes_on_a_protocol_failure_with_the_code_alone(frame: bytes, code: int) -> None:
    # ws closes every connection that broke the protocol with the status code and no reason. (Under an ASGI
    # server the frames are the server's own business: uvicorn, for one, names the fault in the reason.)
    engine = EngineServer(PATH, ping_interval=30)
    async with on_runner(engine) as port:
        rest = await raw_frames_after_upgrade(port, frame)
    assert rest.startswith(b"\x81")  # the open packet
    assert rest.endswith(b"\x88\x02" + code.to_bytes(2, "big"))  # a close frame of the code alone
