"""The server engine.io-client's own Node.js test suite runs against, written on our Engine.IO API.

The client's suite (``packages/engine.io-client/test`` in the socket.io monorepo) expects an Engine.IO server
at ``/engine.io/`` on port 3000 that does what this one does: ping interval 500 ms, at most 100 bytes per HTTP
body, a handshake refused when its query has ``deny``, four cookies set on the handshake response, and on
each connection a ``hi`` message, then every message echoed except three commands:

- ``give binary``: the bytes 0 to 4;
- ``give utf8``: a fixed non-ASCII string;
- ``sendHeaders``: the headers of the HTTP request that carried the command (polling), as JSON.

``scripts/run_client_suites.py`` starts it.

    python tests/servers/client_suite_eio.py --port 3000 --frontend runner|uvicorn
"""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from frontend import parse_args

import aiosocketio
from aiosocketio.engineio import EngineServer, EngineSocket

UTF8_TEXT = "пойду спать всем спокойной ночи"


def handshake_cookies() -> list[str]:
    """The four cookies of the suite's server, as the npm ``cookie`` package writes them."""
    return [
        "1=1; Max-Age=86400",
        "2=2; Path=/; HttpOnly; Secure; SameSite=Strict",
        "3=3; Max-Age=0",
        "4=4; Expires=" + format_datetime(datetime.now(UTC), usegmt=True),
    ]


def build() -> EngineServer:
    engine = EngineServer(
        "/engine.io/",
        ping_interval=0.5,
        max_http_buffer_size=100,
        allow_request=lambda request: "deny" not in request.query,
    )
    # The headers of the last POST of each session: the request that carried a "sendHeaders" message.
    post_headers: dict[str, dict[str, str]] = {}

    @engine.on("initial_headers")
    def set_cookies(headers: dict[str, Any], request: aiosocketio.Request) -> None:
        headers["set-cookie"] = handshake_cookies()

    @engine.on("headers")
    def remember_post(headers: dict[str, Any], request: aiosocketio.Request) -> None:
        sid = request.query.get("sid")
        if request.method == "POST" and sid is not None:
            post_headers[sid] = {name.lower(): value for name, value in request.headers.items()}

    @engine.on("connection")
    def on_connection(socket: EngineSocket) -> None:
        socket.write("hi")
        loop = asyncio.get_running_loop()

        def send_headers() -> None:
            # After the POST's answer was built (and the hook above ran for it); over WebSocket there is no
            # such request and the reference sends an empty message.
            headers = post_headers.get(socket.id)
            socket.write("" if headers is None or socket.transport.name != "polling" else json.dumps(headers))

        @socket.on("message")
        def on_message(data: str | bytes) -> None:
            if data == "give binary":
                socket.write(bytes(range(5)))
            elif data == "give utf8":
                socket.write(UTF8_TEXT)
            elif data == "sendHeaders":
                loop.call_soon(send_headers)
            else:
                socket.write(data)

        @socket.on("close")
        def on_close(*args: Any) -> None:
            post_headers.pop(socket.id, None)

    return engine


def main() -> None:
    args = parse_args()
    engine = build()
    if args.frontend == "runner":
        aiosocketio.run(engine, host=args.host, port=args.port)
    elif args.frontend == "uvicorn":
        import uvicorn

        # uvicorn as docs/frameworks.md configures it: no permessage-deflate (our per_message_deflate=False, the
        # reference's default, cannot be enforced from the app) on the sans-I/O WebSocket implementation.
        uvicorn.run(
            engine.asgi_app(),
            host=args.host,
            port=args.port,
            log_level="warning",
            ws="websockets-sansio",
            ws_per_message_deflate=False,
        )
    else:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"{args.host}:{args.port}"]

        async def run() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await serve(engine.asgi_app(), config, shutdown_trigger=stop.wait)

        asyncio.run(run())


if __name__ == "__main__":
    main()
