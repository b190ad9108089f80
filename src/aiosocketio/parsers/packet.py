"""The Socket.IO v5 packet model shared by every parser (docs/protocol/socketio.md#packet-types, docs/protocol/socketio.md#reserved-names).

What: the seven packet types, an immutable :class:`Packet`, the reserved event names, and (re-exported from
:mod:`aiosocketio.codecs.errors`, where every codec gets them) the two errors a parser raises
(:class:`DecodeError` for what a peer sent, :class:`EncodeError` for what the application asked to send).

Why it is its own module: the server, the adapters and every parser (the default text parser now, a msgpack
parser later) speak in these packets, so they live apart from any wire format. It is pure (no asyncio, sockets
or clocks).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

from aiosocketio.codecs.errors import DecodeError, EncodeError

__all__ = ["RESERVED_EVENTS", "DecodeError", "EncodeError", "Packet", "PacketType", "valid_event_data"]


class PacketType(IntEnum):
    """The Socket.IO packet types; the value is the digit that starts the text form (docs/protocol/socketio.md#packet-types, docs/protocol/socketio.md#default-parser).

    ``BINARY_EVENT`` and ``BINARY_ACK`` exist on the wire only: the encoder picks them when an ``EVENT`` or
    ``ACK`` carries bytes, and the decoder reports completed binary packets as ``EVENT`` / ``ACK`` (docs/protocol/socketio.md#decoding step 7).
    """

    CONNECT = 0
    """Join a namespace (client, with its ``auth``), or its acceptance (server, with the socket id)."""
    DISCONNECT = 1
    """Leave a namespace, from either side."""
    EVENT = 2
    """An event: ``[name, *args]``, with an id when the sender wants an acknowledgement."""
    ACK = 3
    """The acknowledgement of an event: the id it answers and the arguments of the answer."""
    CONNECT_ERROR = 4
    """The server refused to let the client join a namespace: ``{"message": ..., "data": ...}``."""
    BINARY_EVENT = 5
    """An ``EVENT`` with binary attachments (wire only)."""
    BINARY_ACK = 6
    """An ``ACK`` with binary attachments (wire only)."""


RESERVED_EVENTS: Final = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
"""Event names an application may not emit and a peer may not send (docs/protocol/socketio.md#reserved-names): an incoming EVENT named like this is
a decode error. (``serverSideEmit`` has its own, different list, docs/protocol/server.md#server-side-emit.)"""


def valid_event_data(data: Any) -> bool:
    """Whether ``data`` may be an EVENT's (docs/protocol/socketio.md#reserved-names): a non-empty list whose first item, the event name, is a ``str``
    other than a reserved name, or a number. The parsers refuse every other EVENT."""
    if type(data) is not list or not data:
        return False
    name = data[0]
    kind = type(name)
    return (kind is str and name not in RESERVED_EVENTS) or kind is int or kind is float


@dataclass(frozen=True, slots=True)
class Packet:
    """One Socket.IO packet (docs/protocol/socketio.md#packet-types).

    * ``type`` - a :class:`PacketType`.
    * ``nsp`` - the namespace, ``"/"`` for the main one.
    * ``data`` - any JSON-able value (``dict`` / ``list`` / ``tuple`` / ``str`` / ``int`` / ``float`` /
      ``bool`` / ``None``) whose leaves may also be ``bytes`` (binary attachments, docs/protocol/socketio.md#binary-attachments); ``None`` means "no
      data" (nothing is written after the header).
    * ``id`` - the acknowledgement id, a non-negative ``int``, or ``None`` (``ValueError`` otherwise).
    """

    type: PacketType
    """What the packet is."""
    nsp: str = "/"
    """The namespace it belongs to, ``"/"`` for the main one."""
    data: Any = None
    """Its payload (see above); ``None`` when it has none."""
    id: int | None = None
    """The acknowledgement id of an ``EVENT`` that wants an answer, or of the ``ACK`` answering it."""

    def __post_init__(self) -> None:
        ack_id = self.id
        if ack_id is None or (type(ack_id) is int and ack_id >= 0):
            return
        if isinstance(ack_id, int) and not isinstance(ack_id, bool) and ack_id >= 0:
            return  # an int subclass (IntEnum...) is fine
        raise ValueError(f"packet id must be a non-negative int or None, not {ack_id!r}")
