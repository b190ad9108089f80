"""The Socket.IO server the protocol conformance checks run against (socket.io-protocol test-suite contract).

Namespaces "/" and "/custom": emit ``auth`` (the client's auth, ``{}`` when none) right after the CONNECT reply,
answer ``message`` with ``message-back`` (same arguments, binary included), and acknowledge
``message-with-ack`` with all its arguments. Unknown namespaces get "Invalid namespace".

    python tests/servers/sio_suite.py --port 3000 --frontend runner|uvicorn
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

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
    return io


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--frontend", choices=("runner", "uvicorn", "hypercorn"), default="runner")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    io = build()
    if args.frontend == "runner":
        aiosocketio.run(io, host=args.host, port=args.port, log_level="warning")
    elif args.frontend == "uvicorn":
        import uvicorn

        uvicorn.run(io.asgi_app(), host=args.host, port=args.port, log_level="warning")
    else:
        import asyncio

        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"{args.host}:{args.port}"]
        asyncio.run(serve(io.asgi_app(), config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
