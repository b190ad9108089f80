"""``TestClient``: a Socket.IO client that reaches a ``Server`` in the same process, through no socket at all.

It is a front-end of its own, like the built-in runner or the ASGI app: it hands the server a WebSocket upgrade
request (``Server.handle_websocket``), and the server accepts it onto an :class:`InProcessWebSocket`, a
:class:`~aiosocketio.web.WebSocketPort` whose other end is the client. Everything past that point is the server's
real code: the Engine.IO handshake and its checks (``allow_request``, ``generate_id``), heartbeats, the Socket.IO
parser of the server (default or msgpack), middlewares, namespaces, acks both ways, rooms, disconnect reasons and
connection state recovery. Messages cross on the next turns of the event loop, in order, as they would over a
network, so a handler never runs inside the sender's call.

The client side speaks as socket.io-client does: it answers pings with pongs, sends CONNECT with its ``auth``
(and, when recovering, the ``pid`` and last ``offset`` it saw), answers the server's acks through the handlers
given to :meth:`TestClient.on`, and records every event it receives for :meth:`TestClient.received`.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiosocketio.adapters.memory import SessionAwareAdapter
from aiosocketio.exceptions import AckTimeoutError, ConnectError
from aiosocketio.parsers.packet import Packet, PacketType
from aiosocketio.testing.clock import settle
from aiosocketio.web import HeaderPairs, Headers, Request, Response, WebSocketReceiver

if TYPE_CHECKING:
    from types import TracebackType

    from aiosocketio.server import Server

__all__ = ["InProcessHandshake", "InProcessWebSocket", "TestClient"]

CLOSE_LOST = 1006
"""The close code of a connection that was lost rather than closed: the server reports "transport close"."""
DEFAULT_TIMEOUT = 2.0
"""How long (in real seconds) the client waits for what the server should answer at once."""

Handler = Callable[..., Any]
"""An event handler of the client: called with the event's arguments, sync or async."""


class InProcessWebSocket:
    """The server's end of an in-process WebSocket (a :class:`~aiosocketio.web.WebSocketPort`).

    What the server sends reaches ``peer`` (the client's ``on_server_message``/``on_server_close``) on a later
    loop turn; what the client sends reaches the server's receiver the same way. The peer always reads, so the
    port is always writable (volatile packets are never dropped).
    """

    __slots__ = ("_loop", "_on_close", "_on_message", "closed", "lost", "receiver")

    def __init__(
        self, on_message: Callable[[str | bytes], object], on_close: Callable[[int], object]
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_message = on_message
        self._on_close = on_close
        self.receiver: WebSocketReceiver | None = None
        """The server's receiver of this connection, once the server set it."""
        self.closed = False
        """Whether either side closed the connection."""
        self.lost = False  # closed by CLOSE_LOST: what was still on its way is lost with the connection
        """Whether the connection was lost (closed with ``CLOSE_LOST``): what was on its way is dropped."""

    # -- WebSocketPort: the server's side --------------------------------------------------------------

    def set_receiver(self, receiver: WebSocketReceiver) -> None:
        """For the server: where the client's messages and the close go from now on.

        Args:
            receiver: The server's handler of this connection.
        """
        self.receiver = receiver

    @property
    def writable(self) -> bool:
        """Whether the server may send: always, until closed (the in-process client reads everything)."""
        return not self.closed

    def send_text(self, text: str) -> None:
        """For the server: send a text message, which reaches the client on a later loop turn.

        Args:
            text: The message.
        """
        if not self.closed:
            self._loop.call_soon(_deliver_to_client, self, self._on_message, text)

    def send_bytes(self, data: bytes) -> None:
        """For the server: send a binary message, which reaches the client on a later loop turn.

        Args:
            data: The message.
        """
        if not self.closed:
            self._loop.call_soon(_deliver_to_client, self, self._on_message, bytes(data))

    def close(self, code: int = 1000) -> None:
        """The server closes: the client hears of it, then the server's receiver (as after a closing handshake)."""
        self._end(code)

    # -- the client's side -----------------------------------------------------------------------------

    def client_send(self, data: str | bytes) -> None:
        """The client sends one message (``str``: a text message, ``bytes``: a binary one)."""
        receiver = self.receiver
        if not self.closed and receiver is not None:
            self._loop.call_soon(_deliver, self, receiver, data)

    def client_close(self, code: int = 1000) -> None:
        """The client closes (1000) or loses (:data:`CLOSE_LOST`) the connection."""
        self._end(code)

    def _end(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        self.lost = code == CLOSE_LOST
        self._loop.call_soon(self._on_close, code)
        receiver = self.receiver
        if receiver is not None:
            self._loop.call_soon(receiver.on_ws_close, code, "")


def _deliver(port: InProcessWebSocket, receiver: WebSocketReceiver, data: str | bytes) -> None:
    if not port.lost:  # sent before a close, it arrives (before the close); before a loss, it is lost
        receiver.on_ws_message(data)


def _deliver_to_client(
    port: InProcessWebSocket, on_message: Callable[[str | bytes], object], data: str | bytes
) -> None:
    if not port.lost:
        on_message(data)


class InProcessHandshake:
    """The upgrade request as the server answers it (a :class:`~aiosocketio.web.WebSocketHandshake`)."""

    __slots__ = ("headers", "port", "rejection")

    def __init__(self, port: InProcessWebSocket) -> None:
        self.port = port
        """The connection the server gets when it accepts."""
        self.headers: HeaderPairs | None = None  # what the 101 answer carried, once accepted
        """The headers of the server's 101 answer, once it accepted (``None`` before, or when it refused)."""
        self.rejection: Response | None = None
        """The server's refusal, when it refused the upgrade."""

    async def accept(
        self, headers: HeaderPairs, *, max_message_size: int, compression: bool
    ) -> InProcessWebSocket:
        """For the server: accept the upgrade, answering with ``headers``.

        Args:
            headers: The headers of the 101 answer (kept in :attr:`headers`).
            max_message_size: Ignored: the in-process connection has no frames to limit.
            compression: Ignored: nothing is compressed in process.

        Returns:
            :attr:`port`, the server's end of the connection.
        """
        self.headers = list(headers)
        return self.port

    async def reject(self, response: Response) -> None:
        """For the server: refuse the upgrade with ``response`` (kept in :attr:`rejection`).

        Args:
            response: The HTTP answer to the upgrade request.
        """
        self.rejection = response
        self.port.closed = True


class TestClient:
    """An in-process Socket.IO client of ``io`` for one namespace (see docs/testing.md).

    ``async with TestClient(io, auth={...}) as client`` connects (raising :class:`aiosocketio.ConnectError` when
    a middleware or ``allow_request`` refuses) and disconnects at the end. ``namespace=None`` opens only the
    Engine.IO session (to test the connect timeout). ``answer_pings=False`` makes a client that has gone silent,
    for ping timeouts. ``timeout`` bounds, in real seconds, each wait for the server (it answers within a few
    loop turns, whatever clock the server runs on).

    Args:
        io: The server to connect to, in this process.
        namespace: The namespace to join (a missing leading ``/`` is added); ``None``: none.
        auth: The ``auth`` payload of the CONNECT packet (``socket.handshake.auth`` on the server).
        headers: Headers of the upgrade request.
        query: Query parameters of the upgrade request (besides ``EIO`` and ``transport``).
        answer_pings: Answer the server's pings; ``False`` plays a client that went silent.
        timeout: Real seconds each wait for the server may take before the client raises ``TimeoutError``.
    """

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(
        self,
        io: Server,
        namespace: str | None = "/",
        *,
        auth: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        answer_pings: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if namespace is not None and not namespace.startswith("/"):
            namespace = "/" + namespace
        self.io = io
        """The server this client connects to."""
        self.namespace = namespace
        """The namespace it joins (``None``: only the Engine.IO session)."""
        self.auth: dict[str, Any] = dict(auth or {})
        """The ``auth`` payload it sends when it connects (change it before a :meth:`reconnect`)."""
        self.headers: dict[str, str] = dict(headers or {})
        """The headers of its upgrade request."""
        self.query: dict[str, str] = dict(query or {})
        """The extra query parameters of its upgrade request."""
        self.answer_pings = answer_pings
        """Whether it answers the server's pings (set it to ``False`` to let the session time out)."""
        self.timeout = timeout
        """Real seconds each wait for the server may take."""
        self.id: str | None = None
        """The socket's id once connected (the server's ``socket.id``)."""
        self.sid: str | None = None
        """The Engine.IO session id."""
        self.pid: str | None = None
        """The private session id the server gave for connection state recovery (None when recovery is off);
        set before connecting, it asks for that session back (see :meth:`reconnect`)."""
        self.last_offset: str | None = None
        """The offset of the last event received, sent back on reconnection to get what was missed."""
        self.recovered = False
        """Whether the server restored the previous session of ``pid`` (same id, rooms, missed events)."""
        self.connected = False
        """Whether the namespace accepted the client and it has not disconnected since."""
        self.disconnect_reason: str | None = None
        """Why the connection ended, as socket.io-client reports it (``"io server disconnect"``, ``"transport
        close"``, ``"io client disconnect"``), once it has."""
        self.handshake: dict[str, Any] = {}
        """The parsed Engine.IO open packet (``sid``, ``pingInterval``, ``pingTimeout``, ``maxPayload``...)."""
        self.response_headers: HeaderPairs = []
        """The headers of the server's 101 answer."""
        self._parser = io.parser
        self._decoder: Any = None
        self._port: InProcessWebSocket | None = None
        self._opened: asyncio.Future[None] | None = None
        self._connected: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[str] | None = None
        self._events: dict[str, collections.deque[list[Any]]] = {}
        self._waiters: dict[str, collections.deque[asyncio.Future[list[Any]]]] = {}
        self._handlers: dict[str, Handler] = {}
        self._acks: dict[int, asyncio.Future[list[Any]]] = {}
        self._next_ack = 0
        self._offsets = False  # whether the server appends recovery offsets to events (known once connected)
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        state = "connected" if self.connected else (self.disconnect_reason or "not connected")
        return f"<TestClient {self.namespace} {self.id} {state}>"

    # -- connecting ------------------------------------------------------------------------------------

    async def __aenter__(self) -> TestClient:
        await self.connect()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.disconnect()

    async def connect(self) -> None:
        """Open the Engine.IO session and, unless ``namespace`` is None, connect to the namespace."""
        if self._port is not None:
            raise RuntimeError("this TestClient has already connected once: use reconnect() for a new one")
        loop = asyncio.get_running_loop()
        self._opened = loop.create_future()
        self._closed = loop.create_future()
        self._decoder = self._parser.Decoder()
        port = self._port = InProcessWebSocket(self._on_server_message, self._on_server_close)
        handshake = InProcessHandshake(port)
        query = {"EIO": "4", "transport": "websocket", **self.query}
        upgrade = {"host": "localhost", "connection": "Upgrade", "upgrade": "websocket"}
        headers = Headers([*upgrade.items(), *self.headers.items()])
        request = Request("GET", self.io.engine.path, urlencode(query), headers, remote_address="127.0.0.1")
        await self.io.handle_websocket(request, handshake)
        if handshake.rejection is not None:
            self.disconnect_reason = "connect error"
            body = handshake.rejection.body.decode("utf-8", "replace")
            raise ConnectError(
                body or "the server refused the connection", {"status": handshake.rejection.status}
            )
        self.response_headers = handshake.headers or []
        try:
            await self._wait(self._opened, "the Engine.IO open packet")
            if self.namespace is not None:
                await self._connect_namespace()
        except BaseException:
            # As socket.io-client after a connect_error: the connection it opened for the namespace is closed.
            self._finish(self.disconnect_reason or "io client disconnect")
            port.client_close(1000)
            raise

    async def _connect_namespace(self) -> None:
        assert self.namespace is not None
        self._connected = asyncio.get_running_loop().create_future()
        auth = dict(self.auth)
        if self.pid is not None:
            # The server sends the missed events before its CONNECT (as the reference does): their offsets must
            # be recognised from the start.
            self._offsets = self._adapter_appends_offsets()
            # As socket.io-client: the pid and the last offset seen (none yet: no offset, and no recovery then).
            recovery = {"pid": self.pid}
            if self.last_offset is not None:
                recovery["offset"] = self.last_offset
            auth = {**recovery, **auth}
        self._send_packet(Packet(PacketType.CONNECT, self.namespace, auth or None))
        await self._wait(self._connected, f"the answer to CONNECT {self.namespace}")

    def reconnect(self, **changes: Any) -> TestClient:
        """A new client like this one (``changes``: other ``auth``, ``headers``...) that, with recovery on, asks
        the server for this client's session back: use it as ``async with client.reconnect() as again``."""
        options: dict[str, Any] = {
            "auth": self.auth,
            "headers": self.headers,
            "query": self.query,
            "answer_pings": self.answer_pings,
            "timeout": self.timeout,
            **changes,
        }
        again = TestClient(self.io, self.namespace, **options)
        again.pid = self.pid
        again.last_offset = self.last_offset
        return again

    # -- sending ---------------------------------------------------------------------------------------

    async def emit(self, event: str, *args: Any) -> None:
        """Send an event (no ack asked); returns once the server has had a few loop turns to handle it (a
        handler that joins a room has joined it, unless it waits for something slower)."""
        self._check_connected()
        assert self.namespace is not None
        self._send_packet(Packet(PacketType.EVENT, self.namespace, [event, *args]))
        await settle()

    async def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Send an event and return the first argument of the server's ack (None for an empty ack); raise
        :class:`aiosocketio.AckTimeoutError` when none comes within ``timeout`` real seconds."""
        answer = await self.emit_with_ack_args(event, *args, timeout=timeout)
        return answer[0] if answer else None

    async def emit_with_ack_args(self, event: str, *args: Any, timeout: float | None = None) -> list[Any]:
        """Like :meth:`emit_with_ack`, returning every argument of the ack."""
        self._check_connected()
        assert self.namespace is not None
        ack_id = self._next_ack
        self._next_ack += 1
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        self._send_packet(Packet(PacketType.EVENT, self.namespace, [event, *args], ack_id))
        try:
            return await asyncio.wait_for(future, self.timeout if timeout is None else timeout)
        except TimeoutError:
            raise AckTimeoutError(f"no ack for {event!r} within the timeout") from None
        finally:
            self._acks.pop(ack_id, None)

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Answer the server's ``event`` when it asks for an ack: ``handler(*args)`` (sync or async) returns the
        ack's argument (None: an empty ack; a tuple: several arguments). Usable as a decorator. Without a
        handler, such an event gets no ack (the server's wait times out). Events are recorded for
        :meth:`received` all the same."""

        def register(function: Handler) -> Handler:
            self._handlers[event] = function
            return function

        return register if handler is None else register(handler)

    # -- receiving -------------------------------------------------------------------------------------

    async def received(self, event: str, timeout: float | None = None) -> list[Any]:
        """The arguments of the next ``event`` from the server: one that already came (oldest first), or the
        next to come within ``timeout`` real seconds (``TimeoutError`` otherwise). With connection state
        recovery on, the offset the server appends to an event without ack is not part of them (it goes to
        ``last_offset``)."""
        buffered = self._events.get(event)
        if buffered:
            return buffered.popleft()
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(event, collections.deque()).append(future)
        try:
            return await asyncio.wait_for(future, self.timeout if timeout is None else timeout)
        except TimeoutError:
            raise TimeoutError(f"{self!r} received no {event!r}") from None

    def pending(self, event: str) -> list[list[Any]]:
        """The ``event``\\ s received and not yet taken by :meth:`received` (without taking them)."""
        return list(self._events.get(event, ()))

    async def disconnected(self, timeout: float | None = None) -> str:
        """Wait until the connection has ended; return the reason (see ``disconnect_reason``)."""
        if self._closed is None:
            raise RuntimeError("this TestClient never connected")
        return await asyncio.wait_for(
            asyncio.shield(self._closed), self.timeout if timeout is None else timeout
        )

    # -- ending ----------------------------------------------------------------------------------------

    async def disconnect(self) -> None:
        """Leave as ``socket.disconnect()`` does: DISCONNECT, then close the connection (the server's socket
        sees "client namespace disconnect"). Nothing happens when the connection has already ended. Returns once
        the server has handled both (its ``disconnect`` handlers have run), as :meth:`emit` waits for its event."""
        port = self._port
        if port is None or port.closed:
            return
        if self.connected and self.namespace is not None:
            self._send_packet(Packet(PacketType.DISCONNECT, self.namespace))
        self._finish("io client disconnect")
        port.client_close(1000)
        await self.disconnected()
        await settle()  # the server takes a DISCONNECT and a close on later loop turns, as the reference does

    def transport_close(self) -> None:
        """Lose the connection without a word (a network failure): the server sees "transport close" and, with
        connection state recovery on, keeps the session for :meth:`reconnect`."""
        port = self._port
        if port is None or port.closed:
            return
        self._finish("transport close")
        port.client_close(CLOSE_LOST)

    # -- the wire --------------------------------------------------------------------------------------

    def _check_connected(self) -> None:
        if not self.connected or self.namespace is None:
            raise RuntimeError(f"{self!r} is not connected to a namespace")

    def _send_packet(self, packet: Packet) -> None:
        port = self._port
        if port is None:
            return
        for part in self._parser.encode(packet):
            port.client_send("4" + part if isinstance(part, str) else part)

    async def _wait(self, future: asyncio.Future[None], what: str) -> None:
        closed = self._closed
        assert closed is not None
        waiting: set[asyncio.Future[Any]] = {future, closed}
        done, _ = await asyncio.wait(waiting, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
        if future in done:
            future.result()  # raises the ConnectError of a refusal
            return
        if closed in done:
            raise ConnectionError(f"{self!r}: the connection ended ({closed.result()}) before {what}")
        raise TimeoutError(f"{self!r}: no {what} within {self.timeout} s")

    def _on_server_message(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            self._on_socketio_data(data)
            return
        kind, body = data[:1], data[1:]
        if kind == "4":
            self._on_socketio_data(body)
        elif kind == "2":
            if self.answer_pings and self._port is not None:
                self._port.client_send("3" + body)
        elif kind == "0":
            self.handshake = json.loads(body)
            self.sid = self.handshake.get("sid")
            if self._opened is not None and not self._opened.done():
                self._opened.set_result(None)
        elif kind == "1":  # a close packet (only over polling, but harmless here)
            self._on_server_close(1000)

    def _on_server_close(self, code: int) -> None:
        self._finish("transport close")
        port = self._port
        if port is not None and not port.closed:
            port.client_close(code)

    def _finish(self, reason: str) -> None:
        self.connected = False
        if self.disconnect_reason is None:
            self.disconnect_reason = reason
        closed = self._closed
        if closed is not None and not closed.done():
            closed.set_result(self.disconnect_reason)

    def _on_socketio_data(self, data: str | bytes) -> None:
        packet: Packet | None = self._decoder.add(data)
        if packet is None or packet.nsp != self.namespace:
            return
        kind = packet.type
        if kind is PacketType.CONNECT:
            answer = packet.data if isinstance(packet.data, dict) else {}
            self.id = answer.get("sid")
            pid = answer.get("pid")
            self.recovered = pid is not None and pid == self.pid
            self.pid = pid
            self._offsets = pid is not None and self._adapter_appends_offsets()
            self.connected = True
            if self._connected is not None and not self._connected.done():
                self._connected.set_result(None)
        elif kind is PacketType.CONNECT_ERROR:
            error = packet.data if isinstance(packet.data, dict) else {}
            self.disconnect_reason = "connect error"
            if self._connected is not None and not self._connected.done():
                self._connected.set_exception(ConnectError(str(error.get("message")), error.get("data")))
        elif kind is PacketType.EVENT or kind is PacketType.BINARY_EVENT:
            self._on_event(packet)
        elif kind is PacketType.ACK or kind is PacketType.BINARY_ACK:
            future = self._acks.get(packet.id) if packet.id is not None else None
            if future is not None and not future.done():
                future.set_result(list(packet.data) if isinstance(packet.data, list) else [])
        elif kind is PacketType.DISCONNECT:
            self._finish("io server disconnect")
            port = self._port
            if port is not None:
                port.client_close(1000)

    def _adapter_appends_offsets(self) -> bool:
        """Whether the namespace's adapter appends a recovery offset to events: the in-memory adapter with
        recovery on, and a cluster adapter whose bus gives offsets (a bus without them cannot recover)."""
        nsp = self.io.namespaces.get(self.namespace or "/")
        adapter = nsp.adapter if nsp is not None else None
        return isinstance(adapter, SessionAwareAdapter) or bool(getattr(adapter, "has_offsets", False))

    def _on_event(self, packet: Packet) -> None:
        data = packet.data if isinstance(packet.data, list) else []
        if not data:
            return
        event, args = str(data[0]), list(data[1:])
        if self._offsets and packet.id is None and args and isinstance(args[-1], str):
            # The server appends an offset to each event without ack (socket.io-client keeps the last one for
            # its reconnection); it is the server's bookkeeping, not the application's data.
            self.last_offset = args.pop()
        if packet.id is not None:
            handler = self._handlers.get(event)
            if handler is not None:
                self._answer(handler, args, packet.id)
        waiters = self._waiters.get(event)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(args)
                return
        self._events.setdefault(event, collections.deque()).append(args)

    def _answer(self, handler: Handler, args: list[Any], ack_id: int) -> None:
        namespace = self.namespace
        assert namespace is not None

        def send(result: Any) -> None:
            answer = [] if result is None else list(result) if isinstance(result, tuple) else [result]
            self._send_packet(Packet(PacketType.ACK, namespace, answer, ack_id))

        result = handler(*args)
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(_awaited(result))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda done: send(done.result()) if not done.cancelled() else None)
        else:
            send(result)


async def _awaited(value: Awaitable[Any]) -> Any:
    return await value
