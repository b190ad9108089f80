"""``Client``: one Engine.IO session carrying many namespaces (docs/protocol/socketio.md#default-parser, docs/protocol/socketio.md#binary-attachments, docs/protocol/socketio.md#connecting, docs/protocol/socketio.md#disconnection), like Node's ``client.ts``.

It owns the packet decoder of its connection, the connect timeout and the map namespace → socket. Packets are
routed by the rules of docs/protocol/socketio.md#connecting: a CONNECT for a namespace not joined starts an attempt; EVENT/ACK/DISCONNECT go to the
namespace's socket; anything else is an invalid state that closes the whole connection ("forced server close").
A packet the decoder rejects closes the connection at engine level ("forced close").
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiosocketio._emitter import spawn, step
from aiosocketio.clock import TimerHandle
from aiosocketio.logs import describe_packet
from aiosocketio.namespace import connect_error_packet
from aiosocketio.parsers.default import Decoder
from aiosocketio.parsers.packet import Packet, PacketType

if TYPE_CHECKING:
    from aiosocketio._types import ClientServer, ClientSocket
    from aiosocketio.engineio.socket import EngineSocket

__all__ = ["Client"]

logger = logging.getLogger("aiosocketio.socket")
namespace_log = logging.getLogger("aiosocketio.namespace")


class Client:
    """The Socket.IO side of one Engine.IO session (Node's ``Client``), shared by the sockets of that
    connection in every namespace; an application reaches it as ``socket.client``.

    Its methods are for the server, namespace and socket layers, not needed by applications; ``conn``,
    ``id`` and ``sockets`` are the parts worth reading.
    """

    __slots__ = (
        "_connect_timer",
        "_connecting",
        "_decoder",
        "_events",
        "_sockets",
        "closed",
        "conn",
        "id",
        "server",
        "trace",
    )

    def __init__(self, server: ClientServer, conn: EngineSocket) -> None:
        self.server = server
        """The server."""
        self.conn = conn
        """The Engine.IO session (Node's ``client.conn``): its transport, its ``upgrade`` and ``close`` events."""
        self.id = conn.id
        """The Engine.IO session id (not a socket id)."""
        self.closed = False
        """Whether the connection is closed (or closing): every socket of it is then disconnected."""
        self.trace = logger.isEnabledFor(logging.DEBUG)
        """Whether this session's packets are traced at DEBUG: read once per session, so that with tracing off a
        packet costs the test of this boolean (docs/operations/logging.md)."""
        self._decoder = server.new_decoder()
        # The default decoder reads a plain EVENT on "/" without building a Packet (``add_event``). Exactly that
        # class: a subclass may have changed what add() does, and then add() must see every message.
        self._events = type(self._decoder) is Decoder
        self._sockets: dict[str, ClientSocket] = {}
        self._connecting: set[str] | None = (
            None  # namespaces whose attempt is running; made when first needed
        )
        # The session's loop unless the server has a clock of its own (asking asyncio for the running loop
        # costs a system call per connection on Python 3.11).
        clock = server.clock
        self._connect_timer: TimerHandle | None = (conn.loop if clock is None else clock).call_later(
            server.connect_timeout, self._on_connect_timeout
        )
        conn.set_message_handler(self._on_data)
        conn.on("close", self.on_close)

    @property
    def sockets(self) -> dict[str, ClientSocket]:
        """Namespace name → connected socket (do not mutate)."""
        return self._sockets

    # -- incoming ----------------------------------------------------------------------------------------

    def _on_data(self, data: str | bytes | None) -> None:
        if self.closed:
            return
        decoder = self._decoder
        event: tuple[list[Any], int | None] | None = None
        packet: Packet | None = None
        try:
            if self._events and type(data) is str:
                event = decoder.add_event(data)
            if event is None:
                packet = decoder.add(data)
        except Exception as exc:  # the decoder's errors, and anything a hostile input could provoke
            logger.debug("client %s: invalid Socket.IO packet: %s", self.id, exc)
            self._on_decode_error(exc)
            return
        if self.trace:
            self._trace_in(event, packet)
        if event is not None:
            # The hot path: an event for the main namespace goes straight to its socket.
            socket = self._sockets.get("/")
            if socket is not None:
                socket.on_event(event[0], event[1])
                return
            packet = Packet(PacketType.EVENT, "/", event[0], event[1])
        if packet is not None:
            self._on_packet(packet)

    def _trace_in(self, event: tuple[list[Any], int | None] | None, packet: Packet | None) -> None:
        if event is not None:
            line = describe_packet("EVENT", "/", event[0], event[1])
        elif packet is not None:
            line = describe_packet(packet.type.name, packet.nsp, packet.data, packet.id)
        else:
            return  # a binary packet waiting for its attachments
        logger.debug("session %s: received %s", self.id, line)

    def _on_packet(self, packet: Packet) -> None:
        name = packet.nsp
        kind = packet.type
        if kind is PacketType.CONNECT and self.conn.protocol == 3 and "?" in name:
            # A v2 client puts its query in the namespace of CONNECT (``/admin?token=1``): it is the auth.
            name, auth = _v2_namespace(name)
            packet = Packet(PacketType.CONNECT, name, auth)
        socket = self._sockets.get(name)
        if socket is not None:
            if kind is not PacketType.CONNECT and kind is not PacketType.CONNECT_ERROR:
                socket.on_packet(packet)
                return
        elif kind is PacketType.CONNECT and (self._connecting is None or name not in self._connecting):
            auth = packet.data if isinstance(packet.data, dict) else {}
            self._start_connect(name, auth)
            return
        logger.debug("client %s: %s packet for namespace %r in the wrong state", self.id, kind.name, name)
        self._close("forced server close")

    def _start_connect(self, name: str, auth: dict[str, Any]) -> None:
        if self._connecting is None:
            self._connecting = set()
        self._connecting.add(name)
        if self.server.connects_at_once(name):
            # A plain connect completes here, with no task, and the CONNECT answer leaves in this loop turn.
            # Middlewares, dynamic namespace matchers and recovery lookups may need a task (asyncio.timeout()
            # in the application's code or in a Redis client): they get one.
            step(self._connect(name, auth))
        else:
            spawn(self._connect(name, auth))

    def connect_v2_main(self) -> None:
        """For the server, not needed by applications: a v2 client (Engine.IO protocol 3) is in the main
        namespace from the start, without asking (docs/protocol/engineio-v3.md)."""
        self._start_connect("/", {})

    async def _connect(self, name: str, auth: dict[str, Any]) -> None:
        try:
            nsp = await self.server.find_namespace(name, auth)
            if self.closed:
                return
            if nsp is None:
                namespace_log.debug("session %s: namespace %s refused: Invalid namespace", self.id, name)
                self._write_packet(connect_error_packet(name, "Invalid namespace"))
                return
            await nsp.attempt(self, auth)
        finally:
            if self._connecting is not None:
                self._connecting.discard(name)
                if not self._connecting:
                    self._connecting = None

    def _on_decode_error(self, error: Exception) -> None:
        for socket in tuple(self._sockets.values()):
            if socket.has_listeners("error"):
                socket.emit_reserved("error", error)
        self._decoder = self.server.new_decoder()
        self.conn.close_nowait()  # the engine reports "forced close", which closes the sockets

    def _on_connect_timeout(self) -> None:
        self._connect_timer = None
        if not self._sockets and not self.closed:
            logger.debug("client %s: no namespace joined in time", self.id)
            self._close("forced server close")

    # -- from the namespaces -----------------------------------------------------------------------------

    def connect_succeeded(self, socket: ClientSocket) -> None:
        """For the namespaces, not needed by applications: the namespace accepted ``socket``, so send the
        CONNECT reply (its id, and its pid with recovery)."""
        self._sockets[socket.nsp.name] = socket
        if namespace_log.isEnabledFor(logging.DEBUG):  # the arguments are not even gathered otherwise
            namespace_log.debug(
                "session %s: namespace %s connected, socket %s%s",
                self.id,
                socket.nsp.name,
                socket.id,
                " (recovered)" if socket.recovered else "",
            )
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        if self.conn.protocol == 3:  # a v2 client: a bare CONNECT (its id is known from the Engine.IO id)
            self._write_packet(Packet(PacketType.CONNECT, socket.nsp.name, None))
            return
        reply = {"sid": socket.id}
        if socket.pid is not None:
            reply["pid"] = socket.pid
        name = socket.nsp.name
        if self.trace:
            self.trace_out("CONNECT", name, reply)
        self.write(self.server.writer.connect_items(name, reply), False)

    def connect_failed(self, name: str, message: str, data: Any) -> None:
        """For the namespaces, not needed by applications: the namespace ``name`` refused the connection, so
        send CONNECT_ERROR with ``message`` and ``data``."""
        namespace_log.debug("session %s: namespace %s refused: %s", self.id, name, message)
        if self.conn.protocol == 3:  # a v2 client gets the error's data, or its message, as the payload
            self._write_packet(Packet(PacketType.CONNECT_ERROR, name, data if _js_truthy(data) else message))
            return
        self._write_packet(connect_error_packet(name, message, data))

    def remove(self, socket: ClientSocket) -> None:
        """For sockets, not needed by applications: ``socket`` disconnected, so its namespace is free to be
        joined again."""
        if self._sockets.get(socket.nsp.name) is socket:
            del self._sockets[socket.nsp.name]

    # -- outgoing ----------------------------------------------------------------------------------------

    def _write_packet(self, packet: Packet) -> None:
        if self.trace:
            self.trace_out(packet.type.name, packet.nsp, packet.data, packet.id)
        self.write(self.server.writer.engine_items(packet), False)

    def trace_out(self, kind: str, nsp: str, data: Any = None, ack_id: int | None = None) -> None:
        """The trace line of a packet sent to this client (only called when :attr:`trace` is on)."""
        logger.debug("session %s: sent %s", self.id, describe_packet(kind, nsp, data, ack_id))

    def write(self, items: list[str | bytes], volatile: bool) -> None:
        """For sockets and adapters, not needed by applications: hand encoded Engine.IO items to the session;
        a volatile packet is dropped unless it can leave now."""
        conn = self.conn
        if volatile and not conn.writable:
            if conn.has_listeners("packet_dropped"):  # for metrics (docs/operations/metrics.md)
                conn.emit_event("packet_dropped", items)
            return
        for item in items:
            conn.send_encoded(item)

    # -- closing -----------------------------------------------------------------------------------------

    def disconnect_all_and_close(self) -> None:
        """For sockets, not needed by applications: ``socket.disconnect(close=True)``; every namespace gets
        DISCONNECT, then the connection closes."""
        for socket in tuple(self._sockets.values()):
            socket.disconnect_now(False)
        self._close("forced server close")

    def _close(self, reason: str) -> None:
        """Close every socket with ``reason``, then the Engine.IO session (whose own close then finds none)."""
        self.on_close(reason, None)
        self.conn.close_nowait()

    def on_close(self, reason: str, description: Any = None) -> None:
        """For the server and the Engine.IO session, not needed by applications: the connection closed (or is
        being closed) with ``reason``, so close every socket, once."""
        if self.closed:
            return
        self.closed = True
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        for socket in tuple(self._sockets.values()):
            socket.on_close(reason, description)
        self._sockets.clear()
        self.server.remove_client(self.id)


def _v2_namespace(nsp: str) -> tuple[str, dict[str, Any]]:
    """``/admin?token=1&x=2`` -> ``("/admin", {"token": "1", "x": "2"})``: the namespace a v2 client's CONNECT
    names and its query (decoded as a form: ``+`` is a space; when a name repeats, the last value wins)."""
    path, _, query = nsp.partition("?")
    return path or "/", dict(parse_qsl(query, keep_blank_values=True))


def _js_truthy(value: Any) -> bool:
    """What JavaScript's ``||`` tests: everything but undefined/null, false, 0, NaN and ``""`` (an empty list or
    dict is true there)."""
    if value is None or value is False or value == "":
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == value and value != 0  # NaN is never equal to itself
    return True
