"""An instrumented server for the Admin UI tests: ``aiosocketio.admin.instrument()`` and the UI's page at
``/admin/`` (``ui_app()``), optionally in a Redis cluster (the classic adapter) or a PostgreSQL one.

Its users connect to ``/`` with ``?nick=...&rooms=a,b`` and are put in those rooms; ``socket.data["nick"]`` is
their nick. Prints ``CONNECT <sid> <nick>`` and ``DISCONNECT <sid> <reason>`` for each user.

    python tests/servers/admin_app.py --port 3000 --frontend runner|uvicorn --password-hash HASH
        [--server-id ID] [--redis URL --key KEY | --postgres URL --key KEY]
"""

from __future__ import annotations

import argparse

from frontend import parse_args

import aiosocketio
from aiosocketio.admin import instrument, ui_app
from aiosocketio.asgi import ASGIApp


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-hash", required=True)
    parser.add_argument("--server-id", default=None)
    parser.add_argument("--redis", default=None)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--key", default="socket.io")


def build(args: argparse.Namespace) -> aiosocketio.Server:
    adapter = None
    if args.redis:
        from aiosocketio.adapters.redis import create_adapter

        adapter = create_adapter(args.redis, key=args.key, requests_timeout=2.0)
    elif args.postgres:
        from aiosocketio.adapters import postgres

        adapter = postgres.create_adapter(args.postgres, channel_prefix=args.key, requests_timeout=2.0)
    io = aiosocketio.Server(adapter=adapter)
    instrument(
        io,
        auth={"type": "basic", "username": "admin", "password": args.password_hash},
        server_id=args.server_id,
    )

    @io.on("connection")
    async def on_connection(socket: aiosocketio.Socket) -> None:
        nick = socket.handshake.query.get("nick", "anonymous")
        socket.data["nick"] = nick
        rooms = [room for room in socket.handshake.query.get("rooms", "").split(",") if room]
        if rooms:
            await socket.join(rooms)
        print(f"CONNECT {socket.id} {nick}", flush=True)
        socket.on(
            "disconnect", lambda reason, description: print(f"DISCONNECT {socket.id} {reason}", flush=True)
        )

    return io


def main() -> None:
    args = parse_args(options)
    io = build(args)
    page = ui_app()  # found under tests/node_modules, from the working directory upward
    if args.frontend == "runner":
        aiosocketio.run(io, page, host=args.host, port=args.port)
    else:
        import uvicorn

        uvicorn.run(ASGIApp(io, page), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
