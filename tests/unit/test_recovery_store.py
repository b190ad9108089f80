"""The recovery bookkeeping with a fake clock: offsets, targeting of replays, the window, expiry (docs/protocol/socketio.md#recovery)."""

from __future__ import annotations

import pytest

from aiosocketio.recovery import RECOVERABLE_REASONS, RecoveryStore, StoredSession

NONE: frozenset[str] = frozenset()


def session(pid: str = "p1", rooms: set[str] | None = None) -> StoredSession:
    return StoredSession("s1", pid, rooms if rooms is not None else {"s1", "r"}, {"k": 1})


def test_offsets_are_unique_strings() -> None:
    store = RecoveryStore(10.0)
    offsets = [store.log(["e", n], NONE, NONE, 1.0) for n in range(100)]
    assert len(set(offsets)) == 100
    assert all(isinstance(o, str) and o for o in offsets)


def test_replay_follows_the_targeting_in_order() -> None:
    store = RecoveryStore(10.0)
    seen = store.log(["before"], NONE, NONE, 0.0)
    store.persist(session(), 1.0)
    store.log(["to-all"], NONE, NONE, 1.1)
    store.log(["to-r"], frozenset({"r"}), NONE, 1.2)
    store.log(["to-other"], frozenset({"other"}), NONE, 1.3)
    store.log(["all-but-r"], NONE, frozenset({"r"}), 1.4)
    store.log(["own-id"], frozenset({"s1"}), NONE, 1.5)
    restored = store.restore("p1", seen, 2.0)
    assert restored is not None
    assert [packet[:-1] for packet in restored.missed_packets] == [["to-all"], ["to-r"], ["own-id"]]
    assert all(isinstance(packet[-1], str) for packet in restored.missed_packets)
    assert (restored.sid, restored.data, restored.rooms) == ("s1", {"k": 1}, {"s1", "r"})
    assert store.restore("p1", seen, 2.0) is None  # a session is restored once
    assert len(store) == 0


@pytest.mark.parametrize(
    ("pid", "offset", "now"),
    [("unknown", "seen", 2.0), ("p1", "not-an-offset", 2.0), ("p1", "seen", 11.5)],
)
def test_failed_restores(pid: str, offset: str, now: float) -> None:
    store = RecoveryStore(10.0)
    offsets = {"seen": store.log(["x"], NONE, NONE, 0.5)}
    store.persist(session(), 1.0)
    assert store.restore(pid, offsets.get(offset, offset), now) is None


def test_expiry_bounds_memory_and_reports_unused_sessions() -> None:
    store = RecoveryStore(1.0)
    offset = store.log(["x"], NONE, NONE, 0.0)
    store.persist(session("a"), 0.5)
    store.persist(session("b"), 1.8)
    assert store.expire(1.2) == []
    assert store.logged == 0  # logged at 0.0, older than the window
    expired = store.expire(1.6)
    assert [s.pid for s in expired] == ["a"]
    assert len(store) == 1
    assert store.restore("b", offset, 2.0) is None  # its offset is gone: nothing to replay from
    assert [s.pid for s in store.expire(5.0)] == []  # "b" was taken by the failed restore attempt


def test_recoverable_reasons_are_the_references() -> None:
    assert {"transport error", "transport close", "forced close", "ping timeout"} <= RECOVERABLE_REASONS
    assert "client namespace disconnect" not in RECOVERABLE_REASONS
    assert "server namespace disconnect" not in RECOVERABLE_REASONS
    assert "parse error" not in RECOVERABLE_REASONS


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RecoveryStore(0)
