"""The ``Adapter`` contract: rooms, broadcasting and the utility methods of one namespace (docs/protocol/server.md#rooms, docs/protocol/server.md#broadcasting, docs/protocol/server.md#utility-methods, docs/protocol/server.md#server-side-emit).

One adapter per namespace (``Server(adapter=factory)`` calls ``factory(namespace)``). This base class keeps the
rooms of the sockets connected to *this* server and delivers to them; it is complete for a single server.
A cluster adapter subclasses it and, besides doing the local part (by calling ``super()``), forwards each
operation to the other servers unless ``options.flags.local`` is set. What to implement:

* :meth:`server_side_emit` / :meth:`server_side_emit_with_ack`: reach the other servers (here: nobody);
* optionally :meth:`fetch_sockets`, :meth:`add_sockets`, :meth:`del_sockets`, :meth:`disconnect_sockets`,
  :meth:`broadcast`, :meth:`broadcast_with_ack` to add the remote part, and :meth:`init` / :meth:`close`.

An adapter sees its namespace, the local sockets and the server's packet writer through the interfaces of
:mod:`aiosocketio.adapters._types` (``AdapterNamespace``, ``LocalSocket``, ``PacketWriter``) and nothing else, so
the adapters import none of the Socket.IO objects.

Delivery is synchronous and encodes once: a broadcast is serialized into its Engine.IO items a single time and
the same items are written to every recipient's transport; no task, no await per recipient.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from aiosocketio._emitter import EventEmitter
from aiosocketio.adapters.options import BroadcastOptions
from aiosocketio.adapters.rooms import RoomIndex
from aiosocketio.logs import describe_packet

logger = logging.getLogger("aiosocketio.adapter")

if TYPE_CHECKING:
    from aiosocketio.adapters._types import AdapterNamespace, LocalSocket
    from aiosocketio.parsers.packet import Packet
    from aiosocketio.recovery import StoredSession

__all__ = ["Adapter"]


class Adapter(EventEmitter, ABC):
    """Rooms and delivery for one namespace; emits ``create-room``, ``delete-room``, ``join-room``, ``leave-room``.

    Listen to those events with ``server.of("/").adapter.on("join-room", handler)``: ``create-room`` and
    ``delete-room`` pass the room, ``join-room`` and ``leave-room`` the room and the socket id, as in Node.js.

    Args:
        nsp: The namespace this adapter serves, seen through the small interface adapters need.
    """

    __slots__ = ("_index", "nsp")

    def __init__(self, nsp: AdapterNamespace) -> None:
        super().__init__()
        self.nsp = nsp
        """The namespace this adapter serves: its name, its local sockets and the server's packet writer."""
        self._index = RoomIndex()

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def init(self) -> None:
        """Called once when the namespace is created (cluster adapters subscribe here)."""

    async def close(self) -> None:
        """Called when the namespace goes away or the server closes."""

    async def server_count(self) -> int:
        """How many servers share this namespace (1 without a cluster)."""
        return 1

    # -- rooms -------------------------------------------------------------------------------------------

    @property
    def rooms(self) -> dict[str, set[str]]:
        """Room → ids of the local sockets in it (do not mutate)."""
        return self._index.rooms

    @property
    def sids(self) -> dict[str, set[str]]:
        """Local socket id → its rooms (do not mutate)."""
        return self._index.sids

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """Make the local socket ``sid`` join each of ``rooms`` (Node.js: ``addAll``).

        Emits ``create-room`` for each room that did not exist and ``join-room`` for each room the socket was not
        already in. Called by ``Socket.join``; applications call that instead.

        Args:
            sid: The id of a socket connected to this server.
            rooms: The rooms to join; rooms the socket is already in are skipped.
        """
        self._report(self._index.add_all(sid, rooms))

    def delete(self, sid: str, room: str) -> None:
        """Make the local socket ``sid`` leave ``room`` (Node.js: ``del``).

        Emits ``leave-room``, then ``delete-room`` when the room became empty; does nothing if the socket was not
        in the room. Called by ``Socket.leave``.

        Args:
            sid: The id of a socket connected to this server.
            room: The room to leave.
        """
        self._report(self._index.delete(sid, room))

    def delete_all(self, sid: str) -> None:
        """Make the local socket ``sid`` leave every room and forget it (Node.js: ``delAll``).

        Called when the socket disconnects; emits ``leave-room`` (and ``delete-room`` for emptied rooms) for each.

        Args:
            sid: The id of a socket connected to this server.
        """
        self._report(self._index.delete_all(sid))

    def _report(self, changes: list[Any]) -> None:
        if not changes or not self._listeners:
            return
        for change, room, sid in changes:
            if sid is None:
                self.emit_event(change.value, room)
            else:
                self.emit_event(change.value, room, sid)

    def socket_rooms(self, sid: str) -> set[str] | None:
        """The rooms of the local socket ``sid`` (Node.js: ``socketRooms``).

        Args:
            sid: The id of a socket connected to this server.

        Returns:
            The live set of its rooms (do not mutate it), or ``None`` for a socket this adapter does not know.
        """
        return self._index.socket_rooms(sid)

    # -- selection ---------------------------------------------------------------------------------------

    def select(self, options: BroadcastOptions) -> Iterator[str]:
        """Ids of the local sockets ``options`` targets, each once (look them up in ``nsp.sockets``)."""
        return self._index.select(options.rooms, options.except_rooms)

    def _local_sockets(self, options: BroadcastOptions) -> list[LocalSocket]:
        sockets = self.nsp.sockets
        found = []
        for sid in self._index.select(options.rooms, options.except_rooms):
            socket = sockets.get(sid)
            if socket is not None:
                found.append(socket)
        return found

    async def sockets(self, rooms: Iterable[str]) -> set[str]:
        """Ids of the local sockets in any of ``rooms`` (every socket when empty)."""
        return {s.id for s in self._local_sockets(BroadcastOptions(rooms=frozenset(rooms)))}

    # -- delivery ----------------------------------------------------------------------------------------

    def broadcast(self, packet: Packet, options: BroadcastOptions) -> None:
        """Encode ``packet`` once and write it to every local target."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "broadcast %s rooms=%s except=%s%s",
                describe_packet(packet.type.name, packet.nsp, packet.data, packet.id),
                sorted(options.rooms) or "all",
                sorted(options.except_rooms) or "none",
                " (volatile)" if options.flags.volatile else "",
            )
        items = self.nsp.server.writer.engine_items(packet)
        volatile = options.flags.volatile
        sockets = self.nsp.sockets
        for sid in self._index.select(options.rooms, options.except_rooms):
            socket = sockets.get(sid)
            if socket is not None:
                socket.deliver(items, volatile)

    def broadcast_with_ack(
        self,
        packet: Packet,
        options: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: Callable[..., None],
    ) -> None:
        """Like :meth:`broadcast`, registering ``ack`` for ``packet.id`` on each target; reports the count."""
        items = self.nsp.server.writer.engine_items(packet)
        volatile = options.flags.volatile
        ack_id = packet.id
        assert ack_id is not None
        count = 0
        for socket in self._local_sockets(options):
            socket.deliver_with_ack(items, volatile, ack_id, ack)
            count += 1
        client_count_callback(count)

    # -- utility methods ---------------------------------------------------------------------------------

    async def fetch_sockets(self, options: BroadcastOptions) -> list[Any]:
        """The matching sockets: local ``Socket`` objects (and ``RemoteSocket`` ones in a cluster)."""
        return list(self._local_sockets(options))

    def add_sockets(self, options: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make the local sockets ``options`` targets join ``rooms`` (Node.js: ``addSockets``).

        What ``server.in_(...).sockets_join(...)`` runs; a cluster adapter also asks the other servers.

        Args:
            options: Which sockets: target rooms, excluded rooms and flags.
            rooms: The rooms to join.
        """
        rooms = tuple(rooms)
        for socket in self._local_sockets(options):
            socket.join_now(rooms)

    def del_sockets(self, options: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make the local sockets ``options`` targets leave ``rooms`` (Node.js: ``delSockets``).

        What ``server.in_(...).sockets_leave(...)`` runs; a cluster adapter also asks the other servers.

        Args:
            options: Which sockets: target rooms, excluded rooms and flags.
            rooms: The rooms to leave.
        """
        rooms = tuple(rooms)
        for socket in self._local_sockets(options):
            for room in rooms:
                socket.leave_now(room)

    def disconnect_sockets(self, options: BroadcastOptions, close: bool) -> None:
        """Disconnect the local sockets ``options`` targets (Node.js: ``disconnectSockets``).

        What ``server.in_(...).disconnect_sockets(...)`` runs; a cluster adapter also asks the other servers.

        Args:
            options: Which sockets: target rooms, excluded rooms and flags.
            close: Also close each socket's underlying connection, which ends its other namespaces too.
        """
        for socket in self._local_sockets(options):
            socket.disconnect_now(close)

    # -- connection state recovery ----------------------------------------------------------------------

    async def persist_session(self, session: StoredSession) -> None:
        """Keep a disconnected socket's session for a later recovery (adapters without recovery drop it)."""

    async def restore_session(self, pid: str, offset: str) -> StoredSession | None:
        """The session kept under ``pid`` with the events it missed since ``offset``, if it can be recovered."""
        return None

    # An adapter whose sessions must survive the crash of this server keeps them up to date while the sockets
    # live (the Redis Streams adapter does, docs/guide/recovery.md#crash); the others ignore these three calls.

    def session_changed(self, sid: str) -> None:
        """Connected socket ``sid`` (one with a private id) connected, or its rooms or data changed."""

    async def save_sessions(self) -> None:
        """Wait until the session changes reported so far are stored (at once when nothing is pending)."""

    async def discard_session(self, sid: str, pid: str) -> None:
        """Socket ``sid`` went away for good (a disconnection that is not recovered): forget its session."""

    @abstractmethod
    async def server_side_emit(self, packet: list[Any]) -> None:
        """Send ``[event, *args]`` to the namespace of every other server."""

    @abstractmethod
    async def server_side_emit_with_ack(self, packet: list[Any], timeout: float | None) -> list[Any]:
        """Like :meth:`server_side_emit`; returns one response per other server."""
