"""Redis adapters that sat idle stay prompt: a broadcast from another server after a quiet spell reaches its client
within milliseconds, no Redis connection was dropped meanwhile, and nothing was logged.

The streams adapter reads its stream with a blocking ``XREAD``; redis-py gives every read the client's
``socket_timeout`` (5 s by default in recent redis-py versions, none in older ones), so a blocking read longer than
that timeout ends in a ``TimeoutError``, a dropped connection and a reconnection, and a broadcast made meanwhile
waits. The pub/sub adapters wait on their subscription with a timeout of their own, so they are checked here too.
Clients whose ``socket_timeout`` is shorter than the block are given both as a ``redis://`` URL and as a
``redis.asyncio.Redis``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import socketio
from redis.asyncio import Redis

import aiosocketio
from aiosocketio.adapters import redis_streams
from aiosocketio.adapters.redis import create_adapter, create_sharded_adapter

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
PROMPT = 0.1 * FACTOR
"""What "within milliseconds" allows on a busy machine: an idle reader that has to reconnect first takes longer."""


def adapter(kind: str, redis: Redis | str, key: str, **options: Any) -> Any:
    if kind == "classic":
        return create_adapter(redis, key=key, **options)
    if kind == "sharded":
        return create_sharded_adapter(redis, channel_prefix=key, **options)
    return redis_streams.create_adapter(redis, stream_name=key, channel_prefix=key, **options)


class Cluster:
    """Two aiosocketio servers on one Redis, and a client of the second one."""

    def __init__(self) -> None:
        self.servers: list[aiosocketio.Server] = []
        self.received: asyncio.Queue[Any] = asyncio.Queue()

    async def emit_and_time(self, event: str) -> float:
        """Seconds between the first server's broadcast of ``event`` and its arrival at the client."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        await self.servers[0].emit(event)
        got = await asyncio.wait_for(self.received.get(), 5 * FACTOR)
        assert got == (event,)
        return loop.time() - start


@asynccontextmanager
async def cluster(make_adapter: Callable[[], Any]) -> AsyncIterator[Cluster]:
    result = Cluster()
    client = socketio.AsyncClient()
    client.on("*", lambda event, *args: result.received.put_nowait((event, *args)))
    try:
        urls = []
        for _ in range(2):
            io = aiosocketio.Server(adapter=make_adapter())
            result.servers.append(io)
            running = await io.listen(host="127.0.0.1", port=0)
            urls.append(f"http://127.0.0.1:{running.port}")
        await client.connect(urls[1], transports=["websocket"])
        await result.emit_and_time("warm-up")  # the cluster works before it idles
        yield result
    finally:
        await client.disconnect()
        for io in result.servers:
            await io.close()


async def connection_ids(redis_url: str) -> set[int]:
    """The ids of the connections Redis has now, but for the one asking."""
    observer = Redis.from_url(redis_url)
    try:
        own = await observer.client_id()
        return {int(client["id"]) for client in await observer.client_list()} - {own}
    finally:
        await observer.aclose()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.WARNING and record.name.startswith("aiosocketio")
    ]


async def idle_then_broadcast(
    caplog: pytest.LogCaptureFixture, redis_url: str, idle: float, make_adapter: Callable[[], Any]
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosocketio")
    async with cluster(make_adapter) as nodes:
        before = await connection_ids(redis_url)
        await asyncio.sleep(idle)
        dropped = before - await connection_ids(redis_url)
        latency = await nodes.emit_and_time("after-idle")
    assert not dropped, f"Redis connections were dropped while idle: {dropped}"
    assert not warnings_of(caplog)
    assert latency < PROMPT, f"the broadcast after {idle} s of idling took {latency * 1000:.0f} ms"


def streams_url_form(redis_url: str, key: str, own: list[Redis]) -> Any:
    """The default block (5 s) and a client made from a URL whose socket timeout is 1 s."""
    return adapter("streams", f"{redis_url}?socket_timeout=1", key)


def streams_object_form(redis_url: str, key: str, own: list[Redis]) -> Any:
    """A 1 s block, and a client object whose socket timeout is half of it."""
    own.append(Redis.from_url(redis_url, socket_timeout=0.5))
    return adapter("streams", own[-1], key, block_time=1.0)


def classic_url_form(redis_url: str, key: str, own: list[Redis]) -> Any:
    return adapter("classic", f"{redis_url}?socket_timeout=0.5", key)


def sharded_object_form(redis_url: str, key: str, own: list[Redis]) -> Any:
    own.append(Redis.from_url(redis_url, socket_timeout=0.5))
    return adapter("sharded", own[-1], key)


@pytest.mark.parametrize(
    ("form", "idle"),
    [
        (streams_url_form, 2.5),
        (streams_object_form, 2.0),
        (classic_url_form, 2.0),
        (sharded_object_form, 2.0),
    ],
    ids=["streams-url", "streams-object", "classic-url", "sharded-object"],
)
async def test_idle_past_a_short_socket_timeout(
    caplog: pytest.LogCaptureFixture,
    redis_url: str,
    form: Callable[[str, str, list[Redis]], Any],
    idle: float,
) -> None:
    """Idle for several socket timeouts (and several blocks once the block is below the timeout)."""
    key = "idle" + os.urandom(4).hex()
    own: list[Redis] = []  # the client objects given to the adapters are the test's to close
    try:
        await idle_then_broadcast(caplog, redis_url, idle, lambda: form(redis_url, key, own))
    finally:
        for client in own:
            await client.aclose()


async def test_streams_idle_with_the_default_options(
    caplog: pytest.LogCaptureFixture, redis_url: str
) -> None:
    """A client from a plain URL (redis-py's default socket timeout) and the default block of 5 s, idle 6 s."""
    key = "idle" + os.urandom(4).hex()
    await idle_then_broadcast(caplog, redis_url, 6.0, lambda: adapter("streams", redis_url, key))


async def kill(redis_url: str, wanted: Callable[[dict[str, Any]], bool]) -> int:
    """Close the connections of Redis that ``wanted`` picks from ``CLIENT LIST``; how many there were."""
    observer = Redis.from_url(redis_url)
    try:
        victims = [int(c["id"]) for c in await observer.client_list() if wanted(c)]
        for victim in victims:
            await observer.client_kill_filter(_id=str(victim))
        return len(victims)
    finally:
        await observer.aclose()


async def test_streams_reader_reconnects_at_once(caplog: pytest.LogCaptureFixture, redis_url: str) -> None:
    """Redis closes the stream readers' connections: the next broadcast still arrives within milliseconds, the
    readers having connected again without waiting."""
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    key = "idle" + os.urandom(4).hex()
    own: list[Redis] = []

    def make() -> Any:
        # No retries inside redis-py: the adapter's own reconnection is what is timed here.
        own.append(Redis.from_url(redis_url, retry=Retry(NoBackoff(), 0)))
        return adapter("streams", own[-1], key)

    caplog.set_level(logging.DEBUG, logger="aiosocketio")
    try:
        async with cluster(make) as nodes:
            await asyncio.sleep(0.2)  # both readers are back in XREAD
            assert await kill(redis_url, lambda c: c.get("cmd") == "xread") == 2
            latency = await nodes.emit_and_time("after-kill")
            assert latency < PROMPT, f"the broadcast after the reader lost Redis took {latency * 1000:.0f} ms"
    finally:
        for client in own:
            await client.aclose()
    assert any("reading stream" in line for line in warnings_of(caplog))


@pytest.mark.parametrize("kind", ["classic", "sharded"])
async def test_subscription_comes_back_at_once(
    caplog: pytest.LogCaptureFixture, redis_url: str, kind: str
) -> None:
    """Redis closes the pub/sub connections: broadcasts cross again within milliseconds.

    Those sent before the servers have subscribed again are lost (pub/sub keeps nothing), so the first server
    sends one every few milliseconds until the client gets one.
    """
    key = "idle" + os.urandom(4).hex()
    caplog.set_level(logging.DEBUG, logger="aiosocketio")
    async with cluster(lambda: adapter(kind, redis_url, key)) as nodes:
        loop = asyncio.get_running_loop()
        assert await kill(redis_url, lambda c: int(c.get("sub", 0)) + int(c.get("ssub", 0)) > 0) == 2
        start = loop.time()
        sent = 0
        while nodes.received.empty():
            assert loop.time() - start < PROMPT, "broadcasts did not cross again at once"
            await nodes.servers[0].emit("probe", sent)
            sent += 1
            await asyncio.sleep(0.005)
    assert any("subscription lost" in line for line in warnings_of(caplog))
