"""Engine.IO v4 single-packet codec (docs/protocol/engineio.md#packets, docs/protocol/engineio.md#examples-packets, docs/protocol/engineio.md#examples-decoding; reference: engine.io-parser 5.2.3).

What: the seven packet types, an immutable :class:`Packet`, and the three conversions every transport needs:

* :func:`encode_text` - the text form used inside polling payloads (docs/protocol/engineio.md#payloads): the type digit followed by the data,
  or ``b`` + standard padded base64 for a binary message (there is no type digit; ``b`` implies ``message``).
* :func:`encode_ws` - what goes into one WebSocket message: binary messages are the raw bytes (a binary frame
  with no type byte), everything else is the text form (a text frame).
* :func:`decode` - the reference ``decodePacket``: a binary frame is a binary message; ``b...`` is base64
  binary *whatever the transport*; a leading ``0``-``6`` is that type with the rest of the string as data (no
  data when there is no rest); anything else, the empty string included, is a parse error, reported as
  ``None`` (the caller then closes the session with reason ``parse error``, docs/protocol/engineio.md#closing).

Why it is its own module: it is pure (no asyncio, sockets or clocks), so it is unit-tested against the
machine-generated vectors of ``tests/vectors/engineio_packets.json`` and shared by every transport.

Behaviours copied from the reference on purpose (the vectors are the authority):

* A message whose data is the empty string encodes as ``4`` and decodes back as a message *without* data
  (``data is None``), as the reference does.
* Base64 after ``b`` is decoded leniently, like Node's ``Buffer.from(s, "base64")``: both the standard and
  the URL-safe alphabets are accepted, every other character (whitespace included) is skipped, decoding stops
  at the first ``=``, and a lone leftover character gives no byte. Node looks at the low byte of each UTF-16
  code unit only, so ``Ł`` (U+0141) reads as ``A`` and an emoji (surrogate ``D83D``) reads as ``=`` and ends
  the data; :func:`decode` reproduces that too. Garbage after ``b`` is never a parse error, just fewer bytes.
* Text may hold lone surrogates (JavaScript strings can); :func:`encode_utf8` turns text into the bytes that
  Node would put on the wire, with U+FFFD for each lone surrogate.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

__all__ = [
    "BINARY_PREFIX",
    "CLOSE",
    "MESSAGE_PREFIX",
    "NOOP",
    "PING",
    "PING_PROBE",
    "PONG",
    "PONG_PROBE",
    "UPGRADE",
    "Packet",
    "PacketType",
    "decode",
    "encode_text",
    "encode_utf8",
    "encode_ws",
]


class PacketType(IntEnum):
    """The Engine.IO packet types; the value is the digit that starts the text form (docs/protocol/engineio.md#packets)."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


# Encoded forms used on hot paths: transports can write these without building a Packet.
CLOSE: Final = "1"
PING: Final = "2"
PONG: Final = "3"
PING_PROBE: Final = "2probe"
PONG_PROBE: Final = "3probe"
UPGRADE: Final = "5"
NOOP: Final = "6"
MESSAGE_PREFIX: Final = "4"
"""Prefix of a text message: ``MESSAGE_PREFIX + text`` is the encoded message."""
BINARY_PREFIX: Final = "b"
"""Prefix of a base64 binary message in text contexts (polling payloads)."""

_MESSAGE: Final = PacketType.MESSAGE
_DIGITS: Final = tuple(str(int(t)) for t in PacketType)
_TYPE_BY_DIGIT: Final = {str(int(t)): t for t in PacketType}


@dataclass(frozen=True, slots=True)
class Packet:
    """One Engine.IO packet.

    ``data`` is ``None`` when the packet has none, text for every type, or bytes for a binary ``MESSAGE`` (the
    only type that may carry bytes: ``ValueError`` otherwise).
    """

    type: PacketType
    data: str | bytes | None = None

    def __post_init__(self) -> None:
        data = self.data
        if data is None or isinstance(data, str):
            return
        if not isinstance(data, bytes):
            raise TypeError(f"packet data must be str, bytes or None, not {type(data).__name__}")
        if self.type != _MESSAGE:
            raise ValueError(f"only MESSAGE packets may carry binary data, not {self.type!r}")


def encode_text(packet: Packet) -> str:
    """Return the text form of ``packet`` (polling payload element, docs/protocol/engineio.md#packets, docs/protocol/engineio.md#payloads).

    A binary message becomes ``b`` + standard base64 with ``=`` padding (``b`` alone for zero bytes).
    """
    data = packet.data
    if data is None:
        return _DIGITS[packet.type]
    if isinstance(data, str):
        return _DIGITS[packet.type] + data
    return BINARY_PREFIX + binascii.b2a_base64(data, newline=False).decode("ascii")


def encode_ws(packet: Packet) -> str | bytes:
    """Return the content of one WebSocket message for ``packet`` (docs/protocol/engineio.md#packets, docs/protocol/engineio.md#websocket).

    ``bytes`` means a binary frame holding exactly the message's bytes (no type byte); ``str`` means a text
    frame (see :func:`encode_utf8` for its bytes).
    """
    data = packet.data
    if data is None:
        return _DIGITS[packet.type]
    if isinstance(data, str):
        return _DIGITS[packet.type] + data
    return data


def decode(data: str | bytes) -> Packet | None:
    """Decode one packet: a text frame / payload piece (``str``) or a binary frame (``bytes``).

    Returns ``None`` for a parse error (empty string, or a first character that is neither ``0``-``6`` nor
    ``b``); the caller closes the session with reason ``parse error``. ``bytearray`` and ``memoryview`` are
    accepted as binary frames and copied to ``bytes``.
    """
    if not isinstance(data, str):
        return _trusted(_MESSAGE, data if isinstance(data, bytes) else bytes(data))
    if not data:
        return None
    first = data[0]
    if first == "4":
        return _trusted(_MESSAGE, data[1:] or None)
    if first == "b":
        return _trusted(_MESSAGE, _lenient_b64decode(data[1:]))
    ptype = _TYPE_BY_DIGIT.get(first)
    if ptype is None:
        return None
    return _trusted(ptype, data[1:] or None)


# Packets built by decode() are valid by construction: skipping the frozen dataclass __init__ and its checks
# halves the cost of building one (it is done for every message received).
_new_object = object.__new__
_set_type: Final[Any] = Packet.__dict__["type"].__set__
_set_data: Final[Any] = Packet.__dict__["data"].__set__


def _trusted(ptype: PacketType, data: str | bytes | None) -> Packet:
    packet: Packet = _new_object(Packet)
    _set_type(packet, ptype)
    _set_data(packet, data)
    return packet


# --- lenient base64, as Node's Buffer.from(s, "base64") -----------------------------------------------------

_STANDARD_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_ACCEPTED: Final = frozenset(_STANDARD_ALPHABET + b"-_")
# Bytes Node skips: everything outside both alphabets ("=" is handled before, as the end of the data).
_SKIPPED: Final = bytes(b for b in range(256) if b not in _ACCEPTED)
# URL-safe characters mean the same sextets as their standard counterparts.
_URLSAFE_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")


def _lenient_b64decode(text: str) -> bytes:
    """Decode base64 the way Node's legacy decoder does (see the module docstring)."""
    try:
        # Fast path: canonical standard base64 decodes identically with the strict decoder.
        return binascii.a2b_base64(text, strict_mode=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        pass
    # Node reads the low byte of each UTF-16 code unit.
    units = text.encode("ascii") if text.isascii() else text.encode("utf-16-le", "surrogatepass")[::2]
    end = units.find(b"=")
    if end >= 0:
        units = units[:end]
    sextets = units.translate(_URLSAFE_TO_STANDARD, _SKIPPED)
    usable = len(sextets)
    if usable % 4 == 1:  # a lone trailing character carries fewer than 8 bits: no byte
        usable -= 1
    sextets = sextets[:usable] + b"=" * (-usable % 4)
    # Non-zero bits left over in the last character are dropped, as Node does.
    return binascii.a2b_base64(sextets)


def encode_utf8(text: str) -> bytes:
    """Return the UTF-8 bytes Node would send for ``text`` (a lone surrogate becomes U+FFFD, ``EF BF BD``).

    Use it for WebSocket text frames and polling bodies; lengths on the wire (Content-Length, ``maxPayload``)
    are in these bytes.
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Pair up surrogates as JavaScript would, then replace the ones left alone.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode("utf-8")
