"""What a JavaScript peer makes of a Python value: ``undefined``, property names, key order, numbers, dates.

Every codec of this package (and the parsers, and the cluster messages) answers these questions the same way,
so each answer is written once, here:

* :data:`UNDEFINED` - JavaScript's ``undefined``, one singleton for every codec (``JSON.stringify`` drops it
  from objects, notepack 2 writes ``d4 00 00``, notepack 3 ``nil``, ...);
* :func:`js_key` - the property name a dict key becomes (``1`` -> ``"1"``, ``True`` -> ``"true"``);
  :func:`js_items` - the order JavaScript lists an object's keys (array indices first); :func:`array_index`;
* :func:`js_number` - ``Number::toString``; :func:`js_string_to_number` - ``Number(text)``;
  :data:`MAX_SAFE_INTEGER`; :data:`JS_WHITESPACE`;
* :func:`js_time` / :func:`datetime_from_ms` - a ``datetime`` as a ``Date``'s milliseconds and back;
* :func:`utf16_units` - a string as JavaScript's UTF-16 code units;
* :data:`BINARY_TYPES` - the Python types a Node ``Buffer`` is; :func:`too_deep` - the message of every
  nesting-limit error.

Pure: no asyncio, sockets or clocks.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, ClassVar, Final, final

from aiosocketio.codecs.errors import EncodeError

__all__ = [
    "BINARY_TYPES",
    "JS_WHITESPACE",
    "MAX_SAFE_INTEGER",
    "UNDEFINED",
    "UndefinedType",
    "array_index",
    "datetime_from_ms",
    "js_items",
    "js_key",
    "js_number",
    "js_string_to_number",
    "js_time",
    "too_deep",
    "utf16_units",
]

# =============================================================================================================
# undefined
# =============================================================================================================


@final
class UndefinedType:
    """The type of :data:`UNDEFINED`, JavaScript's ``undefined`` (a single instance; falsy).

    Not an ``Enum``: orjson would write an enum member as its value, and the JSON writer must see this object
    as foreign to drop it the way ``JSON.stringify`` drops ``undefined``.
    """

    __slots__ = ()
    _instance: ClassVar[UndefinedType | None] = None

    def __new__(cls) -> UndefinedType:
        instance = cls._instance
        if instance is None:
            instance = cls._instance = super().__new__(cls)
        return instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = UndefinedType()
"""JavaScript's ``undefined``: "the key is there, its value is undefined". Each codec writes it as its
JavaScript library does (``JSON.stringify``: member dropped, ``null`` in an array; notepack 2: ``d4 00 00``;
notepack 3: member dropped, ``nil`` elsewhere; @msgpack/msgpack: ``nil``)."""

# =============================================================================================================
# Binary values and nesting
# =============================================================================================================

BINARY_TYPES: Final = (bytes, bytearray, memoryview)
"""The Python types sent as binary (a Node ``Buffer``): attachments for the default parser, ``bin`` in
MessagePack, ``Buffer.toJSON()`` objects in plain JSON."""


def too_deep(max_depth: int) -> str:
    """The message of the error every walk raises past ``max_depth`` levels."""
    return f"data is too deeply nested (more than {max_depth} levels)"


# =============================================================================================================
# Property names and their order
# =============================================================================================================

_MAX_ARRAY_INDEX: Final = 2**32 - 2  # JavaScript array indices are 0 .. 2**32 - 2


def array_index(key: object) -> int | None:
    """The JavaScript array index a dict key stands for, or ``None`` when the key is an ordinary name.

    A key is an array index when its property name (``str(1)`` is ``"1"``, ``1.0`` is ``"1"`` in JavaScript)
    is the canonical decimal form of an integer in 0 .. 2**32 - 2: ``"7"`` is, ``"07"``, ``"-1"`` and
    ``"4294967295"`` are not.
    """
    if isinstance(key, str):
        if not key.isdigit() or not key.isascii() or len(key) > 10 or (key[0] == "0" and len(key) > 1):
            return None
        index = int(key)
    elif isinstance(key, bool):
        return None  # "true" / "false"
    elif isinstance(key, int):
        index = int(key)
    elif isinstance(key, float):
        if not key.is_integer():
            return None
        index = int(key)
    else:
        return None
    return index if 0 <= index <= _MAX_ARRAY_INDEX else None


def js_items(mapping: dict[Any, Any]) -> list[tuple[Any, Any]]:
    """The items of ``mapping`` in the order JavaScript lists the keys of the equivalent object.

    Array-index keys (see :func:`array_index`) come first in ascending numeric order, then every other key in
    insertion order. Used so that the JSON text, the MessagePack maps and the placeholder numbering match the
    reference byte for byte (vectors ``encode_event_integer_like_keys``,
    ``encode_binary_placeholder_order_integer_keys``); a JavaScript peer builds the same object either way.
    """
    indexed: list[tuple[int, int]] = []
    for position, key in enumerate(mapping):
        index = array_index(key)
        if index is not None:
            indexed.append((index, position))
    items = list(mapping.items())
    if not indexed:
        return items
    indexed.sort()  # by index, then by insertion position (stable for 1 and "1")
    first = [items[position] for _, position in indexed]
    taken = {position for _, position in indexed}
    return first + [item for position, item in enumerate(items) if position not in taken]


def js_key(key: Any) -> str:
    """A dict key as the JavaScript property name it becomes (``1`` -> ``"1"``, ``True`` -> ``"true"``,
    ``None`` -> ``"null"``): every key of a JavaScript object is a string."""
    if isinstance(key, str):
        return str(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return str(int(key))
    if isinstance(key, float):
        if key != key:
            return "NaN"
        if key in (float("inf"), float("-inf")):
            return "Infinity" if key > 0 else "-Infinity"
        return js_number(float(key))
    raise EncodeError(f"dict keys must be str, int, float, bool or None, not {type(key).__name__}")


# =============================================================================================================
# Numbers
# =============================================================================================================

MAX_SAFE_INTEGER: Final = 2**53 - 1
"""JavaScript's ``Number.MAX_SAFE_INTEGER``: beyond it (either sign) a double no longer holds every integer."""

_EXACT_FLOAT_INT: Final = 2.0**53


def js_number(value: float) -> str:
    """``value`` written as JavaScript's ``Number::toString`` would; ``NaN`` and infinities are ``null``.

    Python's ``repr`` and JavaScript both give the shortest digit string that reads back as the same double;
    they only differ in where they switch to exponent notation and in how they write it, which is redone here.
    """
    if value.is_integer() and -_EXACT_FLOAT_INT < value < _EXACT_FLOAT_INT:
        return str(int(value))  # also turns -0.0 into "0"
    if value != value or value in (float("inf"), float("-inf")):
        return "null"
    text = repr(value)
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or 0)  # value = 0.<digits> * 10**point
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    digits = significant.rstrip("0")
    count = len(digits)
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    exp = point - 1
    exp_text = f"e+{exp}" if exp >= 0 else f"e-{-exp}"
    if count == 1:
        return sign + digits + exp_text
    return sign + digits[0] + "." + digits[1:] + exp_text


JS_WHITESPACE: Final = (
    "\t\n\v\f\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
"""What JavaScript's ``Number()`` skips around a number (StrWhiteSpaceChar: WhiteSpace and LineTerminator)."""

_JS_DECIMAL: Final = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_JS_NON_DECIMAL: Final = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")
_NON_DECIMAL_BASE: Final = {"x": 16, "o": 8, "b": 2}


def js_string_to_number(text: str) -> float:
    """JavaScript's ``Number(text)`` (StringToNumber), ``NaN`` when it is not a number."""
    text = text.strip(JS_WHITESPACE)
    if not text:
        return 0.0
    if _JS_DECIMAL.fullmatch(text):
        return float(text)
    match = _JS_NON_DECIMAL.fullmatch(text)
    if match:
        try:
            return float(int(match.group(1)[1:], _NON_DECIMAL_BASE[match.group(1)[0].lower()]))
        except OverflowError:
            return float("inf")
    return float("nan")


# =============================================================================================================
# Dates and strings
# =============================================================================================================

_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_ONE_MS: Final = datetime.timedelta(milliseconds=1)


def js_time(value: datetime.datetime) -> int:
    """``Date.prototype.getTime()`` of the ``Date`` a ``datetime`` stands for: whole milliseconds since the epoch,
    floored (as a ``Date`` holds them); a naive datetime is taken as UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=datetime.UTC)
    return (value - _EPOCH) // _ONE_MS


def datetime_from_ms(ms: int, microseconds: int = 0) -> datetime.datetime:
    """``new Date(ms)`` as an aware UTC ``datetime`` (plus ``microseconds``, for the finer MessagePack
    timestamps); ``OverflowError`` beyond Python's years 1-9999, where JavaScript still has a date."""
    return _EPOCH + datetime.timedelta(milliseconds=ms, microseconds=microseconds)


def utf16_units(text: str) -> list[int]:
    """``text`` as the UTF-16 code units of the JavaScript string (a character beyond U+FFFF is a pair)."""
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
