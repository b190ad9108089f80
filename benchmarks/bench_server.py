"""The benchmark app on aiosocketio, served by the built-in runner (the fast path).

The contract every server under test implements (``benchmarks/README.md``; the anchors in ``anchors/`` do the
same on Node.js socket.io and python-socketio): namespace ``/``,

* ``echo`` (any args, with ack) → ack with the same argument list;
* ``join`` (room) → join the room, ack ``true`` when asked;
* ``broadcast`` (room, payload) → emit ``msg`` with the payload to the room (the sender is not in it), ack
  ``true`` when asked.

Usage: ``python benchmarks/bench_server.py PORT`` (or env ``PORT``; ``HOST`` defaults to 127.0.0.1). Stops on
SIGINT/SIGTERM. With env ``WORKERS=N`` the runner serves it with ``workers=N``. ``bench_server_asgi.py`` serves the
same app under uvicorn. With env ``BENCH_METRICS=1`` the server is instrumented with ``aiosocketio.metrics`` (its
cost, docs/operations/metrics.md).

``ECHO=validated`` makes ``echo`` a one-argument handler whose argument is a pydantic model, checked by
``aiosocketio.validation.validated`` (what validation costs per event); ``ECHO=one`` the same handler without the
model (the baseline for it).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import aiosocketio


def one_argument_echo(text: str) -> str:
    return text


_validated_echo: list[Any] = []


def validated_echo() -> Any:
    """The validated echo handler, made once (pydantic is imported only by the runs that ask for it)."""
    if not _validated_echo:
        from pydantic import RootModel

        from aiosocketio.validation import validated

        class Text(RootModel[str]):
            pass

        def echo(text: Text) -> str:
            return text.root

        echo.__annotations__["text"] = Text  # a local class: given as a class, not a name to look up
        _validated_echo.append(validated(echo))
    return _validated_echo[0]


def build(echo_kind: str | None = None) -> aiosocketio.Server:
    echo_kind = echo_kind or os.environ.get("ECHO", "")
    # cors like the reference servers (irrelevant to the loader, which sends no Origin). PING_INTERVAL and
    # PING_TIMEOUT (seconds) exist for idle_cpu.py's trend runs; the default is the reference's 25 s / 20 s.
    io = aiosocketio.Server(
        cors={"origin": "*"},
        ping_interval=float(os.environ.get("PING_INTERVAL", "25")),
        ping_timeout=float(os.environ.get("PING_TIMEOUT", "20")),
    )

    @io.on("connection")
    def on_connection(socket: aiosocketio.Socket) -> None:
        # Plain functions where the API allows it, like node_sio.js: they run inline, no coroutine at all.
        if echo_kind == "validated":
            socket.on("echo", validated_echo())
        elif echo_kind == "one":
            socket.on("echo", one_argument_echo)
        else:

            @socket.on("echo")
            def echo(*args: Any) -> tuple[Any, ...]:
                return args  # a tuple: the ack carries the same argument list

        @socket.on("join")
        async def join(room: str) -> bool:
            await socket.join(room)
            return True  # sent only when the client asked for an ack

        @socket.on("broadcast")
        async def broadcast(room: str, payload: Any) -> bool:
            await io.to(room).emit("msg", payload)
            return True

    if os.environ.get("BENCH_METRICS"):
        # docs/operations/metrics.md measures the cost of the instrumentation with this switch
        from aiosocketio.metrics import instrument

        instrument(io)
    return io


def main() -> None:
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "9001"))
    host = os.environ.get("HOST", "127.0.0.1")
    other_app = None
    if os.environ.get("BENCH_METRICS"):  # the metrics are scraped at /metrics on the same port
        from aiosocketio.metrics import asgi_app

        other_app = asgi_app()
    workers = int(os.environ.get("WORKERS", "1"))
    aiosocketio.run(build(), host=host, port=port, log_level="warning", other_app=other_app, workers=workers)


if __name__ == "__main__":
    main()
