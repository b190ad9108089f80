"""Mistakes in a typed application: every line marked ``# E`` must be reported, by both checkers, and nothing
else. (A mark names the checkers when only one of them sees the mistake: ``# E: mypy``.)"""

from __future__ import annotations

from typing import Any

from maps import ClientToServer, InterServer, ServerToClient, SocketData

from aiosocketio import Server, Socket

ChatSocket = Socket[ClientToServer, ServerToClient, InterServer, SocketData]
io = Server[ClientToServer, ServerToClient, InterServer, SocketData]()


def needs_int(value: int) -> None: ...


async def emits(socket: ChatSocket) -> None:
    await socket.emit("chat", "a", "b")  # E  a typed map takes its methods, not strings
    await socket.emit(ServerToClient.chat, "a", 1)  # E  wrong argument type
    await socket.emit(ServerToClient.chat, "a")  # E  missing argument
    await socket.emit(ServerToClient.ping, "extra")  # E  too many arguments
    await socket.emit(ClientToServer.chat, "a")  # E  an event of the other direction
    await io.emit(ServerToClient.chat, 1, 2)  # E
    await io.to("room").emit(ServerToClient.chat, "a", None)  # E
    await socket.broadcast.emit("news")  # E
    needs_int(await socket.timeout(1).emit_with_ack(ServerToClient.ping))  # E  the answer is a str
    await io.server_side_emit(InterServer.hello, 5)  # E
    await io.server_side_emit("hello", "x")  # E


async def data(socket: ChatSocket) -> None:
    socket.data["nickname"] = "x"  # E  not a key of SocketData
    socket.data["joined"] = "yesterday"  # E  wrong value type
    socket.data = {"name": 1}  # E


async def handlers(socket: ChatSocket) -> None:
    @socket.on(ClientToServer.chat)  # E  the handler takes an int, the event carries a str
    async def chat(text: int) -> None: ...

    @socket.on(ClientToServer.join)  # E  the acknowledgement is an int
    async def join(room: str) -> str:
        return room

    @socket.on(ClientToServer.chat)  # E  too many parameters
    def chat2(text: str, more: str) -> None: ...

    @socket.on("chat")  # E  a string with a typed listen map
    def chat3(text: str) -> None: ...

    @socket.on("disconnect")  # E  disconnect gives (reason, description)
    def bye(reason: str, description: Any, more: int) -> None: ...


@io.on("connection")  # E  a socket of another server type
def wrong_socket(socket: Socket[ServerToClient, ServerToClient, InterServer, SocketData]) -> None: ...


@io.on("connection")  # E  a bare Socket has dict data, not SocketData
def bare_socket(socket: Socket) -> None: ...


@io.on(InterServer.hello)  # E
def hello(server: int) -> None: ...


@io.on("startup")  # E  startup gives no argument
def startup(extra: int) -> None: ...


async def fetched() -> None:
    for socket in await io.fetch_sockets():
        await socket.emit(ServerToClient.chat, 1, 2)  # E
        socket.data["nickname"]  # E
