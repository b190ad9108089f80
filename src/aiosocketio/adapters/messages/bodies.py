"""The operations both cluster message families carry, as Python values: broadcasts, room changes, fetches, emits.

Each body is one thing a server asks of (or answers to) the others, independent of how a family writes it: the
classic adapter (:mod:`aiosocketio.adapters.messages.classic`) and the ClusterAdapter family
(:mod:`aiosocketio.adapters.messages.cluster`) both carry them, each in its own shape (docs/protocol/cluster.md#classic-requests, docs/protocol/cluster.md#cluster-types of
``docs/protocol/cluster.md``). They hold our own types (:class:`~aiosocketio.parsers.packet.Packet`,
:class:`~aiosocketio.adapters.options.BroadcastOptions`). Pure: no asyncio, sockets or clocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiosocketio.adapters.options import BroadcastOptions
from aiosocketio.parsers.packet import Packet

__all__ = [
    "BroadcastAck",
    "BroadcastClientCount",
    "BroadcastMessage",
    "DisconnectSocketsMessage",
    "FetchSocketsMessage",
    "FetchSocketsResponse",
    "ServerSideEmitMessage",
    "ServerSideEmitResponse",
    "SocketData",
    "SocketsJoinMessage",
    "SocketsLeaveMessage",
]


class _HandshakeLike(Protocol):
    """What :class:`aiosocketio.socket.Handshake` offers (not imported: this module stays free of the server)."""

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class SocketData:
    """A socket as ``fetchSockets`` reports it to other servers: ``{id, handshake, rooms, data}`` (docs/protocol/cluster.md#classic-requests, docs/protocol/cluster.md#cluster-types).

    ``handshake``: the reference's handshake object, a mapping with its field names (``headers, time, address,
    xdomain, secure, issued, url, query, auth``; Node leaves ``sessionStore`` out) or our ``Handshake`` itself;
    received ones are the ``dict`` as sent. ``rooms`` in the order the socket joined them (its own id first).
    """

    id: str
    handshake: Mapping[str, Any] | _HandshakeLike
    rooms: tuple[str, ...]
    data: Any = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BroadcastMessage:
    """A broadcast: the packet (``EVENT``, data ``[event, *args]``), the targeting, and ``request_id`` when the
    origin wants acknowledgements (docs/protocol/cluster.md#broadcast-acks; classic: request 7, or the ``[uid, packet, opts]`` array without ack;
    cluster: type 3)."""

    packet: Packet
    opts: BroadcastOptions
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class SocketsJoinMessage:
    """``socketsJoin``: the targeted sockets join ``rooms`` (classic 2, cluster 4)."""

    opts: BroadcastOptions
    rooms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SocketsLeaveMessage:
    """``socketsLeave`` (classic 3, cluster 5)."""

    opts: BroadcastOptions
    rooms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DisconnectSocketsMessage:
    """``disconnectSockets(close)`` (classic 4, cluster 6)."""

    opts: BroadcastOptions
    close: bool


@dataclass(frozen=True, slots=True)
class FetchSocketsMessage:
    """``fetchSockets`` (classic 5 REMOTE_FETCH, cluster 7)."""

    opts: BroadcastOptions
    request_id: str


@dataclass(frozen=True, slots=True)
class FetchSocketsResponse:
    """The sockets of one server (classic: untyped reply; cluster 8)."""

    request_id: str
    sockets: tuple[SocketData, ...]


@dataclass(frozen=True, slots=True)
class ServerSideEmitMessage:
    """``serverSideEmit``: ``data`` is ``[event, *args]``; ``request_id`` when an ack is wanted (classic 6,
    cluster 9)."""

    data: list[Any]
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ServerSideEmitResponse:
    """One server's answer to a ``serverSideEmit`` with ack: the first argument of its callback (classic 6 reply
    ``data``, cluster 10 ``packet``). :data:`UNDEFINED` when the callback had no argument."""

    request_id: str
    response: Any


@dataclass(frozen=True, slots=True)
class BroadcastClientCount:
    """How many local sockets a server wrote a broadcast-with-ack to, sent even when 0 (docs/protocol/cluster.md#broadcast-acks; classic 8,
    cluster 11)."""

    request_id: str
    client_count: int


@dataclass(frozen=True, slots=True)
class BroadcastAck:
    """One client's acknowledgement of a broadcast: its first argument (classic 9, cluster 12)."""

    request_id: str
    response: Any
