"""A handler whose signature cannot take what a client sent: one log line, no traceback, no acknowledgement.

A JavaScript handler takes any number of arguments; a Python one does not, so a client that sends more (or
fewer) arguments than the handler has parameters would make the call fail. The server logs one line naming the
namespace, the event, the handler and the count, and, when the client asked for an acknowledgement, says that
none is sent (as a JavaScript handler that never calls its callback would leave it). A ``TypeError`` raised
inside a handler's body is an ordinary error in the handler, logged with its traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import pytest
import socketio

import aiosocketio

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")


def make_server() -> aiosocketio.Server:
    io = aiosocketio.Server()

    @io.of("/chat").on("connection")
    async def on_connection(socket: Any) -> None:
        @socket.on("one")
        async def on_one(message: Any) -> Any:
            return ["one", message]

        @socket.on("broken")
        def on_broken(message: Any) -> Any:
            return len(message)  # a TypeError of the handler's own for a number

    return io


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_handler_that_cannot_take_the_arguments_is_one_log_line(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    io = make_server()
    running = await io.listen(port=0)
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(
            f"http://127.0.0.1:{running.port}",
            namespaces=["/chat"],
            transports=[transport],
            wait_timeout=5 * FACTOR,
        )
        with caplog.at_level(logging.INFO, logger="aiosocketio"):
            # Two arguments (python-socketio sends a tuple as several), with an acknowledgement asked for: none
            # comes, and the log says so.
            with pytest.raises(socketio.exceptions.TimeoutError):
                await client.call("one", ("a", "b"), namespace="/chat", timeout=0.5 * FACTOR)
            # No acknowledgement asked, and no argument at all.
            await client.emit("one", namespace="/chat")
            # The handler still works for the right arguments.
            assert await client.call("one", "ok", namespace="/chat", timeout=5 * FACTOR) == ["one", "ok"]
            with pytest.raises(socketio.exceptions.TimeoutError):
                await client.call("broken", 5, namespace="/chat", timeout=0.5 * FACTOR)
        records = [r for r in caplog.records if r.name == "aiosocketio.socket"]
        assert [r.getMessage() for r in records[:2]] == [
            "namespace /chat, event 'one': the handler on_one(message) cannot take the 2 arguments the client "
            "sent; the client asked for an acknowledgement and gets none",
            "namespace /chat, event 'one': the handler on_one(message) cannot take the 0 arguments the client "
            "sent",
        ]
        assert all(r.exc_info is None for r in records[:2])
        assert [r.getMessage() for r in records[2:]] == ["error in the handler of event 'broken'"]
        assert records[2].exc_info is not None  # the handler's own error: its traceback is the useful part
    finally:
        await client.disconnect()
        await running.close()
        await asyncio.sleep(0)
