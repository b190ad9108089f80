"""The ClusterAdapter family's messages (sharded Redis, Redis streams, Postgres): envelope, forms, channels.

Reference: ``docs/protocol/cluster.md#cluster-adapter`` to docs/protocol/cluster.md#postgres and the vectors
``tests/vectors/cluster_messages.json``, which win over prose. Pure: no asyncio, sockets or clocks.

The ClusterAdapter of ``socket.io-adapter`` 2.5.x (docs/protocol/cluster.md#cluster-adapter), used by the sharded Redis adapter (docs/protocol/cluster.md#sharded), the Redis
streams adapter (docs/protocol/cluster.md#streams) and the Postgres adapter (docs/protocol/cluster.md#postgres): the envelope ``{type, data?, uid, nsp}`` with the 13
:class:`ClusterMessageType` codes (:class:`ClusterMessage`, :func:`cluster_to_wire`,
:func:`cluster_from_wire`), as JSON text (:func:`encode_cluster_json`), MessagePack
(:func:`encode_cluster_msgpack`), the sharded adapter's choice between the two (:func:`encode_sharded`),
a stream entry (:func:`encode_stream_entry`) or whatever arrives (:func:`decode_cluster`). It cannot talk to
the classic family (docs/protocol/cluster.md#flavours).

The bodies are those of :mod:`aiosocketio.adapters.messages.bodies`, plus the heartbeats and the close notice
of ``ClusterAdapterWithHeartbeat`` defined here; the streams adapter's persisted sessions are here too.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, TypeAlias

from aiosocketio.adapters.messages.bodies import (
    BroadcastAck,
    BroadcastClientCount,
    BroadcastMessage,
    DisconnectSocketsMessage,
    FetchSocketsMessage,
    FetchSocketsResponse,
    ServerSideEmitMessage,
    ServerSideEmitResponse,
    SocketsJoinMessage,
    SocketsLeaveMessage,
)
from aiosocketio.adapters.messages.common import (
    decode_json,
    decode_payload,
    encode_json,
    opts_from_wire,
    opts_to_wire,
    packet_from_wire,
    packet_to_wire,
    read_array,
    read_integer,
    read_object,
    read_optional_string,
    read_rooms,
    read_string,
    read_type_code,
    socket_from_wire,
    socket_to_wire,
)
from aiosocketio.codecs.errors import DecodeError
from aiosocketio.codecs.js_msgpack import MSGPACK, NOTEPACK, MsgpackCodec
from aiosocketio.codecs.js_values import UNDEFINED, utf16_units
from aiosocketio.parsers.binary import has_binary

__all__ = [
    "SHARDED_BINARY_TYPES",
    "STREAMS_BINARY_TYPES",
    "STREAM_ENTRY_TYPES",
    "AdapterClose",
    "ClusterBody",
    "ClusterMessage",
    "ClusterMessageType",
    "Heartbeat",
    "InitialHeartbeat",
    "PersistedSession",
    "cluster_channel",
    "cluster_from_wire",
    "cluster_to_wire",
    "decode_cluster",
    "decode_stream_entry",
    "decode_stream_session",
    "encode_cluster_json",
    "encode_cluster_msgpack",
    "encode_sharded",
    "encode_stream_entry",
    "encode_stream_session",
    "postgres_channel",
    "stream_name",
]

# =============================================================================================================
# Cluster-only bodies
# =============================================================================================================


@dataclass(frozen=True, slots=True)
class InitialHeartbeat:
    """ClusterAdapterWithHeartbeat: a server starts; every other one answers with :class:`Heartbeat` (docs/protocol/cluster.md#heartbeats)."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """ClusterAdapterWithHeartbeat: "I am alive" (docs/protocol/cluster.md#heartbeats)."""


@dataclass(frozen=True, slots=True)
class AdapterClose:
    """A server's adapter closes: the others forget it at once (docs/protocol/cluster.md#heartbeats)."""


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
# The envelope and its forms
# =============================================================================================================


class ClusterMessageType(IntEnum):
    """The ``type`` codes of ``socket.io-adapter``'s ClusterAdapter (docs/protocol/cluster.md#cluster-types)."""

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
"""Types the sharded adapter writes as notepack when their ``data`` holds binary (docs/protocol/cluster.md#sharded); the streams adapter uses
the same list for stream entries (:data:`STREAMS_BINARY_TYPES`, docs/protocol/cluster.md#streams-routing). (Postgres: 3, 9, 10, 12, docs/protocol/cluster.md#postgres.)"""

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
(docs/protocol/cluster.md#streams-routing)."""


@dataclass(frozen=True, slots=True)
class ClusterMessage:
    """The ClusterAdapter envelope ``{type, data?, uid, nsp}`` (docs/protocol/cluster.md#cluster-types): sender uid, namespace and body."""

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
    """``{type, data?, uid, nsp}`` in that key order (docs/protocol/cluster.md#cluster-types)."""
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
    data = read_object(data, "data")
    if kind == types.BROADCAST:
        return BroadcastMessage(
            packet_from_wire(data.get("packet"), nsp),
            opts_from_wire(data.get("opts")),
            read_optional_string(data, "requestId"),
        )
    if kind == types.SOCKETS_JOIN:
        return SocketsJoinMessage(opts_from_wire(data.get("opts")), read_rooms(data.get("rooms"), "rooms"))
    if kind == types.SOCKETS_LEAVE:
        return SocketsLeaveMessage(opts_from_wire(data.get("opts")), read_rooms(data.get("rooms"), "rooms"))
    if kind == types.DISCONNECT_SOCKETS:
        return DisconnectSocketsMessage(opts_from_wire(data.get("opts")), bool(data.get("close")))
    if kind == types.FETCH_SOCKETS:
        return FetchSocketsMessage(opts_from_wire(data.get("opts")), read_string(data, "requestId"))
    if kind == types.FETCH_SOCKETS_RESPONSE:
        sockets = tuple(socket_from_wire(s) for s in read_array(data, "sockets"))
        return FetchSocketsResponse(read_string(data, "requestId"), sockets)
    if kind == types.SERVER_SIDE_EMIT:
        return ServerSideEmitMessage(read_array(data, "packet"), read_optional_string(data, "requestId"))
    if kind == types.SERVER_SIDE_EMIT_RESPONSE:
        return ServerSideEmitResponse(read_string(data, "requestId"), data.get("packet", UNDEFINED))
    if kind == types.BROADCAST_CLIENT_COUNT:
        return BroadcastClientCount(read_string(data, "requestId"), read_integer(data, "clientCount"))
    return BroadcastAck(read_string(data, "requestId"), data.get("packet", UNDEFINED))


def _cluster_type(value: Any) -> ClusterMessageType:
    code = read_type_code(value)
    if code is None or not 1 <= code <= 13:
        raise DecodeError(f"unknown cluster message type {value!r}")
    return ClusterMessageType(code)


def cluster_from_wire(value: Any) -> ClusterMessage:
    """A :class:`ClusterMessage` from a decoded envelope; :class:`DecodeError` when malformed.

    A BROADCAST packet gets the envelope's namespace (the wire packet has none, docs/protocol/cluster.md#broadcast-packet). Missing ``packet`` in a
    response (an ack without argument) is :data:`UNDEFINED`.
    """
    value = read_object(value, "a cluster message")
    nsp = read_string(value, "nsp")
    return ClusterMessage(
        read_string(value, "uid"),
        nsp,
        _cluster_body(_cluster_type(value.get("type")), value.get("data"), nsp),
    )


def encode_cluster_json(message: ClusterMessage) -> str:
    """The JSON text of the envelope: the sharded adapter's form without binary (docs/protocol/cluster.md#sharded) and Postgres' NOTIFY
    payload (docs/protocol/cluster.md#postgres). Binary data would be written as ``Buffer.toJSON()`` objects: see :func:`encode_sharded`."""
    return encode_json(cluster_to_wire(message))


def encode_cluster_msgpack(message: ClusterMessage, codec: MsgpackCodec = MSGPACK) -> bytes:
    """The MessagePack envelope: the streams adapter's pub/sub payload (always, with :data:`MSGPACK`, docs/protocol/cluster.md#streams-routing), the
    sharded adapter's binary form (with :data:`NOTEPACK`, docs/protocol/cluster.md#sharded), a Postgres attachment (:data:`MSGPACK`, docs/protocol/cluster.md#postgres)."""
    return codec.encode(cluster_to_wire(message))


def _wants_msgpack(
    kind: ClusterMessageType, data: dict[str, Any] | None, types: frozenset[ClusterMessageType]
) -> bool:
    return kind in types and data is not None and has_binary(data)


def encode_sharded(message: ClusterMessage) -> str | bytes:
    """What the sharded adapter SPUBLISHes (docs/protocol/cluster.md#sharded): notepack ``bytes`` when a type of :data:`SHARDED_BINARY_TYPES`
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
    """The field/value pairs of the streams adapter's XADD (docs/protocol/cluster.md#streams-routing): ``uid``, ``nsp``, ``type`` (decimal text) and
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
    ``data`` is JSON when it starts with ``{``, else base64 of MessagePack (docs/protocol/cluster.md#streams-routing). An entry without ``nsp``
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
    """A session the streams adapter keeps for connection state recovery under ``sio:session:<pid>`` (docs/protocol/cluster.md#streams-sessions)."""

    sid: str
    pid: str
    rooms: tuple[str, ...]
    data: Any


def encode_stream_session(session: PersistedSession) -> str:
    """``base64(MSGPACK({sid, pid, rooms, data}))``, the value SET with ``PX maxDisconnectionDuration`` (docs/protocol/cluster.md#streams-sessions)."""
    wire = {"sid": session.sid, "pid": session.pid, "rooms": list(session.rooms), "data": session.data}
    return base64.b64encode(MSGPACK.encode(wire)).decode("ascii")


def decode_stream_session(text: str | bytes) -> PersistedSession:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("a persisted session is base64 text") from None
    value = read_object(MSGPACK.decode(raw), "a persisted session")
    return PersistedSession(
        read_string(value, "sid"),
        read_string(value, "pid"),
        read_rooms(value.get("rooms"), "rooms"),
        value.get("data"),
    )


# --- channels and keys (docs/protocol/cluster.md#sharded, docs/protocol/cluster.md#streams-keys, docs/protocol/cluster.md#postgres) ------------------------------------------------------------------------


def cluster_channel(prefix: str, nsp: str, suffix: str | None = None) -> str:
    """``P#N#`` (the sharded adapter's main channel, the streams adapter's request channel) or ``P#N#<suffix>#``
    (a server's response channel with its uid; a sharded room channel with a room) (docs/protocol/cluster.md#sharded, docs/protocol/cluster.md#streams-keys)."""
    if suffix is None:
        return f"{prefix}#{nsp}#"
    return f"{prefix}#{nsp}#{suffix}#"


def stream_name(nsp: str, name: str = "socket.io", count: int = 1) -> str:
    """The stream a namespace uses (docs/protocol/cluster.md#streams-keys): ``name`` alone, or ``name-<i>`` with ``i = hashCode(nsp) % count``,
    Java's string hash over UTF-16 units wrapped to 32 signed bits and JavaScript's ``%`` (sign of the hash:
    ``/notifications`` with 4 streams gives ``socket.io--3``, upstream bug reproduced)."""
    if count <= 1:
        return name
    code = 0
    for unit in utf16_units(nsp):
        code = (code * 31 + unit) & 0xFFFFFFFF
    if code >= 0x80000000:
        code -= 0x100000000
    index = abs(code) % count
    return f"{name}-{-index if code < 0 else index}"


def postgres_channel(prefix: str, nsp: str) -> str:
    """The Postgres adapter's LISTEN/NOTIFY channel: ``<prefix>#<nsp>``, no trailing ``#`` (docs/protocol/cluster.md#postgres)."""
    return f"{prefix}#{nsp}"
