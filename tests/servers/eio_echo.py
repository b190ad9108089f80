"""Engine.IO echo server used by the integration tests.

Every message a client sends is sent straight back on the same session (text as text, bytes as bytes).
Life-cycle events are printed to stdout, one line each, so tests can assert what the server saw:

    CONNECTION <sid> <transport>
    UPGRADE <sid> <transport>
    CLOSE <sid> <reason>
    HEARTBEAT <sid>
    PACKET_CREATE <sid> ping|pong

Usage::

    python tests/servers/eio_echo.py --port 3000 --frontend runner|uvicorn|hypercorn

The defaults are the configuration the Engine.IO protocol test suite expects: path ``/engine.io/``,
ping interval 0.3 s, ping timeout 0.2 s, max HTTP buffer size 1 000 000 bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

FRONTENDS = ("runner", "uvicorn", "hypercorn")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--frontend", choices=FRONTENDS, default="runner")
    parser.add_argument("--path", default="/engine.io/")
    parser.add_argument("--ping-interval", type=float, default=0.3, help="seconds")
    parser.add_argument("--ping-timeout", type=float, default=0.2, help="seconds")
    parser.add_argument("--max-http-buffer-size", type=int, default=1_000_000, help="bytes")
    return parser.parse_args(argv)


def report(*words: object) -> None:
    print(*words, flush=True)


def build_engine(args: argparse.Namespace) -> Any:
    from aiosocketio.engineio import EngineServer

    engine = EngineServer(
        path=args.path,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        max_http_buffer_size=args.max_http_buffer_size,
    )

    @engine.on("connection")
    def on_connection(socket: Any) -> None:
        report("CONNECTION", socket.id, socket.transport.name)

        @socket.on("message")
        async def on_message(data: str | bytes) -> None:
            await socket.send(data)

        @socket.on("upgrade")
        def on_upgrade(transport: Any) -> None:
            report("UPGRADE", socket.id, getattr(transport, "name", transport))

        @socket.on("close")
        def on_close(reason: str, description: Any = None) -> None:
            report("CLOSE", socket.id, reason)

        @socket.on("heartbeat")
        def on_heartbeat() -> None:
            report("HEARTBEAT", socket.id)

        @socket.on("packet_create")
        def on_packet_create(item: str | bytes) -> None:
            if item in ("2", "3"):  # pings and pongs only: every echoed message would flood the output
                report("PACKET_CREATE", socket.id, "ping" if item == "2" else "pong")

    return engine


def serve_runner(engine: Any, args: argparse.Namespace) -> None:
    import aiosocketio

    aiosocketio.run(engine, host=args.host, port=args.port)


def serve_uvicorn(engine: Any, args: argparse.Namespace) -> None:
    import uvicorn
    import uvicorn.config

    # uvicorn as docs/frameworks.md configures it: no permessage-deflate (the engine's per_message_deflate=False,
    # the reference's default, cannot be enforced from the app; a compressing server makes Node's ws client deliver
    # messages late, after its zlib thread pool) on the sans-I/O WebSocket implementation.
    uvicorn.run(
        engine.asgi_app(),
        host=args.host,
        port=args.port,
        log_level="warning",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
    )


def serve_hypercorn(engine: Any, args: argparse.Namespace) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.loglevel = "WARNING"
    config.accesslog = None

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(engine.asgi_app(), config, shutdown_trigger=stop.wait)

    asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    engine = build_engine(args)
    serve = {"runner": serve_runner, "uvicorn": serve_uvicorn, "hypercorn": serve_hypercorn}[args.frontend]
    report("STARTING", args.frontend, args.host, args.port)
    serve(engine, args)
    report("STOPPED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
