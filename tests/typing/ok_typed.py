"""A typed application: everything here must type-check, under mypy --strict and pyright --strict."""

from __future__ import annotations

from typing import Any, assert_type

from maps import ClientToServer, InterServer, ServerToClient, SocketData

from aiosocketio import BroadcastOperator, Namespace, RemoteSocket, Server, Socket
from aiosocketio.broadcast import FetchedSocket

ChatSocket = Socket[ClientToServer, ServerToClient, InterServer, SocketData]

io = Server[ClientToServer, ServerToClient, InterServer, SocketData]()
assert_type(io.sockets, Namespace[ClientToServer, ServerToClient, InterServer, SocketData])
assert_type(io.of("/admin"), Namespace[ClientToServer, ServerToClient, InterServer, SocketData])
assert_type(io.to("room"), BroadcastOperator[ServerToClient, SocketData])


@io.use
async def authenticate(socket: ChatSocket) -> None:
    socket.data["name"] = socket.handshake.auth.get("name", "anonymous")


@io.on("connection")
async def on_connection(socket: ChatSocket) -> None:
    assert_type(socket.data, SocketData)
    socket.data = {"name": "ann", "joined": 0}

    @socket.on(ClientToServer.chat)
    async def chat(text: str) -> None:
        await io.emit(ServerToClient.chat, socket.data.get("name", "?"), text)
        await socket.broadcast.emit(ServerToClient.chat, "someone", text)
        await socket.to("room").volatile.emit(ServerToClient.chat, "a", text)

    @socket.on(ClientToServer.join)
    async def join(room: str) -> int:
        await socket.join(room)
        return len(socket.rooms)

    def sync_join(room: str) -> int:  # a plain function does as well
        return 0

    socket.on(ClientToServer.join, sync_join)

    @socket.on("disconnect")
    def on_disconnect(reason: str, description: Any = None) -> None: ...

    answer = await socket.timeout(5).emit_with_ack(ServerToClient.ping)
    assert_type(answer, str)
    answers = await io.timeout(5).emit_with_ack(ServerToClient.ping)
    assert_type(answers, list[str])
    await socket.emit(ServerToClient.chat, "server", "welcome")


@io.on("new_namespace")
def on_namespace(nsp: Namespace[ClientToServer, ServerToClient, InterServer, SocketData]) -> None: ...


@io.on("startup")
async def on_startup() -> None:
    await io.server_side_emit(InterServer.hello, "server-1")
    counts = await io.server_side_emit_with_ack(InterServer.count)
    assert_type(counts, list[int])


@io.on(InterServer.hello)
def hello(server: str) -> None: ...


@io.on(InterServer.count)
def count() -> int:
    return len(io.sockets.sockets)


async def everyone() -> list[str]:
    sockets = await io.in_("room").fetch_sockets()
    assert_type(sockets, list[FetchedSocket[ServerToClient, SocketData]])
    for socket in sockets:
        await socket.emit(ServerToClient.chat, "server", "hi")
        assert_type(await socket.timeout(1).emit_with_ack(ServerToClient.ping), str)
    return [socket.data.get("name", "") for socket in sockets]


def remote(socket: RemoteSocket[ServerToClient, SocketData]) -> FetchedSocket[ServerToClient, SocketData]:
    return socket  # a RemoteSocket is one of the sockets fetch_sockets() returns


def local(socket: ChatSocket) -> FetchedSocket[ServerToClient, SocketData]:
    return socket  # and so is a Socket of this server


partly = Server[ClientToServer, ServerToClient]()  # the last two parameters keep their defaults
assert_type(partly.sockets, Namespace[ClientToServer, ServerToClient, Any, dict[str, Any]])
