"""The ASGI app under real ASGI servers, in the test's own loop: the path under a prefix (``root_path``), the one
warning when the server compresses WebSocket messages that the Socket.IO server does not want compressed, and
the watch on the server's stop signals (handlers wrapped, chained, given back)."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

import pytest
import uvicorn
import websockets
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig

import aiosocketio
from aiosocketio.asgi import ServerStopWatch, route_path

DEFLATE_WARNING = "negotiates permessage-deflate with WebSocket clients that offer it"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def uvicorn_serving(app: Any, **options: Any) -> AsyncIterator[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    task = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn stopped"
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 5)


def test_the_route_path_is_the_path_without_the_prefix() -> None:
    cases = [
        ({"path": "/socket.io/"}, "/socket.io/"),
        ({"path": "/socket.io/", "root_path": ""}, "/socket.io/"),
        # Starlette's Mount and uvicorn's --root-path: the whole path, and the prefix in root_path.
        ({"path": "/realtime/socket.io/", "root_path": "/realtime"}, "/socket.io/"),
        ({"path": "/realtime", "root_path": "/realtime"}, "/"),
        # A path that came stripped already (older frameworks, some proxies) is taken as it is.
        ({"path": "/socket.io/", "root_path": "/realtime"}, "/socket.io/"),
        ({"path": "/realtimes/socket.io/", "root_path": "/realtime"}, "/realtimes/socket.io/"),
    ]
    for scope, expected in cases:
        assert route_path(scope) == expected, scope


async def test_uvicorn_root_path_reaches_the_server_at_its_own_path() -> None:
    """uvicorn's ``root_path`` puts the prefix in front of every path; the engine still answers at its own."""
    io = aiosocketio.Server()
    async with uvicorn_serving(io.asgi_app(), root_path="/realtime") as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        answer = await reader.read()
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert b'0{"sid":' in answer


# -- the one warning about WebSocket compression ------------------------------------------------------------


def deflate_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "aiosocketio.asgi" and DEFLATE_WARNING in r.getMessage()
    ]


async def test_uvicorn_deflating_against_the_servers_setting_is_said_once_at_startup(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="aiosocketio.asgi")
    io = aiosocketio.Server()
    async with uvicorn_serving(io.asgi_app()) as port:
        assert len(deflate_warnings(caplog)) == 1  # at startup, before any client
        for _ in range(2):
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
            ) as ws:
                assert (await ws.recv()).startswith("0")
                # uvicorn did negotiate it: the warning told the truth.
                assert ws.protocol.extensions, "no extension negotiated"
    (message,) = deflate_warnings(caplog)
    assert message.startswith("uvicorn negotiates")
    assert "--ws-per-message-deflate false" in message
    assert "ws_per_message_deflate=False" in message


async def test_no_warning_when_uvicorn_does_not_deflate_or_the_server_wants_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="aiosocketio.asgi")
    io = aiosocketio.Server()
    async with (
        uvicorn_serving(io.asgi_app(), ws_per_message_deflate=False) as port,
        websockets.connect(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket") as ws,
    ):
        assert (await ws.recv()).startswith("0")
        assert not ws.protocol.extensions
    compressing = aiosocketio.Server(per_message_deflate=True)
    async with uvicorn_serving(compressing.asgi_app()):
        pass
    assert deflate_warnings(caplog) == []


async def test_without_lifespan_the_first_websocket_tells(caplog: pytest.LogCaptureFixture) -> None:
    """Mounted in a framework (or ``lifespan="off"``) the app sees no lifespan: the first WebSocket says it."""
    caplog.set_level(logging.INFO, logger="aiosocketio.asgi")
    io = aiosocketio.Server()
    async with uvicorn_serving(io.asgi_app(), lifespan="off") as port:
        assert deflate_warnings(caplog) == []
        for _ in range(2):
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
            ) as ws:
                assert (await ws.recv()).startswith("0")
    assert len(deflate_warnings(caplog)) == 1


async def test_hypercorn_always_deflates_and_is_said_so(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aiosocketio.asgi")
    io = aiosocketio.Server()
    config = HypercornConfig()
    port = free_port()
    config.bind = [f"127.0.0.1:{port}"]
    stop = asyncio.Event()
    task = asyncio.ensure_future(hypercorn_serve(io.asgi_app(), config, shutdown_trigger=stop.wait))
    try:
        for _ in range(500):
            if deflate_warnings(caplog):
                break
            await asyncio.sleep(0.01)
        (message,) = deflate_warnings(caplog)
        assert message.startswith("hypercorn negotiates")
        assert "no setting" in message
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


# -- the watch on the server's stop signals -----------------------------------------------------------------


async def test_the_stop_watch_wraps_the_servers_handler_and_gives_it_back() -> None:
    loop = asyncio.get_running_loop()
    seen: list[int] = []
    stops: list[str] = []

    def servers_handler(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    previous_term = signal.signal(signal.SIGTERM, servers_handler)
    try:
        watch = ServerStopWatch(loop, lambda: stops.append("stop"))
        assert watch.install()
        assert signal.getsignal(signal.SIGTERM) is not servers_handler  # wrapped
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)  # a second one is the server's business alone
        await asyncio.sleep(0.05)
        assert seen == [signal.SIGTERM, signal.SIGTERM]
        assert stops == ["stop"]
        watch.uninstall()
        assert signal.getsignal(signal.SIGTERM) is servers_handler
    finally:
        signal.signal(signal.SIGTERM, previous_term)


async def test_a_signal_nobody_handles_is_left_alone() -> None:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for sig in previous:
            signal.signal(sig, signal.SIG_DFL)
        watch = ServerStopWatch(asyncio.get_running_loop(), lambda: None)
        assert not watch.install()
        assert {sig: signal.getsignal(sig) for sig in previous} == dict.fromkeys(previous, signal.SIG_DFL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def test_stop_on_signal_false_touches_no_handler() -> None:
    io = aiosocketio.Server()
    before = signal.getsignal(signal.SIGTERM)

    app = io.asgi_app(stop_on_signal=False)
    handlers: list[object] = []

    async def lifespan_probe(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":

            async def probing_send(message: Any) -> None:
                if message["type"] == "lifespan.startup.complete":
                    handlers.append(signal.getsignal(signal.SIGTERM))
                await send(message)

            await app(scope, receive, probing_send)
        else:
            await app(scope, receive, send)

    async with uvicorn_serving(lifespan_probe):
        pass
    assert handlers
    assert not isinstance(getattr(handlers[0], "__self__", None), ServerStopWatch)
    assert signal.getsignal(signal.SIGTERM) == before
