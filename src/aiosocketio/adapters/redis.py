"""The classic Redis adapter, wire-compatible with ``@socket.io/redis-adapter`` 8.3.0 ``createAdapter``.

Python and Node.js servers on one Redis share rooms and broadcasts (``docs/protocol/cluster.md#concepts``, ``docs/protocol/cluster.md#classic``). Per
namespace ``N`` and key ``K`` the adapter PSUBSCRIBEs ``K#N#*`` (broadcasts), SUBSCRIBEs ``K-request#N#`` and
``K-response#N#`` (plus ``K-response#N#<uid>#``), and speaks the messages of :mod:`aiosocketio.adapters.messages`.

The cluster logic is :class:`~aiosocketio.adapters.cluster.ClusterAdapter`'s (both protocols have the same
operations; only the channels and encodings differ): local work never waits for Redis, a request that needs
answers (``fetch_sockets``, ``server_side_emit_with_ack``, broadcast acks) waits at most ``requests_timeout`` (or
the broadcast's timeout). If Redis goes away, the reader reconnects and resubscribes by itself with a short
back-off; publishes made meanwhile are lost (as with the Node adapter), and nothing is raised into code that did
not ask for an answer.

Needs the ``redis`` extra (redis-py's asyncio client).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from aiosocketio._checks import TIMER_LIMIT, seconds
from aiosocketio._emitter import spawn
from aiosocketio.adapters import messages as wire
from aiosocketio.adapters._redis import ClientLease, SubscribedAdapter, count_subscribers
from aiosocketio.adapters.cluster import Outgoing, Request
from aiosocketio.adapters.redis_sharded import ShardedRedisAdapter, create_sharded_adapter

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from aiosocketio.adapters._types import AdapterNamespace

__all__ = ["RedisAdapter", "ShardedRedisAdapter", "create_adapter", "create_sharded_adapter"]

logger = logging.getLogger("aiosocketio.adapter.redis")

_UID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def uid2(length: int = 6) -> str:
    """An id like the Node adapter's ``uid2``: random characters of a 64-letter alphabet."""
    return "".join(_UID_ALPHABET[b % 64] for b in os.urandom(length))


_CLUSTER_BODIES = (
    wire.BroadcastMessage,
    wire.SocketsJoinMessage,
    wire.SocketsLeaveMessage,
    wire.DisconnectSocketsMessage,
    wire.FetchSocketsMessage,
    wire.ServerSideEmitMessage,
    wire.FetchSocketsResponse,
    wire.ServerSideEmitResponse,
    wire.BroadcastClientCount,
    wire.BroadcastAck,
)
"""The classic messages that are ClusterAdapter operations (the legacy ones are answered here)."""


def create_adapter(
    redis: Redis | str,
    *,
    key: str = "socket.io",
    requests_timeout: float = 5.0,
    publish_on_specific_response_channel: bool = False,
) -> Callable[[AdapterNamespace], RedisAdapter]:
    """``Server(adapter=create_adapter(redis))``: ``redis`` is a ``redis.asyncio.Redis`` client or a URL."""
    requests_timeout = seconds("requests_timeout", requests_timeout, limit=TIMER_LIMIT)
    lease = ClientLease(redis)

    def factory(nsp: AdapterNamespace) -> RedisAdapter:
        return RedisAdapter(
            nsp,
            lease,
            key=key,
            requests_timeout=requests_timeout,
            publish_on_specific_response_channel=publish_on_specific_response_channel,
        )

    return factory


class RedisAdapter(SubscribedAdapter):
    """One namespace's rooms here, and its share of the cluster through Redis pub/sub (classic protocol)."""

    __slots__ = (
        "_channel",
        "_key",
        "_pattern",
        "_publish_specific",
        "_request_channel",
        "_response_channel",
        "_specific_channel",
    )

    def __init__(
        self,
        nsp: AdapterNamespace,
        lease: ClientLease,
        *,
        key: str = "socket.io",
        requests_timeout: float = 5.0,
        publish_on_specific_response_channel: bool = False,
    ) -> None:
        super().__init__(nsp, lease, requests_timeout=requests_timeout, name=nsp.name)
        self.uid = uid2()
        """This server's id: six random characters, as the Node.js Redis adapter makes them."""
        self._key = key
        self._publish_specific = publish_on_specific_response_channel
        name = nsp.name
        self._pattern = wire.classic_subscription_pattern(key, name)
        self._channel = f"{key}#{name}#"
        self._request_channel = wire.classic_request_channel(key, name)
        self._response_channel = wire.classic_response_channel(key, name)
        self._specific_channel = wire.classic_response_channel(key, name, self.uid)
        self._subscription.add("pattern", self._pattern)
        self._subscription.add(
            "channel", self._request_channel, self._response_channel, self._specific_channel
        )

    def _request_id(self) -> str:
        return uid2()

    def _fetch_timeout_message(self, request: Request) -> str:
        return "timeout reached while waiting for fetch_sockets responses"

    async def server_count(self) -> int:
        """Servers subscribed to this namespace's request channel (``PUBSUB NUMSUB``), this one included."""
        return await count_subscribers(self._redis, self._request_channel, sharded=False)

    # -- incoming ----------------------------------------------------------------------------------------

    def _on_redis_message(self, kind: str, channel: str, data: bytes) -> None:
        name = self.nsp.name
        if kind == "pmessage":
            room = wire.classic_room_from_channel(channel, self._key, name)
            if room is None or (room and room not in self.rooms):
                return  # another namespace's channel, or a room nobody here is in
            message = wire.parse_classic_broadcast(data)
            if isinstance(message.body, wire.BroadcastMessage):
                self.on_message(wire.ClusterMessage(message.uid or "", message.body.packet.nsp, message.body))
        elif channel == self._request_channel:
            message = wire.parse_classic_request(data)
            body = message.body
            if message.uid == self.uid:
                return  # our own: already applied here
            if isinstance(body, wire.AllRoomsRequest):
                self._reply(message.uid, wire.AllRoomsResponse(body.request_id, tuple(self.rooms)))
            elif isinstance(body, wire.SocketsRequest):
                ids = self._index.select(body.rooms, ())
                self._reply(message.uid, wire.SocketsResponse(body.request_id, tuple(ids)))
            elif isinstance(body, _CLUSTER_BODIES):
                self.on_message(wire.ClusterMessage(message.uid or "", name, body))
        elif channel in (self._response_channel, self._specific_channel):
            response = wire.parse_classic_response(data)
            if isinstance(response, _CLUSTER_BODIES):
                self._on_response(wire.ClusterMessage("", name, response))

    def _reply(self, requester: str | None, body: wire.ClassicResponseBody) -> None:
        """Answer a legacy request (not part of the cluster protocol, and rare: no ordering needed)."""
        spawn(
            self._publish_quietly(self._response_target(requester, body), wire.encode_classic_response(body))
        )

    async def _publish_quietly(self, channel: str, payload: str | bytes) -> None:
        try:
            await self._redis.publish(channel, payload)
        except Exception as exc:
            logger.warning("%s: publish to %s failed: %r", self.nsp.name, channel, exc)

    # -- outgoing ----------------------------------------------------------------------------------------

    def _response_target(self, requester: str | None, body: object) -> str:
        """The reference answers on the shared response channel, or on the requester's own one when asked to
        (except ``serverSideEmit`` answers, which always take the shared one)."""
        if self._publish_specific and requester and not isinstance(body, wire.ServerSideEmitResponse):
            return wire.classic_response_channel(self._key, self.nsp.name, requester)
        return self._response_channel

    def _encode(self, target: str | None, message: wire.ClusterMessage) -> tuple[str, str | bytes]:
        body = message.body
        if target is not None:
            assert isinstance(body, wire.ClassicResponseBody)
            return self._response_target(target, body), wire.encode_classic_response(body)
        if isinstance(body, wire.BroadcastMessage) and body.request_id is None:
            channel = wire.classic_broadcast_channel(self._key, self.nsp.name, body.opts)
            return channel, wire.encode_classic_broadcast(self.uid, body.packet, body.opts)
        assert isinstance(body, wire.ClassicRequestBody)
        return self._request_channel, wire.encode_classic_request(self.uid, body)

    async def _do_publish_batch(self, batch: Sequence[Outgoing]) -> list[str | None]:
        pipe = self._redis.pipeline(transaction=False)
        for target, message in batch:
            pipe.publish(*self._encode(target, message))
        await pipe.execute()
        return [None] * len(batch)

    async def _do_publish(self, message: wire.ClusterMessage) -> str | None:
        await self._redis.publish(*self._encode(None, message))
        return None

    async def _do_publish_response(self, requester: str, message: wire.ClusterMessage) -> None:
        await self._redis.publish(*self._encode(requester, message))
