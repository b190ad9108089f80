"""``Namespace`` and ``ParentNamespace`` (docs/protocol/socketio.md#connecting, docs/protocol/server.md#middlewares, docs/protocol/server.md#namespaces): sockets, middlewares, the connection flow.

A namespace owns its adapter (rooms) and its connected sockets. A connection attempt runs the namespace
middlewares on a socket that is not connected yet; on success the socket joins its own room, the client gets the
CONNECT reply and ``connection`` fires, so whatever the handler emits comes after the reply.
A ``ParentNamespace`` is the result of ``io.of(regex)`` or ``io.of(callable)``: it creates a child namespace for
each matching name, handing it the middlewares and ``connection`` listeners it has at that moment.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Literal, ParamSpec, TypeVar, overload

from aiosocketio._checks import ACK_TIMEOUT_LIMIT, seconds
from aiosocketio._emitter import EventEmitter, Listener, call_listener, spawn
from aiosocketio._migration import check_namespace_listener, emit_keywords_error
from aiosocketio.broadcast import BroadcastOperator, FetchedSocket, RemoteSocket
from aiosocketio.eventmaps import EmitEvents, ListenEvents, ServerSideEvents, SocketData, Untyped, event_name
from aiosocketio.exceptions import ConnectError
from aiosocketio.parsers.packet import Packet, PacketType
from aiosocketio.socket import Handshake, Socket

if TYPE_CHECKING:
    from aiosocketio._types import ClientSocket, NamespaceClient, NamespaceServer
    from aiosocketio.adapters.base import Adapter
    from aiosocketio.adapters.options import BroadcastOptions

__all__ = ["Namespace", "ParentNamespace"]

logger = logging.getLogger("aiosocketio.namespace")

Middleware = Callable[[Socket[Any, Any, Any, Any]], Any]
"""A connection middleware: ``(socket)``, plain or ``async``."""
P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Listener)
SERVER_SIDE_RESERVED = frozenset({"connect", "connection", "new_namespace"})
"""The names ``server_side_emit`` refuses: the server's own events."""


class Namespace(EventEmitter, Generic[ListenEvents, EmitEvents, ServerSideEvents, SocketData]):
    """One namespace (``io.of("/admin")``): a channel of its own over the clients' connections, with its own
    middlewares, sockets, rooms and adapter. See docs/guide/namespaces.md.

    Made by [``Server.of()``][aiosocketio.Server.of], never directly. Its emitting and utility methods reach
    its sockets (on every server of a cluster), like the server's, which are the main namespace's.

    Typed by its server's event maps and ``data`` type (docs/guide/typing.md)."""

    __slots__ = (
        "__weakref__",
        "_ack_id",
        "_middlewares",
        "_parent",
        "adapter",
        "name",
        "outgoing_listeners",
        "server",
        "sockets",
    )

    def __init__(
        self, server: NamespaceServer, name: str, parent: ParentNamespace[Any, Any, Any, Any] | None = None
    ) -> None:
        super().__init__()
        self.server = server
        """The server this namespace belongs to."""
        self.name = name
        """The namespace's name, such as ``"/"`` or ``"/admin"``."""
        self.sockets: dict[str, Socket[ListenEvents, EmitEvents, ServerSideEvents, SocketData]] = {}
        """The sockets connected to this namespace on this server, by id (Node's ``nsp.sockets``); do not
        change it."""
        self._middlewares: list[Middleware] = []
        self._ack_id = 0
        self._parent = parent
        # Set by the first on_any_outgoing() of one of its sockets: until then broadcasts skip looking for them.
        self.outgoing_listeners = False
        """For the broadcast layer, not needed by applications: whether a socket of this namespace has ever
        had an ``on_any_outgoing`` listener."""
        self.adapter: Adapter = server.create_adapter(self)
        """The namespace's adapter (Node's ``nsp.adapter``): its rooms, and the link to the other servers of
        a cluster; it emits ``create-room``, ``delete-room``, ``join-room`` and ``leave-room``."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def _target(self) -> str:
        """How a program names this namespace, for messages: ``io`` or ``io.of('/admin')``."""
        return "io" if self.name == "/" else f"io.of({self.name!r})"

    @overload  # type: ignore[override]  # a typed map takes its methods, not any string
    def on(  # type: ignore[overload-overlap]
        self, event: Literal["connection", "connect"]
    ) -> Callable[
        [Callable[[Socket[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], object]],
        Callable[[Socket[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], object],
    ]: ...

    @overload
    def on(
        self,
        event: Literal["connection", "connect"],
        listener: Callable[[Socket[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], object],
    ) -> Callable[[Socket[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], object]: ...

    @overload
    def on(
        self, event: Callable[Concatenate[ServerSideEvents, P], R]
    ) -> Callable[[Callable[P, R | Awaitable[R]]], Callable[P, R | Awaitable[R]]]: ...

    @overload
    def on(
        self, event: Callable[Concatenate[ServerSideEvents, P], R], listener: Callable[P, R | Awaitable[R]]
    ) -> Callable[P, R | Awaitable[R]]: ...

    @overload
    def on(self: Namespace[Any, Any, Untyped, Any], event: str) -> Callable[[F], F]: ...

    @overload
    def on(self: Namespace[Any, Any, Untyped, Any], event: str, listener: F) -> F: ...

    def on(self, event: Any, listener: Any = None) -> Any:
        """Listen to an event of the namespace; without a listener, a decorator.

        ``connection`` (or ``connect``) fires with each ``Socket`` that joins the namespace. Any other name is
        an event sent to this namespace by another server of the cluster (``server_side_emit``): a name, or
        the server-side map's method (docs/guide/typing.md).

        Args:
            event: The event's name, or a method of the server-side event map.
            listener: The function to call, plain or ``async``.

        Returns:
            ``listener``, or a decorator that registers the function it decorates and returns it.

        Raises:
            TypeError: ``event`` is not a str, ``listener`` is not callable, or it is written for
                python-socketio and would fail here (a ``connection`` handler that cannot take the socket...):
                the message says what to write instead.
        """
        event = event_name(event)
        if listener is None:
            return EventEmitter.on(self, event)
        return EventEmitter.on(self, event, listener)

    def _add_listener(self, event: str, listener: Listener) -> None:
        if isinstance(event, str) and callable(listener):
            check_namespace_listener(self._target(), event, listener)
        super()._add_listener(event, listener)

    # -- setup -------------------------------------------------------------------------------------------

    def use(
        self, middleware: Callable[[Socket[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], Any]
    ) -> Callable[[Socket[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], Any]:
        """Add a connection middleware: a function run for every connection attempt, before the socket joins.

        Middlewares run in the order they were added, on a socket that is not connected yet (its
        ``handshake``, ``data``... can be read and set). Raising refuses the connection: the client gets a
        ``connect_error`` with the exception's message (a ``ConnectError`` also chooses its ``data``), and the
        next middlewares do not run. See docs/guide/middlewares.md.

        Args:
            middleware: A function ``(socket)``, plain or ``async``.

        Returns:
            ``middleware``, so this works as a decorator.

        Raises:
            TypeError: ``middleware`` is not callable.
        """
        if not callable(middleware):
            raise TypeError(
                "use() takes a function (socket) -> None, sync or async; raise ConnectError to refuse"
            )
        self._middlewares.append(middleware)
        return middleware

    @property
    def has_middlewares(self) -> bool:
        """Whether a middleware was registered with :meth:`use` (a connection then runs application code
        before it is accepted)."""
        return bool(self._middlewares)

    def next_ack_id(self) -> int:
        """For sockets and broadcasts, not needed by applications: the next acknowledgement id.

        Ack ids come from one counter per namespace (docs/protocol/socketio.md#events-and-acks), shared by its
        sockets and broadcasts."""
        ack_id = self._ack_id
        self._ack_id = ack_id + 1
        return ack_id

    def check_not_parent(self, what: str) -> None:
        """For the broadcast layer, not needed by applications: raise ``TypeError`` when ``what()`` is called
        on a parent namespace (it has no sockets of its own); a namespace with sockets lets it through.

        Args:
            what: The method's name, for the message.
        """

    # -- connection flow ---------------------------------------------------------------------------------

    async def attempt(self, client: NamespaceClient, auth: dict[str, Any]) -> None:
        """For the client layer, not needed by applications: one connection attempt
        (docs/protocol/socketio.md#connecting).

        Recovery if asked and possible (docs/protocol/socketio.md#recovery), the middlewares, then either the
        CONNECT reply and ``connection``, or a CONNECT_ERROR.

        Args:
            client: The client asking to join.
            auth: The auth payload the client sent (``{}`` when none).
        """
        server = self.server
        recovery = server.connection_state_recovery
        session = None
        if recovery is not None:
            pid, offset = auth.get("pid"), auth.get("offset")
            if isinstance(pid, str) and isinstance(offset, str):
                session = await self.adapter.restore_session(pid, offset)
        if session is not None:
            stale = self.sockets.get(session.sid)
            if stale is not None:
                # The client is back before this server noticed that its old connection died: possible when the
                # adapter keeps the sessions of live sockets (docs/guide/recovery.md#crash). The old socket goes
                # first, as the dead transport it sits on, so that two sockets never share the id and its rooms.
                stale.on_close("transport close")
            socket = Socket(self, client, auth, session.sid, pid=session.pid)
            socket.recovered = True
            socket.data = session.data
            socket.join_now(session.rooms)
            run_middlewares = not recovery["skip_middlewares"]  # type: ignore[index]
        else:
            # a v2 client (docs/protocol/engineio-v3.md): its ids are derived from the Engine.IO id
            if client.conn.protocol == 3:
                sid = client.id if self.name == "/" else f"{self.name}#{client.id}"
            else:
                sid = server.new_socket_id()
            socket = Socket(self, client, auth, sid, pid=server.new_socket_id() if recovery else None)
            run_middlewares = True
        error: tuple[str, Any] | None = None
        for middleware in tuple(self._middlewares) if run_middlewares else ():
            try:
                result = middleware(socket)
                if inspect.isawaitable(result):
                    await result
            except ConnectError as exc:
                error = (exc.message, exc.data)
                break
            except Exception as exc:
                error = (str(exc), None)
                break
        if client.closed:
            self.adapter.delete_all(socket.id)
            return
        if error is not None:
            self.adapter.delete_all(socket.id)
            client.connect_failed(self.name, error[0], error[1])
            self._maybe_cleanup()
            return
        self._connect(client, socket, session.missed_packets if session is not None else ())

    def _connect(
        self, client: NamespaceClient, socket: Socket[Any, Any, Any, Any], missed: Iterable[list[Any]] = ()
    ) -> None:
        self.sockets[socket.id] = socket
        socket.connected = True
        self.adapter.add_all(socket.id, (socket.id,))
        if socket.pid is not None:
            self.adapter.session_changed(socket.id)
        for data in missed:
            # Before the CONNECT reply, as the reference sends them: socket.io-client buffers them and emits them
            # just before its "connect" event.
            socket.deliver(self.server.writer.engine_items(Packet(PacketType.EVENT, self.name, data)), False)
        client.connect_succeeded(socket)
        self.emit_event("connect", socket)
        self.emit_event("connection", socket)

    def remove(self, socket: ClientSocket) -> None:
        """For sockets, not needed by applications: ``socket`` disconnected, so forget it (and maybe this
        namespace, see ``cleanup_empty_child_namespaces``)."""
        if self.sockets.pop(socket.id, None) is not None:
            self._maybe_cleanup()

    def _maybe_cleanup(self) -> None:
        parent = self._parent
        if parent is None or self.sockets or not self.server.cleanup_empty_child_namespaces:
            return
        parent.remove_child(self)
        self.server.remove_namespace(self)
        spawn(self.adapter.close())

    # -- broadcasting ------------------------------------------------------------------------------------

    def _operator(self) -> BroadcastOperator[EmitEvents, SocketData]:
        return BroadcastOperator(self)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """Target the sockets of this namespace in a room or several, for the next emit or operation.

        Args:
            room: A room name, or several names; a socket in any of them is targeted (once).

        Returns:
            A new broadcast operator; chain more targets and flags, then call ``emit``...

        Raises:
            TypeError: A room name that is not a str.
        """
        return self._operator().to(room)

    def in_(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """The same as ``to()`` (Node's ``nsp.in``; ``in`` is a Python keyword)."""
        return self._operator().to(room)

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """Leave out the sockets of this namespace in a room or several (Node's ``nsp.except``).

        Args:
            room: A room name, or several names.

        Returns:
            A new broadcast operator that targets every other socket (or the targets chained after it).

        Raises:
            TypeError: A room name that is not a str.
        """
        return self._operator().except_(room)

    @property
    def local(self) -> BroadcastOperator[EmitEvents, SocketData]:
        """A broadcast operator that reaches only the sockets connected to this server, not the rest of the
        cluster."""
        return self._operator().local

    @property
    def volatile(self) -> BroadcastOperator[EmitEvents, SocketData]:
        """A broadcast operator whose packets are dropped, instead of queued, for the clients whose connection
        is not ready to take them right now."""
        return self._operator().volatile

    def compress(self, flag: bool = True) -> BroadcastOperator[EmitEvents, SocketData]:
        """Set the compress flag of the next broadcast (Node's ``compress``); see
        [``Server.compress()``][aiosocketio.Server.compress].

        Args:
            flag: The flag's value.

        Returns:
            A new broadcast operator carrying the flag.
        """
        return self._operator().compress(flag)

    def timeout(self, seconds: float) -> BroadcastOperator[EmitEvents, SocketData]:
        """Set how long the next ``emit_with_ack`` waits for the clients' acknowledgements.

        Args:
            seconds: The time to wait, in seconds.

        Returns:
            A new broadcast operator carrying the timeout.

        Raises:
            ValueError: ``seconds`` is negative, not finite or too large.
            TypeError: ``seconds`` is not a number.
        """
        return self._operator().timeout(seconds)

    @overload
    async def emit(
        self, event: Callable[Concatenate[EmitEvents, P], object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None: ...

    @overload
    async def emit(
        self: Namespace[Any, Untyped, Any, Any], event: str | float, /, *args: Any, **python_socketio: Any
    ) -> None: ...

    async def emit(self, event: Any, /, *args: Any, **python_socketio: Any) -> None:
        """Send an event to every socket of this namespace (on every server of a cluster).

        Args:
            event: The event's name (or a number), or a method of the emit map (docs/guide/typing.md).
            *args: The event's arguments: what the parser can carry.
            **python_socketio: Not accepted: python-socketio's ``room=``, ``to=``, ``skip_sid=``... raise an
                error that shows the call to write here instead.

        Raises:
            ValueError: ``event`` is a reserved name.
            TypeError: ``event`` is not a name; or keyword arguments were given.
            aiosocketio.parsers.packet.EncodeError: An argument the parser cannot send.
        """
        if python_socketio:
            raise emit_keywords_error(self._target(), "emit", event, python_socketio)
        await self._operator().emit(event, *args)

    async def send(self, *args: Any, **python_socketio: Any) -> None:
        """Emit a ``message`` event to every socket of this namespace: ``emit("message", *args)``.

        Args:
            *args: The message's arguments.
            **python_socketio: Not accepted, as in ``emit()``.
        """
        if python_socketio:
            raise emit_keywords_error(self._target(), "send", None, python_socketio)
        await self._operator().send(*args)

    @overload
    async def emit_with_ack(
        self, event: Callable[Concatenate[EmitEvents, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> list[R]: ...

    @overload
    async def emit_with_ack(
        self: Namespace[Any, Untyped, Any, Any], event: str | float, /, *args: Any
    ) -> list[Any]: ...

    async def emit_with_ack(self, event: Any, /, *args: Any) -> list[Any]:  # type: ignore[misc]
        """Send an event to every socket of this namespace and wait for each client's acknowledgement (Node's
        ``nsp.timeout(ms).emitWithAck``); needs a ``timeout()`` first.

        Args:
            event: The event's name, or a method of the emit map.
            *args: The event's arguments.

        Returns:
            One answer per client (the first argument it acknowledged with), in arrival order.

        Raises:
            ValueError: No timeout was set, or a reserved event name.
            aiosocketio.AckTimeoutError: Not every client answered in time; its ``responses`` holds the
                answers that came.
        """
        return await self._operator().emit_with_ack(event, *args)

    @overload
    async def fetch_sockets(self: Namespace[Any, Untyped, Any, Any]) -> list[Any]: ...

    @overload
    async def fetch_sockets(self) -> list[FetchedSocket[EmitEvents, SocketData]]: ...

    async def fetch_sockets(self) -> list[Any]:
        """The sockets of this namespace, on every server of the cluster (Node's ``fetchSockets``).

        Returns:
            The ``Socket`` objects of this server and a ``RemoteSocket`` for each socket of another server.

        Raises:
            TypeError: Called on a parent namespace (call it on a child).
            TimeoutError: Another server of the cluster did not answer in time (with a cluster adapter).
        """
        return await self._operator().fetch_sockets()

    async def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make every socket of this namespace join the room(s), on every server (Node's ``socketsJoin``);
        chain ``to()`` first to pick the sockets.

        Args:
            rooms: A room name, or several names.
        """
        await self._operator().sockets_join(rooms)

    async def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make every socket of this namespace leave the room(s), on every server (Node's ``socketsLeave``).

        Args:
            rooms: A room name, or several names.
        """
        await self._operator().sockets_leave(rooms)

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket of this namespace, on every server (Node's ``disconnectSockets``).

        Args:
            close: Also close the clients' connections (and so their other namespaces).
        """
        await self._operator().disconnect_sockets(close)

    async def all_sockets(self) -> set[str]:
        """The ids of the sockets of this namespace, on every server (Node's ``allSockets``, deprecated there
        in favour of ``fetch_sockets()``).

        Returns:
            The socket ids.
        """
        return await self._operator().all_sockets()

    def notify_outgoing(self, options: BroadcastOptions, event: Any, args: tuple[Any, ...]) -> None:
        """For the broadcast layer, not needed by applications: run the ``on_any_outgoing`` listeners of the
        sockets a broadcast reaches (skipped when none has one)."""
        if not self.outgoing_listeners:
            return
        sockets = self.sockets
        for sid in self.adapter.select(options):
            socket = sockets.get(sid)
            if socket is not None:
                for listener in socket.listeners_any_outgoing():
                    call_listener(listener, event, *args)

    # -- between servers ---------------------------------------------------------------------------------

    @overload
    async def server_side_emit(
        self, event: Callable[Concatenate[ServerSideEvents, P], object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None: ...

    @overload
    async def server_side_emit(
        self: Namespace[Any, Any, Untyped, Any], event: str, /, *args: Any
    ) -> None: ...

    async def server_side_emit(self, event: Any, /, *args: Any) -> None:  # type: ignore[misc]
        """Send an event to this namespace on every other server of the cluster (Node's ``serverSideEmit``);
        their ``nsp.on(event)`` listeners get ``args``.

        Args:
            event: The event's name, or a method of the server-side event map.
            *args: The event's arguments.

        Raises:
            TypeError: ``event`` is not a str.
            ValueError: ``event`` is one the server uses itself (``connect``, ``connection``,
                ``new_namespace``).
        """
        event = event_name(event)
        check_server_side_name(event)
        await self.adapter.server_side_emit([event, *args])

    @overload
    async def server_side_emit_with_ack(
        self, event: Callable[Concatenate[ServerSideEvents, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> list[R]: ...

    @overload
    async def server_side_emit_with_ack(
        self: Namespace[Any, Any, Untyped, Any], event: str, /, *args: Any, timeout: float | None = None
    ) -> list[Any]: ...

    async def server_side_emit_with_ack(  # type: ignore[misc]
        self, event: Any, /, *args: Any, timeout: float | None = None
    ) -> list[Any]:
        """Like ``server_side_emit()``, and wait for every other server's answer (Node's
        ``serverSideEmitWithAck``): the return value of its first listener of the event.

        The typed form, with the server-side map's method, has no ``timeout=``: the adapter's default applies.

        Args:
            event: The event's name, or a method of the server-side event map.
            *args: The event's arguments.
            timeout: Seconds to wait for the answers; None for the adapter's default.

        Returns:
            One answer per other server.

        Raises:
            TypeError: ``event`` is not a str.
            ValueError: ``event`` is reserved, or ``timeout`` is out of range.
            aiosocketio.AckTimeoutError: Not every server answered in time (``responses`` holds the answers
                that came).
        """
        event = event_name(event)
        check_server_side_name(event)
        if timeout is not None:
            timeout = seconds("timeout", timeout, limit=ACK_TIMEOUT_LIMIT)
        return await self.adapter.server_side_emit_with_ack([event, *args], timeout)

    def on_server_side_emit(self, packet: list[Any], ack: Callable[[Any], None] | None = None) -> None:
        """For adapters, not needed by applications: an event from another server. The first listener's
        return value is the response, given to ``ack`` when the sender waits for one.

        Args:
            packet: ``[event, *args]``.
            ack: Where the response goes, or None when the sender waits for none.
        """
        event, *args = packet
        listeners = self._listeners.get(event)
        if not listeners:
            return
        for index, listener in enumerate(tuple(listeners)):
            if index == 0 and ack is not None:
                spawn(_respond(listener, args, ack))
            else:
                call_listener(listener, *args)

    def remote_socket(
        self, sid: str, handshake: Any, rooms: set[str], data: Any
    ) -> RemoteSocket[EmitEvents, SocketData]:
        """For adapters, not needed by applications: a socket of another server as ``fetch_sockets`` returns
        it.

        Args:
            sid: The socket's id.
            handshake: Its handshake as the other server sent it.
            rooms: The rooms it is in.
            data: Its ``data``.
        """
        return RemoteSocket(self, sid, _remote_handshake(handshake), rooms, data)


_HANDSHAKE_FIELDS = frozenset(field.name for field in fields(Handshake))


def _remote_handshake(value: Any) -> Any:
    """A received handshake as our ``Handshake`` when it has the reference's fields, else as it came."""
    if isinstance(value, dict) and set(value) >= _HANDSHAKE_FIELDS:
        return Handshake(**{name: value[name] for name in _HANDSHAKE_FIELDS})
    return value


async def _respond(listener: Callable[..., Any], args: list[Any], ack: Callable[[Any], None]) -> None:
    result = listener(*args)
    if inspect.isawaitable(result):
        result = await result
    ack(result)


def check_server_side_name(event: Any) -> None:
    """Refuse what cannot be a server-side event's name (a non-str, or a name the server uses itself)."""
    if not isinstance(event, str):
        raise TypeError(f"a server-side event name is a str, not {type(event).__name__}")
    if event in SERVER_SIDE_RESERVED:
        raise ValueError(f'"{event}" is a reserved event name for server_side_emit: pick another name')


class ParentNamespace(Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]):
    """A dynamic namespace: a regex (searched in the name) or a predicate ``(name, auth) -> bool``."""

    __slots__ = ("_children", "_matcher")

    _count = 0

    def __init__(self, server: NamespaceServer, matcher: re.Pattern[str] | Callable[..., Any]) -> None:
        name = f"/_{ParentNamespace._count}"
        ParentNamespace._count += 1
        super().__init__(server, name)
        self._matcher = matcher
        self._children: set[Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]] = set()

    @property
    def matcher(self) -> re.Pattern[str] | Callable[..., Any]:
        """The regex or the predicate given to ``io.of()``."""
        return self._matcher

    async def matches(self, name: str, auth: dict[str, Any]) -> bool:
        """Whether a child named ``name`` may be created for a client with ``auth`` (a failing predicate: no)."""
        matcher = self._matcher
        if isinstance(matcher, re.Pattern):
            return matcher.search(name) is not None
        try:
            result = matcher(name, auth)
            if inspect.isawaitable(result):
                result = await result
        except Exception:
            logger.debug("dynamic namespace predicate failed for %r", name, exc_info=True)
            return False
        return bool(result)

    def create_child(self, name: str) -> Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]:
        """The child namespace ``name``, with the middlewares and connection listeners this one has now."""
        child: Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData] = Namespace(
            self.server, name, parent=self
        )
        for middleware in self._middlewares:
            child.use(middleware)
        for event in ("connect", "connection"):
            for listener in self.listeners(event):
                EventEmitter.on(child, event, listener)
        self._children.add(child)
        return child

    @property
    def children(self) -> set[Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]]:
        """The child namespaces created so far (a copy)."""
        return set(self._children)

    def remove_child(self, child: Namespace[Any, Any, Any, Any]) -> None:
        """``child`` is going away (it was empty and ``cleanup_empty_child_namespaces`` is on)."""
        self._children.discard(child)

    def check_not_parent(self, what: str) -> None:
        """For the broadcast layer, not needed by applications: refuse ``what()``, which needs sockets.

        Raises:
            TypeError: Always: a parent namespace has no sockets of its own.
        """
        raise TypeError(f"{what}() is not supported on a parent namespace: call it on a child namespace")

    async def emit(self, event: Any, /, *args: Any, **python_socketio: Any) -> None:
        """Send an event to every socket of every child namespace; see
        [``Namespace.emit()``][aiosocketio.Namespace.emit]."""
        for child in tuple(self._children):
            await child.emit(event, *args, **python_socketio)

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """Target the room(s) in every child namespace; the result can only chain ``to``/``in_``/``except_``
        and ``emit``."""
        return _FanOut([child.to(room) for child in self._children])  # type: ignore[return-value]

    def in_(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """The same as ``to()`` (Node's ``in``)."""
        return self.to(room)

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """Leave out the room(s) in every child namespace; chains as ``to()`` does (Node's ``except``)."""
        return _FanOut([child.except_(room) for child in self._children])  # type: ignore[return-value]


class _FanOut:
    """A broadcast operator over every child of a parent namespace (emit only)."""

    __slots__ = ("_operators",)

    def __init__(self, operators: list[BroadcastOperator[Any, Any]]) -> None:
        self._operators = operators

    def to(self, room: str | Iterable[str]) -> _FanOut:
        return _FanOut([op.to(room) for op in self._operators])

    def in_(self, room: str | Iterable[str]) -> _FanOut:
        return self.to(room)

    def except_(self, room: str | Iterable[str]) -> _FanOut:
        return _FanOut([op.except_(room) for op in self._operators])

    async def emit(self, event: Any, *args: Any) -> None:
        for operator in self._operators:
            await operator.emit(event, *args)


def connect_error_packet(nsp: str, message: str, data: Any = None) -> Packet:
    """CONNECT_ERROR with ``{"message", "data"}``; ``data`` left out when there is none (docs/protocol/socketio.md#default-parser)."""
    payload: dict[str, Any] = {"message": message}
    if data is not None:
        payload["data"] = data
    return Packet(PacketType.CONNECT_ERROR, nsp, payload)
