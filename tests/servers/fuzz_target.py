"""The server of the wire fuzz (``tests/integration/test_wire_fuzz.py``).

Default limits (a 1 MB ``max_http_buffer_size`` included, so a message of nearly 1 MB is legal), with short
timers so that the sessions fuzz clients abandon are closed within two seconds: a ping every half second,
one second to answer it, one second to join a namespace or to finish an upgrade.

Namespaces "/" and "/chat":

- ``echo(*args)``: acknowledged with the same arguments (the witnesses' heartbeat);
- ``message(*args)``: answered with ``message-back`` and the same arguments.

- ``trim()``: collects garbage and hands the allocator's free memory back to the system (``malloc_trim``),
  then acknowledges with ``{"blocks": memory blocks Python has allocated, "objects": objects the
  garbage collector tracks, "sessions": open Engine.IO sessions}``, counts that grow with leaked objects and not with what the allocator keeps
  around after a burst; the test reads the resident memory from ``/proc`` after it.

Every other event is ignored. ``--debug-slow MS`` runs on asyncio's own loop (not uvloop) and logs, as a
warning, every callback that takes more than ``MS`` milliseconds of CPU: a tool to find which input holds
the loop, not used by the test.

    python tests/servers/fuzz_target.py --port 3000 --frontend runner|uvicorn [--debug-slow 5]
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from typing import Any

from frontend import parse_args, serve

import aiosocketio

_LIBC_NAME = ctypes.util.find_library("c")
_LIBC = ctypes.CDLL(_LIBC_NAME) if _LIBC_NAME and "libc.so" in _LIBC_NAME else None


def build() -> aiosocketio.Server:
    io = aiosocketio.Server(ping_interval=0.5, ping_timeout=1.0, connect_timeout=1.0, upgrade_timeout=1.0)

    def on_connection(socket: aiosocketio.Socket) -> None:
        @socket.on("echo")
        def echo(*args: Any) -> tuple[Any, ...]:
            return args

        @socket.on("trim")
        def trim() -> dict[str, int]:
            gc.collect()
            if _LIBC is not None:
                _LIBC.malloc_trim(0)
            return {
                "blocks": sys.getallocatedblocks(),
                "objects": len(gc.get_objects()),
                "sessions": io.engine.clients_count,
            }

        @socket.on("message")
        async def message(*args: Any) -> None:
            await socket.emit("message-back", *args)

    io.on("connection", on_connection)
    io.of("/chat").on("connection", on_connection)
    return io


def _watch_slow_callbacks(milliseconds: float) -> None:
    """Log every loop callback that uses more than ``milliseconds`` of CPU time (of this thread, so that
    time the process spends waiting for a core on a busy machine does not count)."""
    import asyncio.events
    import logging
    import time

    logger = logging.getLogger("fuzz_target.slow")
    run = asyncio.events.Handle._run

    def timed_run(self: asyncio.events.Handle) -> None:
        started = time.thread_time()
        run(self)
        spent = (time.thread_time() - started) * 1000
        if spent > milliseconds:
            # A task's step names the task's coroutine; a transport's read names its protocol.
            owner = getattr(self._callback, "__self__", None)
            coro = owner.get_coro() if isinstance(owner, asyncio.Task) else None
            protocol = owner.get_protocol() if hasattr(owner, "get_protocol") else None
            where = getattr(coro, "__qualname__", None) or type(protocol).__name__
            logger.warning("%.1f ms of CPU in %r (%s)", spent, self, where)

    asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]


def main() -> None:
    args = parse_args(lambda parser: parser.add_argument("--debug-slow", type=float, default=0.0))
    if args.debug_slow:
        # asyncio's loop, whose callbacks can be timed (uvloop's are compiled).
        sys.modules["uvloop"] = None  # type: ignore[assignment]
        _watch_slow_callbacks(args.debug_slow)
    serve(build(), args)


if __name__ == "__main__":
    main()
