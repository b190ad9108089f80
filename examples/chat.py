"""The aiosocketio demo: a chat with rooms. Start it with ``scripts/demo`` and open http://127.0.0.1:3000 in two tabs.

What it shows:

- rooms: a client joins a room by name (``socket.join``) and leaves it (``socket.leave``); messages go to the
  other people of its current room (``socket.to(room).emit``), with join and leave notices;
- acknowledgements: the return value of a handler is the ack, so the sender sees "delivered" once the server
  has passed the message on;
- a typing indicator sent as volatile broadcasts (``socket.to(room).volatile.emit``): losing one is harmless;
- the user list of each room, built with ``await io.in_(room).fetch_sockets()`` from the nicknames the sockets
  keep in ``socket.data`` (which would work the same across a cluster of servers).

The built-in runner serves Socket.IO at /socket.io/ together with the official browser client
(``serve_client=True``: /socket.io/socket.io.js, read from the npm package that ``scripts/setup`` installs under
tests/node_modules); a tiny ASGI app given as ``other_app`` serves the page, ``examples/chat.html``, read once at
start-up. The page needs nothing from the Internet.

Usage: ``python examples/chat.py [--host 127.0.0.1] [--port 3000]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import aiosocketio

HERE = Path(__file__).resolve().parent
PAGE_FILE = HERE / "chat.html"
CLIENT_PACKAGE = HERE.parent / "tests" / "node_modules" / "socket.io-client"

MAX_NICK = 24
MAX_ROOM = 32
MAX_TEXT = 500


def clean(value: Any, limit: int) -> str:
    """``value`` as one line of text without surrounding blanks, cut at ``limit`` ("" if it is not a string)."""
    if not isinstance(value, str):
        return ""
    return " ".join(value.split())[:limit]


def build() -> aiosocketio.Server:
    """The Socket.IO server of the chat, with its handlers."""
    io = aiosocketio.Server(serve_client=True, client_dir=str(CLIENT_PACKAGE))

    async def send_user_list(room: str) -> None:
        """Tell everybody in ``room`` who is there, from the nicknames kept in ``socket.data``."""
        sockets = await io.in_(room).fetch_sockets()
        nicks = sorted((peer.data.get("nick", "?") for peer in sockets), key=str.casefold)
        await io.to(room).emit("users", room, nicks)

    async def leave_room(socket: aiosocketio.Socket) -> None:
        """Take ``socket`` out of its current room, if any, and tell the others."""
        room = socket.data.pop("room", None)
        if room is None:
            return
        await socket.leave(room)
        await io.to(room).emit("notice", f"{socket.data['nick']} left #{room}")
        await send_user_list(room)

    @io.on("connection")
    async def on_connection(socket: aiosocketio.Socket) -> None:
        @socket.on("join")
        async def on_join(request: Any = None) -> dict[str, Any]:
            """``{"nick": ..., "room": ...}``: move to that room under that nickname."""
            if not isinstance(request, dict):
                return {"error": "send {nick, room}"}
            nick, room = clean(request.get("nick"), MAX_NICK), clean(request.get("room"), MAX_ROOM)
            if not nick or not room:
                return {"error": "a nickname and a room name, please"}
            present = await io.in_(room).fetch_sockets()
            if any(
                peer.id != socket.id and peer.data.get("nick", "").casefold() == nick.casefold()
                for peer in present
            ):
                return {"error": f"somebody called {nick} is already in #{room}"}
            if socket.data.get("room") == room and socket.data.get("nick") == nick:
                return {"nick": nick, "room": room}  # already there
            await leave_room(socket)
            socket.data["nick"] = nick
            socket.data["room"] = room
            await socket.join(room)
            await socket.to(room).emit("notice", f"{nick} joined #{room}")
            await send_user_list(room)
            return {"nick": nick, "room": room}

        @socket.on("leave")
        async def on_leave() -> None:
            await leave_room(socket)

        @socket.on("message")
        async def on_message(text: Any = None) -> dict[str, Any]:
            """A chat line for the current room; the answer is the ack the sender waits for."""
            room = socket.data.get("room")
            text = clean(text, MAX_TEXT)
            if room is None:
                return {"error": "join a room first"}
            if not text:
                return {"error": "nothing to send"}
            at = int(time.time() * 1000)  # milliseconds, like JavaScript's Date.now()
            await socket.to(room).emit("message", {"from": socket.data["nick"], "text": text, "at": at})
            return {"delivered": True, "at": at}

        @socket.on("typing")
        async def on_typing(active: Any = False) -> None:
            """Volatile: dropped rather than queued when a client cannot take it right now."""
            room = socket.data.get("room")
            if room is not None:
                await socket.to(room).volatile.emit("typing", socket.data["nick"], bool(active))

        @socket.on("disconnect")
        async def on_disconnect(reason: str, description: Any = None) -> None:
            # The socket has already left its rooms here, so the user list no longer shows it.
            room = socket.data.get("room")
            if room is not None:
                await io.to(room).emit("notice", f"{socket.data['nick']} left #{room} ({reason})")
                await send_user_list(room)

    return io


def page_app(page: bytes) -> Any:
    """A minimal ASGI app: ``page`` at /, 404 for any other path Socket.IO does not take."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/" and scope["method"] in ("GET", "HEAD"):
            status, body, kind = 200, page, b"text/html; charset=utf-8"
        else:
            status, body, kind = 404, b"Not Found", b"text/plain; charset=utf-8"
        headers = [
            (b"content-type", kind),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-cache"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="The aiosocketio chat demo (rooms, acks, typing indicator).")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="TCP port (default: 3000)")
    args = parser.parse_args()
    io = build()
    pages = page_app(PAGE_FILE.read_bytes())
    print(f"aiosocketio chat demo on http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
    aiosocketio.run(io, host=args.host, port=args.port, other_app=pages)


if __name__ == "__main__":
    main()
