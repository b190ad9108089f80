"""MessagePack as the cluster adapters' JavaScript libraries write and read it: notepack.io 3, @msgpack/msgpack.

Reference: the MessagePack section of the cluster wire formats (``docs/protocol/cluster.md#msgpack-codecs``)
and the machine-generated vectors ``tests/vectors/cluster_messages.json``. Pure: no asyncio, sockets or clocks.
(The msgpack Socket.IO parser speaks notepack.io **2.2.0**, whose bytes differ - ``undefined`` and dates are
extension 0 there, errors carry Node's texts - so it keeps its own codec in :mod:`aiosocketio.parsers.msgpack`,
built on the same :mod:`aiosocketio.codecs.js_values`.)

MessagePack (docs/protocol/cluster.md#msgpack-codecs): two codecs, :data:`NOTEPACK` (notepack.io 3.0.1: classic, sharded, emitter) and
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
  drops the key, @msgpack/msgpack keeps it as ``nil`` (docs/protocol/cluster.md#notepack-encoder, docs/protocol/cluster.md#msgpack-js). ``None`` is always ``nil``;
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

Data nested deeper than :data:`MAX_DEPTH` levels (@msgpack/msgpack: the reference's own limit of 100) raises
``EncodeError`` (``DecodeError`` when reading); no walk lets a ``RecursionError`` out.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Callable
from typing import Any, Final, final

import msgpack  # type: ignore[import-untyped, unused-ignore]
import orjson

from aiosocketio.codecs.errors import DecodeError, EncodeError
from aiosocketio.codecs.js_values import (
    UNDEFINED,
    datetime_from_ms,
    js_items,
    js_key,
    js_time,
    too_deep,
    utf16_units,
)

__all__ = ["MAX_DEPTH", "MSGPACK", "NOTEPACK", "AmbiguousExtension", "MsgpackCodec", "notepack_ext_hook"]

MAX_DEPTH: Final = 200
"""Deepest nesting (levels of values, the top one being 1) the notepack encoder and the byte-level reader accept
here (the cluster messages hold their JSON writer to it too). notepack itself has no limit but the JavaScript
stack; these walks recurse, two Python frames a level, so the limit keeps them well inside Python's default
recursion limit (a ``RecursionError`` from a caller's own deep stack is turned into the same clean error). Real
messages nest a handful of levels. The :data:`MSGPACK` encoder stops where @msgpack/msgpack does (100 levels)."""

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
    """A ``Date`` as both libraries write it: whole milliseconds (floored), seconds and nanoseconds (docs/protocol/cluster.md#notepack-encoder)."""
    seconds, rest = divmod(js_time(value), 1000)
    return msgpack.Timestamp(seconds, rest * 1_000_000)


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
    it (0 when there is none) become one 4-byte sequence (docs/protocol/cluster.md#notepack-encoder: ``"\\ud800"`` -> ``f0 90 80 80``)."""
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
    """notepack.io 3.0.1's bytes for a string value holding lone surrogates (docs/protocol/cluster.md#notepack-encoder; well-formed strings are plain
    UTF-8 in every path).

    The declared length is :func:`_notepack_length`; the bytes are written per unit (:func:`_notepack_units`)
    when that length is at most 32, with ``Buffer.write`` (U+FFFD) beyond. When the two choices disagree (at
    most 32 units but more than 32 bytes) the reference fills the declared length from uninitialised memory;
    this writes the ``Buffer.write`` characters that fit, then zeros.
    """
    units = utf16_units(text)
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
    units = utf16_units(text)
    length = _notepack_length(text, units)
    return _str_header(length) + _notepack_units(units)[:length].ljust(length, b"\0")


def _msgpack_js_string(text: str) -> bytes:
    """@msgpack/msgpack 2.8.0's bytes for a string holding lone surrogates (docs/protocol/cluster.md#msgpack-js): WTF-8 (3 bytes per lone
    surrogate, pairs joined) up to 200 UTF-16 units, ``TextEncoder`` (U+FFFD) beyond."""
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    if len(utf16_units(joined)) > _MSGPACK_JS_TEXT_ENCODER_THRESHOLD:
        data = _well_formed(text).encode("utf-8")
    else:
        data = joined.encode("utf-8", "surrogatepass")
    return _str_header(len(data)) + data


def _notepack_wrapped_integer(value: float) -> bytes:
    """notepack's bytes for an integral double outside [-2**63, 2**64): its 64-bit split wraps (docs/protocol/cluster.md#notepack-encoder, vectors
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
                continue  # notepack leaves undefined members out (docs/protocol/cluster.md#notepack-encoder)
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


class AmbiguousExtension(Exception):
    """Raised by :func:`notepack_ext_hook` inside ``msgpack.unpackb``: notepack decodes extension type 0 by its
    header (fixext or ext 8/16/32), which ``ext_hook`` cannot see, so only a byte-level reader can tell."""


def _extension_pair(code: int, data: bytes) -> list[Any]:
    """An extension nobody defines, as notepack gives it: ``[type, bytes]`` (@msgpack/msgpack: ``ExtData``)."""
    return [code, data]


_FIXEXT_SIZES: Final = frozenset({1, 2, 4, 8, 16})


def notepack_ext_hook(code: int, data: bytes) -> Any:
    """``msgpack.unpackb``'s ``ext_hook`` for every notepack version: type 0 of a size only the ext 8/16/32 forms
    can have is an ArrayBuffer (``bytes``); other extensions are ``[type, bytes]``. Type 0 of a fixext size
    (1, 2, 4, 8, 16: ``undefined``, a ``Date`` or ``[0, bytes]`` when written as fixext, an ArrayBuffer when
    written as ext 8) raises :class:`AmbiguousExtension`."""
    if code == 0:
        if len(data) in _FIXEXT_SIZES:
            raise AmbiguousExtension
        return data  # ext 8/16/32 type 0: notepack 2's ArrayBuffer
    return [code, data]


def _timestamp_datetime(seconds: int, nanoseconds: int) -> datetime.datetime:
    return datetime_from_ms(seconds * 1000, nanoseconds // 1000)


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
    """A MessagePack reader that follows one library byte by byte (docs/protocol/cluster.md#notepack-decoder, docs/protocol/cluster.md#msgpack-js); the slow path of
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
                return datetime_from_ms(self.sint(4) * _TWO_32 + self.uint(4))  # notepack 2's Date
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
    """One JavaScript MessagePack library, reproduced: :data:`NOTEPACK` or :data:`MSGPACK` (docs/protocol/cluster.md#msgpack-codecs).

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
                pass
        except RecursionError:
            raise _too_deep(limit) from None
        return self.encode_byte_level(value)

    def normalize(self, value: Any) -> Any:
        """``value`` rewritten into what msgpack-python packs as this library writes it: the fast path's first
        step, copy-on-write (``value`` itself when nothing needs to change). Notepack's wrapping integers (and
        strings with lone surrogates, left as they are) are what only :meth:`encode_byte_level` can write."""
        try:
            return _normalize(value, self._notepack, True, 1, self._limit)
        except RecursionError:
            raise _too_deep(self._limit) from None

    def encode_byte_level(self, value: Any) -> bytes:
        """What :meth:`encode` gives, always through the byte-level writer (its slow path), so the two paths
        can be checked against each other."""
        try:
            out = bytearray()
            _write(_normalize(value, self._notepack, True, 1, self._limit), out, self._notepack)
            return bytes(out)
        except RecursionError:
            raise _too_deep(self._limit) from None

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
                        raw, raw=False, timestamp=3, ext_hook=notepack_ext_hook, unicode_errors="replace"
                    )
                if _BOM not in raw:
                    return _unpackb(raw, raw=False, timestamp=3, ext_hook=_extension_pair)
            except (AmbiguousExtension, ValueError, TypeError, OverflowError):
                pass  # legacy extensions, JavaScript leniencies, or really malformed: the reader decides
            return _ByteReader(raw, self._notepack).document()
        except _DECODE_ERRORS as error:
            raise DecodeError(
                f"invalid MessagePack payload ({self.name}): {error or type(error).__name__}"
            ) from None


NOTEPACK: Final = MsgpackCodec("notepack.io@3.0.1", notepack=True)
"""notepack.io 3.0.1: the classic and sharded Redis adapters and the Redis emitter (docs/protocol/cluster.md#notepack-encoder, docs/protocol/cluster.md#notepack-decoder)."""

MSGPACK: Final = MsgpackCodec("@msgpack/msgpack@2.8.0", notepack=False)
"""@msgpack/msgpack 2.8.0: the Redis streams and Postgres adapters (docs/protocol/cluster.md#msgpack-js)."""
