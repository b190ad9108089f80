"""Engine.IO protocol 3 codec, for Socket.IO v2 clients (docs/protocol/engineio-v3.md, docs/protocol/engineio-v3.md#examples; reference: parser-v3 of engine.io 6).

What: the conversions a protocol-3 session needs, pure (no asyncio, no I/O) like the v4 codec in
:mod:`aiosocketio.engineio.packet` and :mod:`aiosocketio.engineio.payload`:

* :func:`encode_payload_v3` / :func:`decode_payload_v3` - HTTP long-polling bodies, in the text format
  (``<length>:<packet>`` repeated, the length in UTF-16 code units, binary messages as ``b4<base64>``) or the
  binary format (per packet a flag byte ``0`` string / ``1`` binary, the decimal digits of the byte length as
  byte values 0-9, ``0xFF``, then the packet: UTF-8 text, or the type byte ``0x04`` followed by the data).
* :func:`encode_ws_v3` / :func:`decode_ws_v3` - WebSocket messages: a binary message is a binary frame whose
  first byte is the packet type (``0x04``); base64 text packets carry their type after the ``b``.

Items to encode use the engine's buffered form: a ``str`` is a complete text-encoded packet (``"4hello"``,
``"6"``, ``"0{...}"``), ``bytes`` is the data of a binary message. Decoded packets are
:class:`~aiosocketio.engineio.packet.Packet` objects.

Why a separate module: protocol 3 frames packets differently (length prefixes, type bytes) but carries the same
packets, so the session logic stays shared and only the framing is switched per session. Every rule below is
checked against ``tests/unit/data/engineio_v3_vectors.json``, which the reference parser itself computed; where
the reference is odd, the vectors win:

* Text lengths are compared as JavaScript does (``Number(length)``): ``" 2"``, ``"+2"``, ``"2.0"``, ``"0x2"``,
  ``"-0"`` and an all-blank length (zero) are accepted; an empty length, a non-number or a length that is not a
  whole number of code units left in the body is a parse error. A zero-length entry (``0:``) yields no packet.
  Slicing by UTF-16 units can split a surrogate pair: the packet then holds a lone surrogate, as in JavaScript.
* The binary format is read the reference's way, including its quirks: a length digit byte above 9 counts as its
  decimal spelling (so ``12`` reads as two digits and the cursor moves by the spelling's length); a flag byte
  other than 0 means binary; a length past the end is cut short (not an error); a missing ``0xFF`` or more than
  311 length digits is an error before *any* packet, while a bad packet is an error at its place. String
  packets must be valid UTF-8 (an encoded lone surrogate reads as U+FFFD), unlike text bodies, where invalid
  UTF-8 is replaced by U+FFFD as the HTTP layer reads them.
* Packets whose type the reference does not know - a binary packet whose type byte is above 6 or missing, a
  ``b`` packet without a valid type digit - are not errors there: they reach the session with no type, which
  ignores them when open and treats them as a failed probe while upgrading, exactly as it treats ``noop``. They
  decode here as ``Packet(NOOP)``. A packet of another type than ``message`` carrying binary data (``b2...``, or
  a binary frame starting with ``0x02``) decodes *without* data: the reference compares such data with strings
  only (``"probe"``), which bytes never equal.
* Encoding uses the binary format only when the client supports binary (no ``b64`` query) *and* at least one
  item is binary; an empty list is ``0:``. Text packets inside the binary format are UTF-8 with each lone
  surrogate as U+FFFD; their length is in bytes.
"""

from __future__ import annotations

import binascii
import math
import re
from collections.abc import Sequence
from typing import Final

from aiosocketio.engineio.packet import (
    Packet,
    PacketType,
    _lenient_b64decode,
    _trusted,
    encode_utf8,
)
from aiosocketio.engineio.payload import DEFAULT_MAX_PACKETS

__all__ = [
    "BINARY_CONTENT_TYPE",
    "DEFAULT_MAX_PACKETS",
    "EMPTY_PAYLOAD",
    "TEXT_CONTENT_TYPE",
    "decode_packet_v3",
    "decode_payload_v3",
    "decode_ws_v3",
    "encode_payload_v3",
    "encode_ws_v3",
    "utf16_length",
]

TEXT_CONTENT_TYPE: Final = "text/plain; charset=UTF-8"
"""Content-Type of a text-format payload (the reference's polling answer)."""
BINARY_CONTENT_TYPE: Final = "application/octet-stream"
"""Content-Type of a binary-format payload, in both directions."""
EMPTY_PAYLOAD: Final = b"0:"
"""The text payload of no packets."""

_MESSAGE: Final = PacketType.MESSAGE
_NOOP: Final = PacketType.NOOP
_TYPES: Final = tuple(PacketType)
_TYPE_BY_DIGIT: Final = {str(int(t)): t for t in PacketType}
_BINARY_MESSAGE_TYPE: Final = b"\x04"
_B64_MESSAGE_PREFIX: Final = "b4"
_STRING_FLAG: Final = 0
_BINARY_FLAG: Final = 1
_LENGTH_END: Final = 0xFF
# The reference gives up on a length longer than this many characters (the digits of Number.MAX_VALUE).
_MAX_LENGTH_CHARS: Final = 310

_NON_BMP: Final = re.compile("[\U00010000-\U0010ffff]")


# --- helpers ---------------------------------------------------------------------------------------------------


def utf16_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (JavaScript's ``length``): a non-BMP character counts 2."""
    if text.isascii():
        return len(text)
    return len(text) + len(_NON_BMP.findall(text))


def _surrogate_pair(match: re.Match[str]) -> str:
    offset = ord(match.group()) - 0x10000
    return chr(0xD800 | offset >> 10) + chr(0xDC00 | offset & 0x3FF)


def _to_units(text: str) -> str:
    """``text`` with each non-BMP character split into its surrogate pair, so indices are UTF-16 units."""
    return _NON_BMP.sub(_surrogate_pair, text)


def _from_units(units: str) -> str:
    """Join the surrogate pairs of ``units`` back into characters; lone surrogates stay (as in JavaScript)."""
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _b64_item(data: bytes) -> str:
    return _B64_MESSAGE_PREFIX + binascii.b2a_base64(data, newline=False).decode("ascii")


# JavaScript's StringToNumber: whitespace it trims, and the literals it accepts (ASCII digits only).
_JS_WHITESPACE: Final = "\t\n\v\f\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_DECIMAL: Final = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_JS_RADIX: Final = {
    "x": (16, re.compile(r"[0-9a-fA-F]+")),
    "o": (8, re.compile("[0-7]+")),
    "b": (2, re.compile("[01]+")),
}


def _js_number(text: str) -> float:
    """``Number(text)`` for a string, as JavaScript computes it (NaN for anything it rejects)."""
    text = text.strip(_JS_WHITESPACE)
    if not text:
        return 0.0
    if len(text) > 2 and text[0] == "0" and text[1] in "xXoObB":
        base, digits = _JS_RADIX[text[1].lower()]
        if not digits.fullmatch(text, 2):
            return math.nan
        try:
            return float(int(text[2:], base))
        except OverflowError:
            return math.inf
    if not _JS_DECIMAL.fullmatch(text):
        return math.nan
    return float(text.replace("Infinity", "inf"))


def _length_of(text: str) -> int | None:
    """The packet length a text-payload prefix stands for, or ``None`` when the reference would reject it.

    The reference checks ``Number(prefix)`` against the length of what it slices, so only a whole, non-negative
    number can pass (the caller checks that enough units are left).
    """
    if not text:
        return None
    if text.isdigit() and text.isascii():
        return int(text)
    value = _js_number(text)
    if not math.isfinite(value) or value < 0 or value != int(value):
        return None
    return int(value)


# --- single packets --------------------------------------------------------------------------------------------


def decode_packet_v3(text: str) -> Packet | None:
    """Decode one text packet of protocol 3 (a payload entry or a WebSocket text frame).

    ``None`` is a parse error (empty text, or a first character that is neither ``0``-``6`` nor ``b``). A ``b``
    packet is ``b<type digit><base64>``, the base64 read leniently (see :mod:`aiosocketio.engineio.packet`).
    """
    if not text:
        return None
    first = text[0]
    if first == "b":
        ptype = _TYPE_BY_DIGIT.get(text[1:2])
        if ptype is _MESSAGE:
            return _trusted(_MESSAGE, _lenient_b64decode(text[2:]))
        return _trusted(_NOOP if ptype is None else ptype, None)
    ptype = _TYPE_BY_DIGIT.get(first)
    if ptype is None:
        return None
    return _trusted(ptype, text[1:] or None)


def _decode_binary_packet(data: bytes) -> Packet:
    """A binary packet: its first byte is the type; an unknown or missing type is ignored like ``noop``."""
    if not data or data[0] >= len(_TYPES):
        return _trusted(_NOOP, None)
    ptype = _TYPES[data[0]]
    if ptype is _MESSAGE:
        return _trusted(_MESSAGE, data[1:])
    return _trusted(ptype, None)


def _decode_binary_string(raw: bytes) -> Packet | None:
    """A string packet of the binary format: UTF-8 text that must be valid (else a parse error).

    A ``b`` packet is read before any UTF-8 decoding, byte by byte, as the reference does.
    """
    if raw[:1] == b"b":
        return decode_packet_v3(raw.decode("latin-1"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            # Encoded surrogates (ED A0 80 ...) are accepted and read as U+FFFD; anything else invalid is not.
            text = raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return None
        text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return decode_packet_v3(text)


# --- WebSocket -------------------------------------------------------------------------------------------------


def encode_ws_v3(item: str | bytes, supports_binary: bool = True) -> str | bytes:
    """The WebSocket message for one buffered item.

    A text packet is a text frame as is. A binary message is a binary frame starting with the type byte
    ``0x04``, or the text frame ``b4<base64>`` when the client asked for no binary (``b64`` query).
    """
    if isinstance(item, str):
        return item
    if supports_binary:
        return _BINARY_MESSAGE_TYPE + item
    return _b64_item(item)


def decode_ws_v3(frame: str | bytes | bytearray | memoryview) -> Packet | None:
    """Decode one WebSocket message of protocol 3; ``None`` is a parse error (text frames only).

    A binary frame is never an error: its first byte is the type (see the module docstring for unknown types).
    """
    if isinstance(frame, str):
        return decode_packet_v3(frame)
    return _decode_binary_packet(bytes(frame))


# --- polling payloads ------------------------------------------------------------------------------------------


def encode_payload_v3(items: Sequence[str | bytes], supports_binary: bool) -> tuple[bytes, bool]:
    """The body of a polling answer for a protocol-3 session, and whether it is in the binary format.

    The binary format (Content-Type :data:`BINARY_CONTENT_TYPE`) is used when ``supports_binary`` and at least
    one item is binary; otherwise the body is the UTF-8 text format (:data:`TEXT_CONTENT_TYPE`), with binary
    messages as ``b4<base64>`` and ``0:`` for no items.
    """
    if supports_binary and any(not isinstance(item, str) for item in items):
        return _encode_binary_payload(items), True
    if not items:
        return EMPTY_PAYLOAD, False
    parts: list[str] = []
    for item in items:
        text = item if isinstance(item, str) else _b64_item(item)
        parts.append(f"{utf16_length(text)}:{text}")
    return encode_utf8("".join(parts)), False


def _length_header(flag: int, length: int) -> bytes:
    return bytes((flag, *(int(digit) for digit in str(length)), _LENGTH_END))


def _encode_binary_payload(items: Sequence[str | bytes]) -> bytes:
    parts: list[bytes] = []
    for item in items:
        if isinstance(item, str):
            data = encode_utf8(item)
            parts.append(_length_header(_STRING_FLAG, len(data)))
        else:
            data = _BINARY_MESSAGE_TYPE + item
            parts.append(_length_header(_BINARY_FLAG, len(data)))
        parts.append(data)
    return b"".join(parts)


def decode_payload_v3(
    body: bytes | bytearray | memoryview, binary: bool, *, max_packets: int = DEFAULT_MAX_PACKETS
) -> tuple[list[Packet], bool]:
    """Decode a protocol-3 POST body: ``binary`` when its Content-Type is :data:`BINARY_CONTENT_TYPE`.

    Returns ``(packets, error)`` like :func:`aiosocketio.engineio.payload.decode_payload`: the packets before the
    first parse error, and whether one was met (the caller delivers the packets, then closes the session with
    reason ``parse error``). More than ``max_packets`` packets is an error too: the first ``max_packets`` are
    kept. A text body is read as UTF-8 with invalid sequences replaced by U+FFFD, as the reference's HTTP layer
    does; an empty text body is an error, an empty binary body holds no packets.
    """
    if max_packets < 1:
        raise ValueError("max_packets must be at least 1")
    if binary:
        return _decode_binary_payload(bytes(body), max_packets)
    return _decode_text_payload(str(body, "utf-8", "replace"), max_packets)


def _decode_text_payload(text: str, max_packets: int) -> tuple[list[Packet], bool]:
    if not text:
        return [], True
    split_pairs = not text.isascii() and _NON_BMP.search(text) is not None
    if split_pairs:
        text = _to_units(text)
    packets: list[Packet] = []
    end = len(text)
    pos = 0
    while pos < end:
        colon = text.find(":", pos)
        if colon < 0:  # digits (or garbage) without a packet
            return packets, True
        length = _length_of(text[pos:colon])
        start = colon + 1
        if length is None or length > end - start:
            return packets, True
        pos = start + length
        if not length:
            continue
        if len(packets) == max_packets:
            return packets, True
        piece = text[start:pos]
        packet = decode_packet_v3(_from_units(piece) if split_pairs else piece)
        if packet is None:
            return packets, True
        packets.append(packet)
    return packets, False


def _split_binary_payload(body: bytes) -> list[tuple[bool, bytes]] | None:
    """Cut a binary-format body into ``(is_string, packet bytes)`` pieces the reference's way, or ``None``.

    The reference reads the length as the concatenated decimal spellings of the bytes before ``0xFF`` and then
    moves its cursor by the length of that spelling, which only matches the bytes read when each is 0-9.
    """
    pieces: list[tuple[bool, bytes]] = []
    end = len(body)
    pos = 0
    while pos < end:
        is_string = body[pos] == _STRING_FLAG
        spelled: list[str] = []
        spelled_chars = 0
        index = pos + 1
        while True:
            if index >= end:  # no 0xFF: the reference reads "undefined" until its length limit
                return None
            byte = body[index]
            if byte == _LENGTH_END:
                break
            if spelled_chars > _MAX_LENGTH_CHARS:
                return None
            digits = str(byte)
            spelled.append(digits)
            spelled_chars += len(digits)
            index += 1
        pos = min(pos + spelled_chars + 1, end)
        if spelled:
            length = int("".join(spelled))
            stop = min(pos + 1 + length, end)
            pieces.append((is_string, body[pos + 1 : stop]))
            pos = stop
        else:  # no digits: the length is NaN, an empty packet, and the cursor stays on the 0xFF
            pieces.append((is_string, b""))
    return pieces


def _decode_binary_payload(body: bytes, max_packets: int) -> tuple[list[Packet], bool]:
    pieces = _split_binary_payload(body)
    if pieces is None:
        return [], True
    too_many = len(pieces) > max_packets
    packets: list[Packet] = []
    for is_string, raw in pieces[:max_packets]:
        packet = _decode_binary_string(raw) if is_string else _decode_binary_packet(raw)
        if packet is None:
            return packets, True
        packets.append(packet)
    return packets, too_many
