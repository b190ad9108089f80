"""The timer wheel on a fake clock: keys come due at their bucket, never before their deadline, at most one
resolution after it; moves and cancels take effect; the next due time is what the single loop timer needs."""

from __future__ import annotations

import pytest

from aiosocketio.engineio.timerwheel import TimerWheel


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
        assert deadlines[key] <= fired < deadlines[key] + 0.05 + 1e-9


def test_resolution_must_be_positive() -> None:
    with pytest.raises(ValueError, match="resolution"):
        TimerWheel(0)
