"""RoomIndex: both maps stay in step and report the reference's lifecycle changes, also while a socket's own-id
room shares one set with its set of rooms (the idle-memory saving) and when that sharing has to end."""

from __future__ import annotations

from aiosocketio.adapters.rooms import RoomChange, RoomIndex

CREATE, JOIN, LEAVE, DELETE = (
    RoomChange.CREATE_ROOM,
    RoomChange.JOIN_ROOM,
    RoomChange.LEAVE_ROOM,
    RoomChange.DELETE_ROOM,
)


def snapshot(index: RoomIndex) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    return ({r: set(m) for r, m in index.rooms.items()}, {s: set(r) for s, r in index.sids.items()})


def test_joining_the_own_id_room_reports_create_and_join() -> None:
    index = RoomIndex()
    assert index.add_all("A", ["A"]) == [(CREATE, "A", None), (JOIN, "A", "A")]
    assert snapshot(index) == ({"A": {"A"}}, {"A": {"A"}})
    assert index.socket_rooms("A") == {"A"}
    assert list(index.select(["A"], [])) == ["A"]
    assert list(index.select([], [])) == ["A"]


def test_the_own_id_room_and_the_sockets_rooms_share_one_set_until_one_changes() -> None:
    index = RoomIndex()
    index.add_all("A", ["A"])
    assert index.sids["A"] is index.rooms["A"]
    assert index.add_all("A", ["r1"]) == [(CREATE, "r1", None), (JOIN, "r1", "A")]
    assert snapshot(index) == ({"A": {"A"}, "r1": {"A"}}, {"A": {"A", "r1"}})


def test_another_socket_joining_an_own_id_room_leaves_the_owners_rooms_alone() -> None:
    index = RoomIndex()
    index.add_all("A", ["A"])
    index.add_all("B", ["B"])
    assert index.add_all("B", ["A"]) == [(JOIN, "A", "B")]
    assert snapshot(index) == ({"A": {"A", "B"}, "B": {"B"}}, {"A": {"A"}, "B": {"B", "A"}})
    assert set(index.select(["A"], [])) == {"A", "B"}
    assert index.delete("B", "A") == [(LEAVE, "A", "B")]
    assert snapshot(index) == ({"A": {"A"}, "B": {"B"}}, {"A": {"A"}, "B": {"B"}})


def test_leaving_the_own_id_room_keeps_the_socket_known() -> None:
    index = RoomIndex()
    index.add_all("A", ["A"])
    assert index.delete("A", "A") == [(LEAVE, "A", "A"), (DELETE, "A", None)]
    assert snapshot(index) == ({}, {"A": set()})
    assert index.add_all("A", ["A"]) == [(CREATE, "A", None), (JOIN, "A", "A")]
    assert snapshot(index) == ({"A": {"A"}}, {"A": {"A"}})


def test_delete_all_of_a_shared_socket_reports_leave_and_delete() -> None:
    index = RoomIndex()
    index.add_all("A", ["A"])
    index.add_all("B", ["B"])
    assert index.delete_all("A") == [(LEAVE, "A", "A"), (DELETE, "A", None)]
    assert snapshot(index) == ({"B": {"B"}}, {"B": {"B"}})
    assert index.delete_all("A") == []


def test_delete_all_after_joining_other_rooms() -> None:
    index = RoomIndex()
    index.add_all("A", ["A"])
    index.add_all("B", ["B", "r"])
    index.add_all("A", ["r", "B"])
    changes = index.delete_all("A")
    assert sorted((c.value, room, sid) for c, room, sid in changes) == sorted(
        [
            ("leave-room", "A", "A"),
            ("delete-room", "A", None),
            ("leave-room", "r", "A"),
            ("leave-room", "B", "A"),
        ]
    )
    assert snapshot(index) == ({"B": {"B"}, "r": {"B"}}, {"B": {"B", "r"}})


def test_several_rooms_in_one_call_start_with_the_own_id_room() -> None:
    """What a recovered session does: it joins its saved rooms, its own id among them, at once."""
    index = RoomIndex()
    changes = index.add_all("A", ["A", "r1", "r2"])
    assert changes == [
        (CREATE, "A", None),
        (JOIN, "A", "A"),
        (CREATE, "r1", None),
        (JOIN, "r1", "A"),
        (CREATE, "r2", None),
        (JOIN, "r2", "A"),
    ]
    assert snapshot(index) == ({"A": {"A"}, "r1": {"A"}, "r2": {"A"}}, {"A": {"A", "r1", "r2"}})


def test_a_room_named_like_a_socket_before_that_socket_joins_it() -> None:
    index = RoomIndex()
    index.add_all("B", ["A"])  # a room that happens to bear a future socket's id
    assert index.add_all("A", ["A"]) == [(JOIN, "A", "A")]
    assert snapshot(index) == ({"A": {"A", "B"}}, {"A": {"A"}, "B": {"A"}})
    assert index.delete_all("A") == [(LEAVE, "A", "A")]
    assert snapshot(index) == ({"A": {"B"}}, {"B": {"A"}})


def test_joining_a_room_twice_changes_nothing() -> None:
    index = RoomIndex()
    index.add_all("A", ["A", "r"])
    assert index.add_all("A", ["A", "r"]) == []
    assert snapshot(index) == ({"A": {"A"}, "r": {"A"}}, {"A": {"A", "r"}})


def test_select_with_exceptions_over_shared_sets() -> None:
    index = RoomIndex()
    for sid in "ABC":
        index.add_all(sid, [sid])
    index.add_all("B", ["r"])
    assert sorted(index.select([], ["A"])) == ["B", "C"]
    assert sorted(index.select(["A", "r"], ["B"])) == ["A"]
    assert sorted(index.select(["r", "C"], [])) == ["B", "C"]
