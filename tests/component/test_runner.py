"""The built-in runner on loopback, driven by real clients: httpx for HTTP, ``websockets`` for WebSocket.

A small fake ``WebApp`` stands in for the engine: a few HTTP routes (one that never answers, to check that
the handler is cancelled when the client goes away; one with a body limit) and a WebSocket echo.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from aiosocketio.runner import RunningServer, serve
from aiosocketio.runner.state import Limits, ServerState
from aiosocketio.runner.websocket import WebSocketConnection
from aiosocketio.runner.wsframe import FrameParser
from aiosocketio.web import (
    CLOSE_DROPPED,
    BodyTooLarge,
    FixedHeaders,
    Request,
    Response,
    WebSocketHandshake,
    WebSocketPort,
)

TIMEOUT = 10.0
BODY_LIMIT = 1000
WS_LIMIT = 1_000_000


class EchoReceiver:
    def __init__(self, app: FakeApp, port: WebSocketPort) -> None:
        self.app = app
        self.port = port

    def on_ws_message(self, data: str | bytes) -> None:
        self.app.ws_messages.append(data)
        if data == "close-me":
            self.port.close(4001)
        elif data == "flood":
            for _ in range(100):
                self.port.send_bytes(bytes(100_000))
        elif data == "twice":
            self.port.send_text("one")
            self.port.send_text("two")
        elif isinstance(data, str):
            self.port.send_text(data)
        else:
            self.port.send_bytes(data)

    def on_ws_close(self, code: int, reason: str) -> None:
        self.app.ws_closes.append((code, reason))
        self.app.ws_closed.set()


QUICK_HEADERS = FixedHeaders([("content-type", "text/plain"), ("X-Quick", "yes")])


class FakeApp:
    """Serves ``/app/...``; records what it saw so the tests can check it."""

    def __init__(self) -> None:
        self.forever_started = asyncio.Event()
        self.forever_cancelled = asyncio.Event()
        self.ws_messages: list[str | bytes] = []
        self.ws_closes: list[tuple[int, str]] = []
        self.ws_closed = asyncio.Event()
        self.shutdown_calls = 0
        self.requests: list[Request] = []

    def handles(self, path: str) -> bool:
        return path.startswith("/app/")

    def answer_at_once(
        self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Response | None:
        """``/app/quick`` is answered here, from the raw parts; everything else goes to handle_http."""
        if path == "/app/quick-error":
            raise RuntimeError("quick boom (expected by the test)")
        if path != "/app/quick":
            return None
        names = b",".join(name for name, _ in headers)
        return Response(200, QUICK_HEADERS, b"%s %s [%s] %s" % (method.encode(), query, names, body))

    async def handle_http(self, request: Request) -> Response:
        self.requests.append(request)
        path = request.path
        if path == "/app/hello":
            return Response(200, [("content-type", "text/plain"), ("x-test", "yes")], b"hello")
        if path == "/app/info":
            info = {
                "method": request.method,
                "path": request.path,
                "url": request.url,
                "query": request.query,
                "headers": request.headers.to_dict(),
                "remote": request.remote_address,
                "secure": request.secure,
            }
            return Response(200, [("content-type", "application/json")], json.dumps(info).encode())
        if path == "/app/body":
            try:
                body = await request.read_body(BODY_LIMIT)
            except BodyTooLarge:
                return Response(413, [], b"too large")
            return Response(200, [], body)
        if path == "/app/forever":
            self.forever_started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.forever_cancelled.set()
                raise
        if path == "/app/slow":  # answers after a real suspension (a task carries it on)
            await asyncio.sleep(float(request.query.get("s", "0.01")))
            return Response(200, [("content-type", "text/plain")], b"slow " + request.query_string.encode())
        if path == "/app/late-error":
            await asyncio.sleep(0)
            raise RuntimeError("late boom (expected by the test)")
        if path == "/app/error":
            raise RuntimeError("boom (expected by the test)")
        if path == "/app/bad-header":
            return Response(200, [("x-bad", "a\r\nx-injected: 1")], b"")
        if path == "/app/no-content":
            return Response(204, [], b"ignored")
        return Response(404, [], b"no such route")

    async def handle_websocket(self, request: Request, handshake: WebSocketHandshake) -> None:
        if "reject" in request.query:
            await handshake.reject(Response(403, [("content-type", "text/plain")], b"go away"))
            return
        if "ignore" in request.query:
            return  # answers nothing: the runner must refuse for us
        port = await handshake.accept(
            [("x-hello", "1")],
            max_message_size=int(request.query.get("max", WS_LIMIT)),
            compression=request.query.get("deflate") == "1",
        )
        if "late" in request.query:
            await asyncio.sleep(0.2)  # messages arriving now must wait for the receiver
        port.set_receiver(EchoReceiver(self, port))

    async def startup(self) -> None:
        pass

    async def shutdown(self) -> None:
        self.shutdown_calls += 1


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A tiny ASGI app for ``other_app``: echoes the body, streams when asked."""
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/asgi/stream":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if scope["path"] == "/asgi/crash":
        raise RuntimeError("asgi boom (expected by the test)")
    info = {
        "method": scope["method"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode(),
        "query": scope["query_string"].decode(),
        "body": body.decode(),
        "http_version": scope["http_version"],
        "has_host": any(name == b"host" for name, _ in scope["headers"]),
        "client": scope["client"][0],
    }
    await send(
        {"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": json.dumps(info).encode()})


@pytest.fixture
def app() -> FakeApp:
    return FakeApp()


@pytest.fixture
async def server(app: FakeApp) -> AsyncIterator[RunningServer]:
    running = await serve([app], host="127.0.0.1", port=0, other_app=asgi_app, shutdown_timeout=1.0)
    try:
        yield running
    finally:
        await asyncio.wait_for(running.close(), TIMEOUT)


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=TIMEOUT) as http:
        yield http


async def raw_exchange(port: int, data: bytes, *, read_until_close: bool = True) -> bytes:
    """Send raw bytes and read what comes back until the server closes (or the timeout)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        if read_until_close:
            return await asyncio.wait_for(reader.read(), TIMEOUT)
        return await asyncio.wait_for(reader.read(65536), TIMEOUT)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def ws_url(server: RunningServer, query: str = "") -> str:
    return f"ws://127.0.0.1:{server.port}/app/ws{'?' + query if query else ''}"


async def recv(ws: ClientConnection) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


# --- HTTP ---


async def test_plain_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/app/hello")
    assert response.status_code == 200
    assert response.text == "hello"
    assert response.headers["x-test"] == "yes"
    assert response.headers["content-length"] == "5"
    assert "date" in response.headers


async def test_request_fields(client: httpx.AsyncClient) -> None:
    response = await client.get("/app/info?b=2&a=1&b=3", headers={"X-Custom": "v", "Cookie": "c=1"})
    info = response.json()
    assert info["method"] == "GET"
    assert info["path"] == "/app/info"
    assert info["url"] == "/app/info?b=2&a=1&b=3"
    assert info["query"] == {"b": "2", "a": "1"}
    assert info["headers"]["x-custom"] == "v"
    assert info["remote"] == "127.0.0.1"
    assert info["secure"] is False


async def test_answered_at_once_from_the_raw_parts(
    client: httpx.AsyncClient, server: RunningServer, app: FakeApp
) -> None:
    for _ in range(2):  # the second answer reuses the encoding the first one kept in the FixedHeaders
        response = await client.get("/app/quick?a=1&b", headers={"X-Mixed-Case": "v"})
        assert response.status_code == 200
        assert response.headers["x-quick"] == "yes"
        assert response.headers["content-type"] == "text/plain"
        assert response.headers["content-length"] == str(len(response.content))
        method, query, names, body = response.text.split(" ")
        assert (method, query, body) == ("GET", "a=1&b", "")
        assert "x-mixed-case" in names.strip("[]").split(",")  # lower-case names, as ASGI has them
    assert QUICK_HEADERS.http1 is not None
    # A POST whose body comes with its head is offered too (one whose body comes later goes the usual way).
    data = await raw_exchange(
        server.port,
        b"POST /app/quick HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody",
    )
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert data.endswith(b"POST  [host,content-length,connection] body")
    assert app.requests == []  # handle_http never saw them
    info = await client.get("/app/info?x=1")  # declined (None): the usual way
    assert info.json()["query"] == {"x": "1"}
    assert len(app.requests) == 1


async def test_an_error_in_answer_at_once_gives_500(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.CRITICAL, logger="aiosocketio.runner"):
        response = await client.get("/app/quick-error")
    assert response.status_code == 500
    assert (await client.get("/app/hello")).status_code == 200  # the connection lives on


async def test_keep_alive_reuses_one_connection(client: httpx.AsyncClient, server: RunningServer) -> None:
    for _ in range(5):
        assert (await client.get("/app/hello")).status_code == 200
    assert (await client.post("/app/body", content=b"x" * 10)).status_code == 200
    assert (await client.get("/app/nope")).status_code == 404
    assert server.connection_count == 1


async def test_not_found_without_other_app(app: FakeApp) -> None:
    running = await serve([app], port=0)
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            response = await http.get(f"http://127.0.0.1:{running.port}/elsewhere")
        assert response.status_code == 404
        assert response.text == "Not Found"
    finally:
        await running.close()


async def test_body_within_limit(client: httpx.AsyncClient) -> None:
    response = await client.post("/app/body", content=b"a" * BODY_LIMIT)
    assert response.status_code == 200
    assert response.content == b"a" * BODY_LIMIT


async def test_chunked_body(client: httpx.AsyncClient) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"0123456789"
            await asyncio.sleep(0.001)

    response = await client.post("/app/body", content=parts())
    assert response.status_code == 200
    assert response.content == b"0123456789" * 10


async def test_body_too_large(client: httpx.AsyncClient) -> None:
    response = await client.post("/app/body", content=b"a" * (BODY_LIMIT + 1))
    assert response.status_code == 413


async def test_chunked_body_too_large(client: httpx.AsyncClient) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for _ in range(200):
            yield b"0123456789"

    response = await client.post("/app/body", content=parts())
    assert response.status_code == 413


async def test_expect_100_continue(server: RunningServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            b"POST /app/body HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"abc")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert await asyncio.wait_for(reader.readexactly(3), TIMEOUT) == b"abc"
    finally:
        writer.close()
        await writer.wait_closed()


async def test_handler_error_gives_500(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.CRITICAL, logger="aiosocketio.runner"):
        response = await client.get("/app/error")
    assert response.status_code == 500
    assert (await client.get("/app/hello")).status_code == 200  # the connection lives on
    with caplog.at_level(logging.CRITICAL, logger="aiosocketio.runner"):
        late = await client.get("/app/late-error")  # raised after the handler first waited
    assert late.status_code == 500
    assert (await client.get("/app/hello")).status_code == 200


async def test_header_injection_is_refused(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.CRITICAL, logger="aiosocketio.runner"):
        response = await client.get("/app/bad-header")
    assert response.status_code == 500
    assert "x-injected" not in response.headers
    with caplog.at_level(logging.CRITICAL, logger="aiosocketio.runner"):
        again = await client.get("/app/bad-header")  # refused every time, not only the first
    assert again.status_code == 500


async def test_no_content_has_no_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/app/no-content")
    assert response.status_code == 204
    assert response.content == b""
    assert "content-length" not in response.headers
    assert (await client.get("/app/hello")).text == "hello"


async def test_head_has_length_but_no_body(server: RunningServer) -> None:
    data = await raw_exchange(
        server.port, b"HEAD /app/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"content-length: 5" in head
    assert b"connection: close" in head
    assert body == b""


async def test_pipelined_requests_answered_in_order(server: RunningServer) -> None:
    requests = (
        b"GET /app/info?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /app/body HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
        b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /app/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    data = await raw_exchange(server.port, requests)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)
    assert statuses == [b"200", b"200", b"201", b"200"]
    assert data.index(b'"n": "1"') < data.index(b"body") < data.index(b"/nothing-here") < data.index(b"hello")


async def test_pipelined_requests_in_order_when_one_waits(server: RunningServer) -> None:
    # Handlers run at once when a request arrives: the ones that answer without waiting must still wait
    # their turn behind one that suspends, and the ones after it start when it is done.
    requests = (
        b"GET /app/hello?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /app/slow?s=0.05&n=2 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /app/body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthree"
        b"GET /app/slow?s=0&n=4 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /app/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    data = await raw_exchange(server.port, requests)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)
    assert statuses == [b"200"] * 5
    bodies = [data.index(part) for part in (b"hello", b"slow s=0.05&n=2", b"three", b"slow s=0&n=4")]
    assert bodies == sorted(bodies)
    assert data.endswith(b"hello")


async def test_keep_alive_timeout_does_not_cut_a_long_request(app: FakeApp) -> None:
    # The request outlasts the keep-alive timeout; the connection closes only once it has been idle that long
    # after the last answer (the pipelined second request is answered first).
    running = await serve([app], port=0, keep_alive_timeout=0.1)
    try:
        data = await raw_exchange(
            running.port,
            b"GET /app/slow?s=0.3 HTTP/1.1\r\nHost: x\r\n\r\nGET /app/hello HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        assert re.findall(rb"HTTP/1\.1 (\d{3}) ", data) == [b"200", b"200"]
        assert b"connection: close" not in data  # closed for being idle, not by either answer
        assert data.endswith(b"hello")
    finally:
        await running.close()


async def test_http_1_0_closes_unless_keep_alive(server: RunningServer) -> None:
    data = await raw_exchange(server.port, b"GET /app/hello HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert b"connection: close" in data
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /app/hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert b"connection: keep-alive" in head
    finally:
        writer.close()
        await writer.wait_closed()


async def test_bad_request_bytes(server: RunningServer) -> None:
    data = await raw_exchange(server.port, b"THIS IS NOT HTTP\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"connection: close" in data


async def test_bad_request_after_a_good_one(server: RunningServer) -> None:
    data = await raw_exchange(server.port, b"GET /app/hello HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\x00\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert b"HTTP/1.1 400 Bad Request" in data


async def test_huge_headers_431(client: httpx.AsyncClient) -> None:
    response = await client.get("/app/hello", headers={"x-big": "a" * 20_000})
    assert response.status_code == 431


async def test_too_many_headers_431(client: httpx.AsyncClient) -> None:
    response = await client.get("/app/hello", headers={f"x-h{i}": "1" for i in range(150)})
    assert response.status_code == 431


async def test_one_endless_header_line_431(server: RunningServer) -> None:
    # One header line sent in many pieces with no end: caught before it is complete.
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /app/hello HTTP/1.1\r\nX-Long: ")
        with contextlib.suppress(ConnectionError):  # the server may answer and close while we still write
            for _ in range(40):
                writer.write(b"a" * 1024)
                await writer.drain()
        data = await asyncio.wait_for(reader.read(), TIMEOUT)
        assert data.startswith(b"HTTP/1.1 431 Request Header Fields Too Large")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_handler_cancelled_when_client_disconnects(server: RunningServer, app: FakeApp) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /app/forever HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    await asyncio.wait_for(app.forever_started.wait(), TIMEOUT)
    writer.close()
    await writer.wait_closed()
    await asyncio.wait_for(app.forever_cancelled.wait(), TIMEOUT)


async def test_idle_keep_alive_connection_is_closed(app: FakeApp) -> None:
    running = await serve([app], port=0, keep_alive_timeout=0.2)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(b"GET /app/hello HTTP/1.1\r\nHost: x\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), TIMEOUT)  # ends when the server closes
        assert data.startswith(b"HTTP/1.1 200 OK")
        assert data.endswith(b"hello")
        writer.close()
        await writer.wait_closed()
        # A client that never finishes its request head is dropped as well.
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(b"GET /app/hello HTTP/1.1\r\n")
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
        writer.close()
        await writer.wait_closed()
    finally:
        await running.close()


# --- other_app (ASGI) ---


async def test_other_app_gets_unclaimed_requests(client: httpx.AsyncClient) -> None:
    response = await client.post("/other/path%20x?q=1", content=b"payload")
    assert response.status_code == 201
    info = response.json()
    assert info == {
        "method": "POST",
        "path": "/other/path x",
        "raw_path": "/other/path%20x",
        "query": "q=1",
        "body": "payload",
        "http_version": "1.1",
        "has_host": True,
        "client": "127.0.0.1",
    }
    assert response.headers["content-length"] == str(len(response.content))


async def test_other_app_streamed_body_in_and_out(client: httpx.AsyncClient) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    response = await client.post("/asgi/stream", content=parts())
    assert response.status_code == 200
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.text == "one,two,three"
    assert (await client.get("/other")).status_code == 201  # keep-alive after a chunked response


async def test_other_app_crash(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.CRITICAL, logger="aiosocketio.runner"):
        response = await client.get("/asgi/crash")
    assert response.status_code == 500


async def test_other_app_sees_disconnect(app: FakeApp) -> None:
    seen = asyncio.Event()

    async def waits_for_disconnect(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.request"
        assert (await receive())["type"] == "http.disconnect"
        seen.set()

    running = await serve([app], port=0, other_app=waits_for_disconnect)
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()
        await writer.wait_closed()
        await asyncio.wait_for(seen.wait(), TIMEOUT)
    finally:
        await running.close()


# --- WebSocket ---


async def test_ws_text_and_binary_echo(server: RunningServer, app: FakeApp) -> None:
    async with connect(ws_url(server), compression=None, open_timeout=TIMEOUT) as ws:
        assert ws.response is not None
        assert ws.response.headers["x-hello"] == "1"
        assert "sec-websocket-extensions" not in ws.response.headers
        await ws.send("hello")
        assert await recv(ws) == "hello"
        await ws.send(b"\x00\x01\xff")
        assert await recv(ws) == b"\x00\x01\xff"
        await ws.send("héllo ✓")
        assert await recv(ws) == "héllo ✓"
        await ws.send("twice")
        assert [await recv(ws), await recv(ws)] == ["one", "two"]
    await asyncio.wait_for(app.ws_closed.wait(), TIMEOUT)
    assert app.ws_closes == [(1000, "")]


async def test_ws_fragmented_message_from_client(server: RunningServer) -> None:
    async with connect(ws_url(server), compression=None, open_timeout=TIMEOUT) as ws:
        await ws.send(["frag", "mented", " text"])
        assert await recv(ws) == "fragmented text"


@pytest.mark.parametrize("size", [125, 126, 65535, 65536, 900_000])
async def test_ws_large_messages(server: RunningServer, size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    url = ws_url(server, "max=4000000")
    async with connect(url, compression=None, max_size=None, open_timeout=TIMEOUT) as ws:
        await ws.send(payload)
        assert await recv(ws) == payload
        await ws.send(payload.decode("latin-1"))
        assert await recv(ws) == payload.decode("latin-1")


async def test_ws_many_messages_in_order(server: RunningServer) -> None:
    async with connect(ws_url(server), compression=None, open_timeout=TIMEOUT) as ws:
        for i in range(200):
            await ws.send(str(i))
        assert [await recv(ws) for _ in range(200)] == [str(i) for i in range(200)]


async def test_ws_ping_is_answered(server: RunningServer) -> None:
    async with connect(ws_url(server), compression=None, open_timeout=TIMEOUT, ping_interval=None) as ws:
        pong = await ws.ping(b"are you there")
        latency = await asyncio.wait_for(pong, TIMEOUT)
        assert latency >= 0


async def test_ws_server_close_code(server: RunningServer, app: FakeApp) -> None:
    async with connect(ws_url(server), compression=None, open_timeout=TIMEOUT) as ws:
        await ws.send("close-me")
        with pytest.raises(ConnectionClosed):
            await recv(ws)
        assert ws.close_code == 4001
    await asyncio.wait_for(app.ws_closed.wait(), TIMEOUT)
    assert app.ws_closes == [(4001, "")]


async def test_ws_client_close_code(server: RunningServer, app: FakeApp) -> None:
    async with connect(ws_url(server), compression=None, open_timeout=TIMEOUT) as ws:
        await ws.send("x")
        assert await recv(ws) == "x"
        await asyncio.wait_for(ws.close(4002, "bye"), TIMEOUT)
    await asyncio.wait_for(app.ws_closed.wait(), TIMEOUT)
    assert app.ws_closes == [(4002, "bye")]


async def test_ws_connection_lost_reports_1006_once(server: RunningServer, app: FakeApp) -> None:
    async with connect(ws_url(server), compression=None, open_timeout=TIMEOUT) as ws:
        await ws.send("x")
        assert await recv(ws) == "x"
        ws.transport.abort()
    await asyncio.wait_for(app.ws_closed.wait(), TIMEOUT)
    await asyncio.sleep(0.05)
    assert app.ws_closes == [(1006, "")]


async def test_ws_messages_before_receiver_are_kept(server: RunningServer, app: FakeApp) -> None:
    async with connect(ws_url(server, "late=1"), compression=None, open_timeout=TIMEOUT) as ws:
        await ws.send("early-1")
        await ws.send(b"early-2")
        assert await recv(ws) == "early-1"
        assert await recv(ws) == b"early-2"


async def test_ws_message_too_big_closes_1009(server: RunningServer, app: FakeApp) -> None:
    async with connect(ws_url(server, "max=1000"), compression=None, open_timeout=TIMEOUT) as ws:
        await ws.send("a" * 1000)
        assert await recv(ws) == "a" * 1000
        await ws.send("a" * 1001)
        with pytest.raises(ConnectionClosed):
            await recv(ws)
        assert ws.close_code == 1009
        assert ws.close_reason == ""  # the code alone, as Node's ws sends it
    await asyncio.wait_for(app.ws_closed.wait(), TIMEOUT)
    assert app.ws_closes[0][0] == 1009


async def test_ws_permessage_deflate(server: RunningServer, app: FakeApp) -> None:
    async with connect(ws_url(server, "deflate=1"), max_size=None, open_timeout=TIMEOUT) as ws:
        assert ws.response is not None
        assert ws.response.headers["sec-websocket-extensions"].startswith("permessage-deflate")
        for message in ("small", "big " * 5000, b"\x00" * 100_000, "again " * 1000):
            await ws.send(message)
            assert await recv(ws) == message


async def test_ws_deflate_offered_but_not_allowed(server: RunningServer) -> None:
    async with connect(ws_url(server), open_timeout=TIMEOUT) as ws:  # the client offers deflate
        assert ws.response is not None
        assert "sec-websocket-extensions" not in ws.response.headers
        await ws.send("x" * 5000)
        assert await recv(ws) == "x" * 5000


async def test_ws_deflate_bomb_closes_1009(server: RunningServer) -> None:
    async with connect(ws_url(server, "deflate=1&max=10000"), max_size=None, open_timeout=TIMEOUT) as ws:
        await ws.send(b"\x00" * 10_000)
        assert await recv(ws) == b"\x00" * 10_000
        await ws.send(b"\x00" * 1_000_000)  # a few KB on the wire, too big once inflated
        with pytest.raises(ConnectionClosed):
            await recv(ws)
        assert ws.close_code == 1009
        assert ws.close_reason == ""


async def test_ws_reject(server: RunningServer) -> None:
    with pytest.raises(Exception, match="403"):
        async with connect(ws_url(server, "reject=1"), open_timeout=TIMEOUT):
            pass


async def test_ws_unanswered_upgrade_is_refused(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.CRITICAL, logger="aiosocketio.runner"),
        pytest.raises(Exception, match="500"),
    ):
        async with connect(ws_url(server, "ignore=1"), open_timeout=TIMEOUT):
            pass


async def test_ws_for_no_app_is_404(app: FakeApp) -> None:
    running = await serve([app], port=0)  # no other_app: it would get the request (test_runner_asgi_edges.py)
    try:
        with pytest.raises(Exception, match="404"):
            async with connect(f"ws://127.0.0.1:{running.port}/elsewhere", open_timeout=TIMEOUT):
                pass
    finally:
        await running.close()


async def test_ws_bad_version_426(server: RunningServer) -> None:
    request = (
        b"GET /app/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
    )
    data = await raw_exchange(server.port, request)
    assert data.startswith(b"HTTP/1.1 426 Upgrade Required")
    assert b"sec-websocket-version: 13" in data


async def test_ws_raw_handshake_and_frames(server: RunningServer) -> None:
    """The RFC's handshake example and masked "Hello", sent in the same packet as the upgrade request."""
    request = (
        b"GET /app/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    hello = bytes.fromhex("818537fa213d7f9f4d5158")
    close = bytes.fromhex("8882") + b"\x00\x00\x00\x00" + b"\x03\xe8"
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(request + hello)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        assert b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
        assert await asyncio.wait_for(reader.readexactly(7), TIMEOUT) == bytes.fromhex("810548656c6c6f")
        writer.write(close)
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == bytes.fromhex("880203e8")
    finally:
        writer.close()
        await writer.wait_closed()


async def test_ws_unmasked_frame_closes_1002(server: RunningServer, app: FakeApp) -> None:
    request = (
        b"GET /app/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(request)
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        writer.write(bytes.fromhex("810548656c6c6f"))
        data = await asyncio.wait_for(reader.read(), TIMEOUT)
        assert data[0] == 0x88  # a close frame
        assert data[2:4] == (1002).to_bytes(2, "big")
    finally:
        writer.close()
        await writer.wait_closed()
    await asyncio.wait_for(app.ws_closed.wait(), TIMEOUT)
    assert app.ws_closes == [(1002, "client frame is not masked")]


_UPGRADE = (
    b"GET /app/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def _masked_text(text: str) -> bytes:
    payload = text.encode()
    assert len(payload) < 126
    return bytes((0x81, 0x80 | len(payload))) + b"\x00\x00\x00\x00" + payload  # a zero mask keeps it readable


async def test_ws_peer_that_stops_reading_is_dropped(app: FakeApp) -> None:
    running = await serve([app], port=0, max_write_buffer=1_000_000)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(_UPGRADE)
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        writer.write(_masked_text("flood"))  # ~10 MB comes back, and we read none of it
        await asyncio.wait_for(app.ws_closed.wait(), TIMEOUT)
        assert app.ws_closes == [(CLOSE_DROPPED, "")]  # we gave up on it (not the peer's 1006)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    finally:
        await running.close()


class _BackedUpTransport:
    """A transport whose peer reads nothing: it keeps every byte written, like a full socket."""

    def __init__(self) -> None:
        self.held = 0
        self.most_held = 0
        self.aborted = False

    def write(self, data: bytes) -> None:
        if not self.aborted:
            self.held += len(data)
            self.most_held = max(self.most_held, self.held)

    def get_write_buffer_size(self) -> int:
        return self.held

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True
        self.held = 0

    def pause_reading(self) -> None:
        pass


async def test_ws_burst_to_a_peer_that_stopped_reading_is_cut_at_the_limit() -> None:
    # Once the transport has paused our writes, each frame is counted against max_write_buffer as it is sent:
    # a burst in one loop turn costs at most the limit plus one frame, not the whole burst.
    limit = 1_000_000
    state = ServerState([], limits=Limits(max_write_buffer=limit))
    connection = WebSocketConnection(state, FrameParser())
    transport = _BackedUpTransport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    connection.pause_writing()
    assert not connection.writable  # volatile packets are dropped from now on
    frame = 100_000
    for _ in range(100):  # 10 MB in one turn
        connection.send_bytes(bytes(frame))
    assert transport.aborted
    assert transport.most_held <= limit + frame + 16
    connection.connection_lost(None)


async def test_ws_close_handshake_times_out(app: FakeApp) -> None:
    running = await serve([app], port=0, ws_close_timeout=0.2)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(_UPGRADE)
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        writer.write(_masked_text("close-me"))
        assert await asyncio.wait_for(reader.readexactly(4), TIMEOUT) == bytes.fromhex("88020fa1")  # 4001
        # We never answer the close frame: the server gives up after ws_close_timeout.
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
        await asyncio.wait_for(app.ws_closed.wait(), TIMEOUT)
        assert app.ws_closes == [(1006, "")]
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    finally:
        await running.close()


# --- shutdown ---


async def test_graceful_shutdown(app: FakeApp) -> None:
    running = await serve([app], port=0, shutdown_timeout=0.5)
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        assert (await http.get(f"http://127.0.0.1:{running.port}/app/hello")).status_code == 200
        async with connect(ws_url(running), compression=None, open_timeout=TIMEOUT) as ws:
            await ws.send("x")
            assert await recv(ws) == "x"
            _reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
            writer.write(b"GET /app/forever HTTP/1.1\r\nHost: x\r\n\r\n")
            await asyncio.wait_for(app.forever_started.wait(), TIMEOUT)
            await asyncio.wait_for(running.close(), TIMEOUT)
            assert app.shutdown_calls == 1
            assert running.connection_count == 0
            assert app.forever_cancelled.is_set()
            with pytest.raises(ConnectionClosed):
                await recv(ws)
            assert ws.close_code == 1001
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    await running.close()  # a second close is harmless
    assert app.shutdown_calls == 1


# --- run(): the program entry point ---

_RUN_SCRIPT = """
import sys
from aiosocketio.runner import run
from aiosocketio.web import Response

class App:
    def handles(self, path):
        return path == "/ping"

    async def handle_http(self, request):
        return Response(200, [], b"pong")

    async def handle_websocket(self, request, handshake):
        await handshake.reject(Response(404))

    async def startup(self):
        pass

    async def shutdown(self):
        print("shutdown called", flush=True)

run(App(), host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_run_serves_until_signal(sig: signal.Signals) -> None:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _RUN_SCRIPT, str(port), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            for _ in range(200):
                try:
                    response = await http.get(f"http://127.0.0.1:{port}/ping")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("the server did not start")
        assert response.text == "pong"
        process.send_signal(sig)
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()
    assert process.returncode == 0, err.decode()
    assert b"shutdown called" in out
    assert b"serving on http://127.0.0.1:%d (uvloop)" % port in err


# --- the same scenarios on uvloop ---
# pytest-asyncio runs the tests above on the default loop; the runner prefers uvloop, so every scenario that
# needs only the standard fixtures runs again on a uvloop loop of its own.

_FIXTURES = {"app", "server", "client", "caplog"}
_UVLOOP_SCENARIOS = [
    function
    for name, function in list(globals().items())
    if name.startswith("test_")
    and inspect.iscoroutinefunction(function)
    and set(inspect.signature(function).parameters) <= _FIXTURES
]


@pytest.mark.parametrize("scenario", _UVLOOP_SCENARIOS, ids=[f.__name__[5:] for f in _UVLOOP_SCENARIOS])
def test_on_uvloop(scenario: Any, caplog: pytest.LogCaptureFixture) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> None:
        app = FakeApp()
        running = await serve([app], port=0, other_app=asgi_app, shutdown_timeout=1.0)
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{running.port}", timeout=TIMEOUT
            ) as http:
                available = {"app": app, "server": running, "client": http, "caplog": caplog}
                arguments = {name: available[name] for name in inspect.signature(scenario).parameters}
                await asyncio.wait_for(scenario(**arguments), 2 * TIMEOUT)
        finally:
            await asyncio.wait_for(running.close(), TIMEOUT)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


async def test_engine_hooks_run_inside_a_task() -> None:
    # Handlers start outside any task; the hooks an application gives the engine must still find one, since
    # asyncio.timeout() (and client libraries such as aiohttp) refuse to work without it.
    from aiosocketio.engineio import EngineServer

    seen: list[str] = []

    async def allow_request(request: Request) -> bool:
        async with asyncio.timeout(TIMEOUT):
            await asyncio.sleep(0)
        seen.append("allow_request")
        return asyncio.current_task() is not None

    async def origin(value: str | None) -> str:
        async with asyncio.timeout(TIMEOUT):
            await asyncio.sleep(0)
        seen.append("origin")
        return "*"

    engine = EngineServer("/engine.io/", allow_request=allow_request, cors={"origin": origin})
    running = await serve([engine], host="127.0.0.1", port=0, shutdown_timeout=1.0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.port}", timeout=TIMEOUT) as http:
            response = await http.get("/engine.io/", params={"EIO": "4", "transport": "polling"})
            assert response.status_code == 200, response.text
            assert response.text.startswith("0{")
            assert response.headers["access-control-allow-origin"] == "*"
            sid = json.loads(response.text[1:])["sid"]
            post = await http.post(
                "/engine.io/", params={"EIO": "4", "transport": "polling", "sid": sid}, content=b"4hi"
            )
            assert post.text == "ok"
    finally:
        await asyncio.wait_for(running.close(), TIMEOUT)
    assert seen == ["origin", "allow_request", "origin"]


async def _raw_websocket(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /app/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert head.startswith(b"HTTP/1.1 101 ")
    return reader, writer


def _client_frame(opcode: int, payload: bytes) -> bytes:
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload  # a zero mask: clear text


async def test_ws_a_burst_of_frames_does_not_keep_other_connections_waiting(
    server: RunningServer, app: FakeApp
) -> None:
    # Found by the wire fuzz: one read of thousands of small frames was handled in one callback. Now a
    # connection handles at most FRAMES_PER_TURN frames per turn of the loop; another connection's message,
    # readable at the same time, is handled in between, and the burst's messages still come in order.
    from aiosocketio.runner.websocket import FRAMES_PER_TURN

    count = 8 * FRAMES_PER_TURN
    burst_reader, burst = await _raw_websocket(server.port)
    other_reader, other = await _raw_websocket(server.port)
    await asyncio.sleep(0.05)  # both receivers are installed
    # Both writes reach the kernel before the loop runs again (transports write at once when they can).
    burst.write(b"".join(_client_frame(0x1, f"a{i}".encode()) for i in range(count)))
    other.write(_client_frame(0x1, b"b"))
    echoes = b"".join(bytes([0x81, len(f"a{i}")]) + f"a{i}".encode() for i in range(count))
    assert await asyncio.wait_for(burst_reader.readexactly(len(echoes)), TIMEOUT) == echoes
    assert await asyncio.wait_for(other_reader.readexactly(3), TIMEOUT) == b"\x81\x01b"
    assert app.ws_messages.index("b") < count
    assert [m for m in app.ws_messages if m != "b"] == [f"a{i}" for i in range(count)]

    # A burst of pings: every one answered with a pong carrying its payload, in order.
    burst.write(b"".join(_client_frame(0x9, str(i).encode()) for i in range(count)))
    pongs = b"".join(bytes([0x8A, len(str(i))]) + str(i).encode() for i in range(count))
    assert await asyncio.wait_for(burst_reader.readexactly(len(pongs)), TIMEOUT) == pongs
    for writer in (burst, other):
        writer.close()
