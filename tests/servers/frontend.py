"""What the scripted test servers share: their command line and serving an app on the front-end it names.

``python tests/servers/<script>.py --port P --host H --frontend runner|uvicorn|hypercorn`` (the contract
``tests/integration/conftest.py`` starts them with); a script adds its own options with ``extra``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

import aiosocketio


def parse_args(extra: Callable[[argparse.ArgumentParser], object] | None = None) -> argparse.Namespace:
    """The common options (and a script's own), with warnings logged to stderr, where the tests look for
    tracebacks."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--frontend", choices=("runner", "uvicorn", "hypercorn"), default="runner")
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return args


def serve(io: aiosocketio.Server, args: argparse.Namespace, *, max_write_buffer: int | None = None) -> None:
    """Serve ``io`` until stopped: on the built-in runner, or as an ASGI app under uvicorn or hypercorn."""
    limits = {} if max_write_buffer is None else {"max_write_buffer": max_write_buffer}
    if args.frontend == "runner":
        io.run(host=args.host, port=args.port, log_level="warning", **limits)
    elif args.frontend == "uvicorn":
        import uvicorn

        # uvicorn as docs/frameworks.md configures it: no permessage-deflate (our per_message_deflate=False, the
        # reference's default, cannot be enforced from the app) on the sans-I/O WebSocket implementation.
        uvicorn.run(
            io.asgi_app(**limits),
            host=args.host,
            port=args.port,
            log_level="warning",
            ws="websockets-sansio",
            ws_per_message_deflate=False,
        )
    else:
        import asyncio

        from hypercorn.asyncio import serve as hypercorn_serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"{args.host}:{args.port}"]
        asyncio.run(hypercorn_serve(io.asgi_app(**limits), config))  # type: ignore[arg-type]
