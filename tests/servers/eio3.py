"""The server the EIO=3 bench drives Socket.IO v2 clients against: aiosocketio with ``allow_eio3=True``.

It behaves like the reference server ``tests/integration/js/node_eio3_server.mjs`` (Node.js socket.io 4.8.4 with
``allowEIO3``), so that ``tests/integration/test_eio3.py`` can hold both to the same assertions:

- ``/``: on connection, emits ``welcome`` ``{id, binary: <01 02 03>}``; ``echo`` acknowledges every argument it
  got; ``heartbeats`` acknowledges how many ``heartbeat`` events the Engine.IO connection emitted so far (with
  protocol 3, one per client ping).
- ``/admin``: a middleware refuses a missing ``token`` query parameter (``ConnectError("no token")``) and a wrong
  one (``ConnectError("not authorized", data={"token": ...})``); a connected socket gets ``seen``
  ``{id, query, auth, protocol}``; ``echo`` acknowledges like on ``/``.
- Every connection prints ``CONNECT <nsp> <id>``, every disconnection ``DISCONNECT <nsp> <id> <reason>``.

Short heartbeat settings (300 ms / 200 ms) make a client that does not ping fail within a test's time.

    python tests/servers/eio3.py --port 3000 --frontend runner|uvicorn
"""

from __future__ import annotations

from typing import Any

from frontend import parse_args, serve

import aiosocketio


def track(socket: aiosocketio.Socket) -> None:
    """Print the socket's connection and, later, its disconnection; acknowledge ``echo`` with its arguments."""
    print(f"CONNECT {socket.nsp.name} {socket.id}", flush=True)

    @socket.on("disconnect")
    def on_disconnect(reason: str, description: Any = None) -> None:
        print(f"DISCONNECT {socket.nsp.name} {socket.id} {reason}", flush=True)

    @socket.on("echo")
    def on_echo(*args: Any) -> tuple[Any, ...]:
        return args


def build() -> aiosocketio.Server:
    io = aiosocketio.Server(allow_eio3=True, ping_interval=0.3, ping_timeout=0.2, connect_timeout=1.0)

    @io.on("connection")
    async def on_connection(socket: aiosocketio.Socket) -> None:
        track(socket)
        heartbeats = 0

        def on_heartbeat(*_: Any) -> None:
            nonlocal heartbeats
            heartbeats += 1

        socket.conn.on("heartbeat", on_heartbeat)
        socket.on("heartbeats", lambda: heartbeats)
        await socket.emit("welcome", {"id": socket.id, "binary": bytes([1, 2, 3])})

    admin = io.of("/admin")

    @admin.use
    async def check_token(socket: aiosocketio.Socket) -> None:
        token = socket.handshake.query.get("token")
        if token is None:
            raise aiosocketio.ConnectError("no token")
        if token != "abc":
            raise aiosocketio.ConnectError("not authorized", data={"token": token})

    @admin.on("connection")
    async def on_admin(socket: aiosocketio.Socket) -> None:
        track(socket)
        seen = {
            "id": socket.id,
            "query": socket.handshake.query,
            "auth": socket.handshake.auth,
            "protocol": socket.conn.protocol,
        }
        await socket.emit("seen", seen)

    return io


def main() -> None:
    serve(build(), parse_args())


if __name__ == "__main__":
    main()
