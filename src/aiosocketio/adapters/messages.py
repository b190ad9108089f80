"""The messages Socket.IO servers exchange through Redis (and Postgres), byte-compatible with the Node packages.

Reference: ``shared/spec/adapters.md`` (the sections are cited as §n) and the machine-generated vectors
``tests/vectors/cluster_messages.json``, which win over prose. Pure: no event loop, socket or clock; a cluster
adapter does the I/O and calls these functions to build and read what it publishes.

Two families of wire formats, incompatible with each other (§10), over shared operation bodies:

* **classic** ``@socket.io/redis-adapter`` 8.3.0 ``createAdapter`` (§3) and ``@socket.io/redis-emitter`` 5.1.0
  (§4): a broadcast without ack is the notepack array ``[uid, packet, opts]``
  (:func:`encode_classic_broadcast`, :func:`encode_emitter_broadcast`, :func:`parse_classic_broadcast`);
  requests and responses are flat objects with numeric ``type`` codes of :class:`ClassicRequestType`, JSON text
  except BROADCAST (7) and BROADCAST_ACK (9) which are notepack (:func:`encode_classic_request`,
  :func:`parse_classic_request`, :func:`encode_classic_response`, :func:`parse_classic_response`);
* **ClusterAdapter** of ``socket.io-adapter`` 2.5.x (§5), used by the sharded Redis adapter (§6), the Redis
  streams adapter (§7) and the Postgres adapter (§8): the envelope ``{type, data?, uid, nsp}`` with the 13
  :class:`ClusterMessageType` codes (:class:`ClusterMessage`, :func:`cluster_to_wire`,
  :func:`cluster_from_wire`), as JSON text (:func:`encode_cluster_json`), MessagePack
  (:func:`encode_cluster_msgpack`), the sharded adapter's choice between the two (:func:`encode_sharded`),
  a stream entry (:func:`encode_stream_entry`) or whatever arrives (:func:`decode_cluster`);
* the operation bodies are shared: :class:`BroadcastMessage`, :class:`SocketsJoinMessage`, ... carry our own
  types (:class:`~aiosocketio.parsers.packet.Packet`, :class:`~aiosocketio.adapters.options.BroadcastOptions`)
  and each family writes them in its own shape (:func:`opts_to_wire`, :func:`packet_to_wire` and friends).

MessagePack (§2): two codecs, :data:`NOTEPACK` (notepack.io 3.0.1: classic, sharded, emitter) and
:data:`MSGPACK` (@msgpack/msgpack 2.8.0: streams, Postgres), each reproducing its library byte for byte for
what Python can hold. JavaScript has only doubles, Python has ``int`` and ``float``:

* a Python ``float`` is a JavaScript number: integral ones are written as integers (``1.0`` -> ``01``,
  ``-0.0`` -> ``00``) in the range each library does so (notepack: [-2**63, 2**64); @msgpack/msgpack: safe
  integers only, |x| < 2**53, larger ones stay float64). notepack's own bug for integral doubles outside
  [-2**63, 2**64) (``1e20`` -> ``cf6bc75e2d63100000``, ``1e300`` -> ``cf0000000000000000``) is reproduced, so a
  Python server sends what a Node server would send for the same value;
* a Python ``int`` is written exactly as a MessagePack integer (it must fit in [-2**63, 2**64)); JavaScript
  reads values beyond 2**53 as the nearest double, exactly as it would read a Node peer's;
* :data:`UNDEFINED` is JavaScript's ``undefined``: ``nil`` at the top level and in arrays; in a dict, notepack
  drops the key, @msgpack/msgpack keeps it as ``nil`` (§2.1, §2.3). ``None`` is always ``nil``;
* ``bytes`` / ``bytearray`` / ``memoryview`` are ``bin`` (its raw bytes); an aware ``datetime`` is a ``Date``
  (timestamp extension -1, truncated to the millisecond; a naive one is taken as UTC); dict keys are written
  as JavaScript property names (``1`` -> ``"1"``) in JavaScript's order (integer-like keys first);
* strings with lone surrogates are written as each library writes them (notepack: a 4-byte sequence for
  strings of at most 32 UTF-16 units, U+FFFD beyond; @msgpack/msgpack: WTF-8 up to 200 units, U+FFFD beyond);
* anything else goes through orjson's JSON view of it (enums, UUIDs, dataclasses, dates), the way notepack
  uses ``toJSON()``; what orjson refuses raises :class:`~aiosocketio.parsers.packet.EncodeError`.

Decoding gives Python values: arrays are ``list``, maps ``dict``, ``bin`` is ``bytes``, the timestamp extension
an aware UTC ``datetime``, integers exact ``int`` (JavaScript would round beyond 2**53; JSON payloads are
read as JavaScript reads them: such integers become the nearest double, a ``float``). notepack's legacy
extension type 0 (written by notepack 2, e.g. old emitters) decodes as it does: ``d4 00 xx`` is
:data:`UNDEFINED`, ``d7 00`` + 8 bytes a ``datetime`` from milliseconds, ``c7``/``c8``/``c9`` with type 0 the
``bytes`` of an ArrayBuffer, any other extension ``[type, bytes]``; with @msgpack/msgpack every extension
but -1 is ``[type, bytes]`` too (its ``ExtData``). Strings are read as each library reads them (invalid UTF-8:
notepack U+FFFD; @msgpack/msgpack keeps WTF-8 surrogates up to 200 bytes). Malformed input raises
:class:`~aiosocketio.parsers.packet.DecodeError`.

JSON text (§3.3, §6, §8) is written as ``JSON.stringify`` would (the default parser's writer, so numbers,
key order, ``bytes`` as ``Buffer.toJSON()`` and datetimes agree), dropping :data:`UNDEFINED` members; a payload
is read as JSON when its first byte is ``{`` and as MessagePack otherwise, as every Node receiver does.

Data nested deeper than :data:`MAX_DEPTH` levels (@msgpack/msgpack: the reference's own limit of 100) raises
``EncodeError`` (``DecodeError`` when reading); no walk lets a ``RecursionError`` out.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final, Literal, Protocol, TypeAlias, final

import msgpack  # type: ignore[import-untyped, unused-ignore]
import orjson

from aiosocketio.adapters.options import BroadcastFlags, BroadcastOptions
from aiosocketio.codecs.js_json import orjson_text, parse_js_json, to_json
from aiosocketio.codecs.js_values import UNDEFINED, UndefinedType, js_key
from aiosocketio.parsers.binary import has_binary, js_items, too_deep
from aiosocketio.parsers.packet import DecodeError, EncodeError, Packet, PacketType

__all__ = [
    "CLASSIC_BINARY_REQUEST_TYPES",
    "EMITTER_UID",
    "MAX_DEPTH",
    "MSGPACK",
    "NOTEPACK",
    "SHARDED_BINARY_TYPES",
    "STREAMS_BINARY_TYPES",
    "STREAM_ENTRY_TYPES",
    "UNDEFINED",
    "AdapterClose",
    "AllRoomsRequest",
    "AllRoomsResponse",
    "BroadcastAck",
    "BroadcastClientCount",
    "BroadcastMessage",
    "ClassicMessage",
    "ClassicRequestBody",
    "ClassicRequestType",
    "ClassicResponseBody",
    "ClusterBody",
    "ClusterMessage",
    "ClusterMessageType",
    "DisconnectSocketsMessage",
    "FetchSocketsMessage",
    "FetchSocketsResponse",
    "Heartbeat",
    "InitialHeartbeat",
    "LegacyDisconnectRequest",
    "LegacyJoinRequest",
    "LegacyLeaveRequest",
    "LegacyResponse",
    "MsgpackCodec",
    "PersistedSession",
    "ServerSideEmitMessage",
    "ServerSideEmitResponse",
    "SocketData",
    "SocketsJoinMessage",
    "SocketsLeaveMessage",
    "SocketsRequest",
    "SocketsResponse",
    "UndefinedType",
    "classic_broadcast_channel",
    "classic_request_channel",
    "classic_request_to_wire",
    "classic_response_channel",
    "classic_response_to_wire",
    "classic_room_from_channel",
    "classic_subscription_pattern",
    "cluster_channel",
    "cluster_from_wire",
    "cluster_to_wire",
    "decode_cluster",
    "decode_json",
    "decode_payload",
    "decode_stream_entry",
    "decode_stream_session",
    "encode_classic_broadcast",
    "encode_classic_request",
    "encode_classic_response",
    "encode_cluster_json",
    "encode_cluster_msgpack",
    "encode_emitter_broadcast",
    "encode_json",
    "encode_sharded",
    "encode_stream_entry",
    "encode_stream_session",
    "opts_from_wire",
    "opts_to_wire",
    "packet_from_wire",
    "packet_to_wire",
    "parse_classic_broadcast",
    "parse_classic_request",
    "parse_classic_response",
    "postgres_channel",
    "socket_from_wire",
    "socket_to_wire",
    "stream_name",
]

# =============================================================================================================
# undefined
# =============================================================================================================


# =============================================================================================================
# MessagePack
# =============================================================================================================

MAX_DEPTH: Final = 200
"""Deepest nesting (levels of values, the top one being 1) the notepack encoder, the byte-level reader and the
JSON writer accept here. notepack itself has no limit but the JavaScript stack; these walks recurse, two Python
frames a level, so the limit keeps them well inside Python's default recursion limit (a ``RecursionError`` from
a caller's own deep stack is turned into the same clean error). Real messages nest a handful of levels. The
:data:`MSGPACK` encoder stops where @msgpack/msgpack does (100 levels)."""

_MSGPACK_JS_MAX_DEPTH: Final = 100  # @msgpack/msgpack 2.8.0 DEFAULT_MAX_DEPTH: a value at level 101 throws

_UINT64_END: Final = 2**64
_INT64_MIN: Final = -(2**63)
_SAFE_INTEGER_END: Final = 2.0**53  # Number.isSafeInteger: |x| <= 2**53 - 1
_TWO_32: Final = 2**32
# notepack's MICRO_OPT_LEN: strings up to this many UTF-16 units get their length counted per unit, up to this
# many bytes they are written per unit.
_NOTEPACK_SHORT_STRING: Final = 32
_MSGPACK_JS_TEXT_ENCODER_THRESHOLD: Final = 200  # @msgpack/msgpack: longer strings go through TextEncoder
_MSGPACK_JS_TEXT_DECODER_THRESHOLD: Final = 200  # ... and longer strings (in bytes) through TextDecoder
_BOM: Final = b"\xef\xbb\xbf"  # TextDecoder drops it at the start of a string
_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_ONE_MS: Final = datetime.timedelta(milliseconds=1)
_TIMESTAMP64_END: Final = 2**34

_packb: Final[Callable[..., bytes]] = msgpack.packb
_unpackb: Final = msgpack.unpackb


class _SlowPath(Exception):
    """Raised by the fast normalisation when only the byte-level writer can reproduce a value."""


@final
class _Raw:
    """Bytes the byte-level writer copies as they are: notepack's wrapped integers (:func:`_notepack_wrapped_integer`)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def _timestamp(value: datetime.datetime) -> msgpack.Timestamp:
    """A ``Date`` as both libraries write it: whole milliseconds (floored), seconds and nanoseconds (§2.1)."""
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=datetime.UTC)
    ms = (value - _EPOCH) // _ONE_MS
    seconds, rest = divmod(ms, 1000)
    return msgpack.Timestamp(seconds, rest * 1_000_000)


def _utf16_units(text: str) -> list[int]:
    units: list[int] = []
    for char in text:
        code = ord(char)
        if code >= 0x10000:
            code -= 0x10000
            units.append(0xD800 | (code >> 10))
            units.append(0xDC00 | (code & 0x3FF))
        else:
            units.append(code)
    return units


def _str_header(length: int) -> bytes:
    if length < 0x20:
        return bytes((0xA0 | length,))
    if length < 0x100:
        return bytes((0xD9, length))
    if length < 0x10000:
        return b"\xda" + length.to_bytes(2, "big")
    if length < 0x100000000:
        return b"\xdb" + length.to_bytes(4, "big")
    raise EncodeError("string too long for MessagePack")


def _well_formed(text: str) -> str:
    """``text`` with surrogate pairs joined and lone surrogates replaced by U+FFFD (``TextEncoder``, Node's
    ``Buffer.write``)."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _notepack_units(units: list[int]) -> bytes:
    """notepack's own UTF-8 writer (``utf8Write``): per UTF-16 unit; a surrogate, high or low, and the unit after
    it (0 when there is none) become one 4-byte sequence (§2.1: ``"\\ud800"`` -> ``f0 90 80 80``)."""
    chars: list[str] = []
    index, count = 0, len(units)
    while index < count:
        unit = units[index]
        if 0xD800 <= unit < 0xE000:
            following = units[index + 1] if index + 1 < count else 0
            chars.append(chr(0x10000 + (((unit & 0x3FF) << 10) | (following & 0x3FF))))
            index += 2
        else:
            chars.append(chr(unit))
            index += 1
    return "".join(chars).encode("utf-8")


def _notepack_length(text: str, units: list[int]) -> int:
    """The byte length notepack declares: counted per unit up to 32 units, ``Buffer.byteLength`` beyond."""
    if len(units) > _NOTEPACK_SHORT_STRING:
        return len(_well_formed(text).encode("utf-8"))
    return len(_notepack_units(units))


def _notepack_string(text: str) -> bytes:
    """notepack.io 3.0.1's bytes for a string value holding lone surrogates (§2.1; well-formed strings are plain
    UTF-8 in every path).

    The declared length is :func:`_notepack_length`; the bytes are written per unit (:func:`_notepack_units`)
    when that length is at most 32, with ``Buffer.write`` (U+FFFD) beyond. When the two choices disagree (at
    most 32 units but more than 32 bytes) the reference fills the declared length from uninitialised memory;
    this writes the ``Buffer.write`` characters that fit, then zeros.
    """
    units = _utf16_units(text)
    length = _notepack_length(text, units)
    if length <= _NOTEPACK_SHORT_STRING:
        return _str_header(length) + _notepack_units(units)
    written = bytearray()
    for char in _well_formed(text):
        encoded = char.encode("utf-8")
        if len(written) + len(encoded) > length:
            break
        written += encoded
    return _str_header(length) + bytes(written).ljust(length, b"\0")


def _notepack_key(text: str) -> bytes:
    """notepack.io 3.0.1's bytes for a map key holding lone surrogates: the value's declared length, but always
    written per unit (its key cache), cut at that length; a shorter result is padded with zeros where the
    reference leaves uninitialised memory. (Once the cache holds 1024 keys, notepack writes keys as values.)"""
    units = _utf16_units(text)
    length = _notepack_length(text, units)
    return _str_header(length) + _notepack_units(units)[:length].ljust(length, b"\0")


def _msgpack_js_string(text: str) -> bytes:
    """@msgpack/msgpack 2.8.0's bytes for a string holding lone surrogates (§2.3): WTF-8 (3 bytes per lone
    surrogate, pairs joined) up to 200 UTF-16 units, ``TextEncoder`` (U+FFFD) beyond."""
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    if len(_utf16_units(joined)) > _MSGPACK_JS_TEXT_ENCODER_THRESHOLD:
        data = _well_formed(text).encode("utf-8")
    else:
        data = joined.encode("utf-8", "surrogatepass")
    return _str_header(len(data)) + data


def _notepack_wrapped_integer(value: float) -> bytes:
    """notepack's bytes for an integral double outside [-2**63, 2**64): its 64-bit split wraps (§2.1, vectors
    ``codec_one_e20``, ``codec_one_e300``). The high word is ``floor(value / 2**32)`` (exact: a power-of-two
    division) written through ToInt32, i.e. modulo 2**32; the low word is ``value`` modulo 2**32."""
    exact = int(value)
    head = b"\xcf" if exact >= 0 else b"\xd3"
    return head + ((exact // _TWO_32) % _TWO_32).to_bytes(4, "big") + (exact % _TWO_32).to_bytes(4, "big")


def _too_deep(limit: int) -> EncodeError:
    return EncodeError(too_deep(limit))


def _via_orjson(value: Any) -> Any:
    """The JSON view of a value MessagePack has no type for, as notepack uses ``toJSON()``."""
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        raise EncodeError(
            f"cannot send a {type(value).__name__} to the cluster: use dict, list, tuple, str, int, float, "
            "bool, None, bytes or datetime"
        ) from None


def _normalize(value: Any, notepack: bool, exact: bool, depth: int, limit: int) -> Any:
    """``value`` rewritten into what msgpack-python packs exactly as the chosen library would (module docstring).

    Returns ``value`` itself when nothing changes. ``exact`` (the byte-level pass) turns notepack's wrapping
    integers into :class:`_Raw`; without it they raise :class:`_SlowPath`. Strings are left alone: those with
    lone surrogates make ``packb`` raise ``UnicodeEncodeError`` and :func:`_write` reproduces them. ``depth`` is
    the level of ``value`` (1 for the top), ``limit`` the deepest level allowed.
    """
    kind = type(value)
    if kind is str:
        return value  # lone surrogates: packb refuses them, the byte-level writer reproduces them
    if kind is int:
        if not _INT64_MIN <= value < _UINT64_END:
            raise EncodeError(
                f"cannot send a {value.bit_length()}-bit int: MessagePack integers have 64 bits at most "
                "(JavaScript has no such number); send it as a str, or as a float for the nearest double"
            )
        return value
    if kind is bool or kind is bytes or value is None:
        return value
    if kind is float:
        if value.is_integer():
            if notepack:
                if _INT64_MIN <= value < _UINT64_END:
                    return int(value)
                if exact:
                    return _Raw(_notepack_wrapped_integer(value))
                raise _SlowPath
            if -_SAFE_INTEGER_END < value < _SAFE_INTEGER_END:
                return int(value)
        return value
    if kind is list or kind is tuple:
        return _normalize_array(value, notepack, exact, depth, limit)
    if kind is dict:
        return _normalize_map(value, notepack, exact, depth, limit)
    if value is UNDEFINED:
        return None  # a top-level value or an array element (map members are handled by their map)
    # Subclasses and the other types, off the hot path.
    if isinstance(value, int):
        return _normalize(int(value), notepack, exact, depth, limit)
    if isinstance(value, float):
        return _normalize(float(value), notepack, exact, depth, limit)
    if isinstance(value, str):
        return _normalize(str.__str__(value), notepack, exact, depth, limit)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, datetime.datetime):
        return _timestamp(value)
    if isinstance(value, (list, tuple)):
        return _normalize_array(value, notepack, exact, depth, limit)
    if isinstance(value, dict):
        return _normalize_map(value, notepack, exact, depth, limit)
    if isinstance(value, msgpack.Timestamp):
        return value
    return _normalize(_via_orjson(value), notepack, exact, depth, limit)


def _normalize_array(
    value: list[Any] | tuple[Any, ...], notepack: bool, exact: bool, depth: int, limit: int
) -> Any:
    if not value:
        return value
    if depth >= limit:
        raise _too_deep(limit)
    out: list[Any] | None = None
    for position, item in enumerate(value):
        new = _normalize(item, notepack, exact, depth + 1, limit)
        if out is not None:
            out.append(new)
        elif new is not item:
            out = list(value[:position])
            out.append(new)
    return value if out is None else out


def _normalize_map(value: dict[Any, Any], notepack: bool, exact: bool, depth: int, limit: int) -> Any:
    if not value:
        return value if type(value) is dict else {}
    if depth >= limit:
        raise _too_deep(limit)
    changed = type(value) is not dict
    digit_key = False
    items: list[tuple[Any, Any]] = []
    for key, item in value.items():
        if type(key) is not str:
            key = js_key(key)
            changed = True
        if key and "0" <= key[0] <= "9":
            digit_key = True
        if item is UNDEFINED:
            changed = True
            if notepack:
                continue  # notepack leaves undefined members out (§2.1)
            new: Any = None
        else:
            new = _normalize(item, notepack, exact, depth + 1, limit)
            if new is not item:
                changed = True
        items.append((key, new))
    if digit_key:
        ordered = js_items(dict(items))
        if ordered != items:
            items = ordered
            changed = True
    return dict(items) if changed else value


def _write(value: Any, out: bytearray, notepack: bool) -> None:
    """The byte-level writer: normalised containers are walked here, strings with lone surrogates written as the
    library writes them, every other leaf packed by msgpack-python."""
    if isinstance(value, _Raw):
        out += value.data
    elif isinstance(value, str):
        try:
            out += _packb(value)
        except UnicodeEncodeError:
            out += _notepack_string(value) if notepack else _msgpack_js_string(value)
    elif isinstance(value, (list, tuple)):
        size = len(value)
        if size < 0x10:
            out.append(0x90 | size)
        elif size < 0x10000:
            out += b"\xdc" + size.to_bytes(2, "big")
        else:
            out += b"\xdd" + size.to_bytes(4, "big")
        for item in value:
            _write(item, out, notepack)
    elif isinstance(value, dict):
        size = len(value)
        if size < 0x10:
            out.append(0x80 | size)
        elif size < 0x10000:
            out += b"\xde" + size.to_bytes(2, "big")
        else:
            out += b"\xdf" + size.to_bytes(4, "big")
        for key, item in value.items():
            if notepack and isinstance(key, str):
                try:
                    out += _packb(key)
                except UnicodeEncodeError:
                    out += _notepack_key(key)
            else:
                _write(key, out, notepack)
            _write(item, out, notepack)
    else:
        out += _packb(value, use_bin_type=True)


# --- decoding ------------------------------------------------------------------------------------------------


class _AmbiguousExtension(Exception):
    """notepack decodes extension type 0 by its header (fixext or ext 8/16/32), which ``ext_hook`` cannot see."""


def _extension_pair(code: int, data: bytes) -> list[Any]:
    """An extension nobody defines, as notepack gives it: ``[type, bytes]`` (@msgpack/msgpack: ``ExtData``)."""
    return [code, data]


def _notepack_ext_hook(code: int, data: bytes) -> Any:
    if code == 0:
        if len(data) in (1, 2, 4, 8, 16):
            raise _AmbiguousExtension
        return data  # ext 8/16/32 type 0: notepack 2's ArrayBuffer
    return [code, data]


def _ms_datetime(ms: int) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(milliseconds=ms)


def _timestamp_datetime(seconds: int, nanoseconds: int) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(seconds=seconds, microseconds=nanoseconds // 1000)


def _js_decode_units(data: bytes, start: int, length: int) -> str:
    """@msgpack/msgpack's own UTF-8 reader (``utf8DecodeJs``, strings up to 200 bytes): bits are masked, never
    checked, so WTF-8 surrogates come back as lone surrogates; a sequence cut by the end of the string reads on
    into the bytes after it (0 past the payload), as the reference does."""
    units: list[int] = []
    end = start + length
    offset = start

    def following() -> int:
        nonlocal offset
        byte = data[offset] if offset < len(data) else 0
        offset += 1
        return byte & 0x3F

    while offset < end:
        first = data[offset]
        offset += 1
        if first < 0x80:
            units.append(first)
        elif first & 0xE0 == 0xC0:
            units.append(((first & 0x1F) << 6) | following())
        elif first & 0xF0 == 0xE0:
            units.append(((first & 0x1F) << 12) | (following() << 6) | following())
        elif first & 0xF8 == 0xF0:
            unit = ((first & 0x07) << 18) | (following() << 12) | (following() << 6) | following()
            if unit > 0xFFFF:
                unit -= 0x10000
                units.append(((unit >> 10) & 0x3FF) | 0xD800)
                unit = 0xDC00 | (unit & 0x3FF)
            units.append(unit)
        else:
            units.append(first)
    return b"".join(unit.to_bytes(2, "little") for unit in units).decode("utf-16-le", "surrogatepass")


def _js_key_of(value: Any) -> str:
    """The property name JavaScript makes of a decoded map key (``String(key)``)."""
    if isinstance(value, list):
        return ",".join("" if item is None or item is UNDEFINED else _js_key_of(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")  # Buffer.prototype.toString
    if isinstance(value, datetime.datetime):
        return value.isoformat()  # JavaScript writes Date.prototype.toString() (local time): not reproduced
    if value is UNDEFINED:
        return "undefined"
    return js_key(value)


class _ByteReader:
    """A MessagePack reader that follows one library byte by byte (§2.2, §2.3); the slow path of
    :meth:`MsgpackCodec.decode`.

    notepack: an extension of type 0 means what its header says (``ext_hook`` does not see the header); strings
    are read as ``Buffer.toString('utf8')`` (U+FFFD). @msgpack/msgpack: strings up to 200 bytes through
    :func:`_js_decode_units`, longer ones as ``TextDecoder`` (U+FFFD, a leading BOM dropped); extensions other
    than the timestamp are ``[type, bytes]``.
    """

    __slots__ = ("data", "notepack", "pos")

    def __init__(self, data: bytes, notepack: bool) -> None:
        self.data = data
        self.notepack = notepack
        self.pos = 0

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise ValueError("incomplete input")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def sint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big", signed=True)

    def text(self, size: int) -> str:
        start = self.pos
        chunk = self.take(size)
        if self.notepack:
            return chunk.decode("utf-8", "replace")
        if size > _MSGPACK_JS_TEXT_DECODER_THRESHOLD:
            text = chunk.decode("utf-8", "replace")
            return text[1:] if text.startswith("\ufeff") else text
        return _js_decode_units(self.data, start, size)

    def timestamp(self, size: int) -> datetime.datetime:
        """The timestamp extension; nanoseconds beyond 999999999 are accepted (JavaScript just adds them up)."""
        if size == 4:
            return _timestamp_datetime(self.uint(4), 0)
        if size == 8:
            word = self.uint(8)
            return _timestamp_datetime(word & (_TIMESTAMP64_END - 1), word >> 34)
        if size == 12:
            nanoseconds = self.uint(4)
            return _timestamp_datetime(self.sint(8), nanoseconds)
        raise ValueError(f"timestamp extension of {size} bytes")

    def extension(self, size: int, header: int) -> Any:
        code = self.sint(1)
        if not self.notepack:
            return self.timestamp(size) if code == -1 else [code, self.take(size)]
        if header >= 0xD4:  # fixext
            if code == 0 and size == 1:
                self.take(1)
                return UNDEFINED  # notepack 2's undefined
            if code == 0 and size == 8:
                return _ms_datetime(self.sint(4) * _TWO_32 + self.uint(4))  # notepack 2's Date
            if code == -1 and size in (4, 8):
                return self.timestamp(size)
        elif code == 0:
            return self.take(size)  # notepack 2's ArrayBuffer
        elif code == -1 and header == 0xC7:
            return self.timestamp(12)  # notepack reads 12 bytes whatever the size says
        return [code, self.take(size)]

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError("too deeply nested")
        byte = self.uint(1)
        if byte < 0x80:
            return byte
        if byte >= 0xE0:
            return byte - 0x100
        if byte < 0x90:
            return self.map(byte & 0x0F, depth)
        if byte < 0xA0:
            return [self.value(depth + 1) for _ in range(byte & 0x0F)]
        if byte < 0xC0:
            return self.text(byte & 0x1F)
        if byte == 0xC0:
            return None
        if byte in (0xC2, 0xC3):
            return byte == 0xC3
        if 0xC4 <= byte <= 0xC6:
            return self.take(self.uint(1 << (byte - 0xC4)))
        if 0xC7 <= byte <= 0xC9:
            return self.extension(self.uint(1 << (byte - 0xC7)), byte)
        if byte == 0xCA:
            return struct.unpack(">f", self.take(4))[0]
        if byte == 0xCB:
            return struct.unpack(">d", self.take(8))[0]
        if 0xCC <= byte <= 0xCF:
            return self.uint(1 << (byte - 0xCC))
        if 0xD0 <= byte <= 0xD3:
            return self.sint(1 << (byte - 0xD0))
        if 0xD4 <= byte <= 0xD8:
            return self.extension(1 << (byte - 0xD4), byte)
        if 0xD9 <= byte <= 0xDB:
            return self.text(self.uint(1 << (byte - 0xD9)))
        if byte in (0xDC, 0xDD):
            return [self.value(depth + 1) for _ in range(self.uint(2 if byte == 0xDC else 4))]
        if byte in (0xDE, 0xDF):
            return self.map(self.uint(2 if byte == 0xDE else 4), depth)
        raise ValueError("Could not parse")

    def map(self, size: int, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for _ in range(size):
            key = self.value(depth + 1)
            if type(key) is not str:
                if not self.notepack and (isinstance(key, bool) or not isinstance(key, int | float)):
                    raise ValueError(f"the type of key must be string or number but {type(key).__name__}")
                key = _js_key_of(key)
            out[key] = self.value(depth + 1)
        return out

    def document(self) -> Any:
        value = self.value(1)
        if self.pos != len(self.data):
            raise ValueError(f"{len(self.data) - self.pos} trailing bytes")
        return value


_DECODE_ERRORS: Final = (ValueError, TypeError, OverflowError, RecursionError)


@final
class MsgpackCodec:
    """One JavaScript MessagePack library, reproduced: :data:`NOTEPACK` or :data:`MSGPACK` (§2).

    ``name`` is the library and version, as the vectors name them.
    """

    __slots__ = ("_limit", "_notepack", "name")

    def __init__(self, name: str, *, notepack: bool) -> None:
        self.name = name
        self._notepack = notepack
        self._limit = MAX_DEPTH if notepack else _MSGPACK_JS_MAX_DEPTH

    def __repr__(self) -> str:
        return f"<MsgpackCodec {self.name}>"

    def encode(self, value: Any) -> bytes:
        """The bytes the library writes for the JavaScript counterpart of ``value`` (module docstring).

        Fast path: the value is normalised (copy-on-write) and packed by msgpack-python in C; only strings with
        lone surrogates and notepack's wrapping integers take the byte-level writer.
        """
        notepack, limit = self._notepack, self._limit
        try:
            try:
                return _packb(_normalize(value, notepack, False, 1, limit), use_bin_type=True)
            except (_SlowPath, UnicodeEncodeError):
                out = bytearray()
                _write(_normalize(value, notepack, True, 1, limit), out, notepack)
                return bytes(out)
        except RecursionError:
            raise _too_deep(limit) from None

    def decode(self, data: bytes | bytearray | memoryview) -> Any:
        """The Python value of one MessagePack payload; :class:`DecodeError` when it is not exactly one value.

        Fast path: msgpack-python (C), for the payloads every library reads alike. Whatever it refuses or could
        read differently (a type-0 extension, a non-``str`` map key, invalid UTF-8 for @msgpack/msgpack, a
        non-canonical timestamp, a BOM) is read again by :class:`_ByteReader`, which follows the library.
        """
        raw = bytes(data)
        try:
            try:
                if self._notepack:
                    return _unpackb(
                        raw, raw=False, timestamp=3, ext_hook=_notepack_ext_hook, unicode_errors="replace"
                    )
                if _BOM not in raw:
                    return _unpackb(raw, raw=False, timestamp=3, ext_hook=_extension_pair)
            except (_AmbiguousExtension, ValueError, TypeError, OverflowError):
                pass  # legacy extensions, JavaScript leniencies, or really malformed: the reader decides
            return _ByteReader(raw, self._notepack).document()
        except _DECODE_ERRORS as error:
            raise DecodeError(
                f"invalid MessagePack payload ({self.name}): {error or type(error).__name__}"
            ) from None


NOTEPACK: Final = MsgpackCodec("notepack.io@3.0.1", notepack=True)
"""notepack.io 3.0.1: the classic and sharded Redis adapters and the Redis emitter (§2.1, §2.2)."""

MSGPACK: Final = MsgpackCodec("@msgpack/msgpack@2.8.0", notepack=False)
"""@msgpack/msgpack 2.8.0: the Redis streams and Postgres adapters (§2.3)."""

# =============================================================================================================
# JSON
# =============================================================================================================


def encode_json(value: Any) -> str:
    """``JSON.stringify(value)`` (§3.3, §6, §8): the default parser's writer, without :data:`UNDEFINED` members.

    ``bytes`` become ``{"type":"Buffer","data":[...]}`` and datetimes ISO strings, as in Node. Raises
    :class:`EncodeError` for what JSON cannot carry.
    """
    text = orjson_text(value)
    if text is not None:
        return text
    return to_json(value, MAX_DEPTH)


def decode_json(text: str | bytes | bytearray | memoryview) -> Any:
    """``JSON.parse(text)``, strict; :class:`DecodeError` when it is not JSON."""
    try:
        return parse_js_json(text)  # integers beyond 2**53 as the doubles a Node server holds
    except ValueError:
        raise DecodeError("invalid JSON payload") from None


def decode_payload(payload: str | bytes | bytearray | memoryview, codec: MsgpackCodec = NOTEPACK) -> Any:
    """A payload as every Node receiver reads it: JSON when it starts with ``{`` (0x7b), else ``codec`` (§3.3, §6).

    A ``str`` is always JSON text. (A MessagePack payload starting with 0x7b would be the bare integer 123,
    which is never a message.)
    """
    if isinstance(payload, str):
        return decode_json(payload)
    if payload[:1] == b"{":
        return decode_json(payload)
    return codec.decode(payload)


# =============================================================================================================
# Shared pieces: options, packets, sockets
# =============================================================================================================


def _seconds_to_ms(seconds: float) -> int | float:
    ms = round(seconds * 1000, 6)
    return int(ms) if ms.is_integer() else ms


def _flags_to_wire(flags: BroadcastFlags) -> dict[str, Any]:
    """The keys the reference sets (§1.2): ``volatile`` when set, ``compress`` when ``False`` (our ``True`` is the
    default, which the reference writes only when ``compress(true)`` was called), ``local`` when set (never
    published in practice), ``timeout`` in milliseconds when set."""
    out: dict[str, Any] = {}
    if flags.volatile:
        out["volatile"] = True
    if not flags.compress:
        out["compress"] = False
    if flags.local:
        out["local"] = True
    if flags.timeout is not None:
        out["timeout"] = _seconds_to_ms(flags.timeout)
    return out


def opts_to_wire(
    opts: BroadcastOptions, layout: Literal["adapter", "emitter", "request"] = "adapter"
) -> dict[str, Any]:
    """The wire ``opts`` of ``opts`` (§1.2); rooms and excluded rooms are sorted arrays.

    ``layout``: ``"adapter"`` ``{rooms, except, flags}`` (classic broadcasts, every ClusterAdapter message),
    ``"emitter"`` ``{rooms, flags, except}`` (§4), ``"request"`` ``{rooms, except}`` (classic requests 2-5, §3.3).
    """
    rooms = sorted(opts.rooms)
    excluded = sorted(opts.except_rooms)
    if layout == "adapter":
        return {"rooms": rooms, "except": excluded, "flags": _flags_to_wire(opts.flags)}
    if layout == "emitter":
        return {"rooms": rooms, "flags": _flags_to_wire(opts.flags), "except": excluded}
    if layout == "request":
        return {"rooms": rooms, "except": excluded}
    raise ValueError(f"unknown opts layout {layout!r}: use 'adapter', 'emitter' or 'request'")


def _room_name(value: Any) -> str:
    """A room as our adapters name it: JavaScript's ``String(room)`` for the numbers Node allows."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return js_key(value)
    raise DecodeError(f"a room must be a string, not {type(value).__name__}")


def _rooms(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise DecodeError(f"{what} must be an array")
    return tuple(_room_name(room) for room in value)


def opts_from_wire(value: Any) -> BroadcastOptions:
    """Our :class:`BroadcastOptions` from any wire ``opts`` layout; missing keys mean "not set" (§1.2)."""
    if not isinstance(value, dict):
        raise DecodeError("opts must be an object")
    flags = value.get("flags")
    if flags is None:
        flags = {}
    elif not isinstance(flags, dict):
        raise DecodeError("opts.flags must be an object")
    timeout = flags.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)):
        raise DecodeError("opts.flags.timeout must be a number")
    compress = flags.get("compress")
    return BroadcastOptions(
        rooms=frozenset(_rooms(value.get("rooms"), "opts.rooms")),
        except_rooms=frozenset(_rooms(value.get("except"), "opts.except")),
        flags=BroadcastFlags(
            volatile=bool(flags.get("volatile", False)),
            compress=True if compress is None else bool(compress),
            local=bool(flags.get("local", False)),
            timeout=None if timeout is None else timeout / 1000,
        ),
    )


_PLAIN_TYPE: Final = {PacketType.BINARY_EVENT: PacketType.EVENT, PacketType.BINARY_ACK: PacketType.ACK}


def packet_to_wire(packet: Packet, *, with_nsp: bool) -> dict[str, Any]:
    """The unencoded packet object a broadcast carries (§1.1): ``{type, data}`` plus ``nsp`` for the classic
    adapter and the emitter (``with_nsp``), absent for the ClusterAdapter family.

    The type is the plain one (an ``EVENT`` stays ``2`` even with binary data: each receiver's encoder picks
    BINARY_EVENT); binary data stays inline. ``packet.id`` is not written: every server assigns its own ack ids.
    """
    ptype = _PLAIN_TYPE.get(packet.type, packet.type)
    out: dict[str, Any] = {"type": int(ptype), "data": packet.data}
    if with_nsp:
        out["nsp"] = packet.nsp
    return out


def packet_from_wire(value: Any, nsp: str | None = None) -> Packet:
    """Our :class:`Packet` from a wire packet; ``nsp`` (the envelope's) wins, else the packet's, else ``/`` (§3.1)."""
    if not isinstance(value, dict):
        raise DecodeError("packet must be an object")
    ptype = value.get("type")
    if isinstance(ptype, float) and ptype.is_integer():
        ptype = int(ptype)
    if type(ptype) is not int or not 0 <= ptype <= 6:
        raise DecodeError(f"invalid packet type {ptype!r}")
    if nsp is None:
        nsp = value.get("nsp", "/")
        if not isinstance(nsp, str):
            raise DecodeError("packet.nsp must be a string")
    return Packet(PacketType(ptype), nsp, value.get("data"))


class _HandshakeLike(Protocol):
    """What :class:`aiosocketio.socket.Handshake` offers (not imported: this module stays free of the server)."""

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class SocketData:
    """A socket as ``fetchSockets`` reports it to other servers: ``{id, handshake, rooms, data}`` (§3.3, §5.1).

    ``handshake``: the reference's handshake object, a mapping with its field names (``headers, time, address,
    xdomain, secure, issued, url, query, auth``; Node leaves ``sessionStore`` out) or our ``Handshake`` itself;
    received ones are the ``dict`` as sent. ``rooms`` in the order the socket joined them (its own id first).
    """

    id: str
    handshake: Mapping[str, Any] | _HandshakeLike
    rooms: tuple[str, ...]
    data: Any = field(default_factory=dict)


def socket_to_wire(socket: SocketData) -> dict[str, Any]:
    """``{id, handshake, rooms, data}`` in the reference's key order."""
    handshake = socket.handshake
    wire_handshake = dict(handshake) if isinstance(handshake, Mapping) else handshake.to_dict()
    return {"id": socket.id, "handshake": wire_handshake, "rooms": list(socket.rooms), "data": socket.data}


def socket_from_wire(value: Any) -> SocketData:
    if not isinstance(value, dict):
        raise DecodeError("a fetched socket must be an object")
    handshake = value.get("handshake")
    if not isinstance(handshake, dict):
        raise DecodeError("socket.handshake must be an object")
    return SocketData(
        id=_string(value, "id"),
        handshake=handshake,
        rooms=_rooms(value.get("rooms"), "socket.rooms"),
        data=value.get("data"),
    )


def _string(value: dict[str, Any], key: str) -> str:
    item = value.get(key)
    if not isinstance(item, str):
        raise DecodeError(f"{key} must be a string")
    return item


def _optional_string(value: dict[str, Any], key: str) -> str | None:
    item = value.get(key)
    if item is None:
        return None
    if not isinstance(item, str):
        raise DecodeError(f"{key} must be a string")
    return item


def _integer(value: dict[str, Any], key: str) -> int:
    item = value.get(key)
    if isinstance(item, float) and item.is_integer():
        item = int(item)
    if type(item) is not int:
        raise DecodeError(f"{key} must be an integer")
    return item


def _array(value: dict[str, Any], key: str) -> list[Any]:
    item = value.get(key)
    if not isinstance(item, list):
        raise DecodeError(f"{key} must be an array")
    return item


def _type_code(value: Any) -> int | None:
    """A ``type`` field as a number comparison in JavaScript reads it: ``2`` and ``2.0`` alike, never ``true``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if type(value) is int or value is None:
        return value
    raise DecodeError(f"invalid message type {value!r}")


def _object(payload: Any, what: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise DecodeError(f"{what} must be an object")
    return payload


# =============================================================================================================
# Operation bodies (shared by both families)
# =============================================================================================================


@dataclass(frozen=True, slots=True)
class BroadcastMessage:
    """A broadcast: the packet (``EVENT``, data ``[event, *args]``), the targeting, and ``request_id`` when the
    origin wants acknowledgements (§1.4; classic: request 7, or the ``[uid, packet, opts]`` array without ack;
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
    """How many local sockets a server wrote a broadcast-with-ack to, sent even when 0 (§1.4; classic 8,
    cluster 11)."""

    request_id: str
    client_count: int


@dataclass(frozen=True, slots=True)
class BroadcastAck:
    """One client's acknowledgement of a broadcast: its first argument (classic 9, cluster 12)."""

    request_id: str
    response: Any


@dataclass(frozen=True, slots=True)
class InitialHeartbeat:
    """ClusterAdapterWithHeartbeat: a server starts; every other one answers with :class:`Heartbeat` (§5.3)."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """ClusterAdapterWithHeartbeat: "I am alive" (§5.3)."""


@dataclass(frozen=True, slots=True)
class AdapterClose:
    """A server's adapter closes: the others forget it at once (§5.3)."""


# --- classic-only bodies -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SocketsRequest:
    """Legacy SOCKETS (0): ids of the sockets in ``rooms``; 8.3.0 only answers it (§3.3)."""

    request_id: str
    rooms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SocketsResponse:
    """Reply to :class:`SocketsRequest`: socket ids."""

    request_id: str
    sockets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AllRoomsRequest:
    """ALL_ROOMS (1): ``adapter.allRooms()``."""

    request_id: str


@dataclass(frozen=True, slots=True)
class AllRoomsResponse:
    """Reply to :class:`AllRoomsRequest`: the room names of one server."""

    request_id: str
    rooms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LegacyJoinRequest:
    """Legacy REMOTE_JOIN (2) ``{requestId, sid, room}``: answered with :class:`LegacyResponse` when the socket is
    local."""

    request_id: str
    sid: str
    room: str


@dataclass(frozen=True, slots=True)
class LegacyLeaveRequest:
    """Legacy REMOTE_LEAVE (3) ``{requestId, sid, room}``."""

    request_id: str
    sid: str
    room: str


@dataclass(frozen=True, slots=True)
class LegacyDisconnectRequest:
    """Legacy REMOTE_DISCONNECT (4) ``{requestId, sid, close}``."""

    request_id: str
    sid: str
    close: bool


@dataclass(frozen=True, slots=True)
class LegacyResponse:
    """``{requestId}``: the reply to the legacy join / leave / disconnect requests."""

    request_id: str


ClassicRequestBody: TypeAlias = (
    SocketsRequest
    | AllRoomsRequest
    | SocketsJoinMessage
    | SocketsLeaveMessage
    | DisconnectSocketsMessage
    | LegacyJoinRequest
    | LegacyLeaveRequest
    | LegacyDisconnectRequest
    | FetchSocketsMessage
    | ServerSideEmitMessage
    | BroadcastMessage
)
ClassicResponseBody: TypeAlias = (
    SocketsResponse
    | AllRoomsResponse
    | LegacyResponse
    | FetchSocketsResponse
    | ServerSideEmitResponse
    | BroadcastClientCount
    | BroadcastAck
)
ClusterBody: TypeAlias = (
    InitialHeartbeat
    | Heartbeat
    | BroadcastMessage
    | SocketsJoinMessage
    | SocketsLeaveMessage
    | DisconnectSocketsMessage
    | FetchSocketsMessage
    | FetchSocketsResponse
    | ServerSideEmitMessage
    | ServerSideEmitResponse
    | BroadcastClientCount
    | BroadcastAck
    | AdapterClose
)

# =============================================================================================================
# Classic Redis adapter and emitter (§3, §4)
# =============================================================================================================

EMITTER_UID: Final = "emitter"
"""The uid ``@socket.io/redis-emitter`` writes in its broadcasts and server-side emits (§1.3, §4)."""


class ClassicRequestType(IntEnum):
    """The ``type`` codes of the classic adapter (§3.3), **not** the ClusterAdapter's (§5.1)."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


CLASSIC_BINARY_REQUEST_TYPES: Final = frozenset(
    {ClassicRequestType.BROADCAST, ClassicRequestType.BROADCAST_ACK}
)
"""The classic messages written as notepack maps; the others are JSON text (§3.3)."""


@dataclass(frozen=True, slots=True)
class ClassicMessage:
    """A classic broadcast or request with its sender's ``uid`` (``None``: the emitter's join / leave /
    disconnect requests carry none, §4)."""

    uid: str | None
    body: ClassicRequestBody


def encode_classic_broadcast(uid: str, packet: Packet, opts: BroadcastOptions) -> bytes:
    """``notepack([uid, {type, data, nsp}, {rooms, except, flags}])``, published on
    :func:`classic_broadcast_channel` (§3.2). A broadcast with ``local`` is never published (§1.2)."""
    return NOTEPACK.encode([uid, packet_to_wire(packet, with_nsp=True), opts_to_wire(opts)])


def encode_emitter_broadcast(packet: Packet, opts: BroadcastOptions, uid: str = EMITTER_UID) -> bytes:
    """``@socket.io/redis-emitter``'s broadcast: the same array with uid ``emitter`` and opts in the order
    ``{rooms, flags, except}`` (§4)."""
    return NOTEPACK.encode([uid, packet_to_wire(packet, with_nsp=True), opts_to_wire(opts, "emitter")])


def parse_classic_broadcast(payload: bytes | bytearray | memoryview) -> ClassicMessage:
    """A message of the broadcast channels: its uid and a :class:`BroadcastMessage` whose packet keeps the
    namespace it names (``/`` when missing; the receiver drops other namespaces and its own uid, §3.1).

    Node crashes on anything that is not a 3-element notepack array there (§2.2); this raises
    :class:`DecodeError` instead.
    """
    value = NOTEPACK.decode(payload)
    if not isinstance(value, list) or len(value) != 3:
        raise DecodeError("a classic broadcast is a 3-element array [uid, packet, opts]")
    uid, packet, opts = value
    if not isinstance(uid, str):
        raise DecodeError("the broadcast uid must be a string")
    return ClassicMessage(uid, BroadcastMessage(packet_from_wire(packet), opts_from_wire(opts)))


def _classic_request_fields(body: ClassicRequestBody) -> tuple[ClassicRequestType, dict[str, Any]]:
    """The type and the fields after ``uid`` (requestId, type, ...) in the reference's key order (§3.3)."""
    request = ClassicRequestType
    if isinstance(body, SocketsJoinMessage | SocketsLeaveMessage):
        kind = request.REMOTE_JOIN if isinstance(body, SocketsJoinMessage) else request.REMOTE_LEAVE
        return kind, {
            "type": int(kind),
            "opts": opts_to_wire(body.opts, "request"),
            "rooms": list(body.rooms),
        }
    if isinstance(body, DisconnectSocketsMessage):
        kind = request.REMOTE_DISCONNECT
        return kind, {"type": int(kind), "opts": opts_to_wire(body.opts, "request"), "close": body.close}
    if isinstance(body, FetchSocketsMessage):
        kind = request.REMOTE_FETCH
        return kind, {
            "requestId": body.request_id,
            "type": int(kind),
            "opts": opts_to_wire(body.opts, "request"),
        }
    if isinstance(body, ServerSideEmitMessage):
        kind = request.SERVER_SIDE_EMIT
        head: dict[str, Any] = {} if body.request_id is None else {"requestId": body.request_id}
        return kind, {**head, "type": int(kind), "data": body.data}
    if isinstance(body, BroadcastMessage):
        if body.request_id is None:
            raise ValueError("a broadcast without request_id is published with encode_classic_broadcast")
        kind = request.BROADCAST
        return kind, {
            "requestId": body.request_id,
            "type": int(kind),
            "packet": packet_to_wire(body.packet, with_nsp=True),
            "opts": opts_to_wire(body.opts),
        }
    if isinstance(body, AllRoomsRequest):
        return request.ALL_ROOMS, {"requestId": body.request_id, "type": int(request.ALL_ROOMS)}
    if isinstance(body, SocketsRequest):
        kind = request.SOCKETS
        return kind, {"requestId": body.request_id, "type": int(kind), "rooms": list(body.rooms)}
    if isinstance(body, LegacyJoinRequest | LegacyLeaveRequest):
        kind = request.REMOTE_JOIN if isinstance(body, LegacyJoinRequest) else request.REMOTE_LEAVE
        return kind, {"requestId": body.request_id, "type": int(kind), "sid": body.sid, "room": body.room}
    if isinstance(body, LegacyDisconnectRequest):
        kind = request.REMOTE_DISCONNECT
        return kind, {"requestId": body.request_id, "type": int(kind), "sid": body.sid, "close": body.close}
    raise TypeError(f"not a classic request body: {type(body).__name__}")


def classic_request_to_wire(uid: str | None, body: ClassicRequestBody) -> dict[str, Any]:
    """The request object ``{uid, requestId?, type, ...}`` (``uid`` left out when ``None``, as the emitter does)."""
    _, fields = _classic_request_fields(body)
    return fields if uid is None else {"uid": uid, **fields}


def encode_classic_request(uid: str | None, body: ClassicRequestBody) -> str | bytes:
    """A request for ``K-request#N#`` (§3.3): notepack ``bytes`` for a broadcast with ack, JSON text otherwise.

    The emitter's forms (§4) are ``encode_classic_request(None, SocketsJoinMessage(...))`` (no uid) and
    ``encode_classic_request(EMITTER_UID, ServerSideEmitMessage(...))``.
    """
    kind, fields = _classic_request_fields(body)
    wire = fields if uid is None else {"uid": uid, **fields}
    if kind in CLASSIC_BINARY_REQUEST_TYPES:
        return NOTEPACK.encode(wire)
    return encode_json(wire)


def parse_classic_request(payload: str | bytes | bytearray | memoryview) -> ClassicMessage:
    """A message of ``K-request#N#``, JSON or notepack by its first byte (§3.3).

    REMOTE_JOIN / LEAVE / DISCONNECT with ``opts`` are the current forms; without, the legacy ones. Raises
    :class:`DecodeError` for an unknown type or a malformed request (Node ignores or crashes, §2.2).
    """
    value = _object(decode_payload(payload, NOTEPACK), "a classic request")
    uid = _optional_string(value, "uid")
    kind = _type_code(value.get("type"))
    request = ClassicRequestType
    body: ClassicRequestBody
    if kind in (request.REMOTE_JOIN, request.REMOTE_LEAVE):
        join = kind == request.REMOTE_JOIN
        if "opts" in value:
            opts = opts_from_wire(value["opts"])
            rooms = _rooms(value.get("rooms"), "rooms")
            body = SocketsJoinMessage(opts, rooms) if join else SocketsLeaveMessage(opts, rooms)
        else:
            args = (_string(value, "requestId"), _string(value, "sid"), _room_name(value.get("room")))
            body = LegacyJoinRequest(*args) if join else LegacyLeaveRequest(*args)
    elif kind == request.REMOTE_DISCONNECT:
        if "opts" in value:
            body = DisconnectSocketsMessage(opts_from_wire(value["opts"]), bool(value.get("close")))
        else:
            body = LegacyDisconnectRequest(
                _string(value, "requestId"), _string(value, "sid"), bool(value.get("close"))
            )
    elif kind == request.REMOTE_FETCH:
        body = FetchSocketsMessage(opts_from_wire(value.get("opts")), _string(value, "requestId"))
    elif kind == request.SERVER_SIDE_EMIT:
        body = ServerSideEmitMessage(_array(value, "data"), _optional_string(value, "requestId"))
    elif kind == request.BROADCAST:
        body = BroadcastMessage(
            packet_from_wire(value.get("packet")),
            opts_from_wire(value.get("opts")),
            _string(value, "requestId"),
        )
    elif kind == request.ALL_ROOMS:
        body = AllRoomsRequest(_string(value, "requestId"))
    elif kind == request.SOCKETS:
        body = SocketsRequest(_string(value, "requestId"), _rooms(value.get("rooms"), "rooms"))
    else:
        raise DecodeError(f"unknown classic request type {kind!r}")
    return ClassicMessage(uid, body)


def classic_response_to_wire(body: ClassicResponseBody) -> dict[str, Any]:
    """The response object in the reference's key order; only 6, 8 and 9 carry a ``type`` (§3.3)."""
    request = ClassicRequestType
    if isinstance(body, BroadcastClientCount):
        kind = int(request.BROADCAST_CLIENT_COUNT)
        return {"type": kind, "requestId": body.request_id, "clientCount": body.client_count}
    if isinstance(body, BroadcastAck):
        return {"type": int(request.BROADCAST_ACK), "requestId": body.request_id, "packet": body.response}
    if isinstance(body, ServerSideEmitResponse):
        return {"type": int(request.SERVER_SIDE_EMIT), "requestId": body.request_id, "data": body.response}
    if isinstance(body, FetchSocketsResponse):
        return {"requestId": body.request_id, "sockets": [socket_to_wire(s) for s in body.sockets]}
    if isinstance(body, AllRoomsResponse):
        return {"requestId": body.request_id, "rooms": list(body.rooms)}
    if isinstance(body, SocketsResponse):
        return {"requestId": body.request_id, "sockets": list(body.sockets)}
    if isinstance(body, LegacyResponse):
        return {"requestId": body.request_id}
    raise TypeError(f"not a classic response body: {type(body).__name__}")


def encode_classic_response(body: ClassicResponseBody) -> str | bytes:
    """A response for ``K-response#N#`` (or the requester's ``K-response#N#<uid>#``, §3.1): notepack ``bytes``
    for BROADCAST_ACK, JSON text otherwise (§3.3). A :data:`UNDEFINED` response is left out, as in Node."""
    wire = classic_response_to_wire(body)
    if isinstance(body, BroadcastAck):
        return NOTEPACK.encode(wire)
    return encode_json(wire)


def parse_classic_response(payload: str | bytes | bytearray | memoryview) -> ClassicResponseBody:
    """A message of the response channels (§3.3).

    Typed responses (6, 8, 9) by their type; the others are recognised by their fields, which is what the
    reference's pending-request lookup amounts to: ``rooms`` -> :class:`AllRoomsResponse`, ``sockets`` of
    objects (or empty) -> :class:`FetchSocketsResponse`, ``sockets`` of ids -> :class:`SocketsResponse`,
    nothing else -> :class:`LegacyResponse`. A missing ``data`` / ``packet`` is :data:`UNDEFINED`.
    """
    value = _object(decode_payload(payload, NOTEPACK), "a classic response")
    request_id = _string(value, "requestId")
    kind = _type_code(value.get("type"))
    request = ClassicRequestType
    if kind == request.BROADCAST_CLIENT_COUNT:
        return BroadcastClientCount(request_id, _integer(value, "clientCount"))
    if kind == request.BROADCAST_ACK:
        return BroadcastAck(request_id, value.get("packet", UNDEFINED))
    if kind == request.SERVER_SIDE_EMIT:
        return ServerSideEmitResponse(request_id, value.get("data", UNDEFINED))
    if kind is not None:
        raise DecodeError(f"unknown classic response type {kind!r}")
    if "rooms" in value:
        return AllRoomsResponse(request_id, _rooms(value["rooms"], "rooms"))
    if "sockets" in value:
        sockets = _array(value, "sockets")
        if sockets and all(isinstance(sid, str) for sid in sockets):
            return SocketsResponse(request_id, tuple(sockets))
        return FetchSocketsResponse(request_id, tuple(socket_from_wire(s) for s in sockets))
    return LegacyResponse(request_id)


# --- channels (§3.1) -----------------------------------------------------------------------------------------


def classic_subscription_pattern(key: str, nsp: str) -> str:
    """The pattern every classic server PSUBSCRIBEs for broadcasts: ``K#N#*``."""
    return f"{key}#{nsp}#*"


def classic_broadcast_channel(key: str, nsp: str, opts: BroadcastOptions) -> str:
    """``K#N#<room>#`` when exactly one room is targeted (whatever ``except`` holds), else ``K#N#`` (§3.1)."""
    if len(opts.rooms) == 1:
        (room,) = opts.rooms
        return f"{key}#{nsp}#{room}#"
    return f"{key}#{nsp}#"


def classic_room_from_channel(channel: str, key: str, nsp: str) -> str | None:
    """The room a broadcast channel names (``""``: the whole namespace), ``None`` when it is not a channel of this
    namespace. As the reference, this takes the text between ``K#N#`` and the last character. A receiver
    without a local room of that name drops the message undecoded (§3.1)."""
    prefix = f"{key}#{nsp}#"
    if not channel.startswith(prefix):
        return None
    return channel[len(prefix) : -1]


def classic_request_channel(key: str, nsp: str) -> str:
    """``K-request#N#``: every request (§3.1); ``serverCount()`` is its NUMSUB."""
    return f"{key}-request#{nsp}#"


def classic_response_channel(key: str, nsp: str, uid: str | None = None) -> str:
    """``K-response#N#``, or ``K-response#N#<uid>#`` for responses to ``uid`` (publishOnSpecificResponseChannel)."""
    if uid is None:
        return f"{key}-response#{nsp}#"
    return f"{key}-response#{nsp}#{uid}#"


# =============================================================================================================
# ClusterAdapter family (§5-§8)
# =============================================================================================================


class ClusterMessageType(IntEnum):
    """The ``type`` codes of ``socket.io-adapter``'s ClusterAdapter (§5.1)."""

    INITIAL_HEARTBEAT = 1
    HEARTBEAT = 2
    BROADCAST = 3
    SOCKETS_JOIN = 4
    SOCKETS_LEAVE = 5
    DISCONNECT_SOCKETS = 6
    FETCH_SOCKETS = 7
    FETCH_SOCKETS_RESPONSE = 8
    SERVER_SIDE_EMIT = 9
    SERVER_SIDE_EMIT_RESPONSE = 10
    BROADCAST_CLIENT_COUNT = 11
    BROADCAST_ACK = 12
    ADAPTER_CLOSE = 13


_CLUSTER_TYPES: Final[dict[type, ClusterMessageType]] = {
    InitialHeartbeat: ClusterMessageType.INITIAL_HEARTBEAT,
    Heartbeat: ClusterMessageType.HEARTBEAT,
    BroadcastMessage: ClusterMessageType.BROADCAST,
    SocketsJoinMessage: ClusterMessageType.SOCKETS_JOIN,
    SocketsLeaveMessage: ClusterMessageType.SOCKETS_LEAVE,
    DisconnectSocketsMessage: ClusterMessageType.DISCONNECT_SOCKETS,
    FetchSocketsMessage: ClusterMessageType.FETCH_SOCKETS,
    FetchSocketsResponse: ClusterMessageType.FETCH_SOCKETS_RESPONSE,
    ServerSideEmitMessage: ClusterMessageType.SERVER_SIDE_EMIT,
    ServerSideEmitResponse: ClusterMessageType.SERVER_SIDE_EMIT_RESPONSE,
    BroadcastClientCount: ClusterMessageType.BROADCAST_CLIENT_COUNT,
    BroadcastAck: ClusterMessageType.BROADCAST_ACK,
    AdapterClose: ClusterMessageType.ADAPTER_CLOSE,
}

SHARDED_BINARY_TYPES: Final = frozenset(
    {
        ClusterMessageType.BROADCAST,
        ClusterMessageType.FETCH_SOCKETS_RESPONSE,
        ClusterMessageType.SERVER_SIDE_EMIT,
        ClusterMessageType.SERVER_SIDE_EMIT_RESPONSE,
        ClusterMessageType.BROADCAST_ACK,
    }
)
"""Types the sharded adapter writes as notepack when their ``data`` holds binary (§6); the streams adapter uses
the same list for stream entries (:data:`STREAMS_BINARY_TYPES`, §7.2). (Postgres: 3, 9, 10, 12, §8.)"""

STREAMS_BINARY_TYPES: Final = SHARDED_BINARY_TYPES

STREAM_ENTRY_TYPES: Final = frozenset(
    {
        ClusterMessageType.BROADCAST,
        ClusterMessageType.SOCKETS_JOIN,
        ClusterMessageType.SOCKETS_LEAVE,
        ClusterMessageType.DISCONNECT_SOCKETS,
    }
)
"""What the streams adapter XADDs (BROADCAST only without ``request_id``); everything else goes through pub/sub
(§7.2)."""


@dataclass(frozen=True, slots=True)
class ClusterMessage:
    """The ClusterAdapter envelope ``{type, data?, uid, nsp}`` (§5.1): sender uid, namespace and body."""

    uid: str
    nsp: str
    body: ClusterBody

    @property
    def type(self) -> ClusterMessageType:
        return _CLUSTER_TYPES[type(self.body)]


def _cluster_data(body: ClusterBody) -> dict[str, Any] | None:
    """The ``data`` object in the reference's key order (vectors ``cluster_t*``); ``None`` for types without."""
    if isinstance(body, BroadcastMessage):
        packet = packet_to_wire(body.packet, with_nsp=False)
        if body.request_id is None:
            return {"packet": packet, "opts": opts_to_wire(body.opts)}
        return {"packet": packet, "requestId": body.request_id, "opts": opts_to_wire(body.opts)}
    if isinstance(body, SocketsJoinMessage | SocketsLeaveMessage):
        return {"opts": opts_to_wire(body.opts), "rooms": list(body.rooms)}
    if isinstance(body, DisconnectSocketsMessage):
        return {"opts": opts_to_wire(body.opts), "close": body.close}
    if isinstance(body, FetchSocketsMessage):
        return {"opts": opts_to_wire(body.opts), "requestId": body.request_id}
    if isinstance(body, FetchSocketsResponse):
        return {"requestId": body.request_id, "sockets": [socket_to_wire(s) for s in body.sockets]}
    if isinstance(body, ServerSideEmitMessage):
        if body.request_id is None:
            return {"packet": body.data}
        return {"requestId": body.request_id, "packet": body.data}
    if isinstance(body, ServerSideEmitResponse | BroadcastAck):
        return {"requestId": body.request_id, "packet": body.response}
    if isinstance(body, BroadcastClientCount):
        return {"requestId": body.request_id, "clientCount": body.client_count}
    if isinstance(body, InitialHeartbeat | Heartbeat | AdapterClose):
        return None
    raise TypeError(f"not a cluster message body: {type(body).__name__}")


def cluster_to_wire(message: ClusterMessage) -> dict[str, Any]:
    """``{type, data?, uid, nsp}`` in that key order (§5.1)."""
    data = _cluster_data(message.body)
    out: dict[str, Any] = {"type": int(message.type)}
    if data is not None:
        out["data"] = data
    out["uid"] = message.uid
    out["nsp"] = message.nsp
    return out


def _cluster_body(kind: ClusterMessageType, data: Any, nsp: str) -> ClusterBody:
    types = ClusterMessageType
    if kind == types.INITIAL_HEARTBEAT:
        return InitialHeartbeat()
    if kind == types.HEARTBEAT:
        return Heartbeat()
    if kind == types.ADAPTER_CLOSE:
        return AdapterClose()
    data = _object(data, "data")
    if kind == types.BROADCAST:
        return BroadcastMessage(
            packet_from_wire(data.get("packet"), nsp),
            opts_from_wire(data.get("opts")),
            _optional_string(data, "requestId"),
        )
    if kind == types.SOCKETS_JOIN:
        return SocketsJoinMessage(opts_from_wire(data.get("opts")), _rooms(data.get("rooms"), "rooms"))
    if kind == types.SOCKETS_LEAVE:
        return SocketsLeaveMessage(opts_from_wire(data.get("opts")), _rooms(data.get("rooms"), "rooms"))
    if kind == types.DISCONNECT_SOCKETS:
        return DisconnectSocketsMessage(opts_from_wire(data.get("opts")), bool(data.get("close")))
    if kind == types.FETCH_SOCKETS:
        return FetchSocketsMessage(opts_from_wire(data.get("opts")), _string(data, "requestId"))
    if kind == types.FETCH_SOCKETS_RESPONSE:
        sockets = tuple(socket_from_wire(s) for s in _array(data, "sockets"))
        return FetchSocketsResponse(_string(data, "requestId"), sockets)
    if kind == types.SERVER_SIDE_EMIT:
        return ServerSideEmitMessage(_array(data, "packet"), _optional_string(data, "requestId"))
    if kind == types.SERVER_SIDE_EMIT_RESPONSE:
        return ServerSideEmitResponse(_string(data, "requestId"), data.get("packet", UNDEFINED))
    if kind == types.BROADCAST_CLIENT_COUNT:
        return BroadcastClientCount(_string(data, "requestId"), _integer(data, "clientCount"))
    return BroadcastAck(_string(data, "requestId"), data.get("packet", UNDEFINED))


def _cluster_type(value: Any) -> ClusterMessageType:
    code = _type_code(value)
    if code is None or not 1 <= code <= 13:
        raise DecodeError(f"unknown cluster message type {value!r}")
    return ClusterMessageType(code)


def cluster_from_wire(value: Any) -> ClusterMessage:
    """A :class:`ClusterMessage` from a decoded envelope; :class:`DecodeError` when malformed.

    A BROADCAST packet gets the envelope's namespace (the wire packet has none, §1.1). Missing ``packet`` in a
    response (an ack without argument) is :data:`UNDEFINED`.
    """
    value = _object(value, "a cluster message")
    nsp = _string(value, "nsp")
    return ClusterMessage(
        _string(value, "uid"), nsp, _cluster_body(_cluster_type(value.get("type")), value.get("data"), nsp)
    )


def encode_cluster_json(message: ClusterMessage) -> str:
    """The JSON text of the envelope: the sharded adapter's form without binary (§6) and Postgres' NOTIFY
    payload (§8). Binary data would be written as ``Buffer.toJSON()`` objects: see :func:`encode_sharded`."""
    return encode_json(cluster_to_wire(message))


def encode_cluster_msgpack(message: ClusterMessage, codec: MsgpackCodec = MSGPACK) -> bytes:
    """The MessagePack envelope: the streams adapter's pub/sub payload (always, with :data:`MSGPACK`, §7.2), the
    sharded adapter's binary form (with :data:`NOTEPACK`, §6), a Postgres attachment (:data:`MSGPACK`, §8)."""
    return codec.encode(cluster_to_wire(message))


def _wants_msgpack(
    kind: ClusterMessageType, data: dict[str, Any] | None, types: frozenset[ClusterMessageType]
) -> bool:
    return kind in types and data is not None and has_binary(data)


def encode_sharded(message: ClusterMessage) -> str | bytes:
    """What the sharded adapter SPUBLISHes (§6): notepack ``bytes`` when a type of :data:`SHARDED_BINARY_TYPES`
    holds binary, JSON text otherwise."""
    wire = cluster_to_wire(message)
    if _wants_msgpack(message.type, wire.get("data"), SHARDED_BINARY_TYPES):
        return NOTEPACK.encode(wire)
    return encode_json(wire)


def decode_cluster(
    payload: str | bytes | bytearray | memoryview, codec: MsgpackCodec = NOTEPACK
) -> ClusterMessage:
    """An envelope as received: JSON when it starts with ``{``, else ``codec`` (:data:`NOTEPACK` for the sharded
    adapter, :data:`MSGPACK` for streams pub/sub and Postgres attachments; both read the other's output)."""
    return cluster_from_wire(decode_payload(payload, codec))


def encode_stream_entry(message: ClusterMessage, *, only_plaintext: bool = False) -> list[tuple[str, str]]:
    """The field/value pairs of the streams adapter's XADD (§7.2): ``uid``, ``nsp``, ``type`` (decimal text) and
    ``data``: the JSON of ``data``, or base64 of ``MSGPACK(data)`` when it holds binary (types of
    :data:`STREAMS_BINARY_TYPES`, unless ``only_plaintext``). Meant for :data:`STREAM_ENTRY_TYPES`."""
    fields = [("uid", message.uid), ("nsp", message.nsp), ("type", str(int(message.type)))]
    data = _cluster_data(message.body)
    if data is not None:
        if not only_plaintext and _wants_msgpack(message.type, data, STREAMS_BINARY_TYPES):
            fields.append(("data", base64.b64encode(MSGPACK.encode(data)).decode("ascii")))
        else:
            fields.append(("data", encode_json(data)))
    return fields


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    raise DecodeError("stream entry fields must be strings")


def decode_stream_entry(fields: Mapping[Any, Any] | Iterable[tuple[Any, Any]]) -> ClusterMessage:
    """A :class:`ClusterMessage` from a stream entry's fields (``str`` or ``bytes``, as a mapping or pairs):
    ``data`` is JSON when it starts with ``{``, else base64 of MessagePack (§7.2). An entry without ``nsp``
    (which the reference skips) raises :class:`DecodeError`."""
    pairs = fields.items() if isinstance(fields, Mapping) else fields
    entry = {_text(key): _text(value) for key, value in pairs}
    if "nsp" not in entry or "uid" not in entry:
        raise DecodeError("a stream entry needs uid and nsp")
    try:
        kind = _cluster_type(int(entry.get("type", "")))
    except ValueError:
        raise DecodeError(f"invalid stream entry type {entry.get('type')!r}") from None
    data: Any = None
    if "data" in entry:
        text = entry["data"]
        if text.startswith("{"):
            data = decode_json(text)
        else:
            try:
                data = MSGPACK.decode(base64.b64decode(text, validate=True))
            except binascii.Error:
                raise DecodeError("stream entry data is neither JSON nor base64") from None
    nsp = entry["nsp"]
    return ClusterMessage(entry["uid"], nsp, _cluster_body(kind, data, nsp))


@dataclass(frozen=True, slots=True)
class PersistedSession:
    """A session the streams adapter keeps for connection state recovery under ``sio:session:<pid>`` (§7.3)."""

    sid: str
    pid: str
    rooms: tuple[str, ...]
    data: Any


def encode_stream_session(session: PersistedSession) -> str:
    """``base64(MSGPACK({sid, pid, rooms, data}))``, the value SET with ``PX maxDisconnectionDuration`` (§7.3)."""
    wire = {"sid": session.sid, "pid": session.pid, "rooms": list(session.rooms), "data": session.data}
    return base64.b64encode(MSGPACK.encode(wire)).decode("ascii")


def decode_stream_session(text: str | bytes) -> PersistedSession:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("a persisted session is base64 text") from None
    value = _object(MSGPACK.decode(raw), "a persisted session")
    return PersistedSession(
        _string(value, "sid"), _string(value, "pid"), _rooms(value.get("rooms"), "rooms"), value.get("data")
    )


# --- channels and keys (§6, §7.1, §8) ------------------------------------------------------------------------


def cluster_channel(prefix: str, nsp: str, suffix: str | None = None) -> str:
    """``P#N#`` (the sharded adapter's main channel, the streams adapter's request channel) or ``P#N#<suffix>#``
    (a server's response channel with its uid; a sharded room channel with a room) (§6, §7.1)."""
    if suffix is None:
        return f"{prefix}#{nsp}#"
    return f"{prefix}#{nsp}#{suffix}#"


def stream_name(nsp: str, name: str = "socket.io", count: int = 1) -> str:
    """The stream a namespace uses (§7.1): ``name`` alone, or ``name-<i>`` with ``i = hashCode(nsp) % count``,
    Java's string hash over UTF-16 units wrapped to 32 signed bits and JavaScript's ``%`` (sign of the hash:
    ``/notifications`` with 4 streams gives ``socket.io--3``, upstream bug reproduced)."""
    if count <= 1:
        return name
    code = 0
    for unit in _utf16_units(nsp):
        code = (code * 31 + unit) & 0xFFFFFFFF
    if code >= 0x80000000:
        code -= 0x100000000
    index = abs(code) % count
    return f"{name}-{-index if code < 0 else index}"


def postgres_channel(prefix: str, nsp: str) -> str:
    """The Postgres adapter's LISTEN/NOTIFY channel: ``<prefix>#<nsp>``, no trailing ``#`` (§8)."""
    return f"{prefix}#{nsp}"
