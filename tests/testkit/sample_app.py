"""A small chat server: the application that ``test_sample_app.py`` tests with ``aiosocketio.testing`` only.

Users sign in with a token (a middleware refuses unknown ones), join rooms, say things to a room (acknowledged),
and may be asked a question that they answer through an ack. Connection state recovery is on, so a user whose
connection drops for a moment gets back their id, rooms and the messages missed meanwhile. ``create_chat``
takes the server's options, so that a test can give it a clock or a cluster adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiosocketio import AckTimeoutError, ConnectError, Server, Socket

USERS = {"alice-token": "alice", "bob-token": "bob", "carol-token": "carol"}


@dataclass
class Chat:
    """The server and what the application remembers: who left, and why."""

    io: Server
    departures: list[tuple[str, str]] = field(default_factory=list)


def create_chat(**options: Any) -> Chat:
    io = Server(
        ping_interval=10,
        ping_timeout=5,
        connection_state_recovery={"max_disconnection_duration": 60},
        **options,
    )
    chat = Chat(io)

    @io.use
    def authenticate(socket: Socket) -> None:
        user = USERS.get(socket.handshake.auth.get("token", ""))
        if user is None:
            raise ConnectError("unauthorized", {"hint": "sign in with a valid token"})
        socket.data["user"] = user

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        user = socket.data["user"]

        @socket.on("join")
        async def join(room: str) -> str:
            await socket.join(room)
            return f"joined {room}"

        @socket.on("say")
        async def say(room: str, text: str) -> str:
            await io.to(room).emit("message", {"from": user, "text": text})
            return "sent"

        @socket.on("quiz")
        async def quiz() -> Any:
            try:
                return await socket.timeout(30).emit_with_ack("question", "2 + 2?")
            except AckTimeoutError:
                return "no answer"

        @socket.on("disconnect")
        def gone(reason: str, *details: Any) -> None:
            chat.departures.append((user, reason))

    return chat
