"""``Socket``: one client in one namespace (docs/protocol/socketio.md#events-and-acks, docs/protocol/socketio.md#disconnection, docs/protocol/server.md#object-model, docs/protocol/server.md#middlewares, docs/protocol/server.md#rooms), and its ``Handshake``.

Incoming events are dispatched in arrival order: catch-all listeners first, then the per-packet middlewares
(``socket.use``), then the event's listeners. A plain function runs inline; a coroutine function is started as a
task at once (tasks start in creation order). The first listener's return value is the acknowledgement when the
client asked for one. A listener that raises is logged; the connection carries on.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from types import CoroutineType
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Literal, ParamSpec, TypeVar, overload

from aiosocketio._checks import ack_timeout, room_list, type_name
from aiosocketio._emitter import _PLAIN_RESULTS, EventEmitter, call_listener, spawn, start
from aiosocketio._migration import cannot_take, check_reason_listener, describe_listener
from aiosocketio.adapters.options import BroadcastFlags, BroadcastOptions
from aiosocketio.broadcast import BroadcastOperator, check_event_name
from aiosocketio.clock import wait_for
from aiosocketio.eventmaps import EmitEvents, ListenEvents, ServerSideEvents, SocketData, Untyped, event_name
from aiosocketio.exceptions import AckTimeoutError
from aiosocketio.parsers.packet import EncodeError, Packet, PacketType
from aiosocketio.recovery import RECOVERABLE_REASONS, StoredSession

if TYPE_CHECKING:
    from aiosocketio._types import SocketClient, SocketNamespace
    from aiosocketio.adapters._types import AckCallback, AdapterServer
    from aiosocketio.engineio.socket import EngineSocket
    from aiosocketio.web import Request

__all__ = ["Handshake", "Socket"]

logger = logging.getLogger("aiosocketio.socket")

Listener = Callable[..., Any]
"""An event listener, plain or ``async``."""
P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Listener)
ReasonF = TypeVar("ReasonF", bound=Callable[[str, Any], object])
"""A ``disconnect``/``disconnecting`` listener: ``(reason, description)``."""
ErrorF = TypeVar("ErrorF", bound=Callable[[Exception], object])
"""An ``error`` listener: it gets the exception a per-packet middleware raised."""


def js_date_string(moment: datetime) -> str:
    """A date as JavaScript's ``Date.prototype.toString()`` writes it, e.g.
    ``Thu Nov 26 2026 03:04:21 GMT+0000 (Coordinated Universal Time)``."""
    local = moment.astimezone()
    offset = local.strftime("%z") or "+0000"
    name = local.tzname() or "UTC"
    if name in ("UTC", "GMT"):
        name = "Coordinated Universal Time"
    return local.strftime("%a %b %d %Y %H:%M:%S") + f" GMT{offset} ({name})"


_last_date: list[Any] = [-1, ""]


def _date_string(second: int) -> str:
    """``js_date_string`` of this second, computed once a second (it costs a few µs per handshake)."""
    if _last_date[0] != second:
        _last_date[0] = second
        _last_date[1] = js_date_string(datetime.fromtimestamp(second))
    return str(_last_date[1])


@dataclass(slots=True)
class Handshake:
    """The details of a socket's connection request (``socket.handshake``), with Node's field names and JSON
    types, so that it crosses a cluster as it is (``fetch_sockets`` on another server gets the same fields).

    It is taken from the HTTP request that opened the Engine.IO session, plus the ``auth`` payload of the
    namespace's CONNECT packet.
    """

    headers: dict[str, str]
    """The request's headers, names in lower case."""
    time: str
    """When the socket was created, as JavaScript's ``Date.toString()`` writes it."""
    address: str
    """The client's IP address (the peer of the TCP connection, or what the front-end reports)."""
    xdomain: bool
    """Whether the request came from another origin (it carried an ``Origin`` header)."""
    secure: bool
    """Whether the connection is encrypted (HTTPS/WSS)."""
    issued: int
    """When the socket was created, in milliseconds since the epoch."""
    url: str
    """The request's path and query string, as the client sent them."""
    query: dict[str, str]
    """The request's query parameters (``EIO``, ``transport`` and the client's own ``query`` option)."""
    auth: dict[str, Any] = field(default_factory=dict)
    """The ``auth`` payload the client sent with its CONNECT packet (``{}`` when none)."""

    @classmethod
    def from_request(cls, request: Request, auth: dict[str, Any]) -> Handshake:
        """For the socket layer, not needed by applications: the handshake of a new socket.

        Args:
            request: The HTTP request that opened the Engine.IO session.
            auth: The client's auth payload for the namespace.

        Returns:
            The handshake, timed now.
        """
        now = time.time()
        return cls(
            headers=request.headers.shared_dict(),  # shared with the request, like Node's handshake
            time=_date_string(int(now)),
            address=request.remote_address,
            xdomain="origin" in request.headers,
            secure=request.secure,
            issued=int(now * 1000),
            url=request.url,
            query=request.query,  # the request's parsed query, shared (Node: ``request._query``)
            auth=auth,
        )

    def to_dict(self) -> dict[str, Any]:
        """The handshake as a plain dict, with Node's field names (what goes over a cluster or to the Admin
        UI).

        Returns:
            A new dict of the fields (a copy: changing it leaves the handshake as it is).
        """
        return asdict(self)


class _Emitter(Generic[EmitEvents]):
    """Emit flags bound to one socket (``socket.timeout(5)``, ``socket.volatile``, ``socket.compress(False)``).

    An immutable view instead of flags stored on the socket: two coroutines emitting on one socket can never
    take each other's flags.
    """

    __slots__ = ("_emit", "_emit_with_ack", "_flags")

    def __init__(
        self,
        emit: Callable[[Any, tuple[Any, ...], BroadcastFlags], None],
        emit_with_ack: Callable[[Any, tuple[Any, ...], BroadcastFlags], Awaitable[Any]],
        flags: BroadcastFlags,
    ) -> None:
        self._emit = emit  # the socket's own, bound
        self._emit_with_ack = emit_with_ack
        self._flags = flags

    def _with(self, flags: BroadcastFlags) -> _Emitter[EmitEvents]:
        return _Emitter(self._emit, self._emit_with_ack, flags)

    def timeout(self, seconds: float) -> _Emitter[EmitEvents]:
        return self._with(_replace(self._flags, timeout=ack_timeout(seconds)))

    @property
    def volatile(self) -> _Emitter[EmitEvents]:
        return self._with(_replace(self._flags, volatile=True))

    def compress(self, flag: bool = True) -> _Emitter[EmitEvents]:
        return self._with(_replace(self._flags, compress=flag))

    @overload
    async def emit(
        self, event: Callable[Concatenate[EmitEvents, P], object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None: ...

    @overload
    async def emit(self: _Emitter[Untyped], event: str | float, /, *args: Any) -> None: ...

    async def emit(self, event: Any, /, *args: Any) -> None:  # type: ignore[misc]  # events take no keywords
        self._emit(event, args, self._flags)

    async def send(self, *args: Any) -> None:
        self._emit("message", args, self._flags)

    @overload
    async def emit_with_ack(
        self, event: Callable[Concatenate[EmitEvents, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R: ...

    @overload
    async def emit_with_ack(self: _Emitter[Untyped], event: str | float, /, *args: Any) -> Any: ...

    async def emit_with_ack(self, event: Any, /, *args: Any) -> Any:  # type: ignore[misc]
        return await self._emit_with_ack(event, args, self._flags)


def _replace(flags: BroadcastFlags, **changes: Any) -> BroadcastFlags:
    values = {name: getattr(flags, name) for name in ("volatile", "compress", "local", "timeout")}
    values.update(changes)
    return BroadcastFlags(**values)


_NO_FLAGS = BroadcastFlags()
#: The socket's own events whose listeners get ``(reason, description)``.
_TWO_ARGUMENT_EVENTS = frozenset({"disconnect", "disconnecting"})


class Socket(EventEmitter, Generic[ListenEvents, EmitEvents, ServerSideEvents, SocketData]):
    """One client connected to one namespace (Node's ``Socket``): what ``connection`` listeners and middlewares
    get. A client connected to two namespaces has two sockets, over one connection (``client``).

    Made by the namespace for each connection attempt, never directly.

    Its own events (listen with ``on()``): ``disconnecting`` and ``disconnect`` with ``(reason,
    description)``, the first while the socket is still in its rooms; ``error`` with the exception a
    per-packet middleware raised. Every other name is an event of the client.

    Typed by the event maps and the ``data`` type of its server (docs/guide/typing.md)."""

    __slots__ = (
        "__weakref__",
        "_acks",
        "_any_incoming",
        "_any_outgoing",
        "_closed",
        "_data",
        "_middlewares",
        "_tail",
        "client",
        "connected",
        "handshake",
        "id",
        "nsp",
        "pid",
        "recovered",
        "server",
    )

    def __init__(
        self,
        nsp: SocketNamespace,
        client: SocketClient,
        auth: dict[str, Any],
        sid: str,
        pid: str | None = None,
    ) -> None:
        super().__init__()
        self.nsp = nsp
        """The namespace this socket is connected to."""
        self.server: AdapterServer = nsp.server
        """The server."""
        self.client = client
        """The client: the Socket.IO side of the connection, shared by the sockets of the client's other
        namespaces (Node's ``socket.client``)."""
        self.id = sid
        """The socket's id, random and unique (Node's ``socket.id``); the socket is in a room of that name."""
        self.pid = pid  # the private session id, only with connection state recovery
        """The private session id with which the client can recover this socket's state after a disconnection;
        None when connection state recovery is off. Never share it."""
        self.handshake = Handshake.from_request(client.conn.request, auth)
        """The details of the connection request: headers, address, query, auth..."""
        self._data: Any = None  # ``data``, made on first use
        self.connected = False
        """Whether the socket is connected: False in the middlewares and once disconnected."""
        self.recovered = False
        """Whether this socket took back the state (id, rooms, ``data``, missed packets) of a socket that
        disconnected, by connection state recovery (docs/guide/recovery.md)."""
        self._closed = False
        self._acks: dict[int, Callable[..., None]] = {}
        # Made on first use: most sockets never get an any-listener or a middleware, and three empty lists
        # are 170 bytes of every idle connection.
        self._any_incoming: list[Listener] | None = None
        self._any_outgoing: list[Listener] | None = None
        self._middlewares: list[Callable[[list[Any]], Any]] | None = None
        self._tail: asyncio.Future[Any] | None = None

    def __repr__(self) -> str:
        return f"<Socket {self.id} nsp={self.nsp.name} connected={self.connected}>"

    # -- attributes --------------------------------------------------------------------------------------

    @property
    def data(self) -> SocketData:
        """The application's own data about this socket (shared with the cluster by ``fetch_sockets``); the
        dict is made on first use, so sockets that never use it carry none."""
        if self._data is None:
            self._data = {}
        return self._data  # type: ignore[no-any-return]

    @data.setter
    def data(self, value: SocketData) -> None:
        self._data = value
        if self.pid is not None and self.connected:
            # Assigning is the change the adapter hears of at once; an in-place change waits for save_session()
            # or the adapter's next refresh (docs/guide/recovery.md#crash).
            self.nsp.adapter.session_changed(self.id)

    async def save_session(self) -> None:
        """Store this socket's session (rooms and ``data``) now, where the adapter keeps it while the socket
        lives so that it survives a crash of this server (the Redis Streams adapter with connection state
        recovery, docs/guide/recovery.md#crash). Call it after changing ``data`` in place; joins, leaves and
        assignments to ``data`` are stored without it. Does nothing with other adapters or without recovery."""
        if self.pid is not None and self.connected:
            adapter = self.nsp.adapter
            adapter.session_changed(self.id)
            await adapter.save_sessions()

    @property
    def disconnected(self) -> bool:
        """Whether the socket is not connected (yet, or any more): ``not connected``."""
        return not self.connected

    @property
    def conn(self) -> EngineSocket:
        """The Engine.IO session under this socket (``conn.transport.name``, ``conn.on("upgrade")``...)."""
        return self.client.conn

    @property
    def request(self) -> Request:
        """The HTTP request that opened the Engine.IO session (Node's ``socket.request``): the first
        long-polling request, or the upgrade request of a client that starts with WebSocket."""
        return self.client.conn.request

    @property
    def rooms(self) -> set[str]:
        """The rooms this socket is in (a copy); holds the socket's own id while it is connected."""
        rooms = self.nsp.adapter.socket_rooms(self.id)
        return set(rooms) if rooms else set()

    # -- emitting ----------------------------------------------------------------------------------------

    @overload
    async def emit(
        self, event: Callable[Concatenate[EmitEvents, P], object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None: ...

    @overload
    async def emit(self: Socket[Any, Untyped, Any, Any], event: str | float, /, *args: Any) -> None: ...

    async def emit(self, event: Any, /, *args: Any) -> None:  # type: ignore[misc]  # events take no keywords
        """Send an event to this client: a name, or the emit map's method (docs/guide/typing.md).

        ``args`` must be what JSON (or the configured parser) can carry; anything else raises
        ``EncodeError`` here, before anything is sent. That includes an ``int``
        outside [-2**63, 2**64): JavaScript has no such number (``JSON.stringify`` refuses a BigInt), so send a
        ``str``, or a ``float`` for the nearest double. Ints beyond 2**53 are sent exactly, and a JavaScript
        client reads them as the nearest double. Once the socket is disconnected, nothing is sent.

        Args:
            event: The event's name (or a number), or a method of the emit map.
            *args: The event's arguments (``bytes`` go as binary attachments).

        Raises:
            ValueError: ``event`` is a reserved name (``connect``, ``disconnect``...).
            TypeError: ``event`` is not a name; or a ``timeout()`` was set (use ``emit_with_ack()``).
            aiosocketio.parsers.packet.EncodeError: An argument the parser cannot send.
        """
        self._emit(event, args, _NO_FLAGS)

    async def send(self, *args: Any) -> None:
        """Emit a ``message`` event: ``emit("message", *args)``.

        Args:
            *args: The message's arguments.
        """
        self._emit("message", args, _NO_FLAGS)

    @overload
    async def emit_with_ack(
        self, event: Callable[Concatenate[EmitEvents, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R: ...

    @overload
    async def emit_with_ack(
        self: Socket[Any, Untyped, Any, Any], event: str | float, /, *args: Any
    ) -> Any: ...

    async def emit_with_ack(self, event: Any, /, *args: Any) -> Any:  # type: ignore[misc]
        """Send an event and wait for the client's acknowledgement (Node's ``emitWithAck``), forever unless
        ``timeout()`` was set. ``args`` that cannot be sent raise ``EncodeError`` at once, as in ``emit()``.

        Args:
            event: The event's name, or a method of the emit map.
            *args: The event's arguments.

        Returns:
            What the client acknowledged with: its one argument, a tuple of several, or None for none.

        Raises:
            aiosocketio.AckTimeoutError: No answer within the ``timeout()``.
            ValueError: A reserved event name.
            aiosocketio.parsers.packet.EncodeError: An argument the parser cannot send.
        """
        return await self._emit_with_ack(event, args, _NO_FLAGS)

    def timeout(self, seconds: float) -> _Emitter[EmitEvents]:
        """Set how long the next ``emit_with_ack`` waits: ``await socket.timeout(5).emit_with_ack(...)``
        raises ``AckTimeoutError`` after 5 seconds without an answer.

        Args:
            seconds: The time to wait, in seconds (0 expires at once).

        Returns:
            An emitter bound to this socket with the timeout (``emit_with_ack``, and more flags).

        Raises:
            ValueError: ``seconds`` is negative, not finite, or so large it looks like milliseconds.
            TypeError: ``seconds`` is not a number.
        """
        return _Emitter(self._emit, self._emit_with_ack, BroadcastFlags(timeout=ack_timeout(seconds)))

    @property
    def volatile(self) -> _Emitter[EmitEvents]:
        """An emitter bound to this socket whose next packet is dropped, instead of queued, if the connection
        is not ready to take it right now (``await socket.volatile.emit("tick")``)."""
        return _Emitter(self._emit, self._emit_with_ack, BroadcastFlags(volatile=True))

    def compress(self, flag: bool = True) -> _Emitter[EmitEvents]:
        """Set the compress flag of the next emit (Node's ``compress``); see
        [``Server.compress()``][aiosocketio.Server.compress].

        Args:
            flag: The flag's value.

        Returns:
            An emitter bound to this socket carrying the flag.
        """
        return _Emitter(self._emit, self._emit_with_ack, BroadcastFlags(compress=flag))

    def _emit(self, event: Any, args: tuple[Any, ...], flags: BroadcastFlags) -> None:
        event = check_event_name(event)
        if flags.timeout is not None:
            raise TypeError("an emit with a timeout expects an answer: use emit_with_ack()")
        if not self.connected and self._closed:
            # Before the connection (in a namespace middleware) the packet still goes out, as in the reference:
            # the client keeps such events until its CONNECT arrives. Once disconnected, nothing is sent.
            return
        if self._any_outgoing:
            for listener in tuple(self._any_outgoing):
                call_listener(listener, event, *args)
        packet = Packet(PacketType.EVENT, self.nsp.name, [event, *args])
        if self.client.trace:
            self.client.trace_out("EVENT", self.nsp.name, packet.data)
        # recovery: through the adapter, which logs it and appends its offset (docs/protocol/socketio.md#recovery)
        if self.pid is not None:
            self.nsp.adapter.broadcast(packet, BroadcastOptions(rooms=frozenset((self.id,)), flags=flags))
            return
        self.client.write(self.server.writer.engine_items(packet), flags.volatile)

    async def _emit_with_ack(self, event: Any, args: tuple[Any, ...], flags: BroadcastFlags) -> Any:
        event = check_event_name(event)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        ack_id = self.nsp.next_ack_id()

        def on_ack(*answer: Any) -> None:
            if not future.done():
                future.set_result(answer[0] if len(answer) == 1 else (answer if answer else None))

        if self._any_outgoing:
            for listener in tuple(self._any_outgoing):
                call_listener(listener, event, *args)
        packet = Packet(PacketType.EVENT, self.nsp.name, [event, *args], ack_id)
        # Encoded before the ack is filed, so that data that cannot be sent (EncodeError) leaves nothing behind.
        items = None if self._closed else self.server.writer.engine_items(packet)
        self._acks[ack_id] = on_ack
        if items is not None:
            if self.client.trace:
                self.client.trace_out("EVENT", self.nsp.name, packet.data, ack_id)
            self.client.write(items, flags.volatile)
        if flags.timeout is None:
            return await future
        try:
            return await wait_for(self.server.clock, future, flags.timeout)
        except TimeoutError:
            self._acks.pop(ack_id, None)
            raise AckTimeoutError() from None

    def deliver(self, items: list[str | bytes], volatile: bool) -> None:
        """For adapters, not needed by applications: write encoded Engine.IO items to the client (how
        broadcasts are delivered); a volatile packet is dropped unless the transport can take it now."""
        self.client.write(items, volatile)

    def deliver_with_ack(
        self, items: list[str | bytes], volatile: bool, ack_id: int, callback: AckCallback
    ) -> None:
        """For adapters, not needed by applications: ``deliver()`` a packet that asks for acknowledgement
        ``ack_id``; ``callback`` gets the answer."""
        self._acks[ack_id] = callback
        self.client.write(items, volatile)

    # -- rooms -------------------------------------------------------------------------------------------

    async def join(self, rooms: str | Iterable[str]) -> None:
        """Join a room or several; does nothing once disconnected. A socket leaves all its rooms when it
        disconnects.

        Args:
            rooms: A room name, or several names.

        Raises:
            TypeError: A room name that is not a str.
        """
        self.join_now([rooms] if isinstance(rooms, str) else room_list(rooms))

    async def leave(self, room: str) -> None:
        """Leave a room (nothing happens if the socket is not in it).

        Args:
            room: The room's name (one: Node's ``leave`` takes one too).

        Raises:
            TypeError: ``room`` is not a str.
        """
        if not isinstance(room, str):
            raise TypeError(f"leave() takes one room name, a str, not {type_name(room)}")
        self.leave_now(room)

    def join_now(self, rooms: Iterable[str]) -> None:
        """For adapters and recovery, not needed by applications: ``join()`` without waiting; the rooms are
        joined on return."""
        # once disconnected, joining does nothing (docs/protocol/server.md#rooms)
        if self._closed or self.client.closed:
            return
        self.nsp.adapter.add_all(self.id, rooms)

    def leave_now(self, room: str) -> None:
        """For adapters, not needed by applications: ``leave()`` without waiting."""
        self.nsp.adapter.delete(self.id, room)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """Target the sockets of the namespace in the room(s), never this socket itself.

        Args:
            room: A room name, or several names.

        Returns:
            A new broadcast operator: ``await socket.to("game").emit("move", m)``.

        Raises:
            TypeError: A room name that is not a str.
        """
        return self._broadcast_operator().to(room)

    def in_(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """The same as ``to()`` (Node's ``socket.in``; ``in`` is a Python keyword)."""
        return self.to(room)

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """Target every other socket of the namespace except those in the room(s) (Node's ``socket.except``).

        Args:
            room: A room name, or several names.

        Returns:
            A new broadcast operator.

        Raises:
            TypeError: A room name that is not a str.
        """
        return self._broadcast_operator().except_(room)

    @property
    def broadcast(self) -> BroadcastOperator[EmitEvents, SocketData]:
        """A broadcast operator that targets every socket of the namespace but this one (Node's
        ``socket.broadcast``)."""
        return self._broadcast_operator()

    @property
    def local(self) -> BroadcastOperator[EmitEvents, SocketData]:
        """A broadcast operator that targets the other sockets of the namespace on this server only, not the
        rest of the cluster."""
        return self._broadcast_operator().local

    def _broadcast_operator(self) -> BroadcastOperator[EmitEvents, SocketData]:
        return BroadcastOperator(self.nsp, BroadcastOptions(except_rooms=frozenset((self.id,))))

    # -- listeners ---------------------------------------------------------------------------------------

    @overload  # type: ignore[override]  # a typed listen map takes its methods, not any string
    def on(self, event: Literal["disconnect", "disconnecting"]) -> Callable[[ReasonF], ReasonF]: ...

    @overload
    def on(self, event: Literal["disconnect", "disconnecting"], listener: ReasonF) -> ReasonF: ...

    @overload
    def on(self, event: Literal["error"]) -> Callable[[ErrorF], ErrorF]: ...

    @overload
    def on(self, event: Literal["error"], listener: ErrorF) -> ErrorF: ...

    @overload
    def on(
        self, event: Callable[Concatenate[ListenEvents, P], R]
    ) -> Callable[[Callable[P, R | Awaitable[R]]], Callable[P, R | Awaitable[R]]]: ...

    @overload
    def on(
        self, event: Callable[Concatenate[ListenEvents, P], R], listener: Callable[P, R | Awaitable[R]]
    ) -> Callable[P, R | Awaitable[R]]: ...

    @overload
    def on(self: Socket[Untyped, Any, Any, Any], event: str) -> Callable[[F], F]: ...

    @overload
    def on(self: Socket[Untyped, Any, Any, Any], event: str, listener: F) -> F: ...

    def on(self, event: Any, listener: Any = None) -> Any:
        """Listen to an event of the client: a name, or the listen map's method (docs/guide/typing.md); without
        a listener, a decorator.

        The listener gets the event's arguments. When the client asked for an acknowledgement, the first
        listener's return value (awaited for an ``async`` one) is sent as the answer: a tuple for several
        arguments, None for none. The socket's own events are ``disconnecting``, ``disconnect`` (``(reason,
        description)``) and ``error``.

        Args:
            event: The event's name, or a method of the listen map.
            listener: The function to call, plain or ``async``.

        Returns:
            ``listener``, or a decorator that registers the function it decorates and returns it.

        Raises:
            TypeError: ``event`` is not a str, ``listener`` is not callable, or a ``disconnect`` listener
                cannot take ``(reason, description)``.
        """
        if type(event) is not str:
            event = event_name(event)
        if listener is None:
            # The decorator registers directly: a connection handler registers a few listeners per connection,
            # so each skips the calls through EventEmitter.on.
            def decorator(fn: Any) -> Any:
                self._add_listener(event, fn)
                return fn

            return decorator
        self._add_listener(event, listener)
        return listener

    def _add_listener(self, event: str, listener: Listener) -> None:
        if event in _TWO_ARGUMENT_EVENTS and callable(listener):
            check_reason_listener(event, listener)
        super()._add_listener(event, listener)

    def on_any(self, listener: Listener) -> Listener:
        """Add a catch-all listener (Node's ``onAny``): called with ``(event, *args)`` for every incoming
        event, before the per-packet middlewares; its return value is not an acknowledgement.

        Args:
            listener: The function to call, plain or ``async``.

        Returns:
            ``listener``, so this works as a decorator.
        """
        if self._any_incoming is None:
            self._any_incoming = []
        self._any_incoming.append(listener)
        return listener

    def prepend_any(self, listener: Listener) -> Listener:
        """Like ``on_any()``, but the listener is called before the catch-all listeners added so far (Node's
        ``prependAny``).

        Args:
            listener: The function to call.

        Returns:
            ``listener``.
        """
        if self._any_incoming is None:
            self._any_incoming = []
        self._any_incoming.insert(0, listener)
        return listener

    def off_any(self, listener: Listener | None = None) -> None:
        """Remove a catch-all listener, or all of them (Node's ``offAny``).

        Args:
            listener: The listener to remove (nothing happens if it is not one); None removes every one.
        """
        _remove(self._any_incoming, listener)

    def listeners_any(self) -> list[Listener]:
        """The catch-all listeners, in call order (Node's ``listenersAny``).

        Returns:
            A copy of the list.
        """
        return list(self._any_incoming or ())

    def on_any_outgoing(self, listener: Listener) -> Listener:
        """Add a catch-all listener of outgoing events (Node's ``onAnyOutgoing``): called with
        ``(event, *args)`` for every event sent to this socket's client, broadcasts included.

        Args:
            listener: The function to call, plain or ``async``.

        Returns:
            ``listener``, so this works as a decorator.
        """
        self.nsp.outgoing_listeners = True
        if self._any_outgoing is None:
            self._any_outgoing = []
        self._any_outgoing.append(listener)
        return listener

    def prepend_any_outgoing(self, listener: Listener) -> Listener:
        """Like ``on_any_outgoing()``, but the listener is called before those added so far (Node's
        ``prependAnyOutgoing``).

        Args:
            listener: The function to call.

        Returns:
            ``listener``.
        """
        self.nsp.outgoing_listeners = True
        if self._any_outgoing is None:
            self._any_outgoing = []
        self._any_outgoing.insert(0, listener)
        return listener

    def off_any_outgoing(self, listener: Listener | None = None) -> None:
        """Remove a catch-all listener of outgoing events, or all of them (Node's ``offAnyOutgoing``).

        Args:
            listener: The listener to remove (nothing happens if it is not one); None removes every one.
        """
        _remove(self._any_outgoing, listener)

    def listeners_any_outgoing(self) -> list[Listener]:
        """The catch-all listeners of outgoing events, in call order (Node's ``listenersAnyOutgoing``).

        Returns:
            A copy of the list.
        """
        return list(self._any_outgoing or ())

    def use(self, middleware: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
        """Add a per-packet middleware: a function run for every incoming event, before its listeners.

        Middlewares run in the order they were added, one event after the other, and get the packet as a
        list ``[event, *args]`` that they may change. Raising drops the event and emits ``error`` on the
        socket with the exception. See docs/guide/middlewares.md.

        Args:
            middleware: A function ``(packet)``, plain or ``async``.

        Returns:
            ``middleware``, so this works as a decorator.

        Raises:
            TypeError: ``middleware`` is not callable.
        """
        if not callable(middleware):
            raise TypeError("socket.use() takes a function (packet) -> None, sync or async")
        if self._middlewares is None:
            self._middlewares = []
        self._middlewares.append(middleware)
        return middleware

    # -- incoming ----------------------------------------------------------------------------------------

    def on_packet(self, packet: Packet) -> None:
        """For the client layer, not needed by applications: a packet for this socket from its client: EVENT,
        ACK or DISCONNECT (others are the client's)."""
        kind = packet.type
        if kind is PacketType.EVENT or kind is PacketType.BINARY_EVENT:
            data = packet.data
            # an EVENT without data is ignored (docs/protocol/socketio.md#default-parser, N4)
            if isinstance(data, list) and data:
                self.on_event(data, packet.id)
        elif kind is PacketType.ACK or kind is PacketType.BINARY_ACK:
            callback = self._acks.pop(packet.id, None) if packet.id is not None else None
            if callback is not None:
                data = packet.data if isinstance(packet.data, list) else []
                try:
                    callback(*data)
                except Exception:
                    logger.exception("error in an acknowledgement callback")
        elif kind is PacketType.DISCONNECT:
            self._on_disconnect_packet()

    def on_event(self, data: list[Any], ack_id: int | None) -> None:
        """For the client layer, not needed by applications: an incoming event; ``data`` is ``[name, *args]``
        (never empty), ``ack_id`` the id to answer."""
        event = data[0]
        args = data[1:]
        if self._any_incoming:
            for listener in tuple(self._any_incoming):
                call_listener(listener, event, *args)
        if self._middlewares:
            previous = self._tail
            self._tail = spawn(self._through_middlewares(previous, event, args, ack_id))
            return
        self._dispatch(event, args, ack_id)

    async def _through_middlewares(
        self, previous: Awaitable[Any] | None, event: Any, args: list[Any], ack_id: int | None
    ) -> None:
        if previous is not None:
            try:
                await previous
            except Exception:
                pass
        packet = [event, *args]
        for middleware in tuple(self._middlewares or ()):
            try:
                result = middleware(packet)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                if self.connected:
                    self.emit_reserved("error", exc)
                return
        if self.connected:
            self._dispatch(packet[0], packet[1:], ack_id)

    def emit_reserved(self, event: str, *args: Any) -> None:
        """For the other layers of the package, not needed by applications: fire a local event (``error``,
        ``disconnecting``, ``disconnect``) on this socket's listeners, without sending anything."""
        self.emit_event(event, *args)

    def _dispatch(self, event: Any, args: list[Any], ack_id: int | None) -> None:
        listeners = self._listeners.get(event) if isinstance(event, str) else self._listeners.get(str(event))
        if not listeners:
            return
        first = True
        for listener in listeners:  # a tuple (EventEmitter): changes made by a handler apply next time
            try:
                result = listener(*args)
            except TypeError as exc:
                if cannot_take(listener, args, exc):
                    self._log_mismatch(listener, event, args, ack_id if first else None)
                else:
                    logger.exception("error in the handler of event %r", event)
                first = False
                continue
            except Exception:
                logger.exception("error in the handler of event %r", event)
                first = False
                continue
            kind = type(result)  # is_awaitable() inlined, with its common answers first
            if kind is CoroutineType or (kind not in _PLAIN_RESULTS and inspect.isawaitable(result)):
                if first and ack_id is not None:
                    start(self._ack_when_done(result, ack_id))
                else:
                    start(result)
            elif first and ack_id is not None:
                self._send_ack(ack_id, result)
            first = False

    def _log_mismatch(self, listener: Listener, event: Any, args: list[Any], ack_id: int | None) -> None:
        """One line for a handler that cannot take the arguments a client sent (no traceback: the mistake is
        the handler's signature, which the line shows). As with a JavaScript handler that never calls its
        callback, no acknowledgement is sent; the line says so when one was asked for."""
        logger.error(
            "namespace %s, event %r: the handler %s cannot take the %d argument%s the client sent%s",
            self.nsp.name,
            event,
            describe_listener(listener),
            len(args),
            "" if len(args) == 1 else "s",
            "; the client asked for an acknowledgement and gets none" if ack_id is not None else "",
        )

    async def _ack_when_done(self, awaitable: Awaitable[Any], ack_id: int) -> None:
        try:
            result = await awaitable
        except Exception:
            logger.exception("error in an event handler")
            return
        self._send_ack(ack_id, result)

    def _send_ack(self, ack_id: int, result: Any) -> None:
        if not self.connected:
            return
        if result is None:
            args: tuple[Any, ...] = ()
        elif isinstance(result, tuple):
            args = result
        else:
            args = (result,)
        if self.client.trace:
            self.client.trace_out("ACK", self.nsp.name, None, ack_id)
        writer = self.server.writer
        plain_ack = writer.plain_ack
        if plain_ack is not None:
            # The hot path: plain arguments make one text packet, which goes to the session as it is.
            text = plain_ack(self.nsp.name, ack_id, args)
            if text is not None:
                self.client.conn.send_encoded("4" + text)
                return
        try:
            items = writer.ack_items(self.nsp.name, ack_id, list(args))
        except EncodeError as exc:
            # The handler's return value cannot be sent, and nobody waits for the error: say which handler
            # and why (the stack would only show the write path). The client gets no acknowledgement.
            logger.error(
                "cannot send acknowledgement %d of socket %s (%s): %s", ack_id, self.id, self.nsp.name, exc
            )
            return
        self.client.write(items, False)

    # -- disconnecting -----------------------------------------------------------------------------------

    async def disconnect(self, close: bool = False) -> None:
        """Disconnect the socket from its namespace: the client gets a DISCONNECT packet, and ``disconnecting``
        then ``disconnect`` fire with the reason ``"server namespace disconnect"``. Nothing happens if it is
        already disconnected.

        Args:
            close: Close the whole connection too: the client's sockets in its other namespaces are
                disconnected the same way first.
        """
        self.disconnect_now(close)

    def disconnect_now(self, close: bool) -> None:
        """For adapters and the client layer, not needed by applications: ``disconnect()`` without
        waiting."""
        if not self.connected:
            return
        if close:
            self.client.disconnect_all_and_close()
            return
        if self.client.trace:
            self.client.trace_out("DISCONNECT", self.nsp.name)
        self.client.write(
            self.server.writer.engine_items(Packet(PacketType.DISCONNECT, self.nsp.name)), False
        )
        self.on_close("server namespace disconnect")

    def _on_disconnect_packet(self) -> None:
        # One loop turn later, as the reference hands packets to its sockets: an Engine.IO close that came with
        # the DISCONNECT (one polling POST ``41\x1e1``, the way python-socketio's client leaves) closes the
        # connection first, so the socket leaves with "transport close", as it does there. Only DISCONNECT
        # waits: events keep the direct path.
        asyncio.get_running_loop().call_soon(self.on_close, "client namespace disconnect")

    def on_close(self, reason: str, description: Any = None) -> None:
        """For the client layer, not needed by applications: close this socket with ``reason``
        (docs/protocol/socketio.md#disconnection): ``disconnecting`` while in the rooms, then ``disconnect``."""
        if not self.connected:
            return
        if logger.isEnabledFor(logging.DEBUG):  # the arguments are not even gathered otherwise
            logger.debug(
                "session %s: socket %s left namespace %s (%s)", self.client.id, self.id, self.nsp.name, reason
            )
        self.emit_reserved("disconnecting", reason, description)
        if self.pid is not None:
            if reason in RECOVERABLE_REASONS:
                data: Any = self.data  # whatever the application keeps there, as it is
                session = StoredSession(self.id, self.pid, self.rooms, data)
                start(self.nsp.adapter.persist_session(session))
            else:
                start(self.nsp.adapter.discard_session(self.id, self.pid))
        self.nsp.adapter.delete_all(self.id)
        self.nsp.remove(self)
        self.client.remove(self)
        self.connected = False
        self._closed = True
        self._acks.clear()
        self.emit_reserved("disconnect", reason, description)


def _remove(listeners: list[Listener] | None, listener: Listener | None) -> None:
    if listeners is None:
        return
    if listener is None:
        listeners.clear()
    elif listener in listeners:
        listeners.remove(listener)
