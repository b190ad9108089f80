"""A bucketed timer wheel: many deadlines behind one event-loop timer (issue 6). Pure: time is an argument.

Every Engine.IO session has one deadline at a time (its next ping, its pong's due time, or its upgrade's end).
With one event-loop timer each, 10,000 idle sessions mean 10,000 timer handles, a heap operation per ping and
a cancel plus a new handle per pong. Here deadlines are filed in buckets of ``resolution`` seconds instead: a
bucket is a plain insertion-ordered dict of keys, moving a key is two dict operations, and the owner keeps a
single loop timer armed at :meth:`TimerWheel.next_time`, where :meth:`TimerWheel.pop_due` hands it every key
whose bucket has come.

Deadlines are rounded **up** to the bucket boundary, so a key never comes due before its deadline: it comes
at most ``resolution`` late. The owner (``engineio/timers.py``) uses 1 ms buckets, which keeps every deadline
within a millisecond or two of its time whatever the configured intervals; what the buckets still save is
the per-session timer handle, not precision. A deadline that lies on a boundary up to float noise (``SLOP``)
goes in that boundary's bucket rather than the next, and a bucket counts as due that much before its time:
times computed as ``start + interval`` are rarely exact multiples of the resolution in binary floating point,
and without the slop such a deadline would wait one whole bucket more, or a loop timer firing on time would
find its bucket a hair in the future and spin until the clock moved on.

Only buckets that hold keys exist; their ticks sit in a heap (entries of buckets emptied by cancels or moves
are skipped when they reach the top, and the heap is rebuilt when such entries outnumber the live ones), so an
idle wheel costs nothing and the next due time is found without scanning.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["SLOP", "TimerWheel"]

K = TypeVar("K", bound=Hashable)

#: Float noise tolerated on bucket boundaries (seconds): far below any clock's useful precision.
SLOP = 1e-7


class TimerWheel(Generic[K]):
    """Keys with one deadline each, grouped in buckets of ``resolution`` seconds."""

    __slots__ = ("_buckets", "_heap", "_tick_of", "resolution")

    def __init__(self, resolution: float) -> None:
        if not resolution > 0:
            raise ValueError(f"resolution must be a positive number of seconds, got {resolution!r}")
        self.resolution = float(resolution)
        self._buckets: dict[int, dict[K, None]] = {}
        self._tick_of: dict[K, int] = {}
        self._heap: list[int] = []  # ticks of buckets; may hold ticks of buckets since emptied

    def __len__(self) -> int:
        return len(self._tick_of)

    def __contains__(self, key: object) -> bool:
        return key in self._tick_of

    def _tick(self, when: float) -> int:
        return math.ceil((when - SLOP) / self.resolution)

    def schedule(self, key: K, when: float) -> float:
        """File ``key`` for ``when`` (moving it if it was filed); returns the time its bucket comes due."""
        tick = self._tick(when)
        old = self._tick_of.get(key)
        if old is not None:
            if old == tick:
                return tick * self.resolution
            self._discard(key, old)
        self._tick_of[key] = tick
        bucket = self._buckets.get(tick)
        if bucket is None:
            self._buckets[tick] = {key: None}
            heap = self._heap
            if len(heap) > 64 and len(heap) > 4 * len(self._buckets):
                # Mostly ticks of buckets emptied by moves (each pong moves its session out of a bucket that
                # would have come only a timeout later): keep the heap as small as the live buckets.
                heap[:] = self._buckets
                heapq.heapify(heap)
            else:
                heapq.heappush(heap, tick)
        else:
            bucket[key] = None
        return tick * self.resolution

    def due_time(self, key: K) -> float | None:
        """When ``key``'s bucket comes due (``None``: not filed)."""
        tick = self._tick_of.get(key)
        return None if tick is None else tick * self.resolution

    def cancel(self, key: K) -> None:
        """Forget ``key``; nothing happens when it is not filed."""
        tick = self._tick_of.pop(key, None)
        if tick is not None:
            self._discard(key, tick)

    def _discard(self, key: K, tick: int) -> None:
        """Take ``key`` out of its bucket (not out of ``_tick_of``); an emptied bucket goes away."""
        bucket = self._buckets[tick]
        del bucket[key]
        if not bucket:
            del self._buckets[tick]

    def next_time(self) -> float | None:
        """When the earliest bucket holding a key comes due (``None``: the wheel is empty)."""
        heap = self._heap
        buckets = self._buckets
        while heap:
            tick = heap[0]
            if tick in buckets:
                return tick * self.resolution
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float) -> list[K]:
        """Remove and return every key whose bucket is due at ``now``, earliest bucket first."""
        due: list[K] = []
        heap = self._heap
        buckets = self._buckets
        tick_of = self._tick_of
        resolution = self.resolution
        now += SLOP
        while heap and heap[0] * resolution <= now:
            bucket = buckets.pop(heapq.heappop(heap), None)
            if bucket is None:
                continue  # emptied by cancels after its tick was pushed
            for key in bucket:
                del tick_of[key]
            due.extend(bucket)
        return due
