"""The Engine.IO session state machine (docs/protocol/engineio.md#received-packets server handling, docs/protocol/engineio.md#upgrade, docs/protocol/engineio.md#heartbeat, docs/protocol/engineio.md#closing). Pure: time is an argument.

One :class:`EngineSession` per sid. Its asyncio owner (``EngineSocket``) feeds it what arrives and the current
time, and carries out the :class:`Action` it answers with; it files :meth:`EngineSession.next_deadline` with the
server's shared timers (``engineio/timers.py``) and calls :meth:`EngineSession.on_timer` when it comes.

Theory of operation::

    ready state:  OPEN ──close(reason)──▶ CLOSING ──closed()──▶ CLOSED      (or OPEN ──▶ CLOSED at once)
    heartbeat:    WAIT_INTERVAL ──deadline: send "2"──▶ WAIT_PONG ──"3"──▶ WAIT_INTERVAL
                                                         └─deadline──▶ close "ping timeout"
    upgrade:      NONE ──WebSocket accepted──▶ PROBING ──"2probe"──▶ PROBED ──"5"──▶ DONE
                   ▲            any other packet, timeout, candidate lost │
                   └──────────────────────────────────────────────────────┘ (abort: back to NONE)

Only pongs reset the heartbeat (docs/protocol/engineio.md#heartbeat); but while a pong is awaited, the first other packet after each ping
restarts the pong's timeout from its arrival, as engine.io 6.6 does. A ``ping`` from a v4 client is a transport
error, an undecodable packet a parse error, a ``close`` packet a transport close. Protocol 3 sessions (Socket.IO v2
clients, docs/protocol/engineio-v3.md) turn the heartbeat round: the client pings, each ping is answered with a pong (``SEND_PONG``) and
gives the client ``interval + timeout`` more, and a pong from the client is the transport error.
"""

from __future__ import annotations

import math
from enum import Enum, StrEnum

from aiosocketio.engineio.packet import Packet, PacketType

__all__ = ["Action", "CloseReason", "EngineSession", "Heartbeat", "ReadyState", "UpgradeState"]

#: A deadline counts as come this much before it (seconds): times such as ``start + interval`` carry float noise,
#: and the timers hand a due bucket over within ``timerwheel.SLOP`` of its boundary. Far below any clock's grain.
_SLOP = 1e-6

#: Pings go out at the start of the slice of time their deadline falls in, slices of this share of the ping
#: interval (at most PING_BATCH_MAX seconds): pings due close together go out in one batch, one loop wake-up
#: for them all, and their pongs come back together, instead of one wake-up each (with 1 ms slices, 10,000
#: idle connections cost 1.2-1.5 % of a core instead of 0.8-0.9 %; with these, as before: benchmarks/README.md,
#: "Deadlines"). A ping is thus up to 1/500 of the interval early (50 ms at the default 25 s, 0.6 ms at 300 ms),
#: never late; that only lengthens the pong's timeout, which counts from the ping's deadline. Timeouts are
#: never early.
PING_BATCH_SHARE = 0.002
PING_BATCH_MAX = 0.05


class ReadyState(StrEnum):
    """The session's life, spelled as the reference's ``readyState``."""

    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class CloseReason(StrEnum):
    """Engine-level close reasons (docs/protocol/engineio.md#closing); they become Socket.IO disconnect reasons."""

    TRANSPORT_CLOSE = "transport close"
    """The client closed the session (a CLOSE packet) or its connection closed or was lost."""
    TRANSPORT_ERROR = "transport error"
    """The transport failed: a WebSocket closed for a protocol error, bad data or a too large message, or given
    up as a slow consumer; a broken long-polling request; too much queued for a client that does not poll; a
    PING from a client that is not the one to ping."""
    PING_TIMEOUT = "ping timeout"
    """The client did not answer a PING within ``ping_timeout`` (or did not ping, when clients ping)."""
    PARSE_ERROR = "parse error"
    """The client sent something that is not an Engine.IO packet."""
    FORCED_CLOSE = "forced close"
    """The server closed the connection (``EngineSocket.close()``, a Socket.IO disconnect with ``close``)."""


class UpgradeState(Enum):
    NONE = 0
    PROBING = 1
    PROBED = 2
    DONE = 3


class Action(Enum):
    """What the owner must do after feeding the machine."""

    NOTHING = 0
    DELIVER = 1  # hand the message data to the application
    SEND_PING = 2  # send "2" on the current transport
    CLOSE = 3  # close the session; the reason is in ``EngineSession.close_reason``
    SEND_PROBE_PONG = 4  # send "3probe" on the candidate; polling carries on, noops free a waiting GET
    COMPLETE_UPGRADE = 5  # make the candidate the session's transport and flush the buffer over it
    ABORT_UPGRADE = 6  # close the candidate; the session stays on its transport
    SEND_PONG = 7  # protocol 3: answer the client's ping with "3" on the current transport


class Heartbeat:
    """Server-side pings (docs/protocol/engineio.md#heartbeat): a ping every ``interval``, a pong due ``timeout`` after each ping.

    Protocol 3 (``client_pings``, docs/protocol/engineio-v3.md) turns it round: the client pings, the server answers each ping with a
    pong, and the session times out when no ping came for ``interval + timeout``.
    """

    __slots__ = ("batch", "client_pings", "deadline", "interval", "refreshable", "timeout", "waiting_pong")

    def __init__(self, interval: float, timeout: float, now: float, *, client_pings: bool = False) -> None:
        self.interval = interval
        self.timeout = timeout
        self.client_pings = client_pings
        self.batch = 0.0 if client_pings else min(interval * PING_BATCH_SHARE, PING_BATCH_MAX)
        self.waiting_pong = client_pings  # protocol 3: always waiting for the client's next ping
        # A ping is out and no other packet came since: the first one that does gives the pong ``timeout`` again.
        self.refreshable = False
        self.deadline = now + interval + timeout if client_pings else now + interval

    def due(self) -> float:
        """When the timers should come: the deadline, or for the next ping, the start of its batch's slice."""
        if self.waiting_pong or not self.batch:
            return self.deadline
        batch = self.batch
        return math.floor((self.deadline + _SLOP) / batch) * batch

    def on_traffic(self, now: float) -> None:
        """A packet other than a pong came while a pong is awaited: the first one after each ping restarts the
        pong's ``timeout`` from now, as the reference (engine.io 6.6) does, so a pong stuck behind a busy
        client's traffic gets its time."""
        self.refreshable = False
        self.deadline = now + self.timeout

    def on_ping(self, now: float) -> None:
        """Protocol 3: a ping from the client gives it ``interval + timeout`` again."""
        self.deadline = now + self.interval + self.timeout

    def on_pong(self, now: float) -> None:
        """A pong restarts the interval from now (the next ping is ``interval`` after this pong)."""
        self.waiting_pong = False
        self.refreshable = False
        self.deadline = now + self.interval

    def on_deadline(self, now: float) -> bool:
        """The deadline passed (for a ping: its batch's slice began): returns True to send a ping, False when
        the pong is overdue (close).

        The pong is due ``timeout`` after the ping was *due*, not after ``now``: a timer that fired a little late
        (a busy loop, the timers' bucket) does not push the ping timeout later too, so lateness never adds up
        from one deadline to the next. Only a ping sent more than half the timeout late (the loop was blocked
        that long) gives the client half the timeout from the ping itself, so a stalled server does not close
        sessions that never had a chance to answer.
        """
        if self.waiting_pong:
            return False
        self.waiting_pong = True
        self.refreshable = True
        timeout = self.timeout
        self.deadline = max(self.deadline + timeout, now + timeout / 2)
        return True


class EngineSession:
    """Ready state, heartbeat and upgrade of one Engine.IO session."""

    __slots__ = (
        "close_description",
        "close_reason",
        "heartbeat",
        "ready_state",
        "upgrade_deadline",
        "upgrade_state",
        "upgrade_timeout",
    )

    def __init__(
        self,
        *,
        ping_interval: float,
        ping_timeout: float,
        upgrade_timeout: float,
        now: float,
        protocol: int = 4,
    ) -> None:
        self.ready_state = ReadyState.OPEN
        self.heartbeat = Heartbeat(ping_interval, ping_timeout, now, client_pings=protocol == 3)
        self.upgrade_timeout = upgrade_timeout
        self.upgrade_state = UpgradeState.NONE
        self.upgrade_deadline: float | None = None
        self.close_reason: CloseReason | None = None
        self.close_description: str | None = None

    # -- time -------------------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When the owner's single timer must fire next (``None``: no timer, the session is closed)."""
        if self.ready_state is ReadyState.CLOSED:
            return None
        deadline = self.heartbeat.due()
        if self.upgrade_deadline is not None and self.upgrade_deadline < deadline:
            return self.upgrade_deadline
        return deadline

    def on_timer(self, now: float) -> Action:
        """The timer fired at ``now``; at most one action per call (call again while it returns something)."""
        if self.ready_state is ReadyState.CLOSED:
            return Action.NOTHING
        now += _SLOP
        if self.upgrade_deadline is not None and now >= self.upgrade_deadline:
            self.upgrade_deadline = None
            self.upgrade_state = UpgradeState.NONE
            return Action.ABORT_UPGRADE
        if now >= self.heartbeat.due():
            if self.heartbeat.on_deadline(now):
                return Action.SEND_PING
            return self._close(CloseReason.PING_TIMEOUT, None)
        return Action.NOTHING

    # -- the session's own transport ---------------------------------------------------------------------

    def receive(self, packet: Packet | None, now: float) -> Action:
        """A packet (``None``: undecodable) arrived on the session's current transport."""
        if self.ready_state is ReadyState.CLOSED:
            return Action.NOTHING
        if packet is None:
            return self._close(CloseReason.PARSE_ERROR, None)
        kind = packet.type
        heartbeat = self.heartbeat
        if heartbeat.refreshable and kind is not PacketType.PONG:
            heartbeat.on_traffic(now)
        if kind is PacketType.MESSAGE:
            return Action.DELIVER
        if kind is PacketType.PONG:
            if heartbeat.client_pings:
                return self._close(CloseReason.TRANSPORT_ERROR, "invalid heartbeat direction")
            heartbeat.on_pong(now)
            return Action.NOTHING
        if kind is PacketType.PING:
            if heartbeat.client_pings:
                heartbeat.on_ping(now)
                return Action.SEND_PONG
            return self._close(CloseReason.TRANSPORT_ERROR, "invalid heartbeat direction")
        if kind is PacketType.CLOSE:
            return self._close(CloseReason.TRANSPORT_CLOSE, None)
        # open, upgrade, noop: ignored outside the upgrade (docs/protocol/engineio.md#packets)
        return Action.NOTHING

    # -- the upgrade candidate ---------------------------------------------------------------------------

    def can_upgrade(self) -> bool:
        """Whether a new WebSocket for this session may become an upgrade candidate (docs/protocol/engineio.md#websocket)."""
        return self.ready_state is ReadyState.OPEN and self.upgrade_state is UpgradeState.NONE

    def upgrade_started(self, now: float) -> None:
        """A WebSocket for this session was accepted: it has ``upgrade_timeout`` to finish."""
        self.upgrade_state = UpgradeState.PROBING
        self.upgrade_deadline = now + self.upgrade_timeout

    def receive_on_candidate(self, packet: Packet | None) -> Action:
        """A packet arrived on the upgrade candidate (docs/protocol/engineio.md#upgrade steps 2-4)."""
        state = self.upgrade_state
        if state is UpgradeState.NONE or state is UpgradeState.DONE:
            return Action.NOTHING
        if packet is not None:
            if state is UpgradeState.PROBING and packet.type is PacketType.PING and packet.data == "probe":
                self.upgrade_state = UpgradeState.PROBED
                return Action.SEND_PROBE_PONG
            if state is UpgradeState.PROBED and packet.type is PacketType.UPGRADE:
                if self.ready_state is ReadyState.CLOSED:
                    return self.candidate_lost()
                self.upgrade_state = UpgradeState.DONE
                self.upgrade_deadline = None
                return Action.COMPLETE_UPGRADE
        self.upgrade_state = UpgradeState.NONE
        self.upgrade_deadline = None
        return Action.ABORT_UPGRADE

    def candidate_lost(self) -> Action:
        """The candidate closed or failed before the upgrade completed."""
        if self.upgrade_state is UpgradeState.DONE:
            return Action.NOTHING
        self.upgrade_state = UpgradeState.NONE
        self.upgrade_deadline = None
        return Action.ABORT_UPGRADE

    @property
    def upgrading(self) -> bool:
        return self.upgrade_state is UpgradeState.PROBING or self.upgrade_state is UpgradeState.PROBED

    @property
    def upgraded(self) -> bool:
        return self.upgrade_state is UpgradeState.DONE

    # -- closing -----------------------------------------------------------------------------------------

    def close(self, reason: CloseReason, description: str | None = None) -> Action:
        """Ask to close; answers CLOSE the first time and NOTHING once closed."""
        if self.ready_state is ReadyState.CLOSED:
            return Action.NOTHING
        return self._close(reason, description)

    def start_closing(self, reason: CloseReason) -> bool:
        """A server-side close waits for the buffer to drain (polling: the next GET) before it is final.

        Returns False when the session is already closing or closed.
        """
        if self.ready_state is not ReadyState.OPEN:
            return False
        self.ready_state = ReadyState.CLOSING
        self.close_reason = reason
        return True

    def closed(self) -> None:
        """The close is final: no more timers, no more packets."""
        self.ready_state = ReadyState.CLOSED
        self.upgrade_deadline = None

    def _close(self, reason: CloseReason, description: str | None) -> Action:
        if self.close_reason is None:
            self.close_reason = reason
            self.close_description = description
        self.ready_state = ReadyState.CLOSED
        self.upgrade_deadline = None
        return Action.CLOSE
