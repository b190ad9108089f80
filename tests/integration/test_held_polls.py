"""A long-polling GET that waits is held without a task (``HeldAnswer``) on both front-ends: it gets the packets
when they come, and a client that leaves while it waits is noticed at once, as the reference does ("transport
error", "poll connection closed prematurely"). Driven over loopback by a raw HTTP/1.1 client (so the test
decides exactly when a GET is sent and when its connection goes) and by python-socketio over long-polling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio
import uvicorn

import aiosocketio

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
PROMPTLY = 5.0 * FACTOR
HOST = "127.0.0.1"


class HttpClient:
    """One keep-alive HTTP/1.1 connection that sends requests and reads responses with Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> HttpClient:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    def send(self, method: str, target: str, body: bytes = b"") -> None:
        head = f"{method} {target} HTTP/1.1\r\nHost: {HOST}\r\n"
        if method == "POST":
            head += f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        async with asyncio.timeout(PROMPTLY):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            pairs = (line.split(": ", 1) for line in lines[1:] if line)
            headers = {name.lower(): value for name, value in pairs}
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, body

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        self.send(method, target, body)
        return await self.response()

    def close(self) -> None:
        self.writer.close()


@pytest.fixture(params=["runner", "uvicorn"])
async def served(request: pytest.FixtureRequest) -> AsyncIterator[tuple[aiosocketio.Server, int, list[Any]]]:
    """A Socket.IO server that echoes ``echo`` and records every disconnect reason."""
    io = aiosocketio.Server(cors={"origin": "*"})
    reasons: list[Any] = []

    @io.on("connection")
    def on_connection(socket: aiosocketio.Socket) -> None:
        socket.on("disconnect", lambda reason, *_: reasons.append(reason))
        socket.on("echo", lambda *args: args)

    if request.param == "runner":
        running = await io.listen(host=HOST, port=0)
        try:
            yield io, running.port, reasons
        finally:
            await io.close()
        return
    server = uvicorn.Server(
        uvicorn.Config(io.asgi_app(), host=HOST, port=0, log_level="warning", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(PROMPTLY):
        while not server.started:
            assert not task.done(), "uvicorn stopped at once"
            await asyncio.sleep(0.01)
    try:
        yield io, server.servers[0].sockets[0].getsockname()[1], reasons
    finally:
        await io.close()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, PROMPTLY)


async def _session(port: int) -> tuple[HttpClient, HttpClient, str]:
    """A connected Socket.IO session over long-polling: a GET connection, a POST connection and the query."""
    get, post = await HttpClient.open(port), await HttpClient.open(port)
    _, _, body = await get.request("GET", "/socket.io/?EIO=4&transport=polling")
    query = "/socket.io/?EIO=4&transport=polling&sid=" + json.loads(body[1:])["sid"]
    assert (await post.request("POST", query, b"40"))[2] == b"ok"
    status, _, body = await get.request("GET", query)
    assert status == 200
    assert body.startswith(b"40{")
    return get, post, query


async def _eventually(condition: Any) -> None:
    async with asyncio.timeout(PROMPTLY):
        while not condition():  # noqa: ASYNC110 - polls state the server changes, no event to wait on
            await asyncio.sleep(0.01)


async def test_a_held_get_carries_the_answer(served: tuple[aiosocketio.Server, int, list[Any]]) -> None:
    io, port, reasons = served
    get, post, query = await _session(port)
    try:
        get.send("GET", query)  # held: nothing to send yet
        await asyncio.sleep(0.05)
        for n in range(3):  # the ack of each POST goes out on the GET held before it
            assert (await post.request("POST", query, b'42%d["echo","x",%d]' % (n, n)))[2] == b"ok"
            status, headers, body = await get.response()
            assert status == 200
            assert body == b'43%d["x",%d]' % (n, n)
            assert headers["content-type"] == "text/plain; charset=UTF-8"
            assert headers["access-control-allow-origin"] == "*"
            get.send("GET", query)
            await asyncio.sleep(0.02)
        await io.emit("news", 1)  # a server-side emit answers the held GET too
        assert (await get.response())[2] == b'42["news",1]'
        assert reasons == []
    finally:
        get.close()
        post.close()


async def test_a_client_that_leaves_during_a_held_get_is_gone_at_once(
    served: tuple[aiosocketio.Server, int, list[Any]],
) -> None:
    io, port, reasons = served
    get, post, query = await _session(port)
    get.send("GET", query)
    await asyncio.sleep(0.05)
    assert len(io.sockets.sockets) == 1
    get.close()  # long before the ping timeout
    await _eventually(lambda: reasons)
    assert reasons == ["transport error"]
    post.close()
    # The server carries on with other clients.
    other_get, other_post, other_query = await _session(port)
    assert (await other_post.request("POST", other_query, b'420["echo","y"]'))[2] == b"ok"
    assert (await other_get.request("GET", other_query))[2] == b'430["y"]'
    other_get.close()
    other_post.close()


async def test_python_socketio_over_long_polling(served: tuple[aiosocketio.Server, int, list[Any]]) -> None:
    io, port, reasons = served
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(f"http://{HOST}:{port}", transports=["polling"])
    try:
        # At most 16 at once: python-engineio's client refuses a payload of more than 16 packets
        # (``max_decode_packets``), and all the acks of one POST leave in one payload, as with the reference.
        results = await asyncio.gather(*(client.call("echo", n, timeout=PROMPTLY) for n in range(12)))
        assert results == list(range(12))
        received: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        client.on("news", lambda value: received.done() or received.set_result(value))
        await asyncio.sleep(0.05)  # the client's GET is held by now
        await io.emit("news", {"n": 1})
        assert await asyncio.wait_for(received, PROMPTLY) == {"n": 1}
    finally:
        await client.disconnect()
    await _eventually(lambda: reasons)
    # python-socketio sends its DISCONNECT and the Engine.IO close in one POST: the connection closes before the
    # socket sees the DISCONNECT, as on the reference (test_socketio_protocol.py:
    # test_disconnect_and_close_in_one_payload).
    assert reasons == ["transport close"]
