"""``BroadcastOperator`` (immutable ``to`` / ``in_`` / ``except_`` / flags) and ``RemoteSocket`` (docs/protocol/server.md#broadcasting, docs/protocol/server.md#utility-methods, docs/protocol/socketio.md#events-and-acks, docs/protocol/socketio.md#emit-flags).

Every modifier returns a new operator, so an operator can be kept and reused safely. Emitting hands one packet to
the namespace's adapter, which encodes it once for all recipients.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from aiosocketio._checks import ack_timeout, room_list
from aiosocketio.adapters.options import BroadcastOptions
from aiosocketio.clock import wait_for
from aiosocketio.eventmaps import EmitEvents, SocketData, Untyped, event_name
from aiosocketio.exceptions import AckTimeoutError
from aiosocketio.parsers.packet import RESERVED_EVENTS, Packet, PacketType

if TYPE_CHECKING:
    from aiosocketio._types import BroadcastNamespace

P = ParamSpec("P")
R = TypeVar("R")
_Emit_co = TypeVar("_Emit_co", covariant=True)
_Data_co = TypeVar("_Data_co", covariant=True)

__all__ = ["AckEmitter", "BroadcastOperator", "FetchedSocket", "RemoteEmitter", "RemoteSocket"]


def check_event_name(event: Any) -> Any:
    """The name to emit ``event`` as (a map's method by its name, see ``aiosocketio.eventmaps``); refuse a
    reserved name (docs/protocol/socketio.md#reserved-names), as the reference does."""
    if isinstance(event, str):
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name: pick another name for your event')
        return event
    if isinstance(event, bool) or not isinstance(event, (int, float)):
        name = event_name(event)
        if name is not event:
            return check_event_name(name)
        raise TypeError(f"an event name is a str (or a number), not {type(event).__name__}")
    return event


class AckEmitter(Protocol[_Emit_co]):
    """What ``socket.timeout(5)`` is for a socket of ``fetch_sockets``, typed by the emit map."""

    async def emit_with_ack(
        self, event: Callable[Concatenate[_Emit_co, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """The client's answer."""
        ...


class FetchedSocket(Protocol[_Emit_co, _Data_co]):
    """A socket that typed ``fetch_sockets()`` returns: a local ``Socket`` or a ``RemoteSocket`` of another
    server, through what both offer (docs/guide/typing.md)."""

    @property
    def id(self) -> str:
        """The socket's id."""
        ...

    @property
    def handshake(self) -> Any:
        """Its handshake."""
        ...

    @property
    def rooms(self) -> set[str]:
        """The rooms it is in."""
        ...

    @property
    def data(self) -> _Data_co:
        """Its ``data``."""
        ...

    async def emit(
        self, event: Callable[Concatenate[_Emit_co, P], object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """Send it an event."""
        ...

    def timeout(self, seconds: float) -> AckEmitter[_Emit_co]:
        """Wait at most ``seconds`` for an answer."""
        ...

    async def join(self, rooms: str | Iterable[str]) -> None:
        """Make it join the room(s)."""
        ...

    async def leave(self, room: str) -> None:
        """Make it leave the room."""
        ...

    async def disconnect(self, close: bool = False) -> None:
        """Disconnect it."""
        ...


def _rooms(rooms: str | Iterable[str]) -> frozenset[str]:
    if isinstance(rooms, str):
        return frozenset((rooms,))
    return frozenset(room_list(rooms))


class BroadcastOperator(Generic[EmitEvents, SocketData]):
    """A target (rooms, exclusions) and flags in one namespace (Node's ``BroadcastOperator``): what ``to``,
    ``except_``, ``volatile``, ``timeout``... return. See docs/guide/rooms.md.

    Every modifier returns a new operator and leaves this one as it is, so an operator can be kept and used
    again. Without a room the operator targets every socket of the namespace; with rooms, the sockets in any
    of them (each once); minus the sockets in the excluded rooms. Its emit and utility methods reach the
    matching sockets on every server of a cluster, unless ``local`` is set.

    Typed by the namespace's emit map and socket data (docs/guide/typing.md)."""

    __slots__ = ("_nsp", "_options")

    def __init__(self, nsp: BroadcastNamespace, options: BroadcastOptions | None = None) -> None:
        self._nsp = nsp
        self._options = options or BroadcastOptions()

    def _with(self, **changes: Any) -> BroadcastOperator[EmitEvents, SocketData]:
        return BroadcastOperator(self._nsp, replace(self._options, **changes))

    def _with_flags(self, **changes: Any) -> BroadcastOperator[EmitEvents, SocketData]:
        return self._with(flags=replace(self._options.flags, **changes))

    # -- modifiers ---------------------------------------------------------------------------------------

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """Also target the room(s): a socket in any target room receives the packet (once).

        Args:
            room: A room name, or several names.

        Returns:
            A new operator.

        Raises:
            TypeError: A room name that is not a str.
        """
        return self._with(rooms=self._options.rooms | _rooms(room))

    def in_(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """The same as ``to()`` (Node's ``in``; ``in`` is a Python keyword)."""
        return self.to(room)

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """Leave out the sockets in the room(s) (Node's ``except``).

        Args:
            room: A room name, or several names.

        Returns:
            A new operator.

        Raises:
            TypeError: A room name that is not a str.
        """
        return self._with(except_rooms=self._options.except_rooms | _rooms(room))

    @property
    def local(self) -> BroadcastOperator[EmitEvents, SocketData]:
        """A new operator that reaches only the sockets of this server (matters with a cluster adapter)."""
        return self._with_flags(local=True)

    @property
    def volatile(self) -> BroadcastOperator[EmitEvents, SocketData]:
        """A new operator whose packets are dropped, instead of queued, for the clients whose connection is not
        ready to take them right now."""
        return self._with_flags(volatile=True)

    def compress(self, flag: bool = True) -> BroadcastOperator[EmitEvents, SocketData]:
        """Set the compress flag (Node's ``compress``). The flag travels with the broadcast, to the other
        servers of a cluster too; this server compresses by its ``per_message_deflate`` and
        ``http_compression`` options, whatever the flag.

        Args:
            flag: The flag's value.

        Returns:
            A new operator.
        """
        return self._with_flags(compress=flag)

    def timeout(self, seconds: float) -> BroadcastOperator[EmitEvents, SocketData]:
        """Set the time ``emit_with_ack`` waits for every client's answer (also the time
        ``fetch_sockets`` waits for the other servers of a cluster).

        Args:
            seconds: The time to wait, in seconds (0 expires at once).

        Returns:
            A new operator.

        Raises:
            ValueError: ``seconds`` is negative, not finite, or so large it looks like milliseconds.
            TypeError: ``seconds`` is not a number.
        """
        return self._with_flags(timeout=ack_timeout(seconds))

    @property
    def options(self) -> BroadcastOptions:
        """For adapters, not needed by applications: the operator's target and flags, as adapters get them."""
        return self._options

    # -- emitting ----------------------------------------------------------------------------------------

    @overload
    async def emit(
        self, event: Callable[Concatenate[EmitEvents, P], object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None: ...

    @overload
    async def emit(self: BroadcastOperator[Untyped, Any], event: str | float, /, *args: Any) -> None: ...

    async def emit(self, event: Any, /, *args: Any) -> None:  # type: ignore[misc]  # events take no keywords
        """Send the event to every targeted socket. ``args`` that cannot be sent (an ``int`` outside
        [-2**63, 2**64) among them) raise ``EncodeError`` here, as
        [``Socket.emit()``][aiosocketio.Socket.emit] explains.

        Args:
            event: The event's name (or a number), or a method of the emit map.
            *args: The event's arguments.

        Raises:
            ValueError: ``event`` is a reserved name.
            TypeError: ``event`` is not a name, or a ``timeout()`` was set (use ``emit_with_ack()``).
            aiosocketio.parsers.packet.EncodeError: An argument the parser cannot send.
        """
        event = check_event_name(event)
        if self._options.flags.timeout is not None:
            raise TypeError("a broadcast with a timeout expects answers: use emit_with_ack()")
        nsp = self._nsp
        nsp.notify_outgoing(self._options, event, args)
        nsp.adapter.broadcast(Packet(PacketType.EVENT, nsp.name, [event, *args]), self._options)

    async def send(self, *args: Any) -> None:
        """Emit a ``message`` event to every targeted socket: ``emit("message", *args)``.

        Args:
            *args: The message's arguments.
        """
        await BroadcastOperator.emit(self, "message", *args)  # type: ignore[arg-type]  # "message": any map

    @overload
    async def emit_with_ack(
        self, event: Callable[Concatenate[EmitEvents, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> list[R]: ...

    @overload
    async def emit_with_ack(
        self: BroadcastOperator[Untyped, Any], event: str | float, /, *args: Any
    ) -> list[Any]: ...

    async def emit_with_ack(self, event: Any, /, *args: Any) -> list[Any]:  # type: ignore[misc]
        """Send the event and collect one answer per targeted client (Node's ``emitWithAck``); needs a
        ``timeout()`` first.

        Args:
            event: The event's name, or a method of the emit map.
            *args: The event's arguments.

        Returns:
            One answer per client (the first argument it acknowledged with), in arrival order; an empty list
            when no socket is targeted.

        Raises:
            ValueError: No timeout was set, or a reserved event name.
            aiosocketio.AckTimeoutError: Not every client answered within ``timeout()``; its ``responses``
                holds the answers that came.
        """
        event = check_event_name(event)
        timeout = self._options.flags.timeout
        if timeout is None:
            raise ValueError(
                "a broadcast with acknowledgements needs a timeout: io.timeout(5).emit_with_ack(...)"
            )
        nsp = self._nsp
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        responses: list[Any] = []
        # Every server (this one included) reports how many clients it wrote to, then their acks arrive (docs/protocol/cluster.md#broadcast-acks).
        servers = 1 if self._options.flags.local else await nsp.adapter.server_count()
        counts: list[int] = []

        def check() -> None:
            if len(counts) >= servers and len(responses) >= sum(counts) and not done.done():
                done.set_result(None)

        def on_count(count: int) -> None:
            counts.append(count)
            check()

        def on_ack(*answer: Any) -> None:
            responses.append(answer[0] if answer else None)
            check()

        packet = Packet(PacketType.EVENT, nsp.name, [event, *args], nsp.next_ack_id())
        nsp.notify_outgoing(self._options, event, args)
        nsp.adapter.broadcast_with_ack(packet, self._options, on_count, on_ack)
        try:
            await wait_for(nsp.server.clock, asyncio.shield(done), timeout)
        except TimeoutError:
            raise AckTimeoutError(responses=list(responses)) from None
        return responses

    # -- utility methods ---------------------------------------------------------------------------------

    @overload
    async def fetch_sockets(self: BroadcastOperator[Untyped, Any]) -> list[Any]: ...

    @overload
    async def fetch_sockets(self) -> list[FetchedSocket[EmitEvents, SocketData]]: ...

    async def fetch_sockets(self) -> list[Any]:
        """The matching sockets (Node's ``fetchSockets``): ``Socket`` objects here, ``RemoteSocket`` objects
        from other servers.

        Typed (with an emit map) as [``FetchedSocket``][aiosocketio.broadcast.FetchedSocket], what both kinds
        offer; untyped as before.

        Returns:
            The sockets.

        Raises:
            TypeError: The namespace is a parent namespace (call it on a child).
            TimeoutError: Another server of the cluster did not answer in time (with a cluster adapter).
        """
        self._nsp.check_not_parent("fetch_sockets")
        return await self._nsp.adapter.fetch_sockets(self._options)

    async def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the matching sockets join the room(s), on every server (Node's ``socketsJoin``).

        Args:
            rooms: A room name, or several names.

        Raises:
            TypeError: A room name that is not a str.
        """
        self._nsp.adapter.add_sockets(self._options, _rooms(rooms))

    async def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the matching sockets leave the room(s), on every server (Node's ``socketsLeave``).

        Args:
            rooms: A room name, or several names.

        Raises:
            TypeError: A room name that is not a str.
        """
        self._nsp.adapter.del_sockets(self._options, _rooms(rooms))

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the matching sockets, on every server (Node's ``disconnectSockets``).

        Args:
            close: Also close the clients' connections (and so their other namespaces).
        """
        self._nsp.adapter.disconnect_sockets(self._options, close)

    async def all_sockets(self) -> set[str]:
        """The ids of the matching sockets (Node's ``allSockets``, deprecated there in favour of
        ``fetch_sockets()``).

        Returns:
            The socket ids.
        """
        return {socket.id for socket in await self.fetch_sockets()}


class RemoteSocket(Generic[EmitEvents, SocketData]):
    """A socket of another server of the cluster, as ``fetch_sockets`` returns it (Node's ``RemoteSocket``):
    its details as they were when fetched, and the operations that reach it through the adapter."""

    __slots__ = ("_operator", "data", "handshake", "id", "rooms")

    def __init__(self, nsp: BroadcastNamespace, sid: str, handshake: Any, rooms: set[str], data: Any) -> None:
        # ``handshake``: a ``Handshake``, or what the other server sent when it lacks the reference's fields.
        self.id = sid
        """The socket's id."""
        self.handshake = handshake
        """Its handshake: a ``Handshake``, or what the other server sent when it lacks Node's fields."""
        self.rooms = rooms
        """The rooms it was in when fetched."""
        self.data: SocketData = data
        """Its ``data`` when fetched (a copy: changing it does not change the socket's)."""
        self._operator: BroadcastOperator[Any, Any] = BroadcastOperator(
            nsp, BroadcastOptions(rooms=frozenset((sid,)))
        )

    def __repr__(self) -> str:
        return f"<RemoteSocket {self.id}>"

    def timeout(self, seconds: float) -> RemoteEmitter[EmitEvents]:
        """Set how long the next ``emit_with_ack`` waits for the answer.

        Args:
            seconds: The time to wait, in seconds.

        Returns:
            An emitter with ``emit_with_ack``: ``await remote.timeout(5).emit_with_ack("ping")``.

        Raises:
            ValueError: ``seconds`` is out of range.
            TypeError: ``seconds`` is not a number.
        """
        return RemoteEmitter(self._operator.timeout(seconds))

    @overload
    async def emit(
        self, event: Callable[Concatenate[EmitEvents, P], object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None: ...

    @overload
    async def emit(self: RemoteSocket[Untyped, Any], event: str | float, /, *args: Any) -> None: ...

    async def emit(self, event: Any, /, *args: Any) -> None:  # type: ignore[misc]
        """Send the socket an event, through its server.

        Args:
            event: The event's name, or a method of the emit map.
            *args: The event's arguments.

        Raises:
            ValueError: ``event`` is a reserved name.
            aiosocketio.parsers.packet.EncodeError: An argument the parser cannot send.
        """
        await self._operator.emit(event, *args)

    async def join(self, rooms: str | Iterable[str]) -> None:
        """Make the socket join the room(s) on its server (``rooms`` here is not updated).

        Args:
            rooms: A room name, or several names.
        """
        await self._operator.sockets_join(rooms)

    async def leave(self, room: str) -> None:
        """Make the socket leave the room on its server (``rooms`` here is not updated).

        Args:
            room: The room's name.
        """
        await self._operator.sockets_leave(room)

    async def disconnect(self, close: bool = False) -> None:
        """Disconnect the socket, on its server.

        Args:
            close: Also close its client's connection.
        """
        await self._operator.disconnect_sockets(close)


class RemoteEmitter(Generic[EmitEvents]):
    """``remote_socket.timeout(5)``: ``emit_with_ack`` with that timeout."""

    __slots__ = ("_operator",)

    def __init__(self, operator: BroadcastOperator[Any, Any]) -> None:
        self._operator = operator

    @overload
    async def emit_with_ack(
        self, event: Callable[Concatenate[EmitEvents, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R: ...

    @overload
    async def emit_with_ack(self: RemoteEmitter[Untyped], event: str | float, /, *args: Any) -> Any: ...

    async def emit_with_ack(self, event: Any, /, *args: Any) -> Any:  # type: ignore[misc]
        """The one answer of the remote socket (like a socket's ``emit_with_ack``)."""
        responses = await self._operator.emit_with_ack(event, *args)
        return responses[0] if responses else None
