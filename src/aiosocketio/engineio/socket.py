"""``EngineSocket``: one Engine.IO session, the asyncio owner of an :class:`EngineSession`.

It holds the session's write buffer and current transport, files the session's single deadline with the
server's shared :class:`~aiosocketio.engineio.timers.SessionTimers` (no timer handle of its own), swaps transports
on upgrade and emits the public events (``message``, ``close``, ``upgrading``, ``upgrade``, ``packet``,
``packet_create``, ``heartbeat``, ``drain``). Sends never wait: over WebSocket they go straight to the
connection's write buffer; over polling they are buffered and one flush per loop turn answers the held GET.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiosocketio._emitter import EventEmitter
from aiosocketio.clock import TimerHandle
from aiosocketio.engineio import packet as pk
from aiosocketio.engineio.interfaces import PacketTap, PollContext, SessionHost
from aiosocketio.engineio.payload_v3 import decode_ws_v3
from aiosocketio.engineio.session import Action, CloseReason, EngineSession, ReadyState
from aiosocketio.engineio.transports.polling import PollingTransport
from aiosocketio.engineio.transports.websocket import WebSocketTransport
from aiosocketio.web import CLOSE_DROPPED, Request, Response

__all__ = ["EngineSocket"]

logger = logging.getLogger("aiosocketio.engine")
transport_log = logging.getLogger("aiosocketio.engine.transport")

Transport = PollingTransport | WebSocketTransport
"""The transports a session may be on."""

#: WebSocket close codes that stand for a failed transport rather than a closed one (see ``on_ws_closed``).
_WS_ERROR_CODES = frozenset({1002, 1007, 1009, CLOSE_DROPPED})

POLLING_CLOSE_TIMEOUT = 30.0
"""How long a server-side close over polling waits for the client's next GET to deliver the close packet."""

PROBE_NOOP_INTERVAL = 0.1
"""Once the probe is answered, how often a GET still waiting is released with a noop so that the client can
pause polling and finish the upgrade (the reference's fixed 100 ms)."""


class EngineSocket(EventEmitter):
    """One client session. Public: ``id``, ``transport``, ``request``, ``protocol``, ``ready_state``,
    ``upgraded``, ``remote_address``, ``send()``, ``write()``, ``close()`` and the events listed above.

    It is the :class:`~aiosocketio.engineio.interfaces.TransportOwner` of its transports (the ``on_*`` methods and
    the long-polling answers are theirs to call) and holds its server as a
    :class:`~aiosocketio.engineio.interfaces.SessionHost` (``start`` and ``start_upgrade`` are the server's)."""

    __slots__ = (
        "__weakref__",
        "_buffer",
        "_buffered",
        "_candidate",
        "_close_timer",
        "_flush_scheduled",
        "_on_message",
        "_probe_timer",
        "_server",
        "_timers",
        "clock",
        "id",
        "loop",
        "protocol",
        "request",
        "session",
        "tap",
        "transport",
    )

    def __init__(
        self,
        server: SessionHost,
        sid: str,
        request: Request,
        *,
        protocol: int = 4,
        transport: Callable[[EngineSocket], Transport] | None = None,
    ) -> None:
        super().__init__()
        self._server = server
        self.loop = asyncio.get_running_loop()
        """The event loop the session runs on: the one that accepted its first request."""
        self._timers = timers = server.session_timers(self.loop)
        # The time and the timers of the session: the loop's, or the clock the server was given.
        self.clock = timers.clock
        """Where the session reads the time and files its deadlines: the server's clock, or the loop's time."""
        self.id = sid
        """The session id (the ``sid`` of the handshake), unique among the server's sessions."""
        self.request = request
        """The session's first HTTP request (the handshake's), with its headers, query and remote address."""
        request.share_strings()  # kept as long as the session: the strings it shares with others stored once
        self.protocol = protocol  # 3: a Socket.IO v2 client (``allow_eio3``, docs/protocol/engineio-v3.md)
        """The Engine.IO protocol revision the client speaks: 4, or 3 for a Socket.IO v2 client (``allow_eio3``)."""
        self.session = EngineSession(
            ping_interval=server.ping_interval,
            ping_timeout=server.ping_timeout,
            upgrade_timeout=server.upgrade_timeout,
            now=self.clock.time(),
            protocol=protocol,
        )
        """The session's state machine (ready state, heartbeat, upgrade): no I/O, driven by this socket."""
        # ``transport``: how to make the first transport when it is not long-polling (a WebSocket handshake),
        # so that no polling transport is made only to be dropped.
        self.transport: Transport = PollingTransport(self) if transport is None else transport(self)
        """The transport in use: long-polling, or WebSocket from the handshake or after an upgrade."""
        # Packets waiting for the next flush; None when there are none (an idle session holds no list).
        self._buffer: list[str | bytes] | None = None
        self._buffered = 0  # characters/bytes queued for a polling client with no GET: ``max_queued_bytes``
        self._flush_scheduled = False
        self._candidate: WebSocketTransport | None = None
        self._close_timer: TimerHandle | None = None
        # Repeats every PROBE_NOOP_INTERVAL from the probe until the upgrade completes or is given up.
        self._probe_timer: TimerHandle | None = None
        self._on_message: Callable[[str | bytes | None], Any] | None = None
        # Told of every message in and out when set (aiosocketio.metrics sets it); one test per packet when not.
        self.tap: PacketTap | None = None
        """Told of every message in and out when set (``aiosocketio.metrics`` sets it); ``None``: nobody."""

    def __repr__(self) -> str:
        return f"<EngineSocket {self.id} {self.session.ready_state.value}>"

    # -- public ------------------------------------------------------------------------------------------

    @property
    def ready_state(self) -> str:
        """``"open"``, ``"closing"`` or ``"closed"`` (Node.js: ``readyState``)."""
        return self.session.ready_state.value

    @property
    def upgraded(self) -> bool:
        """Whether the session moved from long-polling to WebSocket (``False`` for a WebSocket from the start)."""
        return self.session.upgraded

    @property
    def upgrading(self) -> bool:
        """Whether an upgrade to WebSocket is under way (a probe connection is open but not yet in use)."""
        return self.session.upgrading

    @property
    def writable(self) -> bool:
        """Whether a packet sent now leaves at once (what ``volatile`` checks): over polling, a GET waits and
        nothing is queued before it; over WebSocket, the session is open and not backed up."""
        if self.session.ready_state is not ReadyState.OPEN:
            return False
        return self.transport.writable and not self._buffer

    @property
    def remote_address(self) -> str:
        """The client's address, as the first request gave it (Node.js: ``remoteAddress``)."""
        return self.request.remote_address

    def set_message_handler(self, handler: Callable[[str | bytes | None], Any] | None) -> None:
        """Install the one direct receiver of messages (the Socket.IO layer); ``message`` events still fire."""
        self._on_message = handler

    async def send(self, data: str | bytes) -> None:
        """Send one message (``str`` as text, ``bytes`` as binary)."""
        self.write(data)

    def write(self, data: str | bytes) -> None:
        """Send one message without awaiting: it goes to the transport's buffer at once."""
        if type(data) is str:
            self.send_encoded(pk.MESSAGE_PREFIX + data)
        elif isinstance(data, (bytes, bytearray, memoryview)):
            self.send_encoded(bytes(data))
        else:
            raise TypeError(f"an Engine.IO message is str or bytes, not {type(data).__name__}")

    def send_encoded(self, item: str | bytes) -> None:
        """Send an already encoded packet (``"4..."`` text or raw binary message bytes). The hot path."""
        if self.session.ready_state is not ReadyState.OPEN:
            return
        if "packet_create" in self._listeners:  # has_listeners() inlined: checked for every packet sent
            self.emit_event("packet_create", item)
        tap = self.tap
        if tap is not None:
            tap.sent(item)
        transport = self.transport
        if type(transport) is WebSocketTransport and not self._buffer:
            transport.send(item)  # what _enqueue does first, without the extra call
        else:
            self._enqueue(item)

    def _enqueue(self, item: str | bytes) -> None:
        """Straight to the WebSocket, or into the buffer that the next flush (one per loop turn) sends."""
        transport = self.transport
        buffer = self._buffer
        if isinstance(transport, WebSocketTransport):
            if not buffer:
                transport.send(item)
                return
            buffer.append(item)
            due = True  # a WebSocket always takes the buffer: its own write buffer holds the limit
        else:
            if buffer is None:
                self._buffer = [item]
            else:
                buffer.append(item)
            due = transport.writable  # polling needs a waiting GET
            if not due:  # counted only then: with a GET waiting, the flush at the end of this turn takes all
                buffered = self._buffered = self._buffered + len(item)
                if buffered > self._server.max_queued_bytes:
                    self._on_backlog_overflow()
                    return
        if due and not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _on_backlog_overflow(self) -> None:
        """A long-polling client stopped fetching while packets kept coming: drop the session and its buffer
        rather than hold them until the ping timeout (README, "Slow consumers")."""
        logger.debug("session %s: %d bytes queued for a client that does not poll", self.id, self._buffered)
        self._buffer = None
        self._buffered = 0
        self.on_transport_error(CloseReason.TRANSPORT_ERROR, "write buffer full")

    async def close(self) -> None:
        """Close the session from the server side (reason "forced close"), after buffered packets are sent."""
        self.close_nowait()

    def close_nowait(self) -> None:
        """Start closing the session from the server side (reason ``forced close``) without waiting.

        What :meth:`close` does, for code that is not async. Buffered packets go first: at once over WebSocket;
        over long-polling with the client's next GET (given up after 30 seconds). Does nothing once closing.
        """
        session = self.session
        if not session.start_closing(CloseReason.FORCED_CLOSE):
            return
        self._abort_candidate()
        transport = self.transport
        if isinstance(transport, WebSocketTransport):
            if self._buffer:
                transport.send_many(self._buffer)
                self._buffer = None
                self._buffered = 0
            self._finish_close()
            return
        if transport.writable:  # a GET waits: it carries the buffer (if any) and the close packet
            items: list[str | bytes] = self._buffer or []
            self._buffer = None
            self._buffered = 0
            items.append(pk.CLOSE)
            transport.send(items)
            self._finish_close()
            return
        # No GET waiting: the next one carries the buffer and the close packet, or we give up after a while.
        self._close_timer = self.clock.call_later(POLLING_CLOSE_TIMEOUT, self._finish_close)

    def discard(self) -> None:
        """Close at once, dropping buffered packets (server shutdown)."""
        if self.session.ready_state is ReadyState.CLOSED:
            return
        self._buffer = None
        self._buffered = 0
        self.session.start_closing(CloseReason.FORCED_CLOSE)
        self._finish_close()

    # -- timer -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """(Server) The handshake is answered: the session's first deadline (its first ping) is filed."""
        self._reschedule()

    def _reschedule(self) -> None:
        """File the session's next deadline with the shared timers (moving it if it changed)."""
        deadline = self.session.next_deadline()
        if deadline is None:
            self._timers.cancel(self)
        else:
            self._timers.schedule(self, deadline)

    def on_timer(self, now: float) -> None:
        """(Timers) The shared timers found this session due at ``now`` (never before its deadline)."""
        while True:
            action = self.session.on_timer(now)
            if action is Action.NOTHING:
                break
            if action is Action.SEND_PING:
                # A packet the server creates, as the reference reports it; ``heartbeat`` waits for the pong.
                if "packet_create" in self._listeners:
                    self.emit_event("packet_create", pk.PING)
                self._enqueue(pk.PING)  # through the buffer like any packet, so it reaches a polling client
            elif action is Action.ABORT_UPGRADE:
                self._drop_candidate()
            elif action is Action.CLOSE:
                self._finish_close()
                return
        self._reschedule()

    # -- receiving ---------------------------------------------------------------------------------------

    def _deliver(self, data: str | bytes | None) -> None:
        """Hand one message to the application; ``None`` is a message packet without data (``4``), which the
        reference also delivers as "no data" (the Socket.IO layer rejects it)."""
        tap = self.tap
        if tap is not None:
            tap.received(data)
        handler = self._on_message
        if handler is not None:
            try:
                handler(data)
            except Exception:
                logger.exception("error in the message handler of session %s", self.id)
        if "message" in self._listeners:  # has_listeners() inlined: checked for every message
            self.emit_event("message", data)

    def on_message_text(self, message: str | None) -> None:
        """(Transports) The hot path of receiving: one text message packet (``4...``, ``None`` for a bare ``4``) on the
        current transport. No Packet is made unless a ``packet`` listener wants one, and a message packet never
        moves the session's deadlines."""
        session = self.session
        if session.ready_state is not ReadyState.OPEN:
            self.on_packets([pk.Packet(pk.PacketType.MESSAGE, message)], False)
            return
        if session.heartbeat.refreshable:  # the first packet since a ping: the pong gets its timeout again
            session.heartbeat.on_traffic(self.clock.time())
            self._reschedule()
        if "packet" in self._listeners:
            self.emit_event("packet", pk.Packet(pk.PacketType.MESSAGE, message))
        self._deliver(message)

    def on_packets(self, packets: list[pk.Packet], error: bool) -> bool:
        """(Transports) Packets of one POST, in order; returns False when the payload was bad (the session is
        closed)."""
        session = self.session
        now = self.clock.time()
        for packet in packets:
            if self.has_listeners("packet"):
                self.emit_event("packet", packet)
            action = session.receive(packet, now)
            if action is Action.DELIVER:
                data = packet.data
                self._deliver(data)
            elif action is Action.CLOSE:
                self._finish_close()
                return True
            elif action is Action.SEND_PONG:
                self._answer_ping()
            elif packet.type is pk.PacketType.PONG and self.has_listeners("heartbeat"):
                self.emit_event("heartbeat")  # the client answered a ping, as the reference reports it
            if session.ready_state is not ReadyState.OPEN:
                return True
        self._reschedule()
        if error:
            session.receive(None, now)
            self._finish_close()
            return False
        return True

    def on_ws_message(self, transport: object, data: str | bytes) -> None:
        """(Transports) One message on the session's WebSocket, or on its upgrade candidate."""
        if transport is not self.transport:
            candidate = self._candidate
            if candidate is not None and transport is candidate:
                self._on_candidate_message(candidate, data)
            return
        session = self.session
        if type(data) is str and data[:1] == "4" and session.ready_state is ReadyState.OPEN:
            self.on_message_text(data[1:] or None)
            return
        packet = decode_ws_v3(data) if self.protocol == 3 else pk.decode(data)
        if packet is not None and self.has_listeners("packet"):
            self.emit_event("packet", packet)
        refreshing = session.heartbeat.refreshable
        action = session.receive(packet, self.clock.time())
        if action is Action.DELIVER:
            assert packet is not None
            payload = packet.data
            self._deliver(payload)
        elif action is Action.CLOSE:
            self._finish_close()
            return
        elif action is Action.SEND_PONG:
            self._answer_ping()
        elif packet is not None and packet.type is pk.PacketType.PONG:
            self._reschedule()
            if self.has_listeners("heartbeat"):
                self.emit_event("heartbeat")
            return
        if refreshing and not session.heartbeat.refreshable:
            self._reschedule()  # the first packet since a ping restarted the pong's timeout

    def _answer_ping(self) -> None:
        """Protocol 3: the client pinged; the pong goes out like any packet, and the deadline moved."""
        if "packet_create" in self._listeners:
            self.emit_event("packet_create", pk.PONG)
        self._enqueue(pk.PONG)
        self._reschedule()
        if self.has_listeners("heartbeat"):
            self.emit_event("heartbeat")

    def on_ws_closed(self, transport: object, code: int) -> None:
        """(Transports) The WebSocket of the session's transport, or of its upgrade candidate, is gone."""
        if self._candidate is not None and transport is self._candidate:
            self._candidate = None
            self._stop_probe_noops()
            self.session.candidate_lost()
            self._reschedule()
            return
        if transport is not self.transport:
            return
        if self.session.ready_state is ReadyState.CLOSED:
            return
        # As the reference: a WebSocket the peer closed or lost (whatever its code, 1006 included) is a transport
        # close; a protocol failure we detected (1002, 1007, 1009) or a peer we dropped is a transport error.
        reason = CloseReason.TRANSPORT_ERROR if code in _WS_ERROR_CODES else CloseReason.TRANSPORT_CLOSE
        # A peer we dropped for not reading says so, as a long-polling client that stops fetching does.
        self.session.close(reason, "write buffer full" if code == CLOSE_DROPPED else None)
        self._finish_close()

    def on_transport_error(self, reason: CloseReason, description: str | None) -> None:
        """(Transports) The transport failed: the session closes with ``reason``."""
        if self.session.close(reason, description) is Action.CLOSE:
            self._finish_close()

    # -- polling -----------------------------------------------------------------------------------------

    @property
    def max_http_buffer_size(self) -> int:
        """(Transports) The largest POST body to read: the server's setting."""
        return self._server.max_http_buffer_size

    def poll_response(self, request: Request, body: bytes, *, binary: bool) -> Response:
        """(Transports) The server's answer to a GET of this session that carries ``body``."""
        return self._server.poll_response(request, body, binary=binary)

    def held_poll_response(self, body: bytes, context: PollContext) -> Response:
        """(Transports) The server's answer to a GET held by ``answer_at_once``."""
        return self._server.held_poll_response(body, context, self.request.remote_address)

    def post_response(self, request: Request) -> Response:
        """(Transports) The server's answer to a POST of this session whose packets were taken."""
        return self._server.post_response(request)

    def on_poll_ready(self) -> None:
        """(Transports) A GET is waiting: flush at once if there is something to say. During an upgrade too: packets keep
        going out over polling until the client's ``5`` arrives, or a client waiting for an acknowledgement
        would time out and send again."""
        if self._buffer or self.session.ready_state is ReadyState.CLOSING:
            self._flush()

    def _flush(self) -> None:
        self._flush_scheduled = False
        transport = self.transport
        if isinstance(transport, PollingTransport) and not transport.writable:
            return
        closing = self.session.ready_state is ReadyState.CLOSING
        items = self._buffer
        if not items and not closing:
            return
        self._buffer = None
        self._buffered = 0
        if items is None:
            items = []
        if closing:
            if isinstance(transport, PollingTransport):
                if not items:
                    items.append(pk.NOOP)
                items.append(pk.CLOSE)
                transport.send(items)
            else:
                transport.send_many(items)
            self._finish_close()
            return
        if isinstance(transport, PollingTransport):
            transport.send(items)
        else:
            transport.send_many(items)
        if self.has_listeners("drain"):
            self.emit_event("drain")

    # -- upgrade -----------------------------------------------------------------------------------------

    def start_upgrade(self, candidate: WebSocketTransport) -> None:
        """(Server) ``candidate`` is a WebSocket accepted for this session: the upgrade begins (docs/protocol/engineio.md#upgrade)."""
        self._candidate = candidate
        transport_log.debug("session %s: upgrade to websocket started", self.id)
        self.session.upgrade_started(self.clock.time())
        self._reschedule()

    def _on_candidate_message(self, candidate: WebSocketTransport, data: str | bytes) -> None:
        packet = pk.decode(data)
        action = self.session.receive_on_candidate(packet)
        if action is Action.SEND_PROBE_PONG:
            transport_log.debug("session %s: probe answered on the WebSocket", self.id)
            candidate.send(pk.PONG_PROBE)
            if self.has_listeners("upgrading"):
                self.emit_event("upgrading", candidate)
            self._stop_probe_noops()
            self._probe_timer = self.clock.call_later(PROBE_NOOP_INTERVAL, self._on_probe_tick)
        elif action is Action.COMPLETE_UPGRADE:
            self._complete_upgrade(candidate)
        elif action is Action.ABORT_UPGRADE:
            logger.debug("session %s: upgrade aborted", self.id)
            self._drop_candidate()
        self._reschedule()

    def _on_probe_tick(self) -> None:
        """Every PROBE_NOOP_INTERVAL after the probe: a GET left waiting is answered (with a noop when there is
        nothing to send) so that the client, which pauses polling before it sends ``5``, is not stuck behind
        it. Not at once, as the reference: a GET answered the moment the probe came would hand the client an
        extra packet and leave whatever the application sends next waiting for the upgrade."""
        self._probe_timer = self.clock.call_later(PROBE_NOOP_INTERVAL, self._on_probe_tick)
        transport = self.transport
        if isinstance(transport, PollingTransport) and transport.writable:
            if self._buffer:
                self._flush()
            else:
                transport.send([pk.NOOP])

    def _stop_probe_noops(self) -> None:
        timer = self._probe_timer
        if timer is not None:
            timer.cancel()
            self._probe_timer = None

    def _complete_upgrade(self, candidate: WebSocketTransport) -> None:
        old = self.transport
        self._candidate = None
        self._stop_probe_noops()
        if isinstance(old, PollingTransport):
            old.close(pk.CLOSE)
        self.transport = candidate
        logger.debug("session %s: upgraded to websocket", self.id)
        if self._buffer:
            items = self._buffer
            self._buffer = None
            self._buffered = 0
            candidate.send_many(items)
        if self.has_listeners("upgrade"):
            self.emit_event("upgrade", candidate)
        if self.session.ready_state is ReadyState.CLOSING:
            self._finish_close()

    def _drop_candidate(self) -> None:
        """The upgrade is given up (timeout, unexpected packet, session closing): the candidate is closed and
        the session stays on polling, with no more forced noops."""
        self._stop_probe_noops()
        candidate = self._candidate
        self._candidate = None
        if candidate is not None:
            candidate.close()

    def _abort_candidate(self) -> None:
        if self._candidate is not None:
            self.session.candidate_lost()
            self._drop_candidate()

    # -- closing -----------------------------------------------------------------------------------------

    def _finish_close(self) -> None:
        """Make the close final: timers off, transports closed, out of the server's table, ``close`` event."""
        session = self.session
        self._timers.cancel(self)
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        already_closed = session.ready_state is ReadyState.CLOSED and not self._server.holds_session(
            self, self.id
        )
        reason = session.close_reason or CloseReason.FORCED_CLOSE
        session.closed()
        if already_closed:
            return
        self._abort_candidate()
        self._stop_probe_noops()
        transport = self.transport
        if isinstance(transport, PollingTransport):
            transport.close(pk.NOOP if reason is CloseReason.TRANSPORT_CLOSE else pk.CLOSE)
        else:
            transport.close()
        self._buffer = None
        self._buffered = 0
        self._server.discard_session(self, self.id)
        if not logger.isEnabledFor(logging.DEBUG):
            pass
        elif session.close_description:
            logger.debug("session %s: closed (%s: %s)", self.id, reason.value, session.close_description)
        else:
            logger.debug("session %s: closed (%s)", self.id, reason.value)
        self.emit_event("close", reason.value, session.close_description)
        self._on_message = None
