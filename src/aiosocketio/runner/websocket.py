"""The WebSocket side of a connection: the opening handshake (RFC 6455 §4.2) and, after the 101, the connection
itself, which is the engine's :class:`~aiosocketio.web.WebSocketPort`.

Frames sent during one loop turn are joined and written with one ``transport.write`` per connection at the end of
the turn, by one ``loop.call_soon`` for all connections (``ServerState.flush_later``): a write costs a system call,
so coalescing is what makes broadcasts cheap, and writing after all the reads of a turn costs the kernel less than
writing between them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final, Protocol

from ..web import CLOSE_DROPPED, HeaderPairs, Response, WebSocketReceiver
from . import wsframe
from .exchange import Exchange
from .headers import encode_headers, plain
from .state import ServerState

__all__ = ["FRAMES_PER_TURN", "Handshake", "UpgradingConnection", "WebSocketConnection", "websocket_problem"]

logger = logging.getLogger("aiosocketio.runner")

#: WebSocket frames of one connection handled in one turn of the event loop. One read of 256 KiB may hold
#: some 40 000 empty fragments or pings, or thousands of small messages: handled at once, they held the loop
#: (and every other connection) for 20-30 ms. 256 frames cost well under a millisecond of parsing, and about
#: 2 ms when each is a Socket.IO event answered with an acknowledgement.
FRAMES_PER_TURN: Final = 256


def websocket_problem(ex: Exchange) -> Response | None:
    """None for a valid WebSocket upgrade request; a response with status 0 for another kind of upgrade;
    otherwise the error response the client gets (RFC 6455 §4.2.1, §4.4)."""
    upgrade = (ex.header(b"upgrade") or b"").lower()
    if b"websocket" not in upgrade:
        return Response(0)
    if ex.method != "GET":
        return plain(405, "WebSocket upgrades use GET", [("allow", "GET")])
    if ex.header(b"sec-websocket-version") != b"13":
        return plain(426, "Unsupported WebSocket version", [("sec-websocket-version", "13")])
    key = ex.header(b"sec-websocket-key")
    if key is None or len(key.strip()) != 24:  # base64 of 16 bytes (§4.1)
        return plain(400, "Missing or invalid Sec-WebSocket-Key")
    return None


class UpgradingConnection(Protocol):
    """The HTTP connection an upgrade request came on, as its handshake answers it."""

    def switch_to_websocket(
        self,
        ex: Exchange,
        head: bytes,
        parser: wsframe.FrameParser,
        deflater: wsframe.MessageDeflater | None,
    ) -> WebSocketConnection:
        """Write the 101 (``head``) and hand the transport to a new :class:`WebSocketConnection`."""
        ...

    def reject_upgrade(self, ex: Exchange, response: Response) -> None:
        """Answer ``ex`` with ``response`` instead, then close the connection."""


class Handshake:
    """The :class:`~aiosocketio.web.WebSocketHandshake` of one upgrade request."""

    __slots__ = ("_ex", "_http", "port")

    def __init__(self, http: UpgradingConnection, ex: Exchange) -> None:
        self._http = http
        self._ex = ex
        self.port: WebSocketConnection | None = None

    async def accept(
        self,
        headers: HeaderPairs,
        *,
        max_message_size: int = wsframe.DEFAULT_MAX_MESSAGE_SIZE,
        compression: bool = False,
    ) -> WebSocketConnection:
        """Send 101 Switching Protocols and return the connection to send on (RFC 6455 §4.2.2)."""
        ex = self._ex
        if self.port is not None or ex.answered:
            raise RuntimeError("this WebSocket request was already answered")
        key = (ex.header(b"sec-websocket-key") or b"").decode("latin-1")
        lines = [
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n",
            b"sec-websocket-accept: " + wsframe.accept_key(key).encode("ascii") + b"\r\n",
        ]
        deflate: wsframe.DeflateParams | None = None
        if compression:
            offer = ex.header(b"sec-websocket-extensions")
            answer, deflate = wsframe.negotiate_permessage_deflate(offer.decode("latin-1") if offer else None)
            if answer is not None:
                lines.append(b"sec-websocket-extensions: " + answer.encode("ascii") + b"\r\n")
        lines.extend(encode_headers(headers))
        lines.append(b"\r\n")
        parser = wsframe.FrameParser(
            max_message_size=max_message_size, deflate=deflate, frames_per_feed=FRAMES_PER_TURN
        )
        deflater = wsframe.MessageDeflater(deflate) if deflate is not None else None
        self.port = self._http.switch_to_websocket(ex, b"".join(lines), parser, deflater)
        return self.port

    async def reject(self, response: Response) -> None:
        """Answer with ``response`` instead of upgrading, then close the connection."""
        ex = self._ex
        if self.port is not None or ex.answered:
            raise RuntimeError("this WebSocket request was already answered")
        self._http.reject_upgrade(ex, response)


class WebSocketConnection(asyncio.Protocol):
    """One accepted WebSocket: the transport's protocol after the 101, and the engine's ``WebSocketPort``.

    Incoming messages go straight to the receiver's ``on_ws_message``; those that arrive before
    :meth:`set_receiver` are held and delivered by it. ``on_ws_close`` is called exactly once: with the
    peer's code after a close frame, with 1002/1007/1009 after a protocol failure, with 1006 when the
    connection broke.
    """

    __slots__ = (
        "_backlog",
        "_close_sent",
        "_close_timer",
        "_deflater",
        "_drain_waiters",
        "_dropped",
        "_held",
        "_loop",
        "_notified",
        "_out",
        "_parser",
        "_pending",
        "_pending_close",
        "_receiver",
        "_state",
        "_transport",
        "_write_paused",
    )

    def __init__(
        self,
        state: ServerState,
        parser: wsframe.FrameParser,
        deflater: wsframe.MessageDeflater | None = None,
    ) -> None:
        self._state = state
        self._loop = state.loop
        self._transport: asyncio.Transport | None = None
        self._parser = parser
        self._deflater = deflater
        self._receiver: WebSocketReceiver | None = None
        self._pending: list[str | bytes] | None = None  # messages that came before the receiver
        self._pending_close: tuple[int, str] | None = None
        self._out: list[bytes] = []
        self._close_sent = False
        self._notified = False
        self._dropped = False  # we gave up on a peer that does not read (reported as CLOSE_DROPPED)
        self._write_paused = False
        self._backlog = False  # frames of the last read wait for the next loop turn (_feed_backlog)
        self._close_timer: asyncio.TimerHandle | None = None
        self._held = False  # hold_reading(): the receiver has too many messages it did not take yet
        self._drain_waiters: list[asyncio.Future[None]] | None = None

    # --- asyncio callbacks ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport: no isinstance check, and no typing.cast() (a
        # function call per connection) either.
        self._transport = transport  # type: ignore[assignment]
        self._state.connections.add(self)

    def send_handshake(self, head: bytes) -> None:
        """(HTTP connection) Send the 101 answer ``head`` as the first bytes of the connection. It leaves with the
        frames queued in the same loop turn (the Engine.IO open packet, usually) in one write: a TCP segment and a
        system call fewer per handshake than writing it alone."""
        self._queue(head)

    def start_reading(self, write_paused: bool, tail: bytes) -> None:
        """(HTTP connection) Take over after the 101: the transport's write state as the HTTP side left it, and
        the bytes that came after the upgrade request (the first frames, if the client did not wait)."""
        self._write_paused = write_paused
        transport = self._transport
        if transport is not None and not write_paused:
            transport.resume_reading()
        if tail:
            self.data_received(tail)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        try:
            for event in parser.feed(data):
                if type(event) is str or type(event) is bytes:
                    receiver = self._receiver
                    if receiver is not None:
                        receiver.on_ws_message(event)
                    elif not self._notified:
                        if self._pending is None:
                            self._pending = []
                        self._pending.append(event)
                else:
                    self._on_control(event)
        except Exception:
            logger.exception("error while handling a WebSocket message")
            self._fail(wsframe.CLOSE_INTERNAL_ERROR, "internal error")
        if parser.more and not self._backlog and self._transport is not None:
            # The read held more frames than one turn may handle (FRAMES_PER_TURN): the rest waits for the
            # next turn of the loop, after the other connections' callbacks, and nothing more is read meanwhile.
            self._backlog = True
            self._transport.pause_reading()
            self._loop.call_soon(self._feed_backlog)

    def _feed_backlog(self) -> None:
        self._backlog = False
        transport = self._transport
        if transport is None:
            return
        self.data_received(b"")
        if not self._backlog and not self._write_paused and not self._held and not transport.is_closing():
            transport.resume_reading()

    def eof_received(self) -> bool | None:
        return None  # a half-closed WebSocket is a closed one

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._out.clear()
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._state.forget(self)
        self._wake_drain()
        self._notify(CLOSE_DROPPED if self._dropped else wsframe.CLOSE_ABNORMAL, "")

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._transport is not None:
            # A peer that does not read our frames gets no more of its own read either.
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if (
            self._transport is not None
            and not self._transport.is_closing()
            and not self._backlog
            and not self._held
        ):
            self._transport.resume_reading()
        if self._drain_waiters is not None:
            self._wake_drain()

    # --- WebSocketPort ---

    def set_receiver(self, receiver: WebSocketReceiver) -> None:
        """Install the receiver; messages (and a close) that arrived before it are delivered now, in order."""
        self._receiver = receiver
        pending = self._pending
        if pending is not None:
            self._pending = None
            for message in pending:
                receiver.on_ws_message(message)
        if self._pending_close is not None:
            code, reason = self._pending_close
            self._pending_close = None
            receiver.on_ws_close(code, reason)

    def send_text(self, text: str) -> None:
        """Queue one text message; written with the rest of this loop turn's frames."""
        if self._close_sent:
            return
        deflater = self._deflater
        self._queue(deflater.text_frame(text) if deflater is not None else wsframe.text_frame(text))

    def send_bytes(self, data: bytes) -> None:
        """Queue one binary message; written with the rest of this loop turn's frames."""
        if self._close_sent:
            return
        deflater = self._deflater
        self._queue(deflater.binary_frame(data) if deflater is not None else wsframe.binary_frame(data))

    def close(self, code: int = wsframe.CLOSE_NORMAL, reason: str = "") -> None:
        """Start the closing handshake (RFC 6455 §7.1.2); the connection is dropped if the peer does not answer."""
        if self._close_sent or self._notified:
            return
        self._close_sent = True
        self._queue(wsframe.close_frame(code, reason))
        if self._transport is not None:
            timeout = self._state.limits.ws_close_timeout
            self._close_timer = self._loop.call_later(timeout, self._on_close_timeout)

    @property
    def writable(self) -> bool:
        """False once the peer stopped reading (the transport paused our writes) or the close has begun."""
        return not self._write_paused and not self._close_sent

    @property
    def compression(self) -> bool:
        """Whether permessage-deflate was negotiated on this connection."""
        return self._deflater is not None

    # --- for a receiver that takes messages at its own pace (an ASGI app) ---

    def hold_reading(self, held: bool) -> None:
        """Stop reading from the peer while ``held`` (the receiver is behind), go on when it is no more."""
        if held == self._held:
            return
        self._held = held
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if held:
            transport.pause_reading()
        elif not self._write_paused and not self._backlog:
            transport.resume_reading()

    async def drain(self) -> None:
        """Wait while the peer does not read what we write (the transport paused our writes)."""
        if not self._write_paused or self._transport is None:
            return
        if self._drain_waiters is None:
            self._drain_waiters = []
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter

    def _wake_drain(self) -> None:
        waiters = self._drain_waiters
        self._drain_waiters = None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    # --- internals ---

    def _queue(self, frame: bytes) -> None:
        out = self._out
        out.append(frame)
        if len(out) == 1 and self._transport is not None:
            if self._write_paused:
                # The peer is behind: coalescing saves nothing while the bytes wait in the transport anyway,
                # and frames held here until the end of the turn would escape ``max_write_buffer``. Each one
                # goes to the transport at once, so the limit is checked frame by frame.
                self.flush()
            else:
                # First frame of this loop turn: one write at the end of the turn carries them all. Also for
                # the answer to a read (an ack): writing it at once, between the reads of other connections,
                # measured 10-15 % more server CPU per echo ack than writing every answer after the reads
                # (more wake-ups of the peers, and less batching in the kernel).
                self._state.flush_later(self)

    def flush(self) -> None:
        """(Server state) Write the frames queued during this loop turn, in one write."""
        out = self._out
        if not out:
            return
        transport = self._transport
        if transport is None or transport.is_closing():
            out.clear()
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        transport.write(data)
        if self._write_paused:
            unsent = transport.get_write_buffer_size()
            if unsent > self._state.limits.max_write_buffer:
                # A slow consumer: drop it rather than hold its backlog. The engine sees CLOSE_DROPPED and closes
                # the session with "transport error" (README, "Slow consumers").
                logger.debug("dropping a WebSocket whose peer does not read (%d bytes unsent)", unsent)
                self._dropped = True
                transport.abort()

    def _on_control(self, event: wsframe.WsEvent) -> None:
        if isinstance(event, wsframe.PingFrame):
            if not self._close_sent:
                self._queue(wsframe.pong_frame(event.payload))
        elif isinstance(event, wsframe.CloseFrame):
            if not self._close_sent:
                # Echo the peer's code (§5.5.1); an empty close is answered with an empty one.
                self._close_sent = True
                self._queue(wsframe.close_frame(event.code))
            self._end()
            self._notify(event.code, event.reason)
        elif isinstance(event, wsframe.ProtocolFailure):
            logger.debug("WebSocket protocol failure (%d): %s", event.code, event.reason)
            self._fail(event.code, event.reason)

    def _fail(self, code: int, reason: str) -> None:
        if not self._close_sent:
            self._close_sent = True
            # The code alone, as Node's ws closes on a protocol failure: the reason stays in our log and in the
            # close notification, a client sees what it would see from the reference.
            self._queue(wsframe.close_frame(code))
        self._end()
        self._notify(code, reason)

    def _end(self) -> None:
        """Write what is queued and close the TCP connection (the server closes first, §7.1.1)."""
        self.flush()
        if self._transport is not None:
            self._transport.close()

    def _on_close_timeout(self) -> None:
        self._close_timer = None
        if self._transport is not None:
            logger.debug("no close frame from the peer in time; dropping the connection")
            self._transport.abort()

    def _notify(self, code: int, reason: str) -> None:
        if self._notified:
            return
        self._notified = True
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        receiver = self._receiver
        if receiver is None:
            self._pending_close = (code, reason)
        else:
            receiver.on_ws_close(code, reason)

    def lost_before_start(self) -> None:
        """(HTTP connection) The client left before the 101 could be written: the port exists but is already
        closed."""
        self._close_sent = True
        self._notify(wsframe.CLOSE_ABNORMAL, "")

    @property
    def idle(self) -> bool:
        return False

    def begin_shutdown(self) -> None:
        """Server shutdown: "going away" (1001), unless the app closed it already."""
        self.close(wsframe.CLOSE_GOING_AWAY)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
