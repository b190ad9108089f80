"""Connection state recovery, the bookkeeping part (docs/protocol/socketio.md#recovery). Pure: time is an argument.

:class:`RecoveryStore` keeps, for one namespace, the sessions of sockets that went away with a recoverable
reason and a log of the events sent meanwhile, each with an offset. A client that comes back within the window
with its private id (``pid``) and the last offset it saw gets its id, rooms and ``data`` back, plus every logged
event after that offset that was aimed at it. Everything older than the window is dropped by :meth:`expire`, so
memory stays bounded by the traffic of one window.

Offsets are ``<ms timestamp in base 36>.<counter>``: unique, and ordered within a server.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RECOVERABLE_REASONS", "LoggedPacket", "RecoveryStore", "StoredSession"]

#: Disconnect reasons after which a session is kept for recovery (the reference's list).
RECOVERABLE_REASONS = frozenset(
    {
        "transport error",
        "transport close",
        "forced close",
        "ping timeout",
        "server shutting down",
        "forced server close",
    }
)


@dataclass(slots=True)
class StoredSession:
    """What a socket leaves behind for a possible recovery."""

    sid: str
    pid: str
    rooms: set[str]
    data: dict[str, Any]
    disconnected_at: float = 0.0
    missed_packets: list[list[Any]] = field(default_factory=list)


@dataclass(slots=True)
class LoggedPacket:
    """An event sent with an offset, with its targeting so that a replay reaches only whom it reached."""

    seq: int
    offset: str
    data: list[Any]
    rooms: frozenset[str]
    except_rooms: frozenset[str]
    at: float


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
        if not value:
            return out


class RecoveryStore:
    """Sessions and the event log of one namespace."""

    __slots__ = ("_counter", "_log", "_offsets", "_seq", "_sessions", "max_duration")

    def __init__(self, max_duration: float) -> None:
        if max_duration <= 0:
            raise ValueError("max_disconnection_duration must be a positive number of seconds")
        self.max_duration = max_duration
        self._sessions: dict[str, StoredSession] = {}
        self._log: deque[LoggedPacket] = deque()
        self._offsets: dict[str, int] = {}
        self._seq = 0
        self._counter = 0

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def logged(self) -> int:
        return len(self._log)

    def log(self, data: list[Any], rooms: frozenset[str], except_rooms: frozenset[str], now: float) -> str:
        """Record an event; returns the offset to append to its arguments."""
        self._seq += 1
        self._counter += 1
        offset = f"{_base36(int(now * 1000))}.{_base36(self._counter)}"
        self._log.append(LoggedPacket(self._seq, offset, data, rooms, except_rooms, now))
        self._offsets[offset] = self._seq
        return offset

    def persist(self, session: StoredSession, now: float) -> None:
        session.disconnected_at = now
        self._sessions[session.pid] = session

    def restore(self, pid: str, offset: str, now: float) -> StoredSession | None:
        """The session for ``pid`` with the events it missed after ``offset``, or None (then it is gone)."""
        session = self._sessions.get(pid)
        if session is None or now - session.disconnected_at > self.max_duration:
            return None  # an expired session stays for expire() to report
        del self._sessions[pid]
        seq = self._offsets.get(offset)
        if seq is None:
            return None
        rooms = session.rooms
        for entry in self._log:
            if entry.seq <= seq:
                continue
            if entry.rooms and rooms.isdisjoint(entry.rooms):
                continue
            if not rooms.isdisjoint(entry.except_rooms):
                continue
            session.missed_packets.append([*entry.data, entry.offset])
        return session

    def expire(self, now: float) -> list[StoredSession]:
        """Drop sessions and logged events older than the window; returns the sessions that expired unused."""
        limit = now - self.max_duration
        log = self._log
        while log and log[0].at < limit:
            del self._offsets[log.popleft().offset]
        expired = [s for s in self._sessions.values() if s.disconnected_at < limit]
        for session in expired:
            del self._sessions[session.pid]
        return expired
