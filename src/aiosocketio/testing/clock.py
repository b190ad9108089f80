"""``FakeClock``: a :class:`~aiosocketio.clock.Clock` whose time moves only when a test advances it.

Given to a server (``Server(clock=clock)``), it times every deadline of that server: pings and ping timeouts, the
connect timeout, ack timeouts and the recovery window. ``await clock.advance(25)`` then runs, in time order,
everything due in the next 25 seconds, and lets the event loop answer each one (a ping reaches the client, which
sends its pong) before the next comes, so that no test has to sleep.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any

__all__ = ["FakeClock", "FakeTimer", "settle"]

SETTLE_TURNS = 32
"""How many loop turns :func:`settle` gives: enough for a packet to cross the in-process transport, be handled
and answered (and that answer to cross back) a few times over."""


async def settle(turns: int = SETTLE_TURNS) -> None:
    """Let the event loop run what is ready (callbacks, tasks woken by them) for ``turns`` turns."""
    for _ in range(turns):
        await asyncio.sleep(0)


class FakeTimer:
    """A timer filed with a :class:`FakeClock` (``cancel()`` calls it off).

    Args:
        when: The clock time it is due at.
        callback: What it calls then.
        args: The positional arguments of the call.
    """

    __slots__ = ("args", "callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self.when = when
        """The clock time it is due at."""
        self.callback = callback
        """What it calls when due."""
        self.args = args
        """The positional arguments of that call."""
        self.cancelled = False
        """Whether :meth:`cancel` was called: a cancelled timer never runs."""

    def cancel(self) -> None:
        """Call the timer off (like ``asyncio.TimerHandle.cancel``); harmless once it ran or was cancelled."""
        self.cancelled = True

    def __repr__(self) -> str:
        state = " cancelled" if self.cancelled else ""
        return f"<FakeTimer at {self.when:g}{state} {self.callback!r}>"


class FakeClock:
    """A clock for tests: :meth:`time` stays put until :meth:`advance` moves it (it starts at ``start``).

    Args:
        start: The time it shows at first, in seconds.
    """

    __slots__ = ("_now", "_order", "_timers")

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._timers: list[tuple[float, int, FakeTimer]] = []
        self._order = itertools.count()  # timers due at the same time run in the order they were filed

    def time(self) -> float:
        """The clock's current time in seconds (what ``loop.time()`` is to a real loop)."""
        return self._now

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> FakeTimer:
        """File ``callback(*args)`` to run when the clock reaches ``when`` (during an :meth:`advance`).

        Args:
            when: The clock time it is due at; a time already past runs at the next :meth:`advance`.
            callback: What to call.
            *args: Its arguments.

        Returns:
            The timer, to cancel it.
        """
        timer = FakeTimer(float(when), callback, args)
        heapq.heappush(self._timers, (timer.when, next(self._order), timer))
        return timer

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> FakeTimer:
        """File ``callback(*args)`` to run ``delay`` seconds of clock time from now.

        Args:
            delay: Seconds from the clock's current time.
            callback: What to call.
            *args: Its arguments.

        Returns:
            The timer, to cancel it.
        """
        return self.call_at(self._now + delay, callback, *args)

    @property
    def pending(self) -> list[FakeTimer]:
        """The timers still to come, soonest first."""
        return [timer for _, _, timer in sorted(self._timers) if not timer.cancelled]

    def next_deadline(self) -> float | None:
        """When the next timer is due, or None when there is none."""
        timers = self._timers
        while timers and timers[0][2].cancelled:
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    async def advance(self, seconds: float) -> None:
        """Move the time ``seconds`` forward, running every timer due meanwhile at its own time.

        Each timer runs as the event loop would run it (a callback of the loop, not inside the caller's task);
        the loop then gets a few turns (:func:`settle`) before the next timer, so what a timer starts (a ping, a
        close) is answered before the time moves on.
        """
        if seconds < 0:
            raise ValueError("a clock does not go back: advance() takes seconds >= 0")
        loop = asyncio.get_running_loop()
        target = self._now + seconds
        await settle()
        while True:
            due = self.next_deadline()
            if due is None or due > target:
                break
            self._now = max(self._now, due)
            while self._timers and self._timers[0][0] <= self._now:
                _, _, timer = heapq.heappop(self._timers)
                if not timer.cancelled:
                    timer.cancelled = True  # ran: a later cancel() is a no-op
                    loop.call_soon(timer.callback, *timer.args)
            await settle()
        self._now = target
        await settle()

    def __repr__(self) -> str:
        return f"<FakeClock at {self._now:g}, {len(self.pending)} timers>"
