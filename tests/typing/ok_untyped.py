"""An untyped application, as it was written before event maps: it must type-check as it did."""

from __future__ import annotations

from typing import Any, assert_type

from aiosocketio import Server, Socket

io = Server()


@io.on("connection")
async def on_connection(socket: Socket) -> None:
    socket.data["anything"] = 1
    assert_type(socket.data, dict[str, Any])

    @socket.on("chat")
    async def chat(text: str, extra: int = 0) -> str:
        await socket.emit("chat", text, {"any": ["json"]})
        await socket.broadcast.emit(42, "a numeric event name")
        await io.to("room").emit("chat", text)
        return "ok"

    @socket.on("disconnect")
    def on_disconnect(reason: str, description: Any) -> None: ...

    answer = await socket.timeout(5).emit_with_ack("question")
    assert_type(answer, Any)


@io.on("some server-side event")
def other_server(*args: Any) -> None: ...


async def everyone() -> None:
    # list[Any] for mypy; Any for pyright 1.1.41x, which (as the typing spec now says) gives Any when an Any
    # matches several overloads: permissive either way, so a local socket's own attributes work as before.
    for found in await io.fetch_sockets():
        print(found.conn.transport.name, found.data["anything"])
    await io.server_side_emit("ping", 1)
    await io.emit("news", "text")
    assert_type(await io.timeout(1).emit_with_ack("question"), list[Any])
