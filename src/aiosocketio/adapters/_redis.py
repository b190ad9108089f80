"""What the Redis back-ends share: making a client from a URL, and a subscription that survives Redis restarts.

:class:`Subscription` keeps the set of channels it should listen to (plain, pattern and sharded), reads them on a
connection of its own, and when the connection drops it reconnects (at once the first time, then with a short
back-off) and subscribes to the whole set again, so a back-end never has to notice. Channels may be added and
removed at any time.

Waiting for messages never runs into the client's ``socket_timeout``: the subscription waits with a timeout of its
own (redis-py uses a timeout given with the read instead of the socket's), and the stream reader of
:mod:`aiosocketio.adapters.redis_streams` keeps its blocking reads shorter than that timeout.

Nothing here needs a running event loop until the server starts: an application builds its server (and so its
adapters) at import time, before uvicorn or ``asyncio.run`` has made the loop it will be served on. Futures,
tasks and connections are made in ``start()`` / ``acquire()``, on the loop that serves, and dropped when the
server stops, so the same objects can be served again later on another loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from aiosocketio._emitter import spawn
from aiosocketio.adapters.cluster import ClusterAdapter

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

    from aiosocketio.adapters._types import AdapterNamespace

logger = logging.getLogger("aiosocketio.adapter.redis")

Kind = Literal["channel", "pattern", "shard"]
"""How a channel is listened to: ``SUBSCRIBE``, ``PSUBSCRIBE`` or ``SSUBSCRIBE``."""
Handler = Callable[[str, str, bytes], None]
"""``handler(kind, channel, data)``: kind is "message", "pmessage" or "smessage"."""


def retry_delay(failures: int) -> float:
    """Seconds to wait before reconnecting after ``failures`` failed attempts in a row: none after a single
    failure (a dropped connection usually comes back at once), then 0.1 s doubling up to 1 s while Redis stays
    away."""
    return 0.0 if failures <= 1 else min(0.1 * 2 ** (failures - 2), 1.0)


def retrying(delay: float) -> str:
    """The end of a warning about a lost connection."""
    return "retrying now" if delay == 0 else f"retrying in {delay:.1f} s"


def redis_client(redis: Redis | str) -> tuple[Redis, bool]:
    """``(client, owned)``: a ``redis.asyncio.Redis`` made from a URL is ours to close.

    Making one opens no connection and needs no event loop (a bad URL is refused here, though).
    """
    if isinstance(redis, str):
        try:
            from redis.asyncio import Redis as RedisClient
        except ImportError:
            from aiosocketio._checks import missing_extra

            raise missing_extra("redis", "redis", "the Redis adapter") from None
        return RedisClient.from_url(redis), True
    return redis, False


async def count_subscribers(redis: Redis, channel: str, *, sharded: bool) -> int:
    """Servers listening to ``channel`` (``PUBSUB NUMSUB`` / ``SHARDNUMSUB``), at least 1 (this one)."""
    from aiosocketio.exceptions import AdapterError

    try:
        if sharded:
            result = await redis.pubsub_shardnumsub(channel)
        else:
            result = await redis.pubsub_numsub(channel)
    except Exception as exc:
        raise AdapterError(f"Redis is not reachable to count the servers: {exc!r}") from exc
    return max(1, int(result[0][1])) if result else 1


class Subscription:
    """A self-healing set of subscriptions on one connection; calls ``handler`` for each message."""

    __slots__ = ("_closed", "_handler", "_name", "_pubsub", "_reader", "_redis", "_wanted", "ready")

    def __init__(self, redis: Redis, handler: Handler, name: str) -> None:
        self._redis = redis
        self._handler = handler
        self._name = name
        self._wanted: dict[Kind, set[str]] = {"channel": set(), "pattern": set(), "shard": set()}
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        # Made by start(), on the loop that serves: a subscription may be built before any loop exists.
        self.ready: asyncio.Future[None] | None = None
        """Done once the first subscriptions are in place (made by :meth:`start`)."""

    def start(self, redis: Redis | None = None) -> None:
        """Read (on the running loop) until :meth:`close`; ``redis``: the client to use from now on. After a
        close it starts again, with the channels it had."""
        if self._reader is not None:
            return
        if redis is not None:
            self._redis = redis
        self._closed = False
        self.ready = asyncio.get_running_loop().create_future()
        self._reader = spawn(self._read_forever(self.ready))

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until the first subscription is in place; False (and a warning) when Redis is not there yet."""
        assert self.ready is not None, "start() first"
        try:
            await asyncio.wait_for(asyncio.shield(self.ready), timeout)
        except TimeoutError:
            logger.warning("%s: Redis is not reachable yet; the adapter keeps trying", self._name)
            return False
        return True

    def add(self, kind: Kind, *channels: str) -> None:
        """Listen to ``channels`` too (now if connected, else from the next connection on)."""
        new = [c for c in channels if c not in self._wanted[kind]]
        if new:
            self._wanted[kind].update(new)
            if self._pubsub is not None:
                spawn(self._send(kind, True, new))

    def remove(self, kind: Kind, *channels: str) -> None:
        """Stop listening to ``channels`` (now if connected; they are not subscribed again on reconnection)."""
        gone = [c for c in channels if c in self._wanted[kind]]
        if gone:
            self._wanted[kind].difference_update(gone)
            if self._pubsub is not None:
                spawn(self._send(kind, False, gone))

    async def _send(self, kind: Kind, subscribe: bool, channels: list[str]) -> None:
        """Change the live connection; if there is none (or it fails) the next reconnection catches up."""
        pubsub = self._pubsub
        if pubsub is None:
            return
        try:
            if kind == "channel":
                await (pubsub.subscribe(*channels) if subscribe else pubsub.unsubscribe(*channels))
            elif kind == "pattern":
                await (pubsub.psubscribe(*channels) if subscribe else pubsub.punsubscribe(*channels))
            else:
                await (pubsub.ssubscribe(*channels) if subscribe else pubsub.sunsubscribe(*channels))
        except Exception as exc:
            logger.debug(
                "%s: (un)subscribing %s failed (%r); the reader will resubscribe", self._name, channels, exc
            )

    async def _subscribe_all(self, pubsub: PubSub) -> None:
        wanted = self._wanted
        if wanted["pattern"]:
            await pubsub.psubscribe(*wanted["pattern"])
        if wanted["channel"]:
            await pubsub.subscribe(*wanted["channel"])
        if wanted["shard"]:
            await pubsub.ssubscribe(*wanted["shard"])

    async def _read_forever(self, ready: asyncio.Future[None]) -> None:
        failures = 0
        delay = 0.0
        while not self._closed:
            if delay:
                await asyncio.sleep(delay)  # after the lost connection was closed (below)
            pubsub: PubSub | None = None
            try:
                # Made before subscribing, so that the finally below also closes one whose subscribing failed.
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await self._subscribe_all(pubsub)
                self._pubsub = pubsub
                if not ready.done():
                    ready.set_result(None)
                while not self._closed:
                    # The timeout given here bounds the wait, not the client's socket_timeout: idling is no error.
                    message = await pubsub.get_message(timeout=1.0)
                    failures = 0  # a read went through: the next loss is a first one again
                    if message is not None:
                        self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: subscribe again, at once the first time
                failures += 1
                delay = retry_delay(failures)
                logger.warning("%s: Redis subscription lost (%r); %s", self._name, exc, retrying(delay))
            finally:
                self._pubsub = None
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(pubsub.aclose())

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = message.get("channel")
        data = message.get("data")
        if isinstance(channel, bytes):
            channel = channel.decode("utf-8", "replace")
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(kind, str) or not isinstance(channel, str) or not isinstance(data, bytes):
            return
        try:
            self._handler(kind, channel, data)
        except Exception as exc:  # a peer's bad message must never stop the reader
            logger.debug("%s: ignored a message on %s: %r", self._name, channel, exc)

    async def close(self) -> None:
        """Stop reading (the channels are kept for a later :meth:`start`)."""
        if self._closed:
            return
        self._closed = True
        reader, self._reader = self._reader, None
        self.ready = None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


class ClientLease:
    """A Redis client shared by the adapters of one factory while they serve.

    A client made from a URL is closed with its last user and replaced by a fresh one (no I/O: connections are
    made on first use): redis-py's connections and locks belong to the loop they were first used on, so a
    server that is served again, on another loop, must not inherit them. A client given by the application is
    the application's: used as it is, never closed.
    """

    __slots__ = ("_owned", "_source", "_users", "client")

    def __init__(self, redis: Redis | str) -> None:
        self._source = redis
        self.client, self._owned = redis_client(redis)
        self._users = 0

    def acquire(self) -> Redis:
        """Take the client, for an adapter that starts serving; each call needs one :meth:`release`."""
        self._users += 1
        return self.client

    async def release(self) -> None:
        """Give the client back; the last user closes a client made from a URL (a new one is made for later)."""
        self._users -= 1
        if self._owned and self._users == 0:
            client = self.client
            self.client, _ = redis_client(self._source)
            with contextlib.suppress(Exception):
                await client.aclose()


class SubscribedAdapter(ClusterAdapter):
    """A cluster adapter reading Redis through one :class:`Subscription` of its own, on a leased client: the
    part the classic and the sharded adapters share. Subclasses add their channels and handle the messages."""

    __slots__ = ("_lease", "_leased", "_redis", "_subscription")

    def __init__(
        self, nsp: AdapterNamespace, lease: ClientLease, *, requests_timeout: float, name: str
    ) -> None:
        super().__init__(nsp, requests_timeout=requests_timeout)
        self._lease = lease
        self._leased = False
        self._redis = lease.client
        self._subscription = Subscription(self._redis, self._on_redis_message, name)

    def _on_redis_message(self, kind: str, channel: str, data: bytes) -> None:
        raise NotImplementedError

    async def init(self) -> None:
        """Take the factory's client and subscribe, on the loop that serves (again after a close)."""
        await super().init()
        if not self._leased:
            self._leased = True
            self._redis = self._lease.acquire()
        self._subscription.start(self._redis)
        await self._subscription.wait_ready(self.requests_timeout)

    async def close(self) -> None:
        """Leave the cluster: flush and cancel requests, unsubscribe, and give the factory's client back.

        A client the factory made from a URL is closed when its last adapter gives it back.
        """
        if self._closed:
            return
        await super().close()
        await self._subscription.close()
        if self._leased:  # a server that never started has nothing to give back
            self._leased = False
            await self._lease.release()
