"""A bucketed timer wheel: many coarse deadlines behind one event-loop timer (issue 6). Pure: time is an argument.

Every Engine.IO session has one deadline at a time (its next ping, its pong's due time, or its upgrade's end).
With one event-loop timer each, 10,000 idle sessions mean 10,000 timer handles, a heap operation per ping and
a cancel plus a new handle per pong. Here deadlines are filed in buckets of ``resolution`` seconds instead: a
bucket is a plain insertion-ordered dict of keys, moving a key is two dict operations, and the owner keeps a
single loop timer armed at :meth:`TimerWheel.next_time`, where :meth:`TimerWheel.pop_due` hands it every key
whose bucket has come.

Deadlines are rounded **up** to the bucket boundary, so a key never comes due before its deadline: it comes
at most ``resolution`` late. Only buckets that hold keys exist; their ticks sit in a heap (entries of buckets
emptied by cancels are skipped when they reach the top), so an idle wheel costs nothing and the next due time
is found without scanning.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["TimerWheel"]

K = TypeVar("K", bound=Hashable)


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
        return math.ceil(when / self.resolution)

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
            heapq.heappush(self._heap, tick)
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
        while heap and heap[0] * resolution <= now:
            bucket = buckets.pop(heapq.heappop(heap), None)
            if bucket is None:
                continue  # emptied by cancels after its tick was pushed
            for key in bucket:
                del tick_of[key]
            due.extend(bucket)
        return due
