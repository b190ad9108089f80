"""The classic Redis adapter, wire-compatible with ``@socket.io/redis-adapter`` 8.3.0 ``createAdapter``.

Python and Node.js servers on one Redis share rooms and broadcasts (``shared/spec/adapters.md`` §1, §3). Per
namespace ``N`` and key ``K`` the adapter PSUBSCRIBEs ``K#N#*`` (broadcasts), SUBSCRIBEs ``K-request#N#`` and
``K-response#N#`` (plus ``K-response#N#<uid>#``), and speaks the messages of :mod:`aiosocketio.adapters.messages`.

Local work never waits for Redis: a broadcast is delivered here at once and published in the background; a
request that needs answers (``fetch_sockets``, ``server_side_emit_with_ack``, broadcast acks) waits at most
``requests_timeout`` (or the broadcast's timeout). If Redis goes away, the reader reconnects and resubscribes by
itself with a short back-off; publishes made meanwhile are lost (as with the Node adapter), and nothing is
raised into code that did not ask for an answer.

Needs the ``redis`` extra (redis-py's asyncio client).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiosocketio._emitter import spawn
from aiosocketio.adapters import messages as wire
from aiosocketio.adapters._redis import Publisher, Subscription
from aiosocketio.adapters.base import Adapter
from aiosocketio.adapters.cluster import Request, remote_handshake
from aiosocketio.adapters.options import BroadcastOptions
from aiosocketio.adapters.redis_sharded import ShardedRedisAdapter, create_sharded_adapter
from aiosocketio.exceptions import AckTimeoutError, AdapterError
from aiosocketio.parsers.packet import Packet

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from aiosocketio.namespace import Namespace

__all__ = ["RedisAdapter", "ShardedRedisAdapter", "create_adapter", "create_sharded_adapter"]

logger = logging.getLogger("aiosocketio.redis")

_UID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def uid2(length: int = 6) -> str:
    """An id like the Node adapter's ``uid2``: random characters of a 64-letter alphabet."""
    return "".join(_UID_ALPHABET[b % 64] for b in os.urandom(length))


def create_adapter(
    redis: Redis | str,
    *,
    key: str = "socket.io",
    requests_timeout: float = 5.0,
    publish_on_specific_response_channel: bool = False,
) -> Callable[[Namespace], RedisAdapter]:
    """``Server(adapter=create_adapter(redis))``: ``redis`` is a ``redis.asyncio.Redis`` client or a URL."""
    if isinstance(redis, str):
        from redis.asyncio import Redis as RedisClient

        client: Redis = RedisClient.from_url(redis)
    else:
        client = redis
    if requests_timeout <= 0:
        raise ValueError("requests_timeout is a positive number of seconds")
    owned = isinstance(redis, str)
    open_adapters: set[RedisAdapter] = set()

    async def released(adapter: RedisAdapter) -> None:
        """A client made here from a URL is closed with the last adapter that used it."""
        open_adapters.discard(adapter)
        if owned and not open_adapters:
            await client.aclose()

    def factory(nsp: Namespace) -> RedisAdapter:
        adapter = RedisAdapter(
            nsp,
            client,
            key=key,
            requests_timeout=requests_timeout,
            publish_on_specific_response_channel=publish_on_specific_response_channel,
            on_close=released,
        )
        open_adapters.add(adapter)
        return adapter

    return factory


class RedisAdapter(Adapter):
    """One namespace's rooms here, and its share of the cluster through Redis pub/sub."""

    __slots__ = (
        "_ack_requests",
        "_channel",
        "_closed",
        "_key",
        "_on_close",
        "_pattern",
        "_publish_specific",
        "_publisher",
        "_redis",
        "_request_channel",
        "_requests",
        "_response_channel",
        "_specific_channel",
        "_subscription",
        "requests_timeout",
        "uid",
    )

    def __init__(
        self,
        nsp: Namespace,
        redis: Redis,
        *,
        key: str = "socket.io",
        requests_timeout: float = 5.0,
        publish_on_specific_response_channel: bool = False,
        on_close: Callable[[RedisAdapter], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(nsp)
        self._on_close = on_close
        self.uid = uid2()
        self._redis = redis
        self._key = key
        self.requests_timeout = requests_timeout
        self._publish_specific = publish_on_specific_response_channel
        name = nsp.name
        self._pattern = wire.classic_subscription_pattern(key, name)
        self._channel = f"{key}#{name}#"
        self._request_channel = wire.classic_request_channel(key, name)
        self._response_channel = wire.classic_response_channel(key, name)
        self._specific_channel = wire.classic_response_channel(key, name, self.uid)
        self._requests: dict[str, Request] = {}
        self._ack_requests: dict[str, tuple[Callable[[int], None], Callable[..., None]]] = {}
        self._subscription = Subscription(redis, self._on_redis_message, name)
        self._subscription.add("pattern", self._pattern)
        self._subscription.add(
            "channel", self._request_channel, self._response_channel, self._specific_channel
        )
        self._publisher = Publisher(redis, name)
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def init(self) -> None:
        self._subscription.start()
        await self._subscription.wait_ready(self.requests_timeout)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._publisher.flush(self.requests_timeout)
        await self._subscription.close()
        for request in self._requests.values():
            if not request.future.done():
                request.future.cancel()
        self._requests.clear()
        self._ack_requests.clear()
        if self._on_close is not None:
            await self._on_close(self)

    def _publish(self, channel: str, payload: str | bytes) -> None:
        """Publish in the background, in order; a failure is logged, never raised into the caller."""
        self._publisher.push(channel, payload)

    async def server_count(self) -> int:
        """Servers subscribed to this namespace's request channel (``PUBSUB NUMSUB``), this one included."""
        try:
            result = await self._redis.pubsub_numsub(self._request_channel)
        except Exception as exc:
            raise AdapterError(f"Redis is not reachable to count the servers: {exc!r}") from exc
        return max(1, int(result[0][1])) if result else 1

    # -- incoming ----------------------------------------------------------------------------------------

    def _on_redis_message(self, kind: str, channel: str, data: bytes) -> None:
        if kind == "pmessage":
            self._on_broadcast(channel, data)
        elif channel == self._request_channel:
            self._on_request(data)
        elif channel in (self._response_channel, self._specific_channel):
            self._on_response(data)

    def _on_broadcast(self, channel: str, data: bytes | str) -> None:
        room = wire.classic_room_from_channel(channel, self._key, self.nsp.name)
        if room is None or (room and room not in self.rooms):
            return  # another namespace's channel, or a room nobody here is in
        if isinstance(data, str):
            data = data.encode("utf-8")
        message = wire.parse_classic_broadcast(data)
        body = message.body
        if message.uid == self.uid or not isinstance(body, wire.BroadcastMessage):
            return
        if body.packet.nsp != self.nsp.name:
            return
        super().broadcast(body.packet, body.opts)

    def _on_request(self, data: bytes | str) -> None:
        message = wire.parse_classic_request(data)
        if message.uid == self.uid:
            return  # our own: already applied here
        body = message.body
        if isinstance(body, wire.BroadcastMessage):
            self._on_remote_broadcast_with_ack(message.uid, body)
        elif isinstance(body, wire.SocketsJoinMessage):
            super().add_sockets(body.opts, body.rooms)
        elif isinstance(body, wire.SocketsLeaveMessage):
            super().del_sockets(body.opts, body.rooms)
        elif isinstance(body, wire.DisconnectSocketsMessage):
            super().disconnect_sockets(body.opts, body.close)
        elif isinstance(body, wire.FetchSocketsMessage):
            spawn(self._answer_fetch(message.uid, body))
        elif isinstance(body, wire.ServerSideEmitMessage):
            self._on_server_side_emit(body)
        elif isinstance(body, wire.AllRoomsRequest):
            self._reply(message.uid, wire.AllRoomsResponse(body.request_id, tuple(self.rooms)))
        elif isinstance(body, wire.SocketsRequest):
            ids = self._index.select(body.rooms, ())
            self._reply(message.uid, wire.SocketsResponse(body.request_id, tuple(ids)))

    def _reply(
        self, requester: str | None, body: wire.ClassicResponseBody, *, default_channel: bool = False
    ) -> None:
        channel = self._response_channel
        if self._publish_specific and requester and not default_channel:
            channel = wire.classic_response_channel(self._key, self.nsp.name, requester)
        self._publish(channel, wire.encode_classic_response(body))

    def _on_remote_broadcast_with_ack(self, requester: str | None, body: wire.BroadcastMessage) -> None:
        request_id = body.request_id
        assert request_id is not None
        packet = body.packet
        local = Packet(packet.type, self.nsp.name, packet.data, self.nsp._next_ack_id())

        def on_count(count: int) -> None:
            self._reply(requester, wire.BroadcastClientCount(request_id, count))

        def on_ack(*args: Any) -> None:
            self._reply(requester, wire.BroadcastAck(request_id, args[0] if args else wire.UNDEFINED))

        super().broadcast_with_ack(local, body.opts, on_count, on_ack)

    async def _answer_fetch(self, requester: str | None, body: wire.FetchSocketsMessage) -> None:
        sockets = await super().fetch_sockets(body.opts)
        found = tuple(
            wire.SocketData(s.id, s.handshake, tuple(s.rooms), s.data)
            for s in sockets
            if hasattr(s, "client")
        )
        self._reply(requester, wire.FetchSocketsResponse(body.request_id, found))

    def _on_server_side_emit(self, body: wire.ServerSideEmitMessage) -> None:
        request_id = body.request_id
        if request_id is None:
            self.nsp._on_server_side_emit(body.data)
            return

        def answer(response: Any) -> None:
            self._reply(None, wire.ServerSideEmitResponse(request_id, response), default_channel=True)

        self.nsp._on_server_side_emit(body.data, answer)

    def _on_response(self, data: bytes | str) -> None:
        body = wire.parse_classic_response(data)
        request_id = body.request_id
        if isinstance(body, wire.BroadcastClientCount):
            callbacks = self._ack_requests.get(request_id)
            if callbacks is not None:
                callbacks[0](body.client_count)
            return
        if isinstance(body, wire.BroadcastAck):
            callbacks = self._ack_requests.get(request_id)
            if callbacks is not None:
                callbacks[1](*(() if body.response is wire.UNDEFINED else (body.response,)))
            return
        request = self._requests.get(request_id)
        if request is None:
            return
        if isinstance(body, wire.FetchSocketsResponse):
            request.answer(None, body.sockets)
        elif isinstance(body, wire.ServerSideEmitResponse):
            request.answer(None, (None if body.response is wire.UNDEFINED else body.response,))

    # -- outgoing ----------------------------------------------------------------------------------------

    def broadcast(self, packet: Packet, options: BroadcastOptions) -> None:
        if not options.flags.local:
            channel = wire.classic_broadcast_channel(self._key, self.nsp.name, options)
            self._publish(channel, wire.encode_classic_broadcast(self.uid, packet, options))
        super().broadcast(packet, options)

    def broadcast_with_ack(
        self,
        packet: Packet,
        options: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: Callable[..., None],
    ) -> None:
        if not options.flags.local:
            request_id = uid2()
            self._ack_requests[request_id] = (client_count_callback, ack)
            remote = Packet(packet.type, packet.nsp, packet.data)
            message = wire.BroadcastMessage(remote, options, request_id)
            self._publish(self._request_channel, wire.encode_classic_request(self.uid, message))
            timeout = options.flags.timeout if options.flags.timeout is not None else self.requests_timeout
            asyncio.get_running_loop().call_later(timeout, self._ack_requests.pop, request_id, None)
        super().broadcast_with_ack(packet, options, client_count_callback, ack)

    def add_sockets(self, options: BroadcastOptions, rooms: Iterable[str]) -> None:
        rooms = tuple(rooms)
        super().add_sockets(options, rooms)
        if not options.flags.local:
            message = wire.SocketsJoinMessage(options, rooms)
            self._publish(self._request_channel, wire.encode_classic_request(self.uid, message))

    def del_sockets(self, options: BroadcastOptions, rooms: Iterable[str]) -> None:
        rooms = tuple(rooms)
        super().del_sockets(options, rooms)
        if not options.flags.local:
            message = wire.SocketsLeaveMessage(options, rooms)
            self._publish(self._request_channel, wire.encode_classic_request(self.uid, message))

    def disconnect_sockets(self, options: BroadcastOptions, close: bool) -> None:
        super().disconnect_sockets(options, close)
        if not options.flags.local:
            message = wire.DisconnectSocketsMessage(options, close)
            self._publish(self._request_channel, wire.encode_classic_request(self.uid, message))

    async def _ask(
        self, body_for: Callable[[str], wire.ClassicRequestBody], expected: int, timeout: float
    ) -> Request:
        """Publish a request and wait for ``expected`` responses (raises TimeoutError with them attached)."""
        request_id = uid2()
        request = Request(expected)
        self._requests[request_id] = request
        try:
            if expected > 0:
                self._publish(
                    self._request_channel, wire.encode_classic_request(self.uid, body_for(request_id))
                )
                await asyncio.wait_for(asyncio.shield(request.future), timeout)
            return request
        finally:
            del self._requests[request_id]

    async def fetch_sockets(self, options: BroadcastOptions) -> list[Any]:
        from aiosocketio.broadcast import RemoteSocket

        local = await super().fetch_sockets(options)
        if options.flags.local:
            return local
        expected = await self.server_count() - 1
        timeout = options.flags.timeout if options.flags.timeout is not None else self.requests_timeout
        try:
            request = await self._ask(lambda rid: wire.FetchSocketsMessage(options, rid), expected, timeout)
        except TimeoutError:
            raise TimeoutError("timeout reached while waiting for fetch_sockets responses") from None
        remote = [
            RemoteSocket(self.nsp, s.id, remote_handshake(s.handshake), set(s.rooms), s.data)
            for s in request.responses
        ]
        return local + remote

    async def server_side_emit(self, packet: list[Any]) -> None:
        message = wire.ServerSideEmitMessage(packet)
        self._publish(self._request_channel, wire.encode_classic_request(self.uid, message))

    async def server_side_emit_with_ack(self, packet: list[Any], timeout: float | None) -> list[Any]:
        expected = await self.server_count() - 1
        request_id = uid2()
        request = Request(expected)
        self._requests[request_id] = request
        try:
            if expected <= 0:
                return []
            message = wire.ServerSideEmitMessage(packet, request_id)
            self._publish(self._request_channel, wire.encode_classic_request(self.uid, message))
            try:
                return await asyncio.wait_for(
                    asyncio.shield(request.future), timeout or self.requests_timeout
                )
            except TimeoutError:
                raise AckTimeoutError(
                    f"timeout reached: only {len(request.responses)} responses received out of {expected}",
                    responses=list(request.responses),
                ) from None
        finally:
            del self._requests[request_id]
