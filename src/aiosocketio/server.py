"""``Server``: the Socket.IO server (docs/api-contract.md#server): options, namespaces, and the main namespace's shortcuts.

A ``Server`` is a :class:`aiosocketio.web.WebApp` through its Engine.IO server, so the built-in runner and the
ASGI app serve it directly. Each Engine.IO session gets a :class:`~aiosocketio.client.Client`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Literal, ParamSpec, TypeVar, overload

from aiosocketio._checks import DAY, TIMER_LIMIT, seconds
from aiosocketio._emitter import EventEmitter, F, spawn
from aiosocketio._migration import server_attribute_error
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
P = ParamSpec("P")
R = TypeVar("R")
#: A listener of ``startup``/``shutdown`` (no arguments).
NoArgF = TypeVar("NoArgF", bound=Callable[[], object])

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
    """A Socket.IO v4 server. Engine options (``ping_interval``, ``cors``, ``clock``...) pass through to
    ``io.engine``.

    ``Server[ClientToServer, ServerToClient, InterServer, Data]()`` types every event (docs/guide/typing.md).
    """

    __slots__ = (
        "_adapter_factory",
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
        self._bundle = ClientBundle(self.engine.path, find_client_dir(client_dir)) if serve_client else None
        self.engine.on("connection", self._on_engine_connection)
        self.connect_timeout = float(connect_timeout)
        self.connection_state_recovery = _recovery_options(connection_state_recovery)
        self._cleanup_empty_child_namespaces = cleanup_empty_child_namespaces
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
        # Encodes every packet this server sends: the PacketWriter its namespaces, sockets and adapters use.
        self.writer = EngineWriter(parser)
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

    # -- namespaces --------------------------------------------------------------------------------------

    def of(self, name: NamespaceSpec) -> Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData]:
        """The namespace ``name`` (created on first use), or a parent namespace for a regex or a predicate."""
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

    async def find_namespace(
        self, name: str, auth: dict[str, Any]
    ) -> Namespace[ListenEvents, EmitEvents, ServerSideEvents, SocketData] | None:
        """An existing namespace, or a child created by the first dynamic matcher that accepts (docs/protocol/server.md#namespaces)."""
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
        """``connection``/``connect`` (main namespace), ``new_namespace``, ``startup``, ``shutdown``, or a
        server-side event's handler (a name, or the server-side map's method: docs/guide/typing.md)."""
        event = event_name(event)
        target: EventEmitter = self if event in _SERVER_EVENTS else self.sockets
        if listener is None:
            return EventEmitter.on(target, event)
        return EventEmitter.on(target, event, listener)

    def use(
        self, middleware: Callable[[Socket[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], Any]
    ) -> Callable[[Socket[ListenEvents, EmitEvents, ServerSideEvents, SocketData]], Any]:
        """A connection middleware of the main namespace."""
        return self.sockets.use(middleware)

    # -- the main namespace's shortcuts ------------------------------------------------------------------

    def to(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        return self.sockets.to(room)

    def in_(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        return self.sockets.to(room)

    def except_(self, room: str | Iterable[str]) -> BroadcastOperator[EmitEvents, SocketData]:
        return self.sockets.except_(room)

    @property
    def local(self) -> BroadcastOperator[EmitEvents, SocketData]:
        return self.sockets.local

    @property
    def volatile(self) -> BroadcastOperator[EmitEvents, SocketData]:
        return self.sockets.volatile

    def compress(self, flag: bool = True) -> BroadcastOperator[EmitEvents, SocketData]:
        return self.sockets.compress(flag)

    def timeout(self, seconds: float) -> BroadcastOperator[EmitEvents, SocketData]:
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
        await self.sockets.emit(event, *args, **python_socketio)

    async def send(self, *args: Any, **python_socketio: Any) -> None:
        await self.sockets.send(*args, **python_socketio)

    def __getattr__(self, name: str) -> Any:
        # Only for names that do not exist: python-socketio's (io.event, io.enter_room...) get the call to write.
        raise server_attribute_error("Server", name)

    @overload
    async def emit_with_ack(
        self, event: Callable[Concatenate[EmitEvents, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> list[R]: ...

    @overload
    async def emit_with_ack(
        self: Server[Any, Untyped, Any, Any], event: str | float, /, *args: Any
    ) -> list[Any]: ...

    async def emit_with_ack(self, event: Any, /, *args: Any) -> list[Any]:  # type: ignore[misc]
        return await self.sockets.emit_with_ack(event, *args)

    @overload
    async def fetch_sockets(self: Server[Any, Untyped, Any, Any]) -> list[Any]: ...

    @overload
    async def fetch_sockets(self) -> list[FetchedSocket[EmitEvents, SocketData]]: ...

    async def fetch_sockets(self) -> list[Any]:
        return await self.sockets.fetch_sockets()

    async def sockets_join(self, rooms: str | Iterable[str]) -> None:
        await self.sockets.sockets_join(rooms)

    async def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        await self.sockets.sockets_leave(rooms)

    async def disconnect_sockets(self, close: bool = False) -> None:
        await self.sockets.disconnect_sockets(close)

    async def all_sockets(self) -> set[str]:
        return await self.sockets.all_sockets()

    @overload
    async def server_side_emit(
        self, event: Callable[Concatenate[ServerSideEvents, P], object], /, *args: P.args, **kwargs: P.kwargs
    ) -> None: ...

    @overload
    async def server_side_emit(self: Server[Any, Any, Untyped, Any], event: str, /, *args: Any) -> None: ...

    async def server_side_emit(self, event: Any, /, *args: Any) -> None:  # type: ignore[misc]
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
        return await self.sockets.server_side_emit_with_ack(event, *args, timeout=timeout)

    # -- what the namespaces and clients use (see aiosocketio._types) ------------------------------------

    @property
    def clock(self) -> Clock | None:
        """Where every deadline is timed: the ``clock`` option (a test's ``FakeClock``), None for the loop's."""
        return self.engine.clock

    @property
    def cleanup_empty_child_namespaces(self) -> bool:
        """Whether a child of a parent namespace goes away with its last socket (the constructor's option)."""
        return self._cleanup_empty_child_namespaces

    def create_adapter(self, nsp: AdapterNamespace) -> Adapter:
        """The adapter of a namespace being created, from the ``adapter`` option."""
        return self._adapter_factory(nsp)

    def new_socket_id(self) -> str:
        """A fresh random id for a socket or a private session id."""
        return self._ids()

    def new_decoder(self) -> Any:
        """A packet decoder of the server's parser, for one new connection."""
        return self._new_decoder()

    def remove_namespace(self, nsp: BroadcastNamespace) -> None:
        """Forget ``nsp`` (an empty child namespace cleaned up); a namespace of that name made since stays."""
        if self._nsps.get(nsp.name) is nsp:
            del self._nsps[nsp.name]

    def remove_client(self, client_id: str) -> None:
        """The Socket.IO client of session ``client_id`` closed."""
        self._clients.pop(client_id, None)

    def _on_engine_connection(self, conn: EngineSocket) -> None:
        client = self._clients[conn.id] = Client(self, conn)
        if conn.protocol == 3:
            client.connect_v2_main()

    # -- serving -----------------------------------------------------------------------------------------

    def handles(self, path: str) -> bool:
        return self.engine.handles(path)

    @property
    def serving(self) -> bool:
        """Whether the server has started serving (its ``startup`` event has been emitted) and not shut down
        since: what code attached to a running server (the Admin UI, metrics) checks instead of waiting for a
        ``startup`` event that already happened."""
        return self._started

    async def startup(self) -> None:
        """Initialise the adapters (a cluster adapter connects and subscribes here, on the running loop); the
        front-ends call it before serving, and the first request does if they did not. After a
        :meth:`shutdown` it starts them again, so a server can be served once more (on another loop too)."""
        if self._started:
            return
        self._started = True
        self._stopped = False
        for nsp in tuple(self._nsps.values()):
            await nsp.adapter.init()
        self.emit_event("startup")

    def handle_http(self, request: Request) -> Coroutine[Any, Any, Response]:
        """Answer one plain HTTP request (``WebApp.handle_http``).

        A plain function that returns the engine's coroutine once the server is started and serves no client
        bundle: one coroutine less for every long-polling request.
        """
        if self._started and self._bundle is None:
            return self.engine.handle_http(request)
        return self._handle_http(request)

    def answer_at_once(
        self, method: str, path: str, query: bytes, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> Response | HeldAnswer | None:
        """``QuickWebApp.answer_at_once``: the engine's, once the server is started and unless the path is one
        of the client bundle's files."""
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
        if not self._started and not self._stopped:
            await self.startup()
        await self.engine.handle_websocket(request, handshake)

    async def shutdown(self) -> None:
        """Disconnect every socket ("server shutting down"), close the adapters, then every session."""
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
        """``io.close()``: disconnect everyone, close the adapters and the listening server (if any)."""
        running = self._running
        self._running = None
        if running is not None:
            await running.close()  # calls shutdown() on this server
        else:
            await self.shutdown()

    def asgi_app(self, other_app: Any = None, **options: Any) -> Any:
        """This server as an ASGI 3 application; requests for other paths go to ``other_app``. ``options``: the
        front-end's limits (``max_write_buffer``), see :class:`aiosocketio.asgi.ASGIApp`."""
        from aiosocketio.asgi import ASGIApp

        return ASGIApp(self, other_app=other_app, **options)

    def run(self, host: str = "127.0.0.1", port: int = 3000, **options: Any) -> None:
        """Serve with the built-in server until SIGINT/SIGTERM, then close gracefully."""
        from aiosocketio.runner import run

        run(self, host=host, port=port, **options)

    async def listen(self, host: str = "127.0.0.1", port: int = 3000, **options: Any) -> Any:
        """Serve with the built-in server inside the running loop; returns the server (``await s.close()``)."""
        from aiosocketio.runner import serve

        self._running = await serve([self], host=host, port=port, **options)
        return self._running
