"""Handlers are ordinary asyncio code: from their first line they run in a task of their own, so
``asyncio.timeout()``, ``asyncio.current_task()`` and context variables behave as everywhere else (a library such
as aiohttp needs the current task for its timeouts). Driven by python-socketio over each transport."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest
import socketio

import aiosocketio

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_handlers_can_use_task_based_asyncio_at_once(transport: str) -> None:
    io = aiosocketio.Server()
    connected: list[Any] = []

    @io.use
    async def middleware(socket: aiosocketio.Socket) -> None:
        async with asyncio.timeout(1):
            await asyncio.sleep(0)

    @io.on("connection")
    async def on_connection(socket: aiosocketio.Socket) -> None:
        async with asyncio.timeout(1):
            connected.append(asyncio.current_task() is not None)
            await asyncio.sleep(0)

        @socket.on("ask")
        async def ask(value: str) -> list[Any]:
            seen = REQUEST_ID.get()
            REQUEST_ID.set(value)  # must not leak into the next event's handler
            async with asyncio.timeout(1):
                await asyncio.sleep(0)
            return [value, seen]

    running = await io.listen(host="127.0.0.1", port=0)
    client = socketio.AsyncClient()
    try:
        await client.connect(f"http://127.0.0.1:{running.port}", transports=[transport])
        assert await client.call("ask", "first", timeout=5) == ["first", "none"]
        assert await client.call("ask", "second", timeout=5) == ["second", "none"]
        assert connected == [True]
    finally:
        await client.disconnect()
        await io.close()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_handshake_hooks_run_in_a_task(transport: str) -> None:
    """The runner answers a handshake at once, outside any task, when no application code is involved; the
    hooks a handshake may call (allow_request, generate_id, a CORS origin function, header hooks) must still
    find a current task, as an aiohttp call to an auth service would."""
    in_task: dict[str, bool] = {}

    async def checked(name: str) -> None:
        in_task[name] = asyncio.current_task() is not None
        async with asyncio.timeout(1):
            await asyncio.sleep(0)

    async def allow(request: Any) -> bool:
        await checked("allow_request")
        return True

    async def origin(value: str | None) -> bool:
        await checked("cors")
        return True

    io = aiosocketio.Server(allow_request=allow, cors={"origin": origin})
    ids = iter(range(1000))

    async def generate_id(request: Any) -> str:
        await checked("generate_id")
        return f"id-{next(ids)}"

    io.engine.generate_id = generate_id

    @io.engine.on("initial_headers")
    async def initial_headers(headers: dict[str, Any], request: Any) -> None:
        await checked("initial_headers")

    running = await io.listen(host="127.0.0.1", port=0)
    client = socketio.AsyncClient()
    try:
        await client.connect(f"http://127.0.0.1:{running.port}", transports=[transport], wait_timeout=5)
        assert client.get_sid() is not None
        assert in_task == dict.fromkeys(["cors", "allow_request", "generate_id", "initial_headers"], True)
    finally:
        await client.disconnect()
        await io.close()
