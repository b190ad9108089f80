"""Socket.IO v5 parsers: packets to Engine.IO messages and back (docs/protocol/socketio.md#packet-types, docs/protocol/socketio.md#default-parser, docs/protocol/socketio.md#binary-attachments, docs/protocol/msgpack.md).

* :mod:`aiosocketio.parsers.packet` - the packet model every parser shares (:class:`PacketType`,
  :class:`Packet`, :data:`RESERVED_EVENTS`) and the parser errors (:class:`DecodeError`,
  :class:`EncodeError`).
* :mod:`aiosocketio.parsers.default` - the default parser (socket.io-parser): JSON text plus binary
  attachments. Its module-level :func:`encode` / :func:`new_decoder` make the module itself a
  :class:`Parser`.
* :mod:`aiosocketio.parsers.binary` - binary attachments (placeholders) of the default parser.
* :mod:`aiosocketio.parsers.msgpack` - the msgpack parser (notepack 2.2.0); needs the ``msgpack`` package.

How JavaScript writes and reads the values inside a packet (``JSON.stringify`` / ``JSON.parse``, ``undefined``,
property names and their order, dates) is not the parsers' own business: :mod:`aiosocketio.codecs` holds it,
for the parsers and the cluster messages alike.

A parser is anything with the two entry points of :class:`Parser`, so another wire format (the msgpack
parser, docs/protocol/msgpack.md) can be plugged into the server without touching it. All of these modules are pure: no asyncio,
sockets or clocks.
"""

from __future__ import annotations

from typing import Protocol

from aiosocketio.parsers import default
from aiosocketio.parsers.default import Decoder, Encoder, encode
from aiosocketio.parsers.packet import RESERVED_EVENTS, DecodeError, EncodeError, Packet, PacketType

__all__ = [
    "DEFAULT_PARSER",
    "RESERVED_EVENTS",
    "DecodeError",
    "Decoder",
    "EncodeError",
    "Encoder",
    "Packet",
    "PacketDecoder",
    "PacketType",
    "Parser",
    "default",
    "encode",
]


class PacketDecoder(Protocol):
    """The per-connection decoding state of a parser (one per Engine.IO connection)."""

    def add(self, data: str | bytes | bytearray | memoryview) -> Packet | None:
        """Take the data of the next Engine.IO message; return the packet it completes, if any.

        Raises :class:`DecodeError` for anything the protocol does not allow (the server then closes the
        connection).
        """
        ...

    def reset(self) -> None:
        """Forget any partially received packet."""
        ...


class Parser(Protocol):
    """What the server needs from a parser (a module such as :mod:`aiosocketio.parsers.default` qualifies)."""

    def encode(self, packet: Packet) -> list[str | bytes]:
        """The Engine.IO messages for ``packet``, in order: ``str`` for text, ``bytes`` for binary ones."""
        ...

    def new_decoder(self) -> PacketDecoder:
        """A fresh decoder for a new connection."""
        ...


DEFAULT_PARSER: Parser = default
"""The default parser; also a static check (mypy) that the module satisfies :class:`Parser`."""
