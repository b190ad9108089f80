"""One worker of the workers-adapter tests (``tests/integration/test_workers_cluster.py``): a server whose
adapter is ``aiosocketio.adapters.workers.create_adapter(socket_dir=..., index=..., workers=...)``, with
connection state recovery. Events, all acknowledged:

- ``join(room)``: the socket joins ``room``; ``set(key, value)``: ``socket.data[key] = value``;
- ``emit_to(room, event, *args)``: ``io.to(room).emit(event, *args)`` (every socket when ``room`` is None);
- ``count()``: ``server_count()``; ``inspect(sid)``: ``{recovered, rooms, data}`` of a socket of this worker
  (None when it is not here).

A new (not recovered) socket gets ``data["first"] = index``.

    python tests/servers/workers_cluster.py --port 3000 --frontend runner --dir D --index 0 --workers 3
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from frontend import parse_args, serve

import aiosocketio
from aiosocketio.adapters.workers import create_adapter


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--sync", type=float, default=0.2)


def build(adapter: Any, index: Callable[[], int]) -> aiosocketio.Server:
    """The server, with the handlers above; ``index()`` is the worker's number."""
    io = aiosocketio.Server(
        adapter=adapter,
        connection_state_recovery={"max_disconnection_duration": 60.0, "skip_middlewares": True},
    )

    async def on_connection(socket: aiosocketio.Socket) -> None:
        if not socket.recovered:
            socket.data["first"] = index()

        async def join(room: str) -> None:
            await socket.join(room)

        def set_data(key: str, value: Any) -> None:
            socket.data[key] = value

        async def emit_to(room: str | None, event: str, *values: Any) -> None:
            await (io.to(room) if room is not None else io).emit(event, *values)

        async def count() -> int:
            return await io.sockets.adapter.server_count()

        def inspect(sid: str) -> dict[str, Any] | None:
            found = io.sockets.sockets.get(sid)
            if found is None:
                return None
            return {"recovered": found.recovered, "rooms": sorted(found.rooms), "data": found.data}

        socket.on("join", join)
        socket.on("set", set_data)
        socket.on("emit_to", emit_to)
        socket.on("count", count)
        socket.on("inspect", inspect)

    io.on("connection", on_connection)
    return io


def main() -> None:
    args = parse_args(options)
    adapter = create_adapter(
        socket_dir=args.dir,
        index=args.index,
        workers=args.workers,
        requests_timeout=2.0,
        sync_interval=args.sync,
    )
    serve(build(adapter, lambda: int(args.index)), args)


if __name__ == "__main__":
    main()
