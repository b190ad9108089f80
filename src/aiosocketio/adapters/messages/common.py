"""The wire pieces both cluster message families share: JSON/MessagePack payloads, opts, packets, sockets, fields.

Reference: ``docs/protocol/cluster.md#concepts``. JSON text (docs/protocol/cluster.md#classic-requests, docs/protocol/cluster.md#sharded, docs/protocol/cluster.md#postgres) is written as
``JSON.stringify`` would (:mod:`aiosocketio.codecs.js_json`, so numbers, key order, ``bytes`` as
``Buffer.toJSON()`` and datetimes agree with the default parser), dropping
:data:`~aiosocketio.codecs.js_values.UNDEFINED` members; a payload is read as JSON when its first byte is ``{``
and as MessagePack otherwise, as every Node receiver does. Each
family writes the shared operation bodies (:mod:`aiosocketio.adapters.messages.bodies`) with
:func:`opts_to_wire`, :func:`packet_to_wire` and :func:`socket_to_wire`, and reads them back with their
``*_from_wire`` counterparts and the ``read_*`` field checks, which raise :class:`DecodeError` for what a Node
server would choke on. Pure: no asyncio, sockets or clocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

from aiosocketio.adapters.messages.bodies import SocketData
from aiosocketio.adapters.options import BroadcastFlags, BroadcastOptions
from aiosocketio.codecs.errors import DecodeError
from aiosocketio.codecs.js_json import orjson_text, parse_js_json, to_json
from aiosocketio.codecs.js_msgpack import MAX_DEPTH, NOTEPACK, MsgpackCodec
from aiosocketio.codecs.js_values import js_key
from aiosocketio.parsers.packet import Packet, PacketType

__all__ = [
    "decode_json",
    "decode_payload",
    "encode_json",
    "opts_from_wire",
    "opts_to_wire",
    "packet_from_wire",
    "packet_to_wire",
    "read_array",
    "read_integer",
    "read_object",
    "read_optional_string",
    "read_room",
    "read_rooms",
    "read_string",
    "read_type_code",
    "socket_from_wire",
    "socket_to_wire",
]

# =============================================================================================================
# Payloads: JSON text or MessagePack
# =============================================================================================================


def encode_json(value: Any) -> str:
    """``JSON.stringify(value)`` (docs/protocol/cluster.md#classic-requests, docs/protocol/cluster.md#sharded, docs/protocol/cluster.md#postgres): :data:`~aiosocketio.codecs.js_values.UNDEFINED` members left
    out, nesting up to :data:`~aiosocketio.codecs.js_msgpack.MAX_DEPTH` when orjson cannot write it.

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
    """A payload as every Node receiver reads it: JSON when it starts with ``{`` (0x7b), else ``codec`` (docs/protocol/cluster.md#classic-requests, docs/protocol/cluster.md#sharded).

    A ``str`` is always JSON text. (A MessagePack payload starting with 0x7b would be the bare integer 123,
    which is never a message.)
    """
    if isinstance(payload, str):
        return decode_json(payload)
    if payload[:1] == b"{":
        return decode_json(payload)
    return codec.decode(payload)


# =============================================================================================================
# Options, packets, sockets
# =============================================================================================================


def _seconds_to_ms(seconds: float) -> int | float:
    ms = round(seconds * 1000, 6)
    return int(ms) if ms.is_integer() else ms


def _flags_to_wire(flags: BroadcastFlags) -> dict[str, Any]:
    """The keys the reference sets (docs/protocol/cluster.md#broadcast-options): ``volatile`` when set, ``compress`` when ``False`` (our ``True`` is the
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
    """The wire ``opts`` of ``opts`` (docs/protocol/cluster.md#broadcast-options); rooms and excluded rooms are sorted arrays.

    ``layout``: ``"adapter"`` ``{rooms, except, flags}`` (classic broadcasts, every ClusterAdapter message),
    ``"emitter"`` ``{rooms, flags, except}`` (docs/protocol/cluster.md#emitter), ``"request"`` ``{rooms, except}`` (classic requests 2-5, docs/protocol/cluster.md#classic-requests).
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


def read_room(value: Any) -> str:
    """A room as our adapters name it: JavaScript's ``String(room)`` for the numbers Node allows."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return js_key(value)
    raise DecodeError(f"a room must be a string, not {type(value).__name__}")


def read_rooms(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise DecodeError(f"{what} must be an array")
    return tuple(read_room(room) for room in value)


def opts_from_wire(value: Any) -> BroadcastOptions:
    """Our :class:`BroadcastOptions` from any wire ``opts`` layout; missing keys mean "not set" (docs/protocol/cluster.md#broadcast-options)."""
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
        rooms=frozenset(read_rooms(value.get("rooms"), "opts.rooms")),
        except_rooms=frozenset(read_rooms(value.get("except"), "opts.except")),
        flags=BroadcastFlags(
            volatile=bool(flags.get("volatile", False)),
            compress=True if compress is None else bool(compress),
            local=bool(flags.get("local", False)),
            timeout=None if timeout is None else timeout / 1000,
        ),
    )


_PLAIN_TYPE: Final = {PacketType.BINARY_EVENT: PacketType.EVENT, PacketType.BINARY_ACK: PacketType.ACK}


def packet_to_wire(packet: Packet, *, with_nsp: bool) -> dict[str, Any]:
    """The unencoded packet object a broadcast carries (docs/protocol/cluster.md#broadcast-packet): ``{type, data}`` plus ``nsp`` for the classic
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
    """Our :class:`Packet` from a wire packet; ``nsp`` (the envelope's) wins, else the packet's, else ``/`` (docs/protocol/cluster.md#classic-channels)."""
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
        id=read_string(value, "id"),
        handshake=handshake,
        rooms=read_rooms(value.get("rooms"), "socket.rooms"),
        data=value.get("data"),
    )


def read_string(value: dict[str, Any], key: str) -> str:
    item = value.get(key)
    if not isinstance(item, str):
        raise DecodeError(f"{key} must be a string")
    return item


def read_optional_string(value: dict[str, Any], key: str) -> str | None:
    item = value.get(key)
    if item is None:
        return None
    if not isinstance(item, str):
        raise DecodeError(f"{key} must be a string")
    return item


def read_integer(value: dict[str, Any], key: str) -> int:
    item = value.get(key)
    if isinstance(item, float) and item.is_integer():
        item = int(item)
    if type(item) is not int:
        raise DecodeError(f"{key} must be an integer")
    return item


def read_array(value: dict[str, Any], key: str) -> list[Any]:
    item = value.get(key)
    if not isinstance(item, list):
        raise DecodeError(f"{key} must be an array")
    return item


def read_type_code(value: Any) -> int | None:
    """A ``type`` field as a number comparison in JavaScript reads it: ``2`` and ``2.0`` alike, never ``true``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if type(value) is int or value is None:
        return value
    raise DecodeError(f"invalid message type {value!r}")


def read_object(payload: Any, what: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise DecodeError(f"{what} must be an object")
    return payload
