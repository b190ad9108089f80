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

import argparse
import logging
import sys
from typing import Any

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
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--frontend", choices=("runner", "uvicorn"), default="runner")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    io = build()
    if args.frontend == "runner":
        aiosocketio.run(io, host=args.host, port=args.port, log_level="warning")
    else:
        import uvicorn

        uvicorn.run(io.asgi_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
