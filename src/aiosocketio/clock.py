"""``Clock``: where the server reads the time and files its timers, so that a test can move time by hand.

Every deadline of a server (Engine.IO heartbeats and upgrade timeouts, the Socket.IO connect timeout, ack
timeouts, the recovery window of the in-memory adapter) is read from and filed with one clock. By default that
clock is the running event loop itself (an ``asyncio`` loop has exactly these three methods), so the ordinary
path costs nothing more than the loop calls it made before. ``Server(clock=...)`` /
``EngineServer(clock=...)`` take another one, such as ``aiosocketio.testing.FakeClock``, whose time only
moves when the test says so (see docs/testing.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

__all__ = ["Clock", "TimerHandle", "clock_of", "wait_for"]

T = TypeVar("T")


class TimerHandle(Protocol):
    """A filed timer, which can be called off (``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None:
        """The callback will not run (nothing happens if it already ran)."""


class Clock(Protocol):
    """The time and the timers of a server: an ``asyncio`` event loop is one as it is."""

    def time(self) -> float:
        """The current time in seconds, on a clock that never goes back."""
        ...

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> TimerHandle:
        """Call ``callback(*args)`` once ``time()`` reaches ``when``."""
        ...

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> TimerHandle:
        """Call ``callback(*args)`` once ``delay`` seconds have passed."""
        ...


def clock_of(clock: Clock | None) -> Clock:
    """``clock``, or the running loop when there is none (the default).

    Args:
        clock: A clock, or None.

    Returns:
        The clock to use.

    Raises:
        RuntimeError: ``clock`` is None and no event loop is running.
    """
    return clock if clock is not None else asyncio.get_running_loop()


async def wait_for(clock: Clock | None, awaitable: Awaitable[T], timeout: float) -> T:
    """``asyncio.wait_for`` timed by ``clock``: raises ``TimeoutError`` once ``timeout`` seconds of that clock
    have passed (the awaitable is cancelled then, as ``asyncio.wait_for`` does).

    On the loop's own clock (``clock`` None or the running loop) this is ``asyncio.wait_for`` itself.

    Args:
        clock: The clock that times the wait; None for the running loop.
        awaitable: What to wait for.
        timeout: Seconds of ``clock`` to wait.

    Returns:
        The awaitable's result.

    Raises:
        TimeoutError: ``timeout`` passed first.
    """
    loop = asyncio.get_running_loop()
    if clock is None or clock is loop:
        return await asyncio.wait_for(awaitable, timeout)
    future = asyncio.ensure_future(awaitable)
    expired = False

    def expire() -> None:
        nonlocal expired
        if not future.done():
            expired = True
            future.cancel()

    handle = clock.call_later(timeout, expire)
    try:
        return await future
    except asyncio.CancelledError:
        if expired:
            raise TimeoutError from None
        raise
    finally:
        handle.cancel()
        if not future.done():  # the waiter itself was cancelled: so is what it waited for
            future.cancel()
