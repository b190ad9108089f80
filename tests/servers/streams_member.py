"""A member of a Redis Streams cluster with connection state recovery, for the crash tests
(``tests/integration/test_crash_recovery.py``): the test kills it with SIGKILL and its clients recover on another
server from the sessions it kept in Redis while they were connected.

Its adapter matches ``python_adapter("streams", URL, KEY)`` of ``test_mixed_cluster.py`` (and the Node.js
server's): stream ``KEY``, channel prefix ``KEY``, sessions under ``KEY:session:``. Events, acknowledged:

- ``join(room)``: join ``room``;
- ``set(name, value)``: ``socket.data[name] = value`` (changed in place), then ``save_session()``;
- ``assign(name, value)``: ``socket.data = {**socket.data, name: value}`` (an assignment, stored at once).

A new socket gets ``data["server"] = "python"`` in its connection handler.

    python tests/servers/streams_member.py --port 3000 --redis redis://127.0.0.1:6379/0 --key KEY
"""

from __future__ import annotations

import argparse
from typing import Any

from frontend import parse_args, serve

import aiosocketio
from aiosocketio.adapters import redis_streams


def build(redis_url: str, key: str) -> aiosocketio.Server:
    adapter = redis_streams.create_adapter(
        redis_url,
        stream_name=key,
        channel_prefix=key,
        session_key_prefix=key + ":session:",
        requests_timeout=2.0,
    )
    io = aiosocketio.Server(
        adapter=adapter,
        connection_state_recovery={"max_disconnection_duration": 60.0, "skip_middlewares": True},
    )

    async def on_connection(socket: aiosocketio.Socket) -> None:
        if not socket.recovered:
            socket.data["server"] = "python"

        async def join(room: str) -> None:
            await socket.join(room)

        async def set_in_place(name: str, value: Any) -> None:
            socket.data[name] = value
            await socket.save_session()

        async def assign(name: str, value: Any) -> None:
            socket.data = {**socket.data, name: value}

        socket.on("join", join)
        socket.on("set", set_in_place)
        socket.on("assign", assign)

    io.on("connection", on_connection)
    return io


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis", required=True)
    parser.add_argument("--key", required=True)


if __name__ == "__main__":
    args = parse_args(_options)
    serve(build(args.redis, args.key), args)
