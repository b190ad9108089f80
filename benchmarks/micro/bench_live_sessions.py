"""What keeping live sessions in Redis costs (the Redis Streams adapter with connection state recovery).

One server in this process, ``--sockets`` python-socketio clients connected to it over WebSocket, a redis-server
of its own on a free port (or ``--redis URL``). For each kind of change (join, leave, ``socket.data = ...``) it
measures, with live sessions (recovery on) and without (recovery off, same adapter):

* ``caller µs/op``: what the change costs the code that makes it (the synchronous part: the room index, and
  queueing the session write), for a burst over every socket;
* ``stored µs/op``: the burst's time until Redis has every session (``save_sessions()``), divided by the number
  of sockets: writes are batched, one pipeline per batch;
* ``CPU µs/op``: this process's CPU time over the burst and its storing, per change (the clients sit idle);
* ``pipelines`` (round trips) sent for the burst, and the session commands Redis ran (``INFO commandstats``:
  SET, PEXPIRE, EVAL);
* ``one by one µs``: a change followed by ``await socket.save_session()``, socket after socket: one round trip
  each, the latency a handler that waits for it sees.

Plus the refresh (every ``session_refresh_interval``, all sockets: PEXPIRE, or SET for the changed ones) and the
loopback round trip of a PING for scale. Usage::

    .venv/bin/python benchmarks/micro/bench_live_sessions.py [--sockets 200] [--redis redis://127.0.0.1:6379/0]

Not a test; pytest never collects it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket as sockets_module
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import socketio
from redis.asyncio import Redis

import aiosocketio
from aiosocketio.adapters import redis_streams


@contextlib.contextmanager
def own_redis() -> Iterator[str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed"
    with sockets_module.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder],
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                with contextlib.suppress(OSError), sockets_module.create_connection(("127.0.0.1", port), 0.2):
                    break
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait()


async def sets(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("set", "pexpire", "eval"))


async def measure(url: str, count: int, recovery: bool) -> dict[str, Any]:
    key = "bench" + os.urandom(4).hex()
    adapter_factory = redis_streams.create_adapter(
        url, stream_name=key, channel_prefix=key, session_key_prefix=key + ":session:"
    )
    io = aiosocketio.Server(adapter=adapter_factory, connection_state_recovery=recovery or None)
    running = await io.listen(host="127.0.0.1", port=0)
    redis = Redis.from_url(url)
    clients = [socketio.AsyncClient() for _ in range(count)]
    results: dict[str, Any] = {}
    write_batch = redis_streams.RedisStreamsAdapter._write_batch
    try:
        for client in clients:
            await client.connect(f"http://127.0.0.1:{running.port}", transports=["websocket"])
        adapter: Any = io.sockets.adapter
        socks = list(io.sockets.sockets.values())
        assert len(socks) == count
        await adapter.save_sessions()

        batches = 0

        async def counting(self: Any, ops: Any) -> None:
            nonlocal batches
            batches += 1
            await write_batch(self, ops)

        redis_streams.RedisStreamsAdapter._write_batch = counting  # type: ignore[method-assign]

        async def burst(name: str, change: Any) -> None:
            nonlocal batches
            batches = 0
            before = await sets(redis)
            started, cpu = time.perf_counter(), time.process_time()
            for sock in socks:
                await change(sock)
            sync = time.perf_counter() - started
            await adapter.save_sessions()
            stored = time.perf_counter() - started
            results[name] = {
                "caller_us": sync / count * 1e6,
                "stored_us": stored / count * 1e6,
                "cpu_us": (time.process_time() - cpu) / count * 1e6,
                "pipelines": batches,
                "commands": await sets(redis) - before,
            }

        async def one_by_one(name: str, change: Any) -> None:
            started = time.perf_counter()
            for sock in socks:
                await change(sock)
                await sock.save_session()
            results[name]["one_by_one_us"] = (time.perf_counter() - started) / count * 1e6

        async def join(sock: Any) -> None:
            await sock.join("room-a")

        async def leave(sock: Any) -> None:
            await sock.leave("room-a")

        async def join_b(sock: Any) -> None:
            await sock.join("room-b")

        async def leave_b(sock: Any) -> None:
            await sock.leave("room-b")

        counter = iter(range(10**9))

        async def assign(sock: Any) -> None:
            sock.data = {"user": "ada", "n": next(counter)}

        for name, change, single in (
            ("join", join, join_b),
            ("leave", leave, leave_b),
            ("data", assign, assign),
        ):
            await burst(name, change)
            await one_by_one(name, single)

        if recovery:
            batches = 0
            before = await sets(redis)
            started, cpu = time.perf_counter(), time.process_time()
            for sock in socks:
                adapter._queue_session(sock.pid, ("live", sock.id, True))
            await adapter.save_sessions()
            results["refresh"] = {
                "stored_us": (time.perf_counter() - started) / count * 1e6,
                "cpu_us": (time.process_time() - cpu) / count * 1e6,
                "pipelines": batches,
                "commands": await sets(redis) - before,
            }
        started = time.perf_counter()
        for _ in range(200):
            await redis.ping()
        results["ping_us"] = (time.perf_counter() - started) / 200 * 1e6
    finally:
        redis_streams.RedisStreamsAdapter._write_batch = write_batch  # type: ignore[method-assign]
        for client in clients:
            await client.disconnect()
        await io.close()
        await redis.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--redis")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        url = args.redis or stack.enter_context(own_redis())
        for recovery in (False, True):
            results = asyncio.run(measure(url, args.sockets, recovery))
            label = "live sessions (recovery on)" if recovery else "no live sessions (recovery off)"
            print(f"== {label}, {args.sockets} sockets; PING round trip {results.pop('ping_us'):.0f} µs")
            print(
                f"{'change':8} {'caller µs/op':>13} {'stored µs/op':>13} {'CPU µs/op':>10} {'pipelines':>10}"
                f" {'commands':>9} {'one by one µs':>14}"
            )
            for name, row in results.items():
                print(
                    f"{name:8} {row.get('caller_us', float('nan')):13.1f} {row['stored_us']:13.1f}"
                    f" {row['cpu_us']:10.1f} {row['pipelines']:10d} {row['commands']:9d}"
                    f" {row.get('one_by_one_us', float('nan')):14.1f}"
                )


if __name__ == "__main__":
    main()
