"""The runner's ``root_path``: everything is served under the prefix, and a failed bind leaves nothing started.

The Socket.IO server answers its handshake at ``/chat/socket.io/`` and nowhere else; the ASGI ``other_app``
gets the requests (HTTP and WebSocket) under the prefix with ``root_path`` set and the whole path (as ASGI
describes a mounted app), and the others get 404 (``/chatter`` is not under ``/chat``). When the port is taken, ``serve`` raises the
``OSError`` after shutting down the apps it started.
"""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

import aiosocketio
from aiosocketio.runner import serve
from aiosocketio.runner.mount import normalize_root_path


async def other_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = f"{scope['root_path']}|{scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


async def test_everything_is_served_under_the_prefix() -> None:
    io = aiosocketio.Server(serve_client=False)
    running = await serve([io], port=0, other_app=other_app, root_path="/chat/")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.port}") as http:
            handshake = await http.get("/chat/socket.io/", params={"EIO": "4", "transport": "polling"})
            assert handshake.status_code == 200
            assert handshake.text.startswith('0{"sid":')
            other = await http.get("/chat/page")
            assert (other.status_code, other.text) == (200, "/chat|/chat/page")
            for outside in ("/socket.io/", "/page", "/chatter", "/"):
                response = await http.get(outside, params={"EIO": "4", "transport": "polling"})
                assert response.status_code == 404, outside
    finally:
        await running.close()


def test_root_path_is_a_path() -> None:
    assert normalize_root_path("") == ""
    assert normalize_root_path("/") == ""
    assert normalize_root_path("/a/b/") == "/a/b"
    with pytest.raises(ValueError, match="root_path must be a path starting with '/'"):
        normalize_root_path("chat")
    with pytest.raises(TypeError, match="root_path is a str"):
        normalize_root_path(5)  # type: ignore[arg-type]


class RecordingApp:
    """A WebApp that records its start-up and shut-down."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def handles(self, path: str) -> bool:
        return True

    async def handle_http(self, request: Any) -> Any:
        raise AssertionError("not reached")

    async def handle_websocket(self, request: Any, handshake: Any) -> None:
        raise AssertionError("not reached")

    async def startup(self) -> None:
        self.calls.append("startup")

    async def shutdown(self) -> None:
        self.calls.append("shutdown")


async def test_a_failed_bind_shuts_the_started_apps_down() -> None:
    app = RecordingApp()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="address already in use"):
            await serve([app], port=taken.getsockname()[1])
    assert app.calls == ["startup", "shutdown"]


async def test_a_websocket_for_other_app_under_the_prefix() -> None:
    async def ws_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": f"{scope['root_path']}|{scope['path']}"})
        await send({"type": "websocket.close"})

    running = await serve([], port=0, other_app=ws_app, root_path="/chat")
    try:
        async with connect(f"ws://127.0.0.1:{running.port}/chat/live") as ws:
            assert await ws.recv() == "/chat|/chat/live"
        with pytest.raises(InvalidStatus) as outside:
            async with connect(f"ws://127.0.0.1:{running.port}/live"):
                pass
        assert outside.value.response.status_code == 404
    finally:
        await running.close()
