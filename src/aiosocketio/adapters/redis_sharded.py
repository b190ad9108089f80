"""The sharded Redis adapter, wire-compatible with ``@socket.io/redis-adapter`` 8.3.0 ``createShardedAdapter``.

A :class:`~aiosocketio.adapters.cluster.ClusterAdapter` over Redis 7 sharded pub/sub (``SPUBLISH`` /
``SSUBSCRIBE``; ``docs/protocol/cluster.md#sharded``). Per namespace ``N`` and prefix ``P`` every server listens to
``P#N#`` (everything) and ``P#N#<uid>#`` (answers to its requests). In the ``dynamic`` subscription mode (the
default) a server also listens to ``P#N#<room>#`` while it has members of that room, and a broadcast to exactly
one such room goes there only, so servers without members never see it; ``dynamic-private`` does the same for
socket-id rooms; ``static`` uses the two channels only (best with many dynamic namespaces).

Messages are JSON, or notepack MessagePack when they carry binary. Connection state recovery needs offsets this
bus does not have: use :mod:`aiosocketio.adapters.redis_streams` for that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from aiosocketio._checks import TIMER_LIMIT, seconds
from aiosocketio.adapters import messages as wire
from aiosocketio.adapters._redis import ClientLease, SubscribedAdapter, count_subscribers
from aiosocketio.adapters.cluster import Outgoing

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from aiosocketio.adapters._types import AdapterNamespace

__all__ = ["ShardedRedisAdapter", "create_sharded_adapter"]

SubscriptionMode = Literal["static", "dynamic", "dynamic-private"]
"""Which sharded channels a server subscribes to, as the reference's ``subscriptionMode`` option says."""
_MODES = ("static", "dynamic", "dynamic-private")


def create_sharded_adapter(
    redis: Redis | str,
    *,
    channel_prefix: str = "socket.io",
    subscription_mode: SubscriptionMode = "dynamic",
    requests_timeout: float = 5.0,
) -> Callable[[AdapterNamespace], ShardedRedisAdapter]:
    """``Server(adapter=create_sharded_adapter(redis))``: ``redis`` is a ``redis.asyncio.Redis`` client or a URL
    of a Redis ≥ 7 server."""
    if subscription_mode not in _MODES:
        raise ValueError(f"subscription_mode is one of {', '.join(_MODES)}, not {subscription_mode!r}")
    requests_timeout = seconds("requests_timeout", requests_timeout, limit=TIMER_LIMIT)
    _check_sharded_pubsub()
    lease = ClientLease(redis)

    def factory(nsp: AdapterNamespace) -> ShardedRedisAdapter:
        return ShardedRedisAdapter(
            nsp,
            lease,
            channel_prefix=channel_prefix,
            subscription_mode=subscription_mode,
            requests_timeout=requests_timeout,
        )

    return factory


def _check_sharded_pubsub() -> None:
    """redis-py's asyncio ``PubSub`` learnt ``ssubscribe`` in release 8; before it, the adapter's reader would fail
    on every attempt long after start-up, so say it now."""
    try:
        from redis.asyncio.client import PubSub
    except ImportError:
        from aiosocketio._checks import missing_extra

        raise missing_extra("redis", "redis", "the sharded Redis adapter") from None
    if not hasattr(PubSub, "ssubscribe"):
        import redis as redis_module

        raise RuntimeError(
            f"the sharded Redis adapter needs redis-py 8 or newer (found {redis_module.__version__}): "
            "pip install 'redis>=8'"
        )


def _looks_like_socket_id(room: str) -> bool:
    return len(room) == 20


class ShardedRedisAdapter(SubscribedAdapter):
    """One namespace's share of a cluster over Redis sharded pub/sub."""

    __slots__ = ("_channel", "_mode", "_response_channel")

    def __init__(
        self,
        nsp: AdapterNamespace,
        lease: ClientLease,
        *,
        channel_prefix: str = "socket.io",
        subscription_mode: SubscriptionMode = "dynamic",
        requests_timeout: float = 5.0,
    ) -> None:
        super().__init__(nsp, lease, requests_timeout=requests_timeout, name=f"{nsp.name} (sharded)")
        self._mode = subscription_mode
        self._channel = wire.cluster_channel(channel_prefix, nsp.name)
        self._response_channel = wire.cluster_channel(channel_prefix, nsp.name, self.uid)
        self._subscription.add("shard", self._channel, self._response_channel)
        if subscription_mode != "static":
            self.on("create-room", self._on_create_room)
            self.on("delete-room", self._on_delete_room)

    # -- rooms with a channel of their own ---------------------------------------------------------------

    def _separate(self, room: str) -> bool:
        """Whether ``room`` has its own channel here: public rooms in "dynamic", every room in "dynamic-private"."""
        return self._mode == "dynamic-private" or (self._mode == "dynamic" and room not in self.sids)

    def _on_create_room(self, room: str) -> None:
        if self._separate(room):
            self._subscription.add("shard", self._room_channel(room))

    def _on_delete_room(self, room: str) -> None:
        if self._separate(room):
            self._subscription.remove("shard", self._room_channel(room))

    def _room_channel(self, room: str) -> str:
        return f"{self._channel}{room}#"

    # -- the bus -----------------------------------------------------------------------------------------

    def _on_redis_message(self, kind: str, channel: str, data: bytes) -> None:
        message = wire.decode_cluster(data, wire.NOTEPACK)
        if channel == self._response_channel:
            self._on_response(message)
        else:
            self.on_message(message)

    def _channel_for(self, message: wire.ClusterMessage) -> str:
        body = message.body
        if isinstance(body, wire.BroadcastMessage) and body.request_id is None and len(body.opts.rooms) == 1:
            (room,) = body.opts.rooms
            if self._mode == "dynamic-private" or (
                self._mode == "dynamic" and not _looks_like_socket_id(room)
            ):
                return self._room_channel(room)
        return self._channel

    async def _do_publish(self, message: wire.ClusterMessage) -> str | None:
        await self._redis.spublish(self._channel_for(message), wire.encode_sharded(message))
        return None

    async def _do_publish_response(self, requester: str, message: wire.ClusterMessage) -> None:
        await self._redis.spublish(f"{self._channel}{requester}#", wire.encode_sharded(message))

    async def _do_publish_batch(self, batch: Sequence[Outgoing]) -> list[str | None]:
        pipe = self._redis.pipeline(transaction=False)
        for target, message in batch:
            channel = self._channel_for(message) if target is None else f"{self._channel}{target}#"
            pipe.spublish(channel, wire.encode_sharded(message))
        await pipe.execute()
        return [None] * len(batch)

    async def server_count(self) -> int:
        """Servers listening to this namespace's main channel (``PUBSUB SHARDNUMSUB``), this one included."""
        return await count_subscribers(self._redis, self._channel, sharded=True)
