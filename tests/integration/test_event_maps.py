"""Events named by a typed map's methods (docs/guide/typing.md) are the events of those names on the wire.

A python-socketio client talks to a ``Server[ClientToServer, ServerToClient, ...]`` whose handlers are
registered with ``socket.on(ClientToServer.chat)`` and which emits with ``socket.emit(ServerToClient.chat, ...)``;
the client sees plain event names, as it would from a Node.js server with the same TypeScript maps.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Protocol, TypedDict

import pytest
import socketio

import aiosocketio

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")


class ClientToServer(Protocol):
    def chat(self, text: str, /) -> None: ...

    def join(self, room: str, /) -> int: ...


class ServerToClient(Protocol):
    def chat(self, author: str, text: str, /) -> None: ...

    def ping(self, /) -> str: ...


class InterServer(Protocol):
    def hello(self, server: str, /) -> None: ...


class Data(TypedDict, total=False):
    name: str


ChatSocket = aiosocketio.Socket[ClientToServer, ServerToClient, InterServer, Data]


def make_server() -> aiosocketio.Server[ClientToServer, ServerToClient, InterServer, Data]:
    io = aiosocketio.Server[ClientToServer, ServerToClient, InterServer, Data]()

    @io.on("connection")
    async def on_connection(socket: ChatSocket) -> None:
        socket.data["name"] = socket.handshake.auth.get("name", "?")

        @socket.on(ClientToServer.chat)
        async def chat(text: str) -> None:
            await io.to("room").emit(ServerToClient.chat, socket.data.get("name", "?"), text)

        @socket.on(ClientToServer.join)
        async def join(room: str) -> int:
            await socket.join(room)
            answer = await socket.timeout(5 * FACTOR).emit_with_ack(ServerToClient.ping)
            await socket.emit(ServerToClient.chat, "server", f"{answer} in {room}")
            return len(await io.in_(room).fetch_sockets())

    return io


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_events_named_by_map_methods(transport: str) -> None:
    io = make_server()
    running = await io.listen(port=0)
    client = socketio.AsyncClient(reconnection=False)
    received: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    client.on("chat", lambda *args: received.put_nowait(args))
    client.on("ping", lambda: "pong")
    try:
        await client.connect(
            f"http://127.0.0.1:{running.port}",
            transports=[transport],
            auth={"name": "ann"},
            wait_timeout=5 * FACTOR,
        )
        assert await client.call("join", "room", timeout=5 * FACTOR) == 1
        assert await asyncio.wait_for(received.get(), 5 * FACTOR) == ("server", "pong in room")
        await client.emit("chat", "hello")
        assert await asyncio.wait_for(received.get(), 5 * FACTOR) == ("ann", "hello")
    finally:
        await client.disconnect()
        await running.close()


async def test_map_methods_name_listeners_and_server_side_events() -> None:
    """Listening, emitting between servers and removing a listener take a map's method as its name."""
    io = make_server()
    seen: list[str] = []

    @io.on(InterServer.hello)
    def hello(server: str) -> None:
        seen.append(server)

    assert io.sockets.listeners("hello") == [hello]
    await io.server_side_emit(InterServer.hello, "one")  # no other server: nothing to do, no error
    with pytest.raises(ValueError, match="reserved event name"):
        await io.emit("connect")  # the checks on names apply as before
    with pytest.raises(TypeError, match="an event name is a str"):
        await io.emit(object())  # type: ignore[call-overload]
