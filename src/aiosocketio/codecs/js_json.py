"""JSON text as JavaScript writes it with ``JSON.stringify`` and reads it with ``JSON.parse``.

Both the default Socket.IO parser (packet data) and the cluster messages (their JSON forms) speak JSON with a
Node.js peer, so both use this module; the parser adds its binary attachments on top.

Writing - :func:`orjson_text` (the fast half, ``None`` when it cannot answer) and :func:`to_json` (the exact
half, any data) give ``JSON.stringify``'s text, byte for byte:

* compact, non-ASCII characters raw (UTF-8 on the wire), ``/`` and U+2028/U+2029 not escaped, control
  characters as ``\\b \\f \\n \\r \\t`` or ``\\u00xx``, lone surrogates as ``\\udxxx``;
* numbers as JavaScript prints them (:func:`~aiosocketio.codecs.js_values.js_number`): ``1.0`` is ``1``,
  ``-0.0`` is ``0``, ``1e16`` is ``10000000000000000``, ``1e-6`` is ``0.000001``, ``1e21`` is ``1e+21``;
  ``NaN`` and infinities are ``null``;
* keys in JavaScript object order (:func:`~aiosocketio.codecs.js_values.js_items`: integer-like keys first);
  non-``str`` keys become property names as in JavaScript (``1`` -> ``"1"``, ``True`` -> ``"true"``);
* tuples are arrays; ``datetime`` is ``Date.toJSON()``'s ``"YYYY-MM-DDTHH:MM:SS.sssZ"`` (naive means UTC);
  bytes-like values are Node's ``Buffer.toJSON()`` (``{"type":"Buffer","data":[...]}``);
* :data:`~aiosocketio.codecs.js_values.UNDEFINED` is left out of objects and is ``null`` elsewhere.

Values JSON cannot carry raise :class:`~aiosocketio.codecs.errors.EncodeError`: other types, ints outside
the 64-bit range (JavaScript would round them; send a ``str``), unsupported dict keys, and data nested deeper
than ``max_depth`` containers - cycles included; the writer never recurses, so even a 100,000-level value gives
that clean error.

How it stays fast: orjson writes almost everything the way ``JSON.stringify`` does. :func:`orjson_text` lets
orjson write the data and checks its output for the few forms that differ (:func:`differs_from_js`: integral
floats, exponents 16-20 and -6, integer-like keys); only then, or when orjson refuses the data (bytes,
datetimes, lone surrogates, non-str keys, :data:`~aiosocketio.codecs.js_values.UNDEFINED`, deep nesting), does
:func:`to_json`, the iterative writer, do the work. The output check is skipped when the data is a short list
of :data:`PLAIN_TYPES` (the usual event).

Reading - :func:`parse_js_json` is strict (no ``NaN``, ``Infinity``, trailing garbage): orjson parses; the rare
texts orjson refuses but ``JSON.parse`` accepts (numbers too large for a double, which become infinities, and
lone surrogate escapes such as ``"\\ud800"``) are retried with the standard library's parser configured
strictly. Numbers come out as a Node.js process holds them: an integer beyond ``2**53 - 1`` (either sign) is
the nearest double, a ``float`` (``123456789012345678901234567890`` is ``1.2345678901234568e+29``, a
400-digit integer is ``inf``), so echoing a peer's data gives what the reference answers (infinities are
written as ``null``); smaller integers stay ``int``.

Pure: no asyncio, sockets or clocks.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, Final

import orjson

from aiosocketio.codecs.errors import EncodeError
from aiosocketio.codecs.js_values import (
    BINARY_TYPES,
    MAX_SAFE_INTEGER,
    UNDEFINED,
    js_items,
    js_key,
    js_number,
    too_deep,
)

__all__ = [
    "ORJSON_MAX_READ_DEPTH",
    "ORJSON_MAX_WRITE_DEPTH",
    "PLAIN_TYPES",
    "all_ints_safe",
    "checked_text",
    "differs_from_js",
    "js_numbers",
    "orjson_text",
    "parse_js_json",
    "to_json",
]

ORJSON_MAX_WRITE_DEPTH: Final = 254
"""orjson refuses to write data nested deeper than this many containers (a ``TypeError``): beyond it, and for
callers with a smaller limit of their own, the iterative writer does the work."""

ORJSON_MAX_READ_DEPTH: Final = 1024
"""orjson refuses to read JSON nested deeper than this (a ``JSONDecodeError``), so a reader whose own limit is at
least this needs no depth check of its own."""

_dumps: Final = orjson.dumps
_loads: Final = orjson.loads
_OPT_PASSTHROUGH_DATETIME: Final = orjson.OPT_PASSTHROUGH_DATETIME

_MIN_INT: Final = -(2**63)
_MAX_INT: Final = 2**64 - 1

# =============================================================================================================
# Writing: orjson when its text is JavaScript's
# =============================================================================================================

# The forms orjson writes differently from JavaScript's Number::toString. Found by comparing both on millions
# of doubles (random bit patterns and random magnitudes, orjson 3.13): integral values ("1.0", "-0.0"),
# exponents 16 to 20 ("1e+16" where JavaScript writes all the digits) and exponent -6 ("1e-6" where
# JavaScript writes "0.000001"); everything else is identical (the property test
# test_js_number_reads_back_and_orjson_agrees_when_unflagged keeps checking it). The last pattern finds
# integer-like keys, which JavaScript lists first. Text inside strings may match too: that only costs a detour
# through the slow writer, whose output is right in every case. Separate patterns, each starting with a
# literal, are several times faster than one alternation.
_KEY_PATTERN: Final = re.compile(rb'"(?:0|[1-9][0-9]*)":')
_ORJSON_FLOAT_SAMPLES: Final = {
    1.0: b"1.0",
    1.5: b"1.5",
    1e15: b"1000000000000000.0",
    1e16: b"1e+16",
    1e21: b"1e+21",
    1e-5: b"0.00001",
    1e-6: b"1e-6",
    1e-7: b"1e-7",
    5e-324: b"5e-324",
    1.7976931348623157e308: b"1.7976931348623157e+308",
}
_JS_DIFFERENCES: Final[tuple[re.Pattern[bytes], ...]] = (
    (
        re.compile(rb"\.0(?![0-9])"),
        re.compile(rb"e\+(?:1[6-9]|20)(?![0-9])"),
        re.compile(rb"e-6(?![0-9])"),
        _KEY_PATTERN,
    )
    if all(orjson.dumps(value) == text for value, text in _ORJSON_FLOAT_SAMPLES.items())
    # Another orjson version formats floats otherwise: trust none of its floats (a digit followed by "." or an
    # exponent sends the data through the slow writer). Slower, never wrong.
    else (re.compile(rb"[0-9][.eE]"), _KEY_PATTERN)
)

PLAIN_TYPES: Final = frozenset({str, int, bool, type(None)})
"""Argument types orjson writes exactly as JavaScript does (nothing to check in its output)."""

_PLAIN_LIST_MAX: Final = 16
"""Longest data list whose items are type-checked to skip the output check (longer: the check is cheaper)."""


def differs_from_js(out: bytes) -> bool:
    """Whether orjson's text ``out`` may differ from ``JSON.stringify``'s (the forms listed above)."""
    for pattern in _JS_DIFFERENCES:  # noqa: SIM110  # a plain loop is faster than any() on this hot path
        if pattern.search(out) is not None:
            return True
    return False


def orjson_text(data: Any) -> str | None:
    """orjson's text for ``data`` when it is ``JSON.stringify``'s; ``None`` when orjson refuses the data
    (bytes, datetimes, lone surrogates, non-``str`` keys, deep nesting, other types) or writes it otherwise
    (:func:`differs_from_js`): then :func:`to_json` knows the answer."""
    try:
        out = _dumps(data, option=_OPT_PASSTHROUGH_DATETIME)
    except TypeError:
        return None
    return checked_text(data, out)


def checked_text(data: Any, out: bytes) -> str | None:
    """``out``, orjson's output for ``data``, as text when it is ``JSON.stringify``'s, else ``None``: the second
    half of :func:`orjson_text`, for callers that run orjson themselves (with options or a ``default`` hook of
    their own, or to tell a refusal from a difference)."""
    if type(data) is list and len(data) <= _PLAIN_LIST_MAX:
        # The usual event ["name", "text", 42]: nothing orjson could write differently from JavaScript.
        for item in data:
            if type(item) not in PLAIN_TYPES:
                break
        else:
            return out.decode()
    if differs_from_js(out):
        return None
    return out.decode()


# =============================================================================================================
# Writing: the iterative writer (JSON.stringify semantics)
# =============================================================================================================

_SURROGATE: Final = re.compile("([\ud800-\udfff])")


def _json_str(text: str) -> str:
    try:
        return _dumps(text).decode()
    except TypeError:  # orjson refuses lone surrogates; JavaScript strings may hold them
        pass
    # JavaScript strings are UTF-16: a high surrogate followed by a low one is one character, written raw.
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    out = ['"']
    for position, piece in enumerate(_SURROGATE.split(text)):
        if position % 2:
            out.append(f"\\u{ord(piece):04x}")  # a lone surrogate, escaped as JSON.stringify does
        elif piece:
            out.append(_dumps(piece).decode()[1:-1])
    out.append('"')
    return "".join(out)


def _json_int(value: int) -> str:
    value = int(value)
    if not _MIN_INT <= value <= _MAX_INT:
        raise EncodeError(
            f"cannot send a {value.bit_length()}-bit int: JSON numbers are sent as 64-bit integers at most "
            "(JavaScript has no such number); send it as a str, or as a float for the nearest double"
        )
    return str(value)


def _js_iso(value: datetime.datetime) -> str:
    """``Date.prototype.toJSON``: UTC, milliseconds, ``Z``. A naive datetime is taken as UTC."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        value = value.astimezone(datetime.UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:"
        f"{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


def _leaf_json(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _json_str(value)
    if isinstance(value, int):
        return _json_int(value)
    if isinstance(value, float):
        return js_number(float(value))
    if isinstance(value, BINARY_TYPES):
        # Outside EVENT / ACK data the reference lets JSON.stringify call Buffer.prototype.toJSON.
        return '{"type":"Buffer","data":[' + ",".join(map(str, bytes(value))) + "]}"
    if isinstance(value, datetime.datetime):
        return '"' + _js_iso(value) + '"'
    if isinstance(value, (datetime.date, datetime.time)):
        return '"' + value.isoformat() + '"'
    if value is UNDEFINED:
        return "null"  # in an array (JSON.stringify's answer) or at the top (where it would give no text)
    try:  # what orjson supports natively (enums, UUIDs, dataclasses, orjson.Fragment...)
        return _dumps(value).decode()
    except TypeError:
        pass
    raise EncodeError(
        f"cannot send a {type(value).__name__} as JSON: use dict, list, tuple, str, int, float, bool, None "
        "or bytes"
    )


def _key_json(key: Any) -> str:
    """The JSON text of a dict key, as the JavaScript property name the key would become (:func:`js_key`; only a
    string key can need escapes)."""
    if isinstance(key, str):
        return _json_str(key)
    return '"' + js_key(key) + '"'


def _list_members(values: Sequence[Any]) -> Iterator[tuple[str, Any]]:
    separator = ""
    for value in values:
        yield separator, value
        separator = ","


def _dict_members(mapping: dict[Any, Any]) -> Iterator[tuple[str, Any]]:
    separator = ""
    for key, value in js_items(mapping):
        if value is UNDEFINED:
            continue  # JSON.stringify leaves undefined members out
        yield separator + _key_json(key) + ":", value
        separator = ","


def to_json(data: Any, max_depth: int = ORJSON_MAX_READ_DEPTH) -> str:
    """``JSON.stringify(data)`` without recursion, for any data: the exact half, where :func:`orjson_text`
    cannot answer (module docstring).

    Raises :class:`EncodeError` for values JSON cannot carry and for data nested deeper than ``max_depth``
    containers. Bytes-like values are written as ``Buffer.toJSON()`` objects.
    """
    out: list[str] = []
    # The containers being written, innermost last: (the remaining (separator + key, value) pairs, closer).
    stack: list[tuple[Iterator[tuple[str, Any]], str]] = []
    value = data
    while True:
        if isinstance(value, dict):
            if len(stack) >= max_depth:
                raise EncodeError(too_deep(max_depth))
            out.append("{")
            stack.append((_dict_members(value), "}"))
        elif isinstance(value, (list, tuple)):
            if len(stack) >= max_depth:
                raise EncodeError(too_deep(max_depth))
            out.append("[")
            stack.append((_list_members(value), "]"))
        else:
            out.append(_leaf_json(value))
        while stack:
            members, closer = stack[-1]
            member = next(members, None)
            if member is None:
                out.append(closer)
                stack.pop()
            else:
                prefix, value = member
                if prefix:
                    out.append(prefix)
                break
        else:
            return "".join(out)


# =============================================================================================================
# Reading
# =============================================================================================================

# Where orjson stops on a number, the number may be too large for a double, which JSON.parse reads as an
# infinity: one of the texts orjson refuses that may still be JSON (see parse_js_json).
_NUMBER_START: Final = frozenset("-0123456789")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_OPT_STRICT_INTEGER: Final = orjson.OPT_STRICT_INTEGER  # orjson.dumps refuses ints beyond MAX_SAFE_INTEGER


def all_ints_safe(data: Any) -> bool:
    """Whether orjson's result holds no int beyond :data:`MAX_SAFE_INTEGER`: orjson, asked to write the data
    with its 53-bit integer limit, says so at C speed (a few times faster than scanning the text for long
    digit runs). Any refusal (deep nesting, a lone surrogate) only sends the data to the Python walk."""
    try:
        _dumps(data, option=_OPT_STRICT_INTEGER)
    except orjson.JSONEncodeError:
        return False
    return True


def _js_int(text: str) -> int | float:
    """How ``JSON.parse`` reads an integer literal: an exact ``int`` up to :data:`MAX_SAFE_INTEGER`, beyond
    it the nearest double as a ``float`` (an infinity past the largest double). ``float()`` rounds a decimal
    text correctly, as JavaScript does, and has no digit limit (``int()`` refuses texts over 4300 digits)."""
    if len(text) < 16:
        return int(text)
    value = float(text)
    return int(text) if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else value


def js_numbers(value: Any) -> Any:
    """Make orjson's result what ``JSON.parse`` gives: orjson keeps ints up to 64 bits exact, JavaScript
    rounds every integer beyond :data:`MAX_SAFE_INTEGER` to the nearest double. Changes lists and dicts in
    place (iteratively: the data may be nested 1024 deep) and returns ``value``."""
    kind = type(value)
    if kind is int:
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else float(value)
    if kind is not list and kind is not dict:
        return value
    stack = [value]
    while stack:
        container = stack.pop()
        items = enumerate(container) if type(container) is list else container.items()
        for key, item in items:
            kind = type(item)
            if kind is int:
                if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                    container[key] = float(item)  # a 64-bit int at most: no overflow
            elif kind is list or kind is dict:
                stack.append(item)
    return value


_STRICT_STDLIB_JSON: Final = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_js_int)
"""The standard library's parser with ``NaN`` / ``Infinity`` refused (as strict as ``JSON.parse``) and integers
read as JavaScript reads them."""


def parse_js_json(text: str | bytes | bytearray | memoryview) -> Any:
    """``JSON.parse(text)`` as a JavaScript peer sees the data: strict, integers beyond
    :data:`MAX_SAFE_INTEGER` as the double JavaScript holds (``float``; an infinity past the largest double,
    which is written back as ``null``). UTF-8 bytes are read too, invalid sequences as U+FFFD. Raises
    ``ValueError`` when it is not JSON."""
    try:
        data = _loads(text)
    except orjson.JSONDecodeError as error:
        if not isinstance(text, str):  # bytes get the second parse whatever they hold: invalid UTF-8 too
            text = bytes(text).decode("utf-8", "replace")
        elif not (text[error.pos : error.pos + 1] in _NUMBER_START or "\\u" in text or not text.isascii()):
            # orjson refuses three things JSON.parse accepts: a lone surrogate, escaped (``\\ud800``) or raw
            # (only in a text that is not ASCII), and a number too large for a double, where orjson stops (its
            # error's position is the number's first character; ASCII text, so characters and bytes agree). Only
            # those deserve the second, slower parse. Each test costs O(1) or one substring search: a regular
            # expression over the whole text (the earlier way) held the event loop for 20-70 ms per refused MB.
            raise
    else:
        return data if all_ints_safe(data) else js_numbers(data)
    try:
        return _STRICT_STDLIB_JSON.decode(text)
    except RecursionError as exc:  # deep nesting
        raise ValueError("JSON nested too deep") from exc
