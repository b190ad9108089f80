"""The runner hosting a bare ASGI 3 ``other_app``: the lifespan protocol and WebSocket scopes, at the edges.

The frameworks themselves are in ``tests/integration/test_asgi_host.py``; here small hand-written ASGI apps
check what a framework rarely does: a lifespan that fails, or that is not spoken at all (as uvicorn's "auto"
mode, the app is served anyway), the order of startup and shutdown around our own app (and a port in use undoing
the startup), the shallow copy of the state per request, a server closing while a WebSocket is open ("going away",
then the lifespan shutdown), and a WebSocket refused with a response of the app's own, left before it was accepted,
abandoned, failing after the accept, sent to after its close, or flooded by a peer while the app does not read.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from aiosocketio.runner import LifespanFailure, serve
from aiosocketio.web import Request, Response, WebSocketHandshake

TIMEOUT = 10.0
Scope = dict[str, Any]
App = Callable[..., Any]


def lifespan_app(events: list[str], *, fail: str = "", state: dict[str, Any] | None = None) -> App:
    """An ASGI app that speaks lifespan (recording it in ``events``) and answers HTTP with its scope's state."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    if fail:
                        await send({"type": "lifespan.startup.failed", "message": fail})
                        return
                    scope["state"].update(state or {})
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert scope["type"] == "http"
        seen = sorted(scope["state"])
        scope["state"]["mine"] = 1  # a copy per request: the next request does not see it
        scope["state"]["shared"].append(scope["path"])  # but the objects in it are shared
        body = f"{seen} {scope['state']['shared']}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


class RecordingApp:
    """A web app of ours that handles no path and records its startup and shutdown."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def handles(self, path: str) -> bool:
        return False

    async def handle_http(self, request: Request) -> Response:
        raise AssertionError("never called")

    async def handle_websocket(self, request: Request, handshake: WebSocketHandshake) -> None:
        raise AssertionError("never called")

    async def startup(self) -> None:
        self.events.append("our startup")

    async def shutdown(self) -> None:
        self.events.append("our shutdown")


async def test_startup_before_listening_state_per_request_shutdown_last() -> None:
    events: list[str] = []
    running = await serve(
        [RecordingApp(events)], port=0, other_app=lifespan_app(events, state={"shared": []})
    )
    try:
        assert events == ["our startup", "lifespan.startup"]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.port}") as http:
            assert (await http.get("/a")).text == "['shared'] ['/a']"
            assert (await http.get("/b")).text == "['shared'] ['/a', '/b']"
    finally:
        await running.close()
    assert events == ["our startup", "lifespan.startup", "our shutdown", "lifespan.shutdown"]


async def test_a_failed_startup_raises_and_stops_what_started() -> None:
    events: list[str] = []
    with pytest.raises(LifespanFailure, match=r"^the application failed to start: no database$"):
        await serve([RecordingApp(events)], port=0, other_app=lifespan_app(events, fail="no database"))
    assert events == ["our startup", "lifespan.startup", "our shutdown"]


async def refuses_lifespan(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise ValueError(f"unsupported scope {scope['type']!r}")  # as Django does
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def returns_at_once(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return
    await refuses_lifespan(scope, receive, send)


async def asserts_http(scope: Scope, receive: Any, send: Any) -> None:
    await receive()
    assert scope["type"] == "http"
    await refuses_lifespan(scope, receive, send)


async def answers_everything_as_http(scope: Scope, receive: Any, send: Any) -> None:
    """Answers every scope, lifespan included, as an HTTP request: the send is refused, as uvicorn refuses it."""
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize("app", [refuses_lifespan, returns_at_once, asserts_http, answers_everything_as_http])
async def test_an_app_without_lifespan_is_served_anyway(app: App, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="aiosocketio.runner"):
        running = await serve([], port=0, other_app=app)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.port}") as http:
                assert (await http.get("/")).status_code == 204
        finally:
            await running.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_lifespan_on_requires_it() -> None:
    with pytest.raises(LifespanFailure, match="does not support the ASGI lifespan"):
        await serve([], port=0, other_app=returns_at_once, lifespan="on")
    with pytest.raises(
        LifespanFailure, match=r"^the application's lifespan raised ValueError: unsupported scope"
    ):
        await serve([], port=0, other_app=refuses_lifespan, lifespan="on")


async def test_lifespan_off() -> None:
    events: list[str] = []
    running = await serve([], port=0, other_app=lifespan_app(events), lifespan="off")
    await running.close()
    assert events == []


# --- WebSocket ------------------------------------------------------------------------------------------------


class WsApp:
    """An ASGI app whose WebSocket behaviour each test picks by path; records what it received."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.send_error: BaseException | None = None
        self.done = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        try:
            await getattr(self, scope["path"].strip("/").replace("-", "_"))(scope, receive, send)
        finally:
            self.done.set()

    async def deny(self, scope: Scope, receive: Any, send: Any) -> None:
        assert "websocket.http.response" in scope["extensions"]
        await receive()
        headers = [(b"content-type", b"text/plain"), (b"x-why", b"token")]
        await send({"type": "websocket.http.response.start", "status": 401, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"entry"})

    async def abandon(self, scope: Scope, receive: Any, send: Any) -> None:
        await receive()

    async def leave_early(self, scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        self.received.append(await receive())  # the client goes away before any answer

    async def crash(self, scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        raise RuntimeError("crash after the accept (expected by the test)")

    async def hang_up(self, scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4002, "reason": "enough"})
        self.received.append(await receive())
        try:
            await send({"type": "websocket.send", "text": "too late"})
        except OSError as exc:
            self.send_error = exc

    async def slow_reader(self, scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await self.release.wait()
        while True:
            message = await receive()
            self.received.append(message)
            if message["type"] == "websocket.disconnect":
                return


@pytest.fixture
async def ws_app() -> Any:
    app = WsApp()
    running = await serve([], port=0, other_app=app)
    try:
        yield app, f"ws://127.0.0.1:{running.port}"
    finally:
        await running.close()


async def test_a_websocket_refused_with_the_apps_response(ws_app: tuple[WsApp, str]) -> None:
    _app, url = ws_app
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{url}/deny", open_timeout=TIMEOUT):
            pass
    response = refused.value.response
    assert (response.status_code, response.headers["x-why"], response.body) == (401, "token", b"no entry")


async def test_a_websocket_the_app_neither_accepts_nor_refuses_gets_500(
    ws_app: tuple[WsApp, str], caplog: pytest.LogCaptureFixture
) -> None:
    _app, url = ws_app
    with (
        caplog.at_level(logging.CRITICAL, logger="aiosocketio.runner"),
        pytest.raises(InvalidStatus) as refused,
    ):
        async with connect(f"{url}/abandon", open_timeout=TIMEOUT):
            pass
    assert refused.value.response.status_code == 500


async def test_a_client_that_leaves_before_the_answer(ws_app: tuple[WsApp, str]) -> None:
    app, url = ws_app
    port = int(url.rsplit(":", 1)[1])
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /leave-early HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.close()
    await asyncio.wait_for(app.done.wait(), TIMEOUT)
    assert app.received == [{"type": "websocket.disconnect", "code": 1006, "reason": ""}]


async def test_an_app_that_fails_after_the_accept_closes_with_1011(
    ws_app: tuple[WsApp, str], caplog: pytest.LogCaptureFixture
) -> None:
    _app, url = ws_app
    with caplog.at_level(logging.CRITICAL, logger="aiosocketio.runner"):
        async with connect(f"{url}/crash", open_timeout=TIMEOUT) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1011


async def test_a_close_from_the_app_then_a_send_is_an_oserror(ws_app: tuple[WsApp, str]) -> None:
    app, url = ws_app
    async with connect(f"{url}/hang-up", open_timeout=TIMEOUT) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4002, "enough")
    await asyncio.wait_for(app.done.wait(), TIMEOUT)
    assert app.received == [{"type": "websocket.disconnect", "code": 4002, "reason": "enough"}]
    assert isinstance(app.send_error, OSError)


async def test_a_peer_that_floods_an_app_that_does_not_read(ws_app: tuple[WsApp, str]) -> None:
    app, url = ws_app
    async with connect(f"{url}/slow-reader", open_timeout=TIMEOUT, compression=None) as ws:
        for i in range(500):
            await ws.send(f"message {i} " + "x" * 1000)
        await asyncio.sleep(0.2)
        # Reading paused after MAX_QUEUED messages; once the app reads, it resumes: nothing lost, nothing reordered.
        app.release.set()
        await asyncio.sleep(0.2)
    await asyncio.wait_for(app.done.wait(), TIMEOUT)
    texts = [m["text"].split(" x")[0] for m in app.received if m["type"] == "websocket.receive"]
    assert texts == [f"message {i}" for i in range(500)]
    assert app.received[-1] == {"type": "websocket.disconnect", "code": 1000, "reason": ""}


async def test_server_close_says_going_away_then_runs_the_lifespan_shutdown() -> None:
    events: list[str] = []
    opened = asyncio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan_app(events)(scope, receive, send)
            return
        await receive()
        await send({"type": "websocket.accept"})
        opened.set()
        message = await receive()
        events.append(f"{message['type']} {message['code']}")

    running = await serve([], port=0, other_app=app)
    async with connect(f"ws://127.0.0.1:{running.port}/", open_timeout=TIMEOUT) as ws:
        await asyncio.wait_for(opened.wait(), TIMEOUT)
        closing = asyncio.ensure_future(running.close())
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        await asyncio.wait_for(closing, TIMEOUT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    assert events == ["lifespan.startup", "websocket.disconnect 1001", "lifespan.shutdown"]


async def test_a_port_in_use_undoes_the_lifespan_startup() -> None:
    events: list[str] = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="address already in use"):
            await serve([RecordingApp(events)], port=taken.getsockname()[1], other_app=lifespan_app(events))
    assert events == ["our startup", "lifespan.startup", "lifespan.shutdown", "our shutdown"]


async def test_a_receive_waiting_in_another_task_while_the_app_accepts() -> None:
    got: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        await receive()  # websocket.connect
        reader = asyncio.ensure_future(receive())  # waits for the answer, then for the first message
        await asyncio.sleep(0.05)
        await send({"type": "websocket.accept"})
        got.append(await reader)
        await send({"type": "websocket.send", "text": "thanks"})

    running = await serve([], port=0, other_app=app)
    try:
        async with connect(f"ws://127.0.0.1:{running.port}/", open_timeout=TIMEOUT) as ws:
            await ws.send("first")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "thanks"
    finally:
        await running.close()
    assert got == [{"type": "websocket.receive", "text": "first"}]


async def test_a_message_over_max_write_buffer_to_a_peer_that_does_not_read() -> None:
    """The peer is dropped (the slow-consumer rule of ``max_write_buffer``), and the app hears of it as of a lost
    connection (1006): the send fails, ``receive()`` says so."""
    outcome: list[Any] = []
    over = asyncio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        await receive()
        await send({"type": "websocket.accept"})
        try:
            for _ in range(10):  # 8 MB each: more than the sockets hold while the peer reads nothing
                await send({"type": "websocket.send", "bytes": bytes(8_000_000)})
        except OSError as exc:
            outcome.append(type(exc).__name__)
        outcome.append(await receive())
        over.set()

    running = await serve([], port=0, other_app=app, max_write_buffer=100_000)
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await asyncio.wait_for(over.wait(), TIMEOUT)  # while the client is still there, reading nothing
        writer.close()
    finally:
        await running.close()
    assert outcome == ["ClientDisconnected", {"type": "websocket.disconnect", "code": 1006, "reason": ""}]


async def test_an_app_waits_for_a_slow_peer_that_reads_in_the_end() -> None:
    sent: list[int] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        await receive()
        await send({"type": "websocket.accept"})
        for i in range(40):
            await send({"type": "websocket.send", "bytes": bytes([i]) * 1_000_000})
            sent.append(i)

    running = await serve([], port=0, other_app=app)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await asyncio.sleep(0.3)  # reading nothing (the stream reader stops at its 64 KiB limit)
        assert len(sent) < 40  # the app waits for the peer, it does not pile its messages up
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        received = []
        for _ in range(40):
            head = await asyncio.wait_for(reader.readexactly(10), TIMEOUT)  # 0x82, 127, 8-byte length
            payload = await asyncio.wait_for(reader.readexactly(int.from_bytes(head[2:], "big")), TIMEOUT)
            received.append((head[0], len(payload), payload[0]))
        writer.close()
    finally:
        await running.close()
    assert received == [(0x82, 1_000_000, i) for i in range(40)]
