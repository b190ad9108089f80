"""The Socket.IO server the protocol conformance checks run against (socket.io-protocol test-suite contract).

Namespaces "/" and "/custom": emit ``auth`` (the client's auth, ``{}`` when none) right after the CONNECT reply,
answer ``message`` with ``message-back`` (same arguments, binary included), and acknowledge
``message-with-ack`` with all its arguments. "/early" does the same after a middleware that emits ``early`` (the
auth) and ``early-ack`` (asking for an acknowledgement, whose answer comes back as ``acked``) before the
connection is accepted. Unknown namespaces get "Invalid namespace".

    python tests/servers/sio_suite.py --port 3000 --frontend runner|uvicorn
"""

from __future__ import annotations

import asyncio
from typing import Any

from frontend import parse_args, serve

import aiosocketio


def build() -> aiosocketio.Server:
    io = aiosocketio.Server(ping_interval=0.3, ping_timeout=0.2, connect_timeout=1.0)

    async def on_connection(socket: aiosocketio.Socket) -> None:
        print(f"CONNECT {socket.nsp.name} {socket.id}", flush=True)

        @socket.on("message")
        async def on_message(*args: Any) -> None:
            await socket.emit("message-back", *args)

        @socket.on("message-with-ack")
        def on_message_with_ack(*args: Any) -> tuple[Any, ...]:
            return args

        socket.on(
            "disconnect", lambda reason, description: print(f"DISCONNECT {socket.id} {reason}", flush=True)
        )
        await socket.emit("auth", socket.handshake.auth)

    io.on("connection", on_connection)
    io.of("/custom").on("connection", on_connection)

    async def emit_early(socket: aiosocketio.Socket) -> None:
        await socket.emit("early", socket.handshake.auth)

        async def ask() -> None:
            answer = await socket.emit_with_ack("early-ack")
            await socket.emit("acked", answer)

        tasks.add(task := asyncio.ensure_future(ask()))
        task.add_done_callback(tasks.discard)
        await asyncio.sleep(0)  # the task sends its packet now, still before the connection is accepted

    tasks: set[asyncio.Future[None]] = set()
    early = io.of("/early")
    early.use(emit_early)
    early.on("connection", on_connection)
    return io


def main() -> None:
    serve(build(), parse_args())


if __name__ == "__main__":
    main()
