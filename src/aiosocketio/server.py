"""``Server``: the Socket.IO server (docs/api-contract.md#server): options, namespaces, and the main namespace's shortcuts.

A ``Server`` is a ``aiosocketio.web.WebApp`` through its Engine.IO server, so the built-in runner and the
ASGI app serve it directly. Each Engine.IO session gets a ``Client``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Literal, ParamSpec, TypeVar, overload

from aiosocketio._checks import DAY, TIMER_LIMIT, seconds
from aiosocketio._emitter import EventEmitter, F, spawn
from aiosocketio._migration import name_moved_attributes
from aiosocketio._writer import EngineWriter
from aiosocketio.adapters.memory import InMemoryAdapter, SessionAwareAdapter
from aiosocketio.broadcast import BroadcastOperator, FetchedSocket
from aiosocketio.client import Client
from aiosocketio.client_bundle import ClientBundle, find_client_dir
from aiosocketio.engineio.handshake import SidGenerator
from aiosocketio.engineio.server import EngineServer
from aiosocketio.eventmaps import EmitEvents, ListenEvents, ServerSideEvents, SocketData, Untyped, event_name
from aiosocketio.namespace import Namespace, ParentNamespace
from aiosocketio.parsers import default as default_parser
from aiosocketio.web import HeldAnswer, Request, Response, WebSocketHandshake

if TYPE_CHECKING:
    from aiosocketio._types import BroadcastNamespace
    from aiosocketio.adapters._types import AdapterNamespace
    from aiosocketio.adapters.base import Adapter
    from aiosocketio.clock import Clock
    from aiosocketio.engineio.socket import EngineSocket
    from aiosocketio.socket import Socket

__all__ = ["Server"]

NamespaceSpec = str | re.Pattern[str] | Callable[..., Any]
"""What ``Server.of`` takes: a name, a regex or a predicate ``(name, auth) -> bool``."""
P = ParamSpec("P")
R = TypeVar("R")
NoArgF = TypeVar("NoArgF", bound=Callable[[], object])
"""A listener of ``startup``/``shutdown`` (no arguments)."""

#: The events of the server itself (``io.on(...)``); any other name is the main namespace's. ``startup`` fires
#: once the adapters are ready, on the loop that serves; ``shutdown`` when the server starts closing, before the
#: adapters close (what runs beside the server, such as aiosocketio.admin's stats timer, starts and stops there).
_SERVER_EVENTS = frozenset({"new_namespace", "startup", "shutdown"})

_RECOVERY_DEFAULTS: dict[str, Any] = {"max_disconnection_duration": 120.0, "skip_middlewares": True}


def _recovery_options(value: Any) -> dict[str, Any] | None:
    """``connection_state_recovery``: None/False (off), True (defaults) or a dict of the two options."""
    if value is None or value is False:
        return None
    if value is True:
        return dict(_RECOVERY_DEFAULTS)
    if not isinstance(value, dict):
        raise TypeError("connection_state_recovery is a dict such as {'max_disconnection_duration': 120.0}")
    unknown = set(value) - set(_RECOVERY_DEFAULTS)
    if unknown:
        raise TypeError(
            f"unknown connection_state_recovery option(s) {sorted(unknown)}: use {sorted(_RECOVERY_DEFAULTS)}"
        )
    options = _RECOVERY_DEFAULTS | value
    options["max_disconnection_duration"] = seconds(
        "max_disconnection_duration", options["max_disconnection_duration"], limit=DAY
    )
    options["skip_middlewares"] = bool(options["skip_middlewares"])
    return options


class Server(EventEmitter, Generic[ListenEvents, EmitEvents, ServerSideEvents, SocketData]):
    """A Socket.IO v4 server (Node's ``Server``, usually named ``io``).

    It owns the namespaces (the main one, ``"/"``, is ``sockets``), and its Engine.IO server (``engine``)
    carries the connections. Serve it with ``run()``, ``listen()``, [``aiosocketio.run()``][aiosocketio.run]
    or as an ASGI app (``asgi_app()``). Nothing here needs an event loop, so a server can be built at import
    time. The methods for emitting and for the utility operations (``to``, ``emit``, ``fetch_sockets``...)
    are shortcuts to the main namespace's.

    ``Server[ClientToServer, ServerToClient, InterServer, Data]()`` types every event (docs/guide/typing.md).

    Args:
        path: The URL path the server answers under (Node's ``path``); a client must connect with the same
            one.
        serve_client: Serve the JavaScript client bundle under ``path`` (Node's ``serveClient``), as
            ``/socket.io/socket.io.js`` and its variants.
        client_dir: Where the bundle's files are, when ``serve_client`` is on and the bundle is not found by
            itself (a folder holding the ``socket.io-client`` package's ``dist`` files).
        adapter: A factory called with each new namespace that returns its adapter (the room registry, local
            or shared by a cluster); default: the in-memory adapter (the session-aware one when
            ``connection_state_recovery`` is on).
        parser: The packet parser (a module or object with ``encode`` and ``Decoder``, such as
            ``aiosocketio.parsers.msgpack``); clients must use the same one. Default: the JSON parser.
        connect_timeout: Seconds a new connection may take to join a namespace before it is closed
            (Node's ``connectTimeout``).
        connection_state_recovery: Turn on connection state recovery (Node's ``connectionStateRecovery``):
            ``True`` for the defaults, or a dict with ``max_disconnection_duration`` (seconds, default 120)
            and ``skip_middlewares`` (default True). ``None`` or ``False``: off.
        cleanup_empty_child_namespaces: Remove a child namespace of a dynamic (parent) namespace once its
            last socket is gone (Node's ``cleanupEmptyChildNamespaces``).
        **engine_options: The Engine.IO options (``ping_interval``, ``ping_timeout``, ``cors``,
            ``max_http_buffer_size``, ``transports``, ``allow_request``, ``clock``...), passed to the
            ``EngineServer`` (see its reference entry).

    Raises:
        TypeError: An option of the wrong type (an unknown ``connection_state_recovery`` key or an unknown
            engine option among them).
        ValueError: A duration or size out of its range.
    """

    __slots__ = (
        "_adapter_factory",
        "_adapter_given",
        "_bundle",
        "_cleanup_empty_child_namespaces",
        "_clients",
        "_ids",
        "_new_decoder",
        "_nsps",
        "_parents",
        "_running",
        "_started",
        "_stopped",
        "connect_timeout",
        "connection_state_recovery",
        "engine",
        "parser",
        "sockets",
        "writer",
    )

    def __init__(
        self,
        path: str = "/socket.io/",
        *,
        serve_client: bool = False,
        client_dir: str | None = None,
        adapter: Callable[[Namespace], Adapter] | None = None,
        parser: Any = None,
        connect_timeout: float = 45.0,
        connection_state_recovery: dict[str, Any] | None = None,
        cleanup_empty_child_namespaces: bool = False,
        **engine_options: Any,
    ) -> None:
        super().__init__()
        connect_timeout = seconds("connect_timeout", connect_timeout, limit=TIMER_LIMIT)
        self.engine = EngineServer(path, **engine_options)
        """The Engine.IO server under this one (Node's ``io.engine``): its options, its hooks
        (``initial_headers``, ``headers``, ``connection_error`` events, ``generate_id``) and its
        ``clients_count`` (docs/guide/engine.md)."""
        self._bundle = ClientBundle(self.engine.path, find_client_dir(client_dir)) if serve_client else None
        self.engine.on("connection", self._on_engine_connection)
        self.connect_timeout = float(connect_timeout)
        """Seconds a connection may take to join a namespace (the ``connect_timeout`` option)."""
        self.connection_state_recovery = _recovery_options(connection_state_recovery)
        """The recovery options in effect (``max_disconnection_duration``, ``skip_middlewares``), or None when
        connection state recovery is off."""
        self._cleanup_empty_child_namespaces = cleanup_empty_child_namespaces
        # Whether the user chose the adapter: the default below (in-memory, session-aware with recovery) is
        # replaced by the inter-process adapter in each worker of workers=N, a user's adapter never is.
        self._adapter_given = adapter is not None
        if adapter is None and self.connection_state_recovery is not None:
            adapter = partial(
                SessionAwareAdapter,
                max_disconnection_duration=self.connection_state_recovery["max_disconnection_duration"],
            )
        # Called with each Namespace as it is created (typed loosely: it gets the namespace as an adapter sees it).
        self._adapter_factory: Callable[[Any], Adapter] = adapter or InMemoryAdapter
        parser = parser or default_parser
        #: The packet parser (a module or object with ``encode`` and ``Decoder``): what clients must speak.
        self.parser: Any = parser
        """The packet parser in use (the ``parser`` option, or the default JSON parser): what clients must
        speak."""
        # Encodes every packet this server sends: the PacketWriter its namespaces, sockets and adapters use.
        self.writer = EngineWriter(parser)
        """For adapters and the other layers of the package, not needed by applications: the encoder of every
        packet this server sends (each packet is encoded once, whatever the number of recipients)."""
        self._new_decoder: Callable[[], Any] = parser.Decoder
        self._ids = SidGenerator()
        self._clients: dict[str, Client] = {}
        self._nsps: dict[str, Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]] = {}
        self._parents: list[ParentNamespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]] = []
        self._running: Any = None
        # Nothing here needs an event loop: a server is usually built at import time, before the loop that
        # will serve it exists. The adapters connect in startup(), on that loop, and let go in shutdown().
        self._started = False
        self._stopped = False
        self.sockets: Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData] = self.of("/")
        """The main namespace, ``"/"`` (Node's ``io.sockets``); ``io.of("/")`` returns the same object."""

    # -- namespaces --------------------------------------------------------------------------------------

    def of(self, name: NamespaceSpec) -> Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]:
        """The namespace ``name``, created on first use (Node's ``io.of``).

        A compiled regex or a predicate makes a dynamic (parent) namespace instead: a client may then join any
        name the regex matches (``re.search``) or the predicate ``(name, auth) -> bool`` (sync or async)
        accepts, and a child namespace of that name is created for it, with the middlewares and ``connection``
        listeners the parent has at that moment. See docs/guide/namespaces.md.

        Args:
            name: A namespace name (``"/admin"``; a missing leading ``/`` is added), a compiled regex or a
                predicate.

        Returns:
            The namespace (the same object on every call for a name), or a new parent namespace for a regex
            or a predicate.

        Raises:
            TypeError: ``name`` is none of these.
        """
        if isinstance(name, re.Pattern) or (callable(name) and not isinstance(name, str)):
            parent: ParentNamespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]
            parent = ParentNamespace(self, name)
            self._parents.append(parent)
            return parent
        if not isinstance(name, str):
            raise TypeError(
                "of() takes a namespace name (a str such as '/admin'), a compiled regex or a function "
                f"(name, auth) -> bool, not {type(name).__name__}"
            )
        if not name.startswith("/"):
            name = "/" + name
        nsp = self._nsps.get(name)
        if nsp is not None:
            return nsp
        for parent in self._parents:
            matcher = parent.matcher
            if isinstance(matcher, re.Pattern) and matcher.search(name):
                nsp = parent.create_child(name)
                break
        else:
            nsp = Namespace(self, name)
        self._add_namespace(nsp)
        return nsp

    def _add_namespace(self, nsp: Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]) -> None:
        self._nsps[nsp.name] = nsp
        if self._started:
            spawn(nsp.adapter.init())
        if nsp.name != "/":
            self.emit_event("new_namespace", nsp)

    def connects_at_once(self, name: str) -> bool:
        """For the client layer, not needed by applications: whether joining ``name`` waits for nothing before
        the ``connection`` handlers, so the attempt can run at once, outside a task. Not when the namespace has
        middlewares or is made by a dynamic matcher (application code, which may need a task:
        ``asyncio.timeout()``, an aiohttp call), nor with connection state recovery (the adapter may look the
        session up in Redis or PostgreSQL, whose clients need a task too).

        Args:
            name: The namespace name the client sent.
        """
        nsp = self._nsps.get(name)
        return nsp is not None and not nsp.has_middlewares and self.connection_state_recovery is None

    async def find_namespace(
        self, name: str, auth: dict[str, Any]
    ) -> Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData] | None:
        """For the client layer, not needed by applications: the namespace a client asks to join.

        An existing namespace, or a child created by the first dynamic matcher that accepts
        (docs/protocol/server.md#namespaces).

        Args:
            name: The namespace name the client sent.
            auth: The client's auth payload, which a predicate of a parent namespace gets.

        Returns:
            The namespace, or None when no namespace has that name and no parent namespace accepts it.
        """
        nsp = self._nsps.get(name)
        if nsp is not None:
            return nsp
        for parent in tuple(self._parents):
            if await parent.matches(name, auth):
                nsp = self._nsps.get(name)  # it may have appeared while the matcher ran
                if nsp is None:
                    nsp = parent.create_child(name)
                    self._add_namespace(nsp)
                return nsp
        return None

    @property
    def namespaces(self) -> dict[str, Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]]:
        """The namespaces that exist now, by name (a copy; Node's ``io._nsps``), the children of parent
        namespaces included."""
        return dict(self._nsps)

    # -- listeners ---------------------------------------------------------------------------------------

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
    def on(  # type: ignore[overload-overlap]
        self, event: Literal["new_namespace"]
    ) -> Callable[
        [Callable[[Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], object]],
        Callable[[Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], object],
    ]: ...

    @overload
    def on(
        self,
        event: Literal["new_namespace"],
        listener: Callable[[Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], object],
    ) -> Callable[[Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], object]: ...

    @overload
    def on(self, event: Literal["startup", "shutdown"]) -> Callable[[NoArgF], NoArgF]: ...

    @overload
    def on(self, event: Literal["startup", "shutdown"], listener: NoArgF) -> NoArgF: ...

    @overload
    def on(
        self, event: Callable[Concatenate[ServerSideEvents, P], R]
    ) -> Callable[[Callable[P, R | Awaitable[R]]], Callable[P, R | Awaitable[R]]]: ...

    @overload
    def on(
        self, event: Callable[Concatenate[ServerSideEvents, P], R], listener: Callable[P, R | Awaitable[R]]
    ) -> Callable[P, R | Awaitable[R]]: ...

    @overload
    def on(self: Server[Any, Any, Untyped, Any], event: str) -> Callable[[F], F]: ...

    @overload
    def on(self: Server[Any, Any, Untyped, Any], event: str, listener: F) -> F: ...

    def on(self, event: Any, listener: Any = None) -> Any:
        """Listen to an event of the server; without a listener, a decorator.

        The events: ``connection`` (or ``connect``) for each socket that joins the main namespace, with the
        ``Socket``; ``new_namespace``, with each namespace created after the main one; ``startup`` once the
        adapters are ready, on the loop that serves; ``shutdown`` when the server starts closing, before the
        adapters close. Any other name is an event sent by another server of the cluster with
        ``server_side_emit`` to the main namespace (a name, or the server-side map's method:
        docs/guide/typing.md).

        Args:
            event: The event's name, or a method of the server-side event map.
            listener: The function to call, plain or ``async``.

        Returns:
            ``listener``, or a decorator that registers the function it decorates and returns it.

        Raises:
            TypeError: ``event`` is not a str, or ``listener`` is not callable.
        """
        event = event_name(event)
        target: EventEmitter = self if event in _SERVER_EVENTS else self.sockets
        if listener is None:
            return EventEmitter.on(target, event)
        return EventEmitter.on(target, event, listener)

    def use(
        self, middleware: Callable[[Socket[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], Any]
    ) -> Callable[[Socket[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], Any]:
        """Add a connection middleware to the main namespace (``io.sockets.use``); see
        [``Namespace.use()``][aiosocketio.Namespace.use].

        Args:
            middleware: A function ``(socket)``, plain or ``async``, run for each connection attempt; raising
                (``ConnectError`` to choose the message and data the client gets) refuses the connection.

        Returns:
            ``middleware``, so this works as a decorator.

        Raises:
            TypeError: ``middleware`` is not callable.
        """
        return self.sockets.use(middleware)

    # -- the main namespace's shortcuts ------------------------------------------------------------------

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """Target the sockets of the main namespace in a room or several, for the next emit or operation.

        Args:
            room: A room name, or several names; a socket in any of them is targeted (once).

        Returns:
            A new broadcast operator; chain more targets and flags, then call ``emit``...

        Raises:
            TypeError: A room name that is not a str.
        """
        return self.sockets.to(room)

    def in_(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """The same as ``to()`` (Node's ``io.in``; ``in`` is a Python keyword)."""
        return self.sockets.to(room)

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        """Leave out the sockets of the main namespace in a room or several (Node's ``io.except``).

        Args:
            room: A room name, or several names.

        Returns:
            A new broadcast operator that targets every other socket (or the targets chained after it).

        Raises:
            TypeError: A room name that is not a str.
        """
        return self.sockets.except_(room)

    @property
    def local(self) -> BroadcastOperator[EmitEvents, SocketData]:
        """A broadcast operator that reaches only the sockets connected to this server, not the rest of the
        cluster (the same as everywhere with the default, in-memory adapter)."""
        return self.sockets.local

    @property
    def volatile(self) -> BroadcastOperator[EmitEvents, SocketData]:
        """A broadcast operator whose packets are dropped, instead of queued, for the clients whose connection
        is not ready to take them right now: over WebSocket once the writes are paused (the client is not
        keeping up), over long-polling whenever no GET request is waiting (docs/guide/limits.md)."""
        return self.sockets.volatile

    def compress(self, flag: bool = True) -> BroadcastOperator[EmitEvents, SocketData]:
        """Set the compress flag of the next broadcast (Node's ``compress``).

        The flag travels with the broadcast (to the other servers of a cluster too), as in Node.js; this
        server compresses by its ``per_message_deflate`` and ``http_compression`` options, whatever the flag.

        Args:
            flag: The flag's value.

        Returns:
            A new broadcast operator carrying the flag.
        """
        return self.sockets.compress(flag)

    def timeout(self, seconds: float) -> BroadcastOperator[EmitEvents, SocketData]:
        """Set how long the next ``emit_with_ack`` waits for the clients' acknowledgements.

        Args:
            seconds: The time to wait, in seconds.

        Returns:
            A new broadcast operator carrying the timeout: ``await io.timeout(5).emit_with_ack("ping")``.

        Raises:
            ValueError: ``seconds`` is negative, not finite or too large.
            TypeError: ``seconds`` is not a number.
        """
        return self.sockets.timeout(seconds)

    @overload
    async def emit(
        self, event: Callable[Concatenate[EmitEvents, P], object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None: ...

    @overload
    async def emit(
        self: Server[Any, Untyped, Any, Any], event: str | float, /, *args: Any, **python_socketio: Any
    ) -> None: ...

    async def emit(self, event: Any, /, *args: Any, **python_socketio: Any) -> None:
        """Send an event to every socket of the main namespace (on every server of a cluster).

        Args:
            event: The event's name (or a number), or a method of the emit map (docs/guide/typing.md).
            *args: The event's arguments: what the parser can carry (JSON values and ``bytes``, with the
                default parser).
            **python_socketio: Not accepted: python-socketio's ``room=``, ``to=``, ``skip_sid=``... raise an
                error that shows the call to write here instead (``io.to(room).emit(...)``).

        Raises:
            ValueError: ``event`` is a reserved name (``connect``, ``disconnect``...).
            TypeError: ``event`` is not a name; or keyword arguments were given.
            aiosocketio.parsers.packet.EncodeError: An argument the parser cannot send (see
                [``Socket.emit()``][aiosocketio.Socket.emit]).
        """
        await self.sockets.emit(event, *args, **python_socketio)

    async def send(self, *args: Any, **python_socketio: Any) -> None:
        """Emit a ``message`` event to every socket of the main namespace: ``emit("message", *args)``.

        Args:
            *args: The message's arguments.
            **python_socketio: Not accepted, as in ``emit()``.
        """
        await self.sockets.send(*args, **python_socketio)

    @overload
    async def emit_with_ack(
        self, event: Callable[Concatenate[EmitEvents, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> list[R]: ...

    @overload
    async def emit_with_ack(
        self: Server[Any, Untyped, Any, Any], event: str | float, /, *args: Any
    ) -> list[Any]: ...

    async def emit_with_ack(self, event: Any, /, *args: Any) -> list[Any]:  # type: ignore[misc]
        """Send an event to every socket of the main namespace and wait for each client's acknowledgement
        (Node's ``io.timeout(ms).emitWithAck``); needs a ``timeout()`` first.

        Args:
            event: The event's name, or a method of the emit map.
            *args: The event's arguments.

        Returns:
            One answer per client (the first argument it acknowledged with), in arrival order.

        Raises:
            ValueError: No timeout was set (``io.timeout(5).emit_with_ack(...)``), or a reserved event name.
            aiosocketio.AckTimeoutError: Not every client answered in time; its ``responses`` holds the
                answers that came.
        """
        return await self.sockets.emit_with_ack(event, *args)

    @overload
    async def fetch_sockets(self: Server[Any, Untyped, Any, Any]) -> list[Any]: ...

    @overload
    async def fetch_sockets(self) -> list[FetchedSocket[EmitEvents, SocketData]]: ...

    async def fetch_sockets(self) -> list[Any]:
        """The sockets of the main namespace, on every server of the cluster (Node's ``fetchSockets``).

        Returns:
            The ``Socket`` objects of this server and a ``RemoteSocket`` for each socket of another server.

        Raises:
            TimeoutError: Another server of the cluster did not answer in time (with a cluster adapter).
        """
        return await self.sockets.fetch_sockets()

    async def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make every socket of the main namespace join the room(s), on every server (Node's
        ``socketsJoin``); chain ``to()`` first to pick the sockets.

        Args:
            rooms: A room name, or several names.
        """
        await self.sockets.sockets_join(rooms)

    async def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make every socket of the main namespace leave the room(s), on every server (Node's
        ``socketsLeave``).

        Args:
            rooms: A room name, or several names.
        """
        await self.sockets.sockets_leave(rooms)

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket of the main namespace, on every server (Node's ``disconnectSockets``).

        Args:
            close: Also close the clients' connections (and so their other namespaces) instead of only
                leaving the main namespace.
        """
        await self.sockets.disconnect_sockets(close)

    async def all_sockets(self) -> set[str]:
        """The ids of the sockets of the main namespace, on every server (Node's ``allSockets``, deprecated
        there in favour of ``fetch_sockets()``).

        Returns:
            The socket ids.
        """
        return await self.sockets.all_sockets()

    @overload
    async def server_side_emit(
        self, event: Callable[Concatenate[ServerSideEvents, P], object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None: ...

    @overload
    async def server_side_emit(self: Server[Any, Any, Untyped, Any], event: str, /, *args: Any) -> None: ...

    async def server_side_emit(self, event: Any, /, *args: Any) -> None:  # type: ignore[misc]
        """Send an event to the main namespace of every other server of the cluster (Node's
        ``serverSideEmit``); their ``io.on(event)`` listeners get ``args``. With the default in-memory adapter
        there is no other server, and nothing is sent.

        Args:
            event: The event's name, or a method of the server-side event map.
            *args: The event's arguments.

        Raises:
            TypeError: ``event`` is not a str.
            ValueError: ``event`` is one the server uses itself (``connect``, ``connection``,
                ``new_namespace``).
        """
        await self.sockets.server_side_emit(event, *args)

    @overload
    async def server_side_emit_with_ack(
        self, event: Callable[Concatenate[ServerSideEvents, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> list[R]: ...

    @overload
    async def server_side_emit_with_ack(
        self: Server[Any, Any, Untyped, Any], event: str, /, *args: Any, timeout: float | None = None
    ) -> list[Any]: ...

    async def server_side_emit_with_ack(  # type: ignore[misc]
        self, event: Any, /, *args: Any, timeout: float | None = None
    ) -> list[Any]:
        """Like ``server_side_emit()``, and wait for every other server's answer (Node's
        ``serverSideEmitWithAck``): the return value of its first listener of the event.

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
        return await self.sockets.server_side_emit_with_ack(event, *args, timeout=timeout)

    # -- what the namespaces and clients use (see aiosocketio._types) ------------------------------------

    @property
    def clock(self) -> Clock | None:
        """Where every deadline is timed: the ``clock`` option (a test's ``FakeClock``), None for the loop's.

        For the other layers of the package (the namespaces, clients and adapters); applications set the
        ``clock`` option instead."""
        return self.engine.clock

    @property
    def cleanup_empty_child_namespaces(self) -> bool:
        """Whether a child of a parent namespace goes away with its last socket (the constructor's option)."""
        return self._cleanup_empty_child_namespaces

    def create_adapter(self, nsp: AdapterNamespace) -> Adapter:
        """For the namespaces, not needed by applications: the adapter of a namespace being created, from the
        ``adapter`` option."""
        return self._adapter_factory(nsp)

    @property
    def has_own_adapter(self) -> bool:
        """Whether the ``adapter`` option was given (False: the in-memory adapter, or ``use_adapter()``'s)."""
        return self._adapter_given

    def use_adapter(self, factory: Callable[[Namespace], Adapter]) -> None:
        """Make ``factory`` the adapter of every namespace, those that exist and those to come, as if it had
        been the ``adapter`` option; for a server not yet served (``workers=N`` gives each worker's server a
        cluster adapter this way). Raises ``RuntimeError`` once the server serves and ``ValueError`` when it
        was given an adapter of its own."""
        if self._started:
            raise RuntimeError("use_adapter() is for a server that does not serve yet")
        if self._adapter_given:
            raise ValueError(
                "this server was given an adapter (the adapter option); use_adapter() would replace it"
            )
        self._adapter_factory = factory
        self.reset_adapters()

    def reset_adapters(self) -> None:
        """Give every namespace a new adapter from the ``adapter`` factory, for a server not yet served.

        For a process forked after the server was built (``workers=N``): an adapter made before the fork would
        carry the identity it was given then (a cluster adapter's server id) into every process, and the
        processes would take one another's messages for their own.
        """
        if self._started:
            raise RuntimeError("reset_adapters() is for a server that does not serve yet")
        factory = self._adapter_factory
        # The namespaces that exist hold nobody yet (the server has not served): each gets an adapter anew.
        for nsp in (*self._nsps.values(), *self._parents):
            nsp.adapter = factory(nsp)

    def new_socket_id(self) -> str:
        """For the namespaces, not needed by applications: a fresh random id for a socket or a private
        session id."""
        return self._ids()

    def new_decoder(self) -> Any:
        """For the client layer, not needed by applications: a packet decoder of the server's parser, for one
        new connection."""
        return self._new_decoder()

    def remove_namespace(self, nsp: BroadcastNamespace) -> None:
        """For the namespaces, not needed by applications: forget ``nsp`` (an empty child namespace cleaned
        up); a namespace of that name made since stays."""
        if self._nsps.get(nsp.name) is nsp:
            del self._nsps[nsp.name]

    def remove_client(self, client_id: str) -> None:
        """For the client layer, not needed by applications: the Socket.IO client of session ``client_id``
        closed, so the server forgets it."""
        self._clients.pop(client_id, None)

    def _on_engine_connection(self, conn: EngineSocket) -> None:
        client = self._clients[conn.id] = Client(self, conn)
        if conn.protocol == 3:
            client.connect_v2_main()

    # -- serving -----------------------------------------------------------------------------------------

    def handles(self, path: str) -> bool:
        """For front-ends, not needed by applications: whether a request for ``path`` is this server's (its
        ``path`` and what is under it); the built-in runner sends the others to the next app.

        Args:
            path: The request's path, without the query.

        Returns:
            Whether this server answers it.
        """
        return self.engine.handles(path)

    @property
    def serving(self) -> bool:
        """Whether the server has started serving (its ``startup`` event has been emitted) and not shut down
        since: what code attached to a running server (the Admin UI, metrics) checks instead of waiting for a
        ``startup`` event that already happened."""
        return self._started

    async def startup(self) -> None:
        """Start the server on the running loop: initialise the adapters (a cluster adapter connects and
        subscribes here), then emit ``startup``.

        The front-ends call it before serving, and the first request does if they did not, so applications
        rarely need to. After a ``shutdown()`` it starts them again, so a server can be served once more
        (on another loop too). Calling it while started does nothing.

        Raises:
            Exception: Whatever an adapter's start raises (a cluster adapter that cannot reach its broker).
        """
        if self._started:
            return
        self._started = True
        self._stopped = False
        for nsp in tuple(self._nsps.values()):
            await nsp.adapter.init()
        self.emit_event("startup")

    def handle_http(self, request: Request) -> Coroutine[Any, Any, Response]:
        """For front-ends, not needed by applications: answer one plain HTTP request (``WebApp.handle_http``).

        A plain function that returns the engine's coroutine once the server is started and serves no client
        bundle: one coroutine less for every long-polling request.
        """
        if self._started and self._bundle is None:
            return self.engine.handle_http(request)
        return self._handle_http(request)

    def answer_at_once(
        self, method: str, path: str, query: bytes, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> Response | HeldAnswer | None:
        """For front-ends, not needed by applications: ``QuickWebApp.answer_at_once``, the engine's answer
        made without a coroutine, once the server is started and unless the path is one of the client
        bundle's files.

        Returns:
            The answer, or None when the request must go through ``handle_http()``.
        """
        if not self._started:
            return None
        bundle = self._bundle
        if bundle is not None and bundle.file_for(path) is not None:
            return None
        return self.engine.answer_at_once(method, path, query, headers, body)

    async def _handle_http(self, request: Request) -> Response:
        if not self._started and not self._stopped and asyncio.current_task() is None:
            # The adapters' start-up may do I/O that needs a current task (see EngineServer.handle_http).
            return await asyncio.ensure_future(self._handle_http(request))
        if not self._started and not self._stopped:
            await self.startup()
        bundle = self._bundle
        if bundle is not None:
            name = bundle.file_for(request.path)
            if name is not None:
                return bundle.respond(request, name)
        return await self.engine.handle_http(request)

    async def handle_websocket(self, request: Request, handshake: WebSocketHandshake) -> None:
        """For front-ends, not needed by applications: serve one WebSocket request
        (``WebApp.handle_websocket``), starting the server first if no front-end did.

        Args:
            request: The upgrade request.
            handshake: The front-end's side of the WebSocket connection, to accept or refuse it with.
        """
        if not self._started and not self._stopped:
            await self.startup()
        await self.engine.handle_websocket(request, handshake)

    async def shutdown(self) -> None:
        """Stop serving the Socket.IO side: emit ``shutdown``, disconnect every socket (reason ``"server
        shutting down"``), close the adapters, then every Engine.IO session.

        The front-ends call it when they stop; ``close()`` also stops the listening server. A request still
        in flight afterwards does not start the server again: only ``startup()`` does.
        """
        if self._started:
            self.emit_event("shutdown")
        for client in tuple(self._clients.values()):
            client.on_close("server shutting down")
        # A request still in flight after this must not start the adapters again (only startup() does).
        self._started = False
        self._stopped = True
        for nsp in tuple(self._nsps.values()):
            await nsp.adapter.close()
        await self.engine.shutdown()

    async def close(self) -> None:
        """Close the server (Node's ``io.close()``): disconnect everyone, close the adapters and the listening
        server started by ``listen()``, if any."""
        running = self._running
        self._running = None
        if running is not None:
            await running.close()  # calls shutdown() on this server
        else:
            await self.shutdown()

    def asgi_app(self, other_app: Any = None, **options: Any) -> Any:
        """This server as an ASGI 3 application, for uvicorn, hypercorn and the ASGI frameworks
        (docs/frameworks.md).

        Args:
            other_app: An ASGI app that gets the requests for other paths (and the lifespan events); without
                one they get a 404.
            **options: The front-end's limits (``max_write_buffer``...), see ``aiosocketio.asgi.ASGIApp``.

        Returns:
            The ASGI application (an ``aiosocketio.asgi.ASGIApp``).
        """
        from aiosocketio.asgi import ASGIApp

        return ASGIApp(self, other_app=other_app, **options)

    def run(self, host: str = "127.0.0.1", port: int = 3000, **options: Any) -> None:
        """Serve with the built-in server until SIGINT/SIGTERM, then close gracefully; blocks, so it is what a
        program ends with (``aiosocketio.run(io)`` does the same). ``workers=N`` serves the port from N forked
        processes that clients see as one server (docs/deployment.md#workers).

        Args:
            host: The address to listen on (``"0.0.0.0"`` for every interface).
            port: The port to listen on.
            **options: More options of ``aiosocketio.runner.run`` (``workers``, ``ssl``, ``root_path``,
                ``log_level``, ``other_app``, the limits...).

        Raises:
            SystemExit: The address cannot be listened on (port in use, unknown host): one line on stderr,
                exit status 1.
        """
        from aiosocketio.runner import run

        run(self, host=host, port=port, **options)

    async def listen(self, host: str = "127.0.0.1", port: int = 3000, **options: Any) -> Any:
        """Serve with the built-in server inside the running loop (Node's ``io.listen``), and return once it
        listens; ``close()`` stops it.

        Args:
            host: The address to listen on.
            port: The port to listen on; 0 picks a free one (read it from the result's ``port``).
            **options: More options of ``aiosocketio.runner.serve`` (``ssl``, ``other_app``, ``root_path``,
                the limits...).

        Returns:
            The listening server (an ``aiosocketio.runner.RunningServer``): ``port``, ``await close()``.

        Raises:
            OSError: The address cannot be listened on.
        """
        from aiosocketio.runner import serve

        self._running = await serve([self], host=host, port=port, **options)
        return self._running


# python-socketio's server methods (io.event, io.enter_room...) raise an error that names the call to write here.
name_moved_attributes(Server)
