"""Emit into a Socket.IO cluster from any process, like npm ``@socket.io/redis-emitter`` 5.1.0 (docs/protocol/cluster.md#emitter).

``RedisEmitter`` (asyncio) and ``SyncRedisEmitter`` (for code that is not async: Django views, Celery tasks)
publish the classic adapter's messages, so they reach Python and Node.js servers alike. They never subscribe
and never wait for answers: acknowledgements are not available here, as in the reference.

    emitter = RedisEmitter(redis.asyncio.Redis())
    await emitter.of("/chat").to("room1").emit("message", "hi")

Both share one immutable target (:class:`_Target`) and the pure message builders of
:mod:`aiosocketio.adapters.messages`; only the final ``PUBLISH`` differs. Needs the ``redis`` extra.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiosocketio.adapters import messages as wire
from aiosocketio.adapters.options import BroadcastOptions
from aiosocketio.broadcast import check_event_name
from aiosocketio.namespace import check_server_side_name
from aiosocketio.parsers.packet import Packet, PacketType

if TYPE_CHECKING:
    import redis as sync_redis
    import redis.asyncio as async_redis

__all__ = ["RedisEmitter", "SyncRedisEmitter"]


def _rooms(rooms: str | Iterable[str]) -> frozenset[str]:
    return frozenset((rooms,)) if isinstance(rooms, str) else frozenset(rooms)


class _Target:
    """Namespace, rooms, exclusions and flags; every modifier returns a new target. Builds (channel, payload)."""

    __slots__ = ("_key", "_nsp", "_options")

    def __init__(self, key: str, nsp: str = "/", options: BroadcastOptions | None = None) -> None:
        self._key = key
        self._nsp = nsp
        self._options = options or BroadcastOptions()

    def _copy(self, nsp: str | None = None, options: BroadcastOptions | None = None) -> Any:
        clone = object.__new__(type(self))
        for name in type(self).__slots__ + _Target.__slots__:
            if hasattr(self, name):
                object.__setattr__(clone, name, getattr(self, name))
        clone._nsp = nsp if nsp is not None else self._nsp
        clone._options = options if options is not None else self._options
        return clone

    def of(self, nsp: str) -> Any:
        """The same emitter for another namespace (a missing leading ``/`` is added)."""
        return self._copy(nsp=nsp if nsp.startswith("/") else "/" + nsp, options=BroadcastOptions())

    def to(self, room: str | Iterable[str]) -> Any:
        """A copy of this emitter that also targets ``room`` (several calls add up: members of any of them).

        Args:
            room: A room name, or several.

        Returns:
            A new emitter of the same kind; this one is unchanged, so it can be kept and reused.
        """
        return self._copy(options=replace(self._options, rooms=self._options.rooms | _rooms(room)))

    def in_(self, room: str | Iterable[str]) -> Any:
        """The same as :meth:`to` (Node.js: ``in``, a reserved word in Python).

        Args:
            room: A room name, or several.

        Returns:
            A new emitter of the same kind.
        """
        return self.to(room)

    def except_(self, room: str | Iterable[str]) -> Any:
        """A copy of this emitter that leaves out the sockets in ``room`` (Node.js: ``except``).

        Args:
            room: A room name, or several; a socket in any of them is skipped even if it is in a target room.

        Returns:
            A new emitter of the same kind.
        """
        return self._copy(
            options=replace(self._options, except_rooms=self._options.except_rooms | _rooms(room))
        )

    @property
    def volatile(self) -> Any:
        """A copy of this emitter whose events may be dropped for clients not ready to receive them."""
        return self._copy(options=replace(self._options, flags=replace(self._options.flags, volatile=True)))

    def compress(self, flag: bool = True) -> Any:
        """A copy of this emitter with the ``compress`` flag set, which the servers receive with the event.

        Args:
            flag: The value of the flag; only ``False`` is written into the message, as the reference does.

        Returns:
            A new emitter of the same kind.
        """
        return self._copy(options=replace(self._options, flags=replace(self._options.flags, compress=flag)))

    # -- messages ----------------------------------------------------------------------------------------

    def _broadcast(self, event: Any, args: tuple[Any, ...]) -> tuple[str, bytes]:
        event = check_event_name(event)  # a map's method names its event, as on a server
        packet = Packet(PacketType.EVENT, self._nsp, [event, *args])
        channel = wire.classic_broadcast_channel(self._key, self._nsp, self._options)
        return channel, wire.encode_emitter_broadcast(packet, self._options)

    def _request(self, body: wire.ClassicRequestBody, uid: str | None = None) -> tuple[str, str | bytes]:
        return wire.classic_request_channel(self._key, self._nsp), wire.encode_classic_request(uid, body)

    def _join(self, rooms: str | Iterable[str]) -> tuple[str, str | bytes]:
        return self._request(wire.SocketsJoinMessage(self._options, tuple(sorted(_rooms(rooms)))))

    def _leave(self, rooms: str | Iterable[str]) -> tuple[str, str | bytes]:
        return self._request(wire.SocketsLeaveMessage(self._options, tuple(sorted(_rooms(rooms)))))

    def _disconnect(self, close: bool) -> tuple[str, str | bytes]:
        return self._request(wire.DisconnectSocketsMessage(self._options, close))

    def _server_side(self, event: str, args: tuple[Any, ...]) -> tuple[str, str | bytes]:
        check_server_side_name(event)
        return self._request(wire.ServerSideEmitMessage([event, *args]), wire.EMITTER_UID)


class _ClientPerLoop:
    """The asyncio client of an emitter made from a URL, on the loop it is used from.

    An emitter is typically made at import time, before any loop, and may then be used from several loops one
    after the other (``asyncio.run`` twice, a test per loop). redis-py's connections belong to the loop they
    were opened on, so a client first used on another loop is replaced by a fresh one. Shared by the copies
    that ``to()``, ``of()``... make.
    """

    __slots__ = ("_client", "_loop", "_url")

    def __init__(self, url: str) -> None:
        try:
            import redis.asyncio as async_redis_module
        except ImportError:
            from aiosocketio._checks import missing_extra

            raise missing_extra("redis", "redis", "RedisEmitter") from None

        self._url = url
        self._client = async_redis_module.Redis.from_url(url)  # no I/O: a bad URL is refused now
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> async_redis.Redis:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None:
                import redis.asyncio as async_redis_module

                self._client = async_redis_module.Redis.from_url(self._url)
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        await self._client.aclose()


class RedisEmitter(_Target):
    """Emits into the cluster through a ``redis.asyncio.Redis`` client (or a URL). Making one needs no event
    loop: it connects when it first publishes.

    Args:
        redis: A ``redis.asyncio.Redis`` client, or a URL to make one from (a fresh client per event loop).
        key: The prefix of the channels, the ``key`` the servers' Redis adapter was given.

    Raises:
        ImportError: The ``redis`` package (the ``redis`` extra) is not installed.
    """

    __slots__ = ("_redis",)

    def __init__(self, redis: async_redis.Redis | str, key: str = "socket.io") -> None:
        super().__init__(key)
        self._redis: async_redis.Redis | _ClientPerLoop = (
            _ClientPerLoop(redis) if isinstance(redis, str) else redis
        )

    def _client(self) -> async_redis.Redis:
        redis = self._redis
        return redis.get() if isinstance(redis, _ClientPerLoop) else redis

    async def emit(self, event: Any, *args: Any) -> None:
        """Send an event to the targeted sockets of every server.

        Args:
            event: The event's name.
            *args: Its arguments: anything the servers' parser can encode (JSON values, ``bytes``).

        Raises:
            ValueError: ``event`` is a name Socket.IO reserves (``connect``, ``disconnect``...).
            TypeError: ``event`` is neither a str nor a number.
        """
        await self._client().publish(*self._broadcast(event, args))

    async def send(self, *args: Any) -> None:
        """Emit a ``message`` event: ``emit("message", *args)``.

        Args:
            *args: The event's arguments.
        """
        await self.emit("message", *args)

    async def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the targeted sockets of every server join ``rooms`` (Node.js: ``socketsJoin``).

        Args:
            rooms: A room name, or several.
        """
        await self._client().publish(*self._join(rooms))

    async def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the targeted sockets of every server leave ``rooms`` (Node.js: ``socketsLeave``).

        Args:
            rooms: A room name, or several.
        """
        await self._client().publish(*self._leave(rooms))

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the targeted sockets of every server (Node.js: ``disconnectSockets``).

        Args:
            close: Also close each socket's underlying connection, ending its other namespaces too.
        """
        await self._client().publish(*self._disconnect(close))

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Reach every server's ``io.on(event)`` handlers (no acknowledgement, as in the reference).

        Args:
            event: The event's name.
            *args: Its arguments.

        Raises:
            TypeError: ``event`` is not a str.
            ValueError: ``event`` is a name the server uses itself.
        """
        await self._client().publish(*self._server_side(event, args))

    async def aclose(self) -> None:
        """Close the connections of the client made from a URL (a client given to the emitter is left open)."""
        if isinstance(self._redis, _ClientPerLoop):
            await self._redis.aclose()


class SyncRedisEmitter(_Target):
    """The same as :class:`RedisEmitter` over a blocking ``redis.Redis`` client (or a URL).

    Each method publishes at once and returns when Redis has the message, blocking the calling thread.

    Args:
        redis: A ``redis.Redis`` client, or a URL to make one from.
        key: The prefix of the channels, the ``key`` the servers' Redis adapter was given.

    Raises:
        ImportError: A URL was given and the ``redis`` package (the ``redis`` extra) is not installed.
    """

    __slots__ = ("_owned", "_redis")

    def __init__(self, redis: sync_redis.Redis | str, key: str = "socket.io") -> None:
        super().__init__(key)
        self._owned = isinstance(redis, str)
        if isinstance(redis, str):
            try:
                import redis as sync_redis_module
            except ImportError:
                from aiosocketio._checks import missing_extra

                raise missing_extra("redis", "redis", "SyncRedisEmitter") from None
            redis = sync_redis_module.Redis.from_url(redis)  # no I/O: it connects on the first publish
        self._redis = redis

    def close(self) -> None:
        """Close the connections of the client made from a URL (a client given to the emitter is left open)."""
        if self._owned:
            self._redis.close()

    def emit(self, event: Any, *args: Any) -> None:
        """Send an event to the targeted sockets of every server.

        Args:
            event: The event's name.
            *args: Its arguments: anything the servers' parser can encode (JSON values, ``bytes``).

        Raises:
            ValueError: ``event`` is a name Socket.IO reserves (``connect``, ``disconnect``...).
            TypeError: ``event`` is neither a str nor a number.
        """
        self._redis.publish(*self._broadcast(event, args))

    def send(self, *args: Any) -> None:
        """Emit a ``message`` event: ``emit("message", *args)``.

        Args:
            *args: The event's arguments.
        """
        self.emit("message", *args)

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the targeted sockets of every server join ``rooms`` (Node.js: ``socketsJoin``).

        Args:
            rooms: A room name, or several.
        """
        self._redis.publish(*self._join(rooms))

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the targeted sockets of every server leave ``rooms`` (Node.js: ``socketsLeave``).

        Args:
            rooms: A room name, or several.
        """
        self._redis.publish(*self._leave(rooms))

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the targeted sockets of every server (Node.js: ``disconnectSockets``).

        Args:
            close: Also close each socket's underlying connection, ending its other namespaces too.
        """
        self._redis.publish(*self._disconnect(close))

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Reach every server's ``io.on(event)`` handlers (no acknowledgement, as in the reference).

        Args:
            event: The event's name.
            *args: Its arguments.

        Raises:
            TypeError: ``event`` is not a str.
            ValueError: ``event`` is a name the server uses itself.
        """
        self._redis.publish(*self._server_side(event, args))
