"""The timer wheel on a fake clock: keys come due at their bucket, never before their deadline, at most one
resolution after it; moves and cancels take effect; the next due time is what the single loop timer needs.
With the session machine: every deadline of a session, chained, comes within a bucket and the loop's own delay
of its time, and those delays do not add up from one deadline to the next."""

from __future__ import annotations

import random

import pytest

from aiosocketio.engineio.packet import decode
from aiosocketio.engineio.session import PING_BATCH_MAX, PING_BATCH_SHARE, Action, CloseReason, EngineSession
from aiosocketio.engineio.timers import TIMER_RESOLUTION, resolution_for
from aiosocketio.engineio.timerwheel import SLOP, TimerWheel


def test_a_key_comes_due_at_its_bucket_never_before_its_deadline() -> None:
    wheel: TimerWheel[str] = TimerWheel(0.05)
    due = wheel.schedule("a", 1.01)
    assert due == pytest.approx(1.05)
    assert wheel.next_time() == pytest.approx(1.05)
    assert wheel.pop_due(1.0) == []
    assert wheel.pop_due(1.049) == []
    assert wheel.pop_due(1.05) == ["a"]
    assert len(wheel) == 0
    assert wheel.next_time() is None


def test_a_deadline_on_a_boundary_is_not_delayed() -> None:
    wheel: TimerWheel[str] = TimerWheel(0.5)
    assert wheel.schedule("a", 2.0) == 2.0
    assert wheel.pop_due(2.0) == ["a"]


def test_keys_come_due_earliest_bucket_first_in_filing_order() -> None:
    wheel: TimerWheel[str] = TimerWheel(1.0)
    wheel.schedule("late", 5.0)
    wheel.schedule("b", 2.5)
    wheel.schedule("a", 2.2)
    wheel.schedule("early", 1.0)
    assert wheel.next_time() == 1.0
    assert wheel.pop_due(10.0) == ["early", "b", "a", "late"]


def test_pop_due_leaves_later_buckets() -> None:
    wheel: TimerWheel[str] = TimerWheel(1.0)
    wheel.schedule("a", 1.0)
    wheel.schedule("b", 3.0)
    assert wheel.pop_due(2.5) == ["a"]
    assert "b" in wheel
    assert "a" not in wheel
    assert wheel.next_time() == 3.0
    assert wheel.pop_due(3.0) == ["b"]


def test_rescheduling_moves_the_key_both_ways() -> None:
    wheel: TimerWheel[str] = TimerWheel(1.0)
    wheel.schedule("a", 10.0)
    wheel.schedule("a", 3.0)  # earlier (an upgrade's deadline before the next ping)
    assert wheel.due_time("a") == 3.0
    assert wheel.next_time() == 3.0
    wheel.schedule("a", 20.0)  # later (a pong pushes the next ping)
    assert wheel.next_time() == 20.0
    assert wheel.pop_due(19.0) == []
    assert wheel.pop_due(20.0) == ["a"]
    assert len(wheel) == 0


def test_rescheduling_within_the_same_bucket_keeps_the_key_once() -> None:
    wheel: TimerWheel[str] = TimerWheel(1.0)
    wheel.schedule("a", 1.2)
    wheel.schedule("a", 1.7)
    assert len(wheel) == 1
    assert wheel.pop_due(2.0) == ["a"]


def test_cancel_forgets_the_key_and_empty_buckets_are_skipped() -> None:
    wheel: TimerWheel[str] = TimerWheel(1.0)
    wheel.schedule("a", 1.0)
    wheel.schedule("b", 2.0)
    wheel.cancel("a")
    wheel.cancel("a")  # twice is harmless
    wheel.cancel("never filed")
    assert "a" not in wheel
    assert wheel.due_time("a") is None
    assert wheel.next_time() == 2.0
    assert wheel.pop_due(5.0) == ["b"]


def test_a_bucket_emptied_then_refilled_comes_due_once() -> None:
    wheel: TimerWheel[str] = TimerWheel(1.0)
    wheel.schedule("a", 1.0)
    wheel.cancel("a")
    wheel.schedule("b", 1.0)
    assert wheel.next_time() == 1.0
    assert wheel.pop_due(1.0) == ["b"]
    assert wheel.pop_due(100.0) == []
    assert wheel.next_time() is None


def test_a_key_filed_while_due_keys_are_handled_waits_for_the_next_pop() -> None:
    """The owner re-files keys from inside its handling of ``pop_due``: they are not returned twice."""
    wheel: TimerWheel[str] = TimerWheel(1.0)
    wheel.schedule("a", 1.0)
    due = wheel.pop_due(1.0)
    for key in due:
        wheel.schedule(key, 1.0)  # e.g. a timer that fired a hair early and files itself again
    assert wheel.next_time() == 1.0
    assert wheel.pop_due(1.0) == ["a"]


def test_many_keys_with_spread_deadlines_all_come_due_in_time() -> None:
    wheel: TimerWheel[int] = TimerWheel(0.05)
    deadlines = {k: (k * 0.0137) % 25.0 for k in range(5000)}
    for key, when in deadlines.items():
        wheel.schedule(key, when)
    seen: dict[int, float] = {}
    now = 0.0
    while len(wheel):
        next_time = wheel.next_time()
        assert next_time is not None
        now = next_time
        for key in wheel.pop_due(now):
            seen[key] = now
    assert seen.keys() == deadlines.keys()
    for key, fired in seen.items():
        assert deadlines[key] - SLOP <= fired < deadlines[key] + 0.05 + 1e-9


def test_resolution_must_be_positive() -> None:
    with pytest.raises(ValueError, match="resolution"):
        TimerWheel(0)


# -- precision ---------------------------------------------------------------------------------------------------


def test_the_timers_use_millisecond_buckets_whatever_the_intervals() -> None:
    assert TIMER_RESOLUTION == 0.001
    assert resolution_for(25.0, 20.0, 10.0) == 0.001  # the defaults: not 50 ms any more
    assert resolution_for(0.3, 0.2, 10.0) == 0.001  # the protocol suite's: not 12.5 ms any more
    assert resolution_for(0.008, 0.2) == 0.0005  # under 16 ms: 1/16 of the interval


def test_a_deadline_on_a_boundary_up_to_float_noise_is_not_a_bucket_late() -> None:
    """``start + interval`` is rarely an exact multiple of a millisecond in binary: 100.308 + 0.2 is a hair over
    100.508 (so are about 8 % of such sums). It goes in that millisecond's bucket, not the next one."""
    wheel: TimerWheel[str] = TimerWheel(0.001)
    when = 100.308 + 0.2
    assert when > 100.508  # the noise is there
    assert wheel.schedule("a", when) == pytest.approx(100.508, abs=1e-9)
    assert wheel.pop_due(100508 / 1000) == ["a"]  # a clock counting whole milliseconds (uvloop) reads this


def test_a_bucket_is_due_at_its_time_up_to_float_noise() -> None:
    """A loop timer armed at ``next_time()`` may read a clock a hair before it: the bucket is due, or the owner
    would re-arm for the same instant again and again."""
    wheel: TimerWheel[str] = TimerWheel(0.001)
    due = wheel.schedule("a", 500.0005)
    assert wheel.pop_due(due - 1e-9) == ["a"]


def test_keys_at_every_phase_of_a_millisecond_are_at_most_a_millisecond_late() -> None:
    rng = random.Random(6)
    wheel: TimerWheel[int] = TimerWheel(0.001)
    deadlines = {k: 1000.0 + rng.uniform(0.0, 0.5) for k in range(2000)}
    for key, when in deadlines.items():
        wheel.schedule(key, when)
    while len(wheel):
        now = wheel.next_time()
        assert now is not None
        for key in wheel.pop_due(now):
            assert deadlines[key] - SLOP <= now <= deadlines[key] + 0.001 + 1e-9


def test_moves_do_not_let_the_heap_grow_without_bound() -> None:
    """Each pong moves its session out of a bucket that would come only later (its pong deadline), leaving that
    bucket's tick in the heap: the heap is rebuilt from the live buckets before such ticks pile up."""
    wheel: TimerWheel[int] = TimerWheel(0.001)
    for k in range(100):
        wheel.schedule(k, 10.0 + k * 0.01)
    for step in range(20_000):
        wheel.schedule(step % 100, 20.0 + step * 0.001)  # each move: a new bucket, an emptied one
    assert len(wheel._heap) <= 4 * len(wheel._buckets) + 65
    assert wheel.next_time() == pytest.approx(20.0 + 19_900 * 0.001)
    assert sorted(wheel.pop_due(100.0)) == list(range(100))


# -- the session's deadlines through the wheel -------------------------------------------------------------------


class Clock:
    """The timers' loop on a fake clock: it wakes at the wheel's next bucket, plus a delay of its own (a loop
    busy with other work), and hands each due session the time it woke, as ``SessionTimers`` does."""

    def __init__(self, wheel: TimerWheel[EngineSession], loop_delay: float, seed: int) -> None:
        self.wheel = wheel
        self.loop_delay = loop_delay
        self.rng = random.Random(seed)

    def run_until_closed(
        self, sessions: list[EngineSession], pong_once: set[int]
    ) -> dict[int, list[tuple[str, float]]]:
        """Fire every session until it closes; the ones in ``pong_once`` answer their first ping at once.
        Returns what each session did, and when."""
        index = {id(session): k for k, session in enumerate(sessions)}
        log: dict[int, list[tuple[str, float]]] = {k: [] for k in range(len(sessions))}
        for session in sessions:
            self.wheel.schedule(session, session.next_deadline() or 0.0)
        for _ in range(100 * len(sessions)):  # a bucket that came but whose session is not due would spin
            next_time = self.wheel.next_time()
            if next_time is None:
                break
            now = next_time + self.rng.uniform(0.0, self.loop_delay)
            for session in self.wheel.pop_due(now):
                k = index[id(session)]
                while (action := session.on_timer(now)) is not Action.NOTHING:
                    log[k].append((action.name, now))
                    if action is Action.SEND_PING and k in pong_once and len(log[k]) == 1:
                        session.receive(decode("3"), now)  # the pong, the same instant
                        log[k].append(("PONG", now))
                    if action is Action.CLOSE:
                        break
                deadline = session.next_deadline()
                if deadline is not None:
                    self.wheel.schedule(session, deadline)
        assert not len(self.wheel), "the sessions' timers went round without end"
        return log


@pytest.mark.parametrize(("interval", "timeout"), [(0.3, 0.2), (0.05, 0.03), (25.0, 20.0)])
@pytest.mark.parametrize("loop_delay", [0.0, 0.005])
def test_chained_deadlines_are_never_late_by_more_than_a_bucket_and_the_loop(
    interval: float, timeout: float, loop_delay: float
) -> None:
    """200 sessions opened at every phase of a millisecond, each deadline from the previous one: the first ping
    at ``open + interval``, the ping timeout at ``open + interval + timeout`` (or, after one pong, the next ping
    ``interval`` after the pong and the timeout ``timeout`` after that), each late by at most one bucket plus
    the loop's delay, however late the deadline before it was (pings may also be early, by at most their batch's
    slice). Before, the pong's deadline was counted from the (late) ping: a ping timeout could be two buckets
    and two loop delays late."""
    resolution = resolution_for(interval, timeout)
    wheel: TimerWheel[EngineSession] = TimerWheel(resolution)
    rng = random.Random(f"{interval}/{timeout}/{loop_delay}")
    opened = [1000.0 + rng.uniform(0.0, 0.1) for _ in range(200)]
    sessions = [
        EngineSession(ping_interval=interval, ping_timeout=timeout, upgrade_timeout=10.0, now=at)
        for at in opened
    ]
    pong_once = set(range(0, 200, 2))
    log = Clock(wheel, loop_delay, seed=7).run_until_closed(sessions, pong_once)
    bound = resolution + loop_delay + 1e-9
    batch = min(interval * PING_BATCH_SHARE, PING_BATCH_MAX)  # pings go out at the start of their slice
    for k, events in log.items():
        kinds = [kind for kind, _ in events]
        if k in pong_once:
            assert kinds == ["SEND_PING", "PONG", "SEND_PING", "CLOSE"], kinds
            pong = events[1][1]
            due = [opened[k] + interval, pong + interval, pong + interval + timeout]
            fired = [events[0][1], events[2][1], events[3][1]]
            early = [batch, batch, 0.0]
        else:
            assert kinds == ["SEND_PING", "CLOSE"], kinds
            due = [opened[k] + interval, opened[k] + interval + timeout]
            fired = [events[0][1], events[1][1]]
            early = [batch, 0.0]
        for when, at, may_be_early in zip(due, fired, early, strict=True):
            assert when - may_be_early - SLOP <= at <= when + bound, (k, kinds, at - when)
        assert sessions[k].close_reason is CloseReason.PING_TIMEOUT
