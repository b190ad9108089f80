"""The seams between the engine's parts, as typing Protocols: what each part may ask of the one above it.

A transport (``transports/``) holds its session only as a :class:`TransportOwner`, and a session holds its server
only as a :class:`SessionHost`; neither module imports the other, so the parts stack in one direction (interfaces,
then transports and timers, then the session, then the server). Anything that implements ``TransportOwner`` can
drive the transports (an in-process test session, say), and anything that speaks to a ``TransportOwner`` the way
the transports do can stand in for one (an in-process test transport, or a connection handed over from another
process).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from aiosocketio.engineio.packet import Packet
from aiosocketio.engineio.session import CloseReason
from aiosocketio.web import Request, Response

if TYPE_CHECKING:
    from aiosocketio.engineio.timers import SessionTimers

__all__ = ["PacketTap", "PollContext", "SessionHost", "TransportOwner"]

#: What a held GET's answer is built from when it comes: the request's User-Agent and Accept-Encoding values, and
#: its path, query and raw headers (for a ``headers`` listener added meanwhile, which wants a Request).
PollContext = tuple[str | None, str | None, str, bytes, Sequence[tuple[bytes, bytes]]]


class PacketTap(Protocol):
    """What a session's ``tap`` is: told of every message sent and received, for counting (metrics).

    A method call per message rather than an event: an event costs a listener dispatch per packet, several times
    the tap's own work. It runs on the hot path, so it must be quick and must not raise.
    """

    def sent(self, item: str | bytes) -> None:
        """An encoded message packet the session sends (``"4..."`` text, or a binary message's bytes)."""
        ...

    def received(self, data: str | bytes | None) -> None:
        """A message the session received (its payload without the ``4``; None for an empty one)."""
        ...


class TransportOwner(Protocol):
    """The session a transport serves: takes what arrived, hears of failures and waiting GETs, builds poll answers."""

    #: The session id (for log lines).
    id: str
    #: The Engine.IO protocol revision of the session: 4, or 3 for a Socket.IO v2 client.
    protocol: int
    #: The handshake request (its query says how the session wants its payloads).
    request: Request
    #: The event loop the session lives on.
    loop: asyncio.AbstractEventLoop

    @property
    def max_http_buffer_size(self) -> int:
        """The largest POST body a long-polling transport reads."""
        ...

    # -- what arrived --------------------------------------------------------------------------------------

    def on_message_text(self, message: str | None) -> None:
        """One text message packet (``4...``; None for a bare ``4``) arrived on the current transport."""

    def on_packets(self, packets: list[Packet], error: bool) -> bool:
        """The packets of one long-polling POST, in order; ``error``: the payload went bad after them. False
        when the session closed on a bad payload (the POST is answered 400)."""
        ...

    def on_ws_message(self, transport: object, data: str | bytes) -> None:
        """One WebSocket message arrived on ``transport`` (the session's transport or its upgrade candidate)."""

    def on_ws_closed(self, transport: object, code: int) -> None:
        """The WebSocket of ``transport`` is gone, with its close code (1006: it broke)."""

    # -- the transport's own state -------------------------------------------------------------------------

    def on_transport_error(self, reason: CloseReason, description: str | None) -> None:
        """The transport failed (an overlapping request, a client gone mid-request): close the session."""

    def on_poll_ready(self) -> None:
        """A long-polling GET now waits: send what is buffered, if anything."""

    # -- long-polling answers ------------------------------------------------------------------------------

    def poll_response(self, request: Request, body: bytes, *, binary: bool) -> Response:
        """The answer to a GET that carries ``body`` (``binary``: a protocol 3 binary payload)."""
        ...

    def held_poll_response(self, body: bytes, context: PollContext) -> Response:
        """The answer to a GET held without a Request (``answer_at_once``), built from its ``context``."""
        ...

    def post_response(self, request: Request) -> Response:
        """The answer to a POST whose packets were taken."""
        ...


class SessionHost(Protocol):
    """The server a session belongs to: its settings, shared timers, table of sessions and long-polling answers."""

    ping_interval: float
    ping_timeout: float
    upgrade_timeout: float
    max_http_buffer_size: int
    max_queued_bytes: int

    def session_timers(self, loop: asyncio.AbstractEventLoop) -> SessionTimers:
        """The one timer that all sessions on ``loop`` file their deadlines with."""
        ...

    def holds_session(self, socket: object, sid: str) -> bool:
        """Whether ``socket`` is the live session ``sid`` in the server's table."""
        ...

    def discard_session(self, socket: object, sid: str) -> None:
        """``socket`` closed: take it out of the table (if it is still the one under ``sid``)."""

    def poll_response(self, request: Request, body: bytes, *, binary: bool = False) -> Response:
        """The answer to a long-polling GET that carries ``body``."""
        ...

    def held_poll_response(self, body: bytes, context: PollContext, remote_address: str) -> Response:
        """The answer to a GET held by ``answer_at_once``; ``remote_address`` is the session's."""
        ...

    def post_response(self, request: Request) -> Response:
        """The answer to a long-polling POST whose packets were taken."""
        ...
