"""Binary attachments of the default parser: find, extract and put back ``bytes`` leaves (docs/protocol/socketio.md#binary-attachments).

What: :func:`has_binary`, :func:`deconstruct` (each binary leaf becomes ``{"_placeholder":true,"num":k}`` and
goes to a list of attachments) and :func:`reconstruct` (the reverse, checking every placeholder), and
:func:`deeper_than`. :data:`BINARY_TYPES`, :func:`js_items` (the order in which JavaScript lists an object's
keys) and :func:`too_deep` come from :mod:`aiosocketio.codecs.js_values` and are re-exported here.

Why the walks are iterative: the data comes from applications and, for :func:`reconstruct`, from peers.
Python recursion on a value nested 100,000 levels deep would overflow; here every walk keeps its own stack
and refuses data nested deeper than ``max_depth`` containers with a clean error (:class:`EncodeError` for
outgoing data, :class:`DecodeError` for incoming data). The default, :data:`DEFAULT_MAX_DEPTH` = 1024, is
the nesting limit of orjson's parser, so everything the decoder accepts can be walked and sent back.

Walk order (docs/protocol/socketio.md#binary-attachments): depth first, lists by index, dicts in the order JavaScript would list their keys - the
canonical array-index keys (``"0"`` ... ``"4294967294"``) first in ascending order, then the others in
insertion order (:func:`js_items`). For the usual dict without integer-like keys that is simply insertion
order; the reference numbers placeholders in that JavaScript order (vector
``encode_binary_placeholder_order_integer_keys``), so the encoder does too.

Bytes-like values are ``bytes``, ``bytearray`` and ``memoryview``; attachments are always returned as
``bytes``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from aiosocketio.codecs.errors import DecodeError, EncodeError
from aiosocketio.codecs.js_json import ORJSON_MAX_READ_DEPTH
from aiosocketio.codecs.js_values import BINARY_TYPES, js_items, too_deep

__all__ = [
    "BINARY_TYPES",
    "DEFAULT_MAX_DEPTH",
    "deconstruct",
    "deeper_than",
    "has_binary",
    "is_binary",
    "js_items",
    "reconstruct",
    "too_deep",
]

DEFAULT_MAX_DEPTH: Final = ORJSON_MAX_READ_DEPTH
"""Deepest container nesting the walks accept (``[]`` is depth 1): orjson's own parser limit (1024)."""


def is_binary(value: object) -> bool:
    """Whether ``value`` is sent as a binary attachment (``bytes``, ``bytearray`` or ``memoryview``)."""
    return isinstance(value, BINARY_TYPES)


def deeper_than(data: Any, max_depth: int) -> bool:
    """Whether decoded ``data`` nests more than ``max_depth`` containers (iterative)."""
    if not isinstance(data, (list, dict)):
        return False
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        container, depth = stack.pop()
        for value in container.values() if type(container) is dict else container:
            if isinstance(value, (list, dict)):
                if depth >= max_depth:
                    return True
                stack.append((value, depth + 1))
    return False


def has_binary(data: Any, max_depth: int = DEFAULT_MAX_DEPTH) -> bool:
    """Whether ``data`` holds a bytes-like value anywhere in its lists, tuples and dicts (docs/protocol/socketio.md#encoding encoder step 1).

    Raises :class:`EncodeError` when the walk meets containers nested deeper than ``max_depth`` before it finds
    a binary value.
    """
    if isinstance(data, BINARY_TYPES):
        return True
    if not isinstance(data, (list, tuple, dict)):
        return False
    stack: list[Iterator[Any]] = [iter(data.values() if isinstance(data, dict) else data)]
    while stack:
        for value in stack[-1]:
            if isinstance(value, BINARY_TYPES):
                return True
            if isinstance(value, (list, tuple, dict)):
                if len(stack) >= max_depth:
                    raise EncodeError(too_deep(max_depth))
                stack.append(iter(value.values() if isinstance(value, dict) else value))
                break
        else:
            stack.pop()
    return False


def deconstruct(data: Any, max_depth: int = DEFAULT_MAX_DEPTH) -> tuple[Any, list[bytes]]:
    """Replace every binary leaf of ``data`` by a placeholder; return ``(new_data, attachments)`` (docs/protocol/socketio.md#binary-attachments).

    The ``k``-th binary value met (walk order: module docstring) becomes ``{"_placeholder": True, "num": k}``
    and ``attachments[k]`` its bytes. ``data`` itself is not modified: its lists, tuples and dicts are copied
    (tuples become lists, dicts keep their keys but are rebuilt in :func:`js_items` order, which is the order
    the JSON will list them in). Other leaves are kept as they are. Raises :class:`EncodeError` when ``data``
    is nested deeper than ``max_depth`` containers (a self-containing list included); a binary value counts as
    a container, since its placeholder is one.
    """
    attachments: list[bytes] = []
    # Each frame: the remaining (key, value) pairs of a source container and the copy being filled; the key is
    # None for lists. A container's copy is linked into its parent before it is filled, so the walk needs no
    # second pass.
    stack: list[tuple[Iterator[tuple[Any, Any]], Any]] = []

    def convert(value: Any) -> Any:
        if isinstance(value, BINARY_TYPES):
            if len(stack) >= max_depth:  # the placeholder is an object: one more level in the JSON
                raise EncodeError(too_deep(max_depth))
            attachments.append(bytes(value))
            return {"_placeholder": True, "num": len(attachments) - 1}
        if isinstance(value, dict):
            if len(stack) >= max_depth:
                raise EncodeError(too_deep(max_depth))
            new_dict: dict[Any, Any] = {}
            stack.append((iter(js_items(value)), new_dict))
            return new_dict
        if isinstance(value, (list, tuple)):
            if len(stack) >= max_depth:
                raise EncodeError(too_deep(max_depth))
            new_list: list[Any] = []
            stack.append((((None, item) for item in value), new_list))
            return new_list
        return value

    result = convert(data)
    while stack:
        pairs, target = stack[-1]
        depth = len(stack)
        if type(target) is list:
            for _, value in pairs:
                target.append(convert(value))
                if len(stack) != depth:
                    break  # descend into the container just linked; come back to this frame later
            else:
                stack.pop()
        else:
            for key, value in pairs:
                target[key] = convert(value)
                if len(stack) != depth:
                    break
            else:
                stack.pop()
    return result, attachments


def _attachment(placeholder: dict[Any, Any], attachments: list[bytes]) -> bytes | None:
    """The attachment a placeholder designates (docs/protocol/socketio.md#binary-attachments), or :class:`DecodeError` ``illegal attachments``.

    Like the reference, ``num`` must be a number (not a bool) with ``0 <= num < len(attachments)``. A number in
    range that is not an integer (``0.5``) designates nothing: the reference yields ``undefined`` there
    (vector ``decode_binary_fractional_placeholder_num``) and this returns ``None``.
    """
    num = placeholder.get("num")
    if type(num) is int:
        if 0 <= num < len(attachments):
            return attachments[num]
    elif type(num) is float and 0 <= num < len(attachments):
        return attachments[int(num)] if num.is_integer() else None
    raise DecodeError("illegal attachments")


def reconstruct(data: Any, attachments: list[bytes], max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Put the attachments back in place of their placeholders; return the data (docs/protocol/socketio.md#binary-attachments).

    Every dict whose ``"_placeholder"`` is exactly ``True`` is replaced by the attachment numbered by its
    ``"num"`` (see :func:`_attachment`; an invalid ``num`` is :class:`DecodeError` ``illegal attachments``);
    other dicts are left as they are (``"_placeholder": "true"`` included). Attachments nobody refers to are
    ignored and one attachment may be referred to twice, as in the reference.

    ``data`` is JSON decoded for this purpose, so its lists and dicts are modified in place. Data nested deeper
    than ``max_depth`` containers is :class:`DecodeError` ``invalid payload``.
    """
    if type(data) is dict and data.get("_placeholder") is True:
        return _attachment(data, attachments)
    if not isinstance(data, (list, dict)):
        return data
    # Pending containers with their depth; the order they are visited in does not matter (placeholders name
    # their attachment).
    stack: list[tuple[list[Any] | dict[Any, Any], int]] = [(data, 1)]
    while stack:
        container, depth = stack.pop()
        keys: Any = range(len(container)) if type(container) is list else list(container)
        for key in keys:
            value = container[key]
            if type(value) is dict and value.get("_placeholder") is True:
                container[key] = _attachment(value, attachments)
            elif isinstance(value, (list, dict)):
                if depth >= max_depth:
                    raise DecodeError("invalid payload")
                else:
                    stack.append((value, depth + 1))
    return data
