"""``RoomIndex``: rooms ↔ socket ids, and the choice of recipients (docs/protocol/server.md#rooms, docs/protocol/server.md#broadcasting). Pure.

Two maps kept in step: room → socket ids and socket id → rooms. A room exists while it has members. Each change
reports what happened (a room created or deleted, a socket joining or leaving) so that the adapter can emit the
reference's room lifecycle events without this module knowing about events.

Every socket is in the room named by its own id, and most idle sockets in no other: then its set of rooms and
the room's set of members are both ``{sid}``. They are one shared set object (a set is 216 bytes, a fifth of
what an idle connection costs in Python objects) until either side changes: every mutation here first gives
the side it changes a set of its own (:meth:`RoomIndex._unshare`). Readers see ordinary sets either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import Enum

__all__ = ["RoomChange", "RoomIndex"]


class RoomChange(Enum):
    """What a join or leave did, in the order the reference emits its events."""

    CREATE_ROOM = "create-room"
    """A room got its first member."""
    JOIN_ROOM = "join-room"
    """A socket joined a room."""
    LEAVE_ROOM = "leave-room"
    """A socket left a room."""
    DELETE_ROOM = "delete-room"
    """A room lost its last member and no longer exists."""


Changes = list[tuple[RoomChange, str, str | None]]
"""What an operation did, in order: ``(change, room, sid)``, ``sid`` being None for a room's creation or deletion."""


class RoomIndex:
    """The rooms of one namespace on one server."""

    __slots__ = ("rooms", "sids")

    def __init__(self) -> None:
        self.rooms: dict[str, set[str]] = {}
        """Room → the ids of its members."""
        self.sids: dict[str, set[str]] = {}
        """Socket id → its rooms."""

    def add_all(self, sid: str, rooms: Iterable[str]) -> Changes:
        """``sid`` joins each room; returns the lifecycle changes."""
        changes: Changes = []
        own = self.sids.get(sid)
        for room in rooms:
            if own is None:
                if room == sid and room not in self.rooms:
                    # The socket's own-id room as its first room: one set serves both maps (see the module doc).
                    own = self.sids[sid] = self.rooms[sid] = {sid}
                    changes.append((RoomChange.CREATE_ROOM, room, None))
                    changes.append((RoomChange.JOIN_ROOM, room, sid))
                    continue
                own = self.sids[sid] = set()
            if room in own:
                continue
            own = self._unshare(sid)
            own.add(room)
            members = self.rooms.get(room)
            if members is None:
                members = self.rooms[room] = set()
                changes.append((RoomChange.CREATE_ROOM, room, None))
            elif members is self.sids.get(room):  # someone else's own-id room, shared with its rooms
                members = self.rooms[room] = set(members)
            if sid not in members:
                members.add(sid)
                changes.append((RoomChange.JOIN_ROOM, room, sid))
        return changes

    def _unshare(self, sid: str) -> set[str]:
        """``sid``'s set of rooms, made its own if it was shared with the members of its own-id room."""
        own = self.sids[sid]
        if own is self.rooms.get(sid):
            own = self.sids[sid] = set(own)
        return own

    def delete(self, sid: str, room: str) -> Changes:
        """``sid`` leaves ``room``."""
        changes: Changes = []
        if sid in self.sids:
            self._unshare(sid).discard(room)
        self._leave(sid, room, changes)
        return changes

    def delete_all(self, sid: str) -> Changes:
        """``sid`` leaves every room and is forgotten."""
        changes: Changes = []
        own = self.sids.pop(sid, None)
        if own is not None:
            for room in list(own):  # a copy: when shared, ``own`` is also the members that _leave changes
                self._leave(sid, room, changes)
        return changes

    def _leave(self, sid: str, room: str, changes: Changes) -> None:
        members = self.rooms.get(room)
        if members is None or sid not in members:
            return
        if members is self.sids.get(room):  # only ``room == sid`` is a member of a shared set
            members = self.rooms[room] = set(members)
        members.discard(sid)
        changes.append((RoomChange.LEAVE_ROOM, room, sid))
        if not members:
            del self.rooms[room]
            changes.append((RoomChange.DELETE_ROOM, room, None))

    def socket_rooms(self, sid: str) -> set[str] | None:
        """The rooms of ``sid`` (the live set), or None for an unknown socket."""
        return self.sids.get(sid)

    def select(self, rooms: Iterable[str], except_rooms: Iterable[str]) -> Iterator[str]:
        """Ids in at least one of ``rooms`` (every id when there are none) and in none of ``except_rooms``.

        Each id comes out once, whatever the number of target rooms it is in.
        """
        excluded: set[str] = set()
        for room in except_rooms:
            members = self.rooms.get(room)
            if members:
                excluded.update(members)
        rooms = tuple(rooms)
        if not rooms:
            if excluded:
                return (sid for sid in list(self.sids) if sid not in excluded)
            return iter(list(self.sids))
        if len(rooms) == 1:
            members = self.rooms.get(rooms[0])
            if not members:
                return iter(())
            return (sid for sid in list(members) if sid not in excluded)
        chosen: set[str] = set()
        for room in rooms:
            members = self.rooms.get(room)
            if members:
                chosen.update(members)
        chosen.difference_update(excluded)
        return iter(chosen)
