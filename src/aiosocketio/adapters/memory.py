"""``InMemoryAdapter``: the default adapter, for a single server (no cluster); ``SessionAwareAdapter`` adds
connection state recovery."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiosocketio.adapters.base import Adapter
from aiosocketio.adapters.options import BroadcastOptions
from aiosocketio.clock import TimerHandle, clock_of
from aiosocketio.parsers.packet import Packet, PacketType
from aiosocketio.recovery import RecoveryStore, StoredSession

if TYPE_CHECKING:
    from aiosocketio.adapters._types import AdapterNamespace

__all__ = ["InMemoryAdapter", "SessionAwareAdapter"]

logger = logging.getLogger("aiosocketio.adapter")


class InMemoryAdapter(Adapter):
    """Rooms and broadcasts for the sockets of this server; there are no other servers to reach.

    The adapter a ``Server`` uses when given none (and no connection state recovery).

    Args:
        nsp: The namespace this adapter serves.
    """

    __slots__ = ()

    async def server_side_emit(self, packet: list[Any]) -> None:
        """Reach the other servers: there are none, so the event goes nowhere (logged at debug level).

        Args:
            packet: ``[event, *args]``.
        """
        logger.debug(
            "server_side_emit(%r) reaches nobody: the in-memory adapter has no other servers", packet[0]
        )

    async def server_side_emit_with_ack(self, packet: list[Any], timeout: float | None) -> list[Any]:
        """Ask the other servers: there are none, so the answer is at once an empty list.

        Args:
            packet: ``[event, *args]``.
            timeout: Ignored: nothing is waited for.

        Returns:
            ``[]``.
        """
        logger.debug("server_side_emit_with_ack(%r): no other servers, no responses", packet[0])
        return []


class SessionAwareAdapter(InMemoryAdapter):
    """The in-memory adapter with connection state recovery (docs/protocol/socketio.md#recovery).

    Each event without ack that is not volatile gets an offset appended and is logged with its targeting; the
    sessions of sockets that left with a recoverable reason are kept for ``max_disconnection_duration``. A
    housekeeping timer runs only while there is something to expire. Emits ``session-expired(pid, sid)`` when a
    kept session ends unused, so that the application can clean up what it keeps for that user.

    The server picks it when ``connection_state_recovery`` is set and no adapter is given.

    Args:
        nsp: The namespace this adapter serves.
        max_disconnection_duration: Seconds a disconnected socket's session (and the events it misses) is kept.
    """

    __slots__ = ("_housekeeping", "_store")

    def __init__(self, nsp: AdapterNamespace, max_disconnection_duration: float = 120.0) -> None:
        super().__init__(nsp)
        self._store = RecoveryStore(max_disconnection_duration)
        self._housekeeping: TimerHandle | None = None

    @property
    def store(self) -> RecoveryStore:
        """The kept sessions and the log of recent events, for inspection (tests, metrics); do not mutate."""
        return self._store

    def broadcast(self, packet: Packet, options: BroadcastOptions) -> None:
        """Deliver ``packet`` to the local targets, logging it for recovery first.

        An event without ack that is not volatile gets an offset appended to its arguments (what the client
        sends back to recover) and is kept in the log; other packets are delivered as they are.

        Args:
            packet: The packet to deliver.
            options: Which sockets, and how.
        """
        if packet.type is PacketType.EVENT and packet.id is None and not options.flags.volatile:
            data = packet.data if isinstance(packet.data, list) else []
            offset = self._store.log(data, options.rooms, options.except_rooms, self._now())
            packet = Packet(PacketType.EVENT, packet.nsp, [*data, offset])
        super().broadcast(packet, options)

    async def persist_session(self, session: StoredSession) -> None:
        """Keep a disconnected socket's session for ``max_disconnection_duration`` seconds.

        Args:
            session: Its id, private id, rooms and data, as the socket left them.
        """
        self._store.persist(session, self._now())

    async def restore_session(self, pid: str, offset: str) -> StoredSession | None:
        """Take back a kept session with the events it missed since ``offset``.

        Args:
            pid: The private id the client was given at its first connection.
            offset: The offset of the last event the client received.

        Returns:
            The session with the missed events, or ``None`` when it expired, is unknown, or ``offset`` is no
            longer in the log. A session found is taken out of the store either way: it is recovered at most once.
        """
        return self._store.restore(pid, offset, self._now())

    def _now(self) -> float:
        clock = clock_of(self.nsp.server.clock)
        if self._housekeeping is None:
            interval = min(60.0, self._store.max_duration)
            self._housekeeping = clock.call_later(interval, self._expire)
        return clock.time()

    def _expire(self) -> None:
        self._housekeeping = None
        store = self._store
        for session in store.expire(clock_of(self.nsp.server.clock).time()):
            self.emit_event("session-expired", session.pid, session.sid)
        if len(store) or store.logged:
            self._now()  # re-arms the timer

    async def close(self) -> None:
        """Stop the housekeeping timer; kept sessions stay in memory but no longer expire."""
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            self._housekeeping = None
        await super().close()
