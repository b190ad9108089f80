"""What an adapter sees of the server: the interfaces at the seam between the adapters and the Socket.IO objects.

An adapter (in this package or a third-party one) works on its namespace, the namespace's local sockets and the
packet writer through these ``Protocol``\\ s only, never through the classes that implement them, so this package
sits below :mod:`aiosocketio.namespace`, :mod:`aiosocketio.socket` and :mod:`aiosocketio.server` and imports none
of them. Internal: not part of the user API, but the names are public because other modules call them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aiosocketio.clock import Clock
    from aiosocketio.parsers.packet import Packet

__all__ = ["AdapterNamespace", "AdapterServer", "HandshakeRecord", "LocalSocket", "PacketWriter"]

Items = list[str | bytes]
"""A packet encoded for Engine.IO: its messages, text ones already prefixed with the message type ``4``."""

AckCallback = Callable[..., None]
"""Called with the arguments of the client's ACK."""


class PacketWriter(Protocol):
    """Encodes packets into Engine.IO items once, with the server's parser, for any number of recipients."""

    def engine_items(self, packet: Packet) -> Items:
        """The packet as Engine.IO messages: text gets the message type ``4``, binary stays as it is."""
        ...

    def connect_items(self, nsp: str, reply: dict[str, str]) -> Items:
        """The CONNECT packet answering a client in namespace ``nsp`` (``reply``: its ``sid``, and its ``pid``
        with connection state recovery), as Engine.IO messages."""
        ...

    def ack_items(self, nsp: str, ack_id: int, args: list[Any]) -> Items:
        """An ACK answering ``ack_id`` in namespace ``nsp`` with ``args``, as Engine.IO messages."""
        ...

    @property
    def plain_ack(self) -> Callable[[str, int, Sequence[Any]], str | None] | None:
        """A fast ACK encoder returning the ACK's text (without the ``4``), or None when ``args`` need the full
        encoder; None itself when the parser has no such shortcut. A plain function: calling it binds nothing."""
        ...


class HandshakeRecord(Protocol):
    """A socket's handshake as it crosses the cluster (``fetch_sockets``)."""

    def to_dict(self) -> dict[str, Any]:
        """The reference's field names and JSON types."""
        ...


class AdapterServer(Protocol):
    """The server settings an adapter may read: its packet writer and the connection state recovery options."""

    @property
    def writer(self) -> PacketWriter:
        """Encodes what the adapter delivers."""
        ...

    @property
    def connection_state_recovery(self) -> dict[str, Any] | None:
        """None when recovery is off, else ``max_disconnection_duration`` and ``skip_middlewares``."""
        ...

    @property
    def clock(self) -> Clock | None:
        """Where deadlines are timed (the recovery window, ack timeouts); None: the running loop."""
        ...


class LocalSocket(Protocol):
    """What an adapter (and anything acting for it: a worker bridge, admin hooks) may do to a socket of this server."""

    @property
    def id(self) -> str:
        """The socket's public id (also the name of its own room)."""
        ...

    @property
    def pid(self) -> str | None:
        """The private session id a recovering client presents (None without connection state recovery)."""
        ...

    @property
    def handshake(self) -> HandshakeRecord:
        """The handshake, as ``fetch_sockets`` reports it."""
        ...

    @property
    def rooms(self) -> set[str]:
        """A copy of the rooms the socket is in."""
        ...

    @property
    def data(self) -> Any:
        """The application's data about the socket (a dict unless the program types it otherwise)."""
        ...

    def deliver(self, items: Items, volatile: bool) -> None:
        """Write encoded items to the client; a volatile packet is dropped unless the transport can take it now."""
        ...

    def deliver_with_ack(self, items: Items, volatile: bool, ack_id: int, callback: AckCallback) -> None:
        """Like :meth:`deliver`, and call ``callback`` with the client's ACK for ``ack_id`` when it comes."""
        ...

    def join_now(self, rooms: Iterable[str]) -> None:
        """Join the rooms at once (nothing once the socket is disconnected)."""
        ...

    def leave_now(self, room: str) -> None:
        """Leave the room at once."""
        ...

    def disconnect_now(self, close: bool) -> None:
        """Send DISCONNECT and close the socket; with ``close``, the whole connection and its other sockets."""
        ...


class AdapterNamespace(Protocol):
    """What an adapter needs from its namespace: name, local sockets, ack ids, server-side events, settings."""

    @property
    def name(self) -> str:
        """The namespace's name, such as ``/`` or ``/chat``."""
        ...

    @property
    def server(self) -> AdapterServer:
        """The server's writer and settings."""
        ...

    @property
    def sockets(self) -> Mapping[str, LocalSocket]:
        """The connected local sockets by id."""
        ...

    def next_ack_id(self) -> int:
        """A fresh ack id from the namespace's counter (shared with its sockets)."""
        ...

    def on_server_side_emit(self, packet: list[Any], ack: Callable[[Any], None] | None = None) -> None:
        """``[event, *args]`` sent by another server; ``ack`` takes the first handler's answer when asked for."""
        ...

    def remote_socket(self, sid: str, handshake: Any, rooms: set[str], data: Any) -> Any:
        """A ``RemoteSocket`` for a socket of another server, as ``fetch_sockets`` returns it; ``handshake`` as
        received (a mapping with the reference's fields becomes a ``Handshake``)."""
        ...
