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
