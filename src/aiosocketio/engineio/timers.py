"""``SessionTimers``: the deadlines of all Engine.IO sessions of a server on one event loop, behind one timer.

Each session has a single deadline at a time (``EngineSession.next_deadline``). Instead of an event-loop timer
handle per session (10,000 idle connections: 10,000 handles, a cancel and a new handle per pong), sessions
are filed in a :class:`~aiosocketio.engineio.timerwheel.TimerWheel` and one loop timer, armed at the wheel's
earliest bucket, calls ``on_timer(now)`` on every session whose bucket came (a :class:`TimerClient`).

Precision: buckets of 1 ms (``TIMER_RESOLUTION``), whatever the intervals, so a ping timeout, an upgrade timeout
or a ping comes at most about 1 ms after its time on an idle loop (plus the loop's own delay), and a timeout
never before it. Buckets used to be 50 ms (1/16 of the shortest interval when shorter), and a session computed
its pong's deadline from the bucket's (late) firing time, so a ping timeout came up to two buckets late: 520-525 ms
after the handshake at intervals of 300/200 ms, where the reference closes at about 501 ms. Now the session
derives the pong's deadline from when the ping was due (``Heartbeat.on_deadline``), so lateness never adds up.

What 1 ms buckets alone cost: pings of sessions that connected together no longer go out in batches, so the loop
wakes up (and reads pongs) once per millisecond of deadlines instead of once per 50 ms. ``benchmarks/idle_cpu.py``,
10,000 idle WebSocket connections, 25 s pings, the runner, 60 s windows on the shared 2-core machine: 0.78-0.92 %
of a core with 50 ms buckets, 1.17-1.58 % with 1 ms buckets (1.4-1.5 % at 2 and 5 ms, 1.15 % at 10 ms, 0.88 % at
20 ms). Batching is therefore kept for pings only, and without lateness: a session files its next ping at the
start of a slice of 1/500 of the interval (``session.PING_BATCH_SHARE``, at most 50 ms), so pings due close
together share a bucket and go out up to 50 ms early, never late; timeouts stay exact. Measured that way:
0.73-0.82 % of a core, as before (benchmarks/README.md, "Deadlines").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Protocol

from aiosocketio.clock import Clock, TimerHandle
from aiosocketio.engineio.timerwheel import TimerWheel

__all__ = ["TIMER_RESOLUTION", "SessionTimers", "TimerClient", "resolution_for"]

logger = logging.getLogger("aiosocketio.engine.transport")

#: Bucket width (seconds): every deadline comes at most this late (plus the loop's own delay), never early.
TIMER_RESOLUTION = 0.001


def resolution_for(*intervals: float) -> float:
    """``TIMER_RESOLUTION``, or finer for intervals under 16 ms, which are then late by at most 1/16 of
    themselves."""
    return min(TIMER_RESOLUTION, min(intervals) / 16)


class TimerClient(Hashable, Protocol):
    """Something with a deadline filed here: it is called back once the deadline has come (never before)."""

    def on_timer(self, now: float) -> None:
        """The deadline came; ``now`` is the loop time the timer fired at. File a new one to be called again."""


class SessionTimers:
    """One loop timer for many sessions (``schedule``/``cancel`` per session, ``_fire`` when a bucket comes)."""

    __slots__ = ("_armed_at", "_firing", "_handle", "clock", "loop", "wheel")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, resolution: float, clock: Clock | None = None
    ) -> None:
        self.loop = loop
        #: Where the time is read and the one timer filed: the loop itself, unless the server was given a clock.
        self.clock: Clock = loop if clock is None else clock
        self.wheel: TimerWheel[TimerClient] = TimerWheel(resolution)
        self._handle: TimerHandle | None = None
        self._armed_at = 0.0
        self._firing = False

    def schedule(self, client: TimerClient, when: float) -> None:
        """Call ``client.on_timer`` at ``when`` (rounded up to the resolution); replaces its previous time.

        The loop timer is re-armed only when this bucket comes before the one it waits for: a pong moving its
        session's next ping later costs two dict operations, no timer handle."""
        due = self.wheel.schedule(client, when)
        if not self._firing and (self._handle is None or due < self._armed_at):
            self._arm(due)

    def cancel(self, client: TimerClient) -> None:
        """No more calls for ``client``. The loop timer stays armed: if it finds nothing due, it rests."""
        self.wheel.cancel(client)

    def _arm(self, at: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = at
        self._handle = self.clock.call_at(at, self._fire)

    def _fire(self) -> None:
        self._handle = None
        now = self.clock.time()
        self._firing = True
        try:
            for client in self.wheel.pop_due(now):
                try:
                    client.on_timer(now)
                except Exception:
                    logger.exception("error in the timer of %r", client)
        finally:
            self._firing = False
            next_time = self.wheel.next_time()
            if next_time is not None:
                self._arm(next_time)
