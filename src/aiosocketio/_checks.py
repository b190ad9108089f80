"""Checks of the arguments a program passes, with messages that say what to write instead.

Durations are in seconds everywhere in this package, where the Node.js server takes milliseconds, so a value
copied from a Node.js program (``pingInterval: 25000``) is a plausible mistake. Each duration option has a
ceiling that no sensible number of seconds reaches and that the usual millisecond values pass; a value at or
above it is refused, saying it looks like milliseconds:

* ``ping_interval``, ``ping_timeout``, ``upgrade_timeout``, ``connect_timeout`` and the timeout of an
  acknowledgement (``timeout()``, ``server_side_emit_with_ack(timeout=...)``): 1000 s. A heartbeat, an
  upgrade or a CONNECT that takes a quarter of an hour is no heartbeat; the reference's defaults and examples
  (5000, 10000, 20000, 25000, 45000 ms) are all above it.
* ``max_disconnection_duration`` (connection state recovery): a day (86400 s). The recovery store keeps every
  packet of the window, so longer windows are not sensible; the reference's default (120000 ms) is above it.

A millisecond value below the ceiling (``timeout(500)``, meant as half a second) cannot be told from seconds
and passes.
"""

from __future__ import annotations

import math
from typing import Any, Final

__all__ = [
    "ACK_TIMEOUT_LIMIT",
    "DAY",
    "TIMER_LIMIT",
    "ack_timeout",
    "missing_extra",
    "room_list",
    "seconds",
    "type_name",
]

#: Ping, upgrade, connect and acknowledgement timeouts at or above this many seconds are refused.
TIMER_LIMIT: Final = 1000.0
ACK_TIMEOUT_LIMIT: Final = TIMER_LIMIT
#: Recovery windows at or above this many seconds (a day) are refused.
DAY: Final = 86400.0


def type_name(value: Any) -> str:
    return type(value).__name__


def seconds(name: str, value: Any, *, limit: float, allow_zero: bool = False, hint: str = "") -> float:
    """``value`` as a float of seconds, or a ``TypeError``/``ValueError`` that says what is expected.

    ``limit``: the smallest value refused as milliseconds (see the module docstring); ``allow_zero``: 0 is
    a valid value (an acknowledgement timeout of 0 expires at once); ``hint``: appended to the message about
    milliseconds (what to do for a really long wait, where there is a way).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} is a number of seconds (int or float), not {type_name(value)}")
    if not math.isfinite(value) or (value < 0 if allow_zero else value <= 0):
        expected = "a number of seconds >= 0" if allow_zero else "a positive number of seconds"
        raise ValueError(f"{name} is {expected}, got {value!r}")
    if value >= limit:
        raise ValueError(
            f"{name}={value!r} looks like milliseconds, but aiosocketio takes seconds: write {name}="
            f"{value / 1000:g} for {value!r} ms (values of {limit:g} s and more are refused){hint}"
        )
    return float(value)


def missing_extra(package: str, extras: str | tuple[str, ...], what: str) -> ModuleNotFoundError:
    """The error for an optional dependency that is not installed: which extra of this package brings it.

    A ``ModuleNotFoundError`` (``name`` is the package), so ``except ImportError`` still catches it.
    """
    names = (extras,) if isinstance(extras, str) else extras
    commands = " or ".join(f"pip install 'aiosocketio[{extra}]'" for extra in names)
    return ModuleNotFoundError(
        f"{what} needs the {package!r} package, which is not installed: {commands}", name=package
    )


def room_list(rooms: Any) -> list[str]:
    """``rooms`` (one name or an iterable of names) as a list of names, or a ``TypeError`` naming the type.

    Room names are strings, as the socket ids that name the sockets' own rooms are; a number is not turned
    into one silently (``to(5)`` and ``to("5")`` would be two different rooms in Node.js).
    """
    if isinstance(rooms, str):
        return [rooms]
    if isinstance(rooms, bytes | bytearray | memoryview):
        raise TypeError(f"a room is a str, not {type_name(rooms)}: decode it first")
    try:
        names = list(rooms)
    except TypeError:
        raise TypeError(
            f"a room is a str or an iterable of str, not {type_name(rooms)}: write str({rooms!r}) for a room "
            "named after it"
        ) from None
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"a room name is a str, not {type_name(name)} ({name!r} in {rooms!r})")
    return names


def ack_timeout(value: Any) -> float:
    """The seconds of ``timeout(value)`` on a socket or a broadcast, checked."""
    return seconds(
        "timeout",
        value,
        limit=ACK_TIMEOUT_LIMIT,
        allow_zero=True,
        hint="; to wait longer, await emit_with_ack() without timeout() inside asyncio.timeout()",
    )
