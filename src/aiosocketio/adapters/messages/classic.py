"""The classic Redis adapter's and the Redis emitter's messages: broadcasts, requests, responses and channels.

Reference: ``docs/protocol/cluster.md#classic``, ``docs/protocol/cluster.md#emitter`` and the vectors
``tests/vectors/cluster_messages.json``, which win over prose. Pure: no asyncio, sockets or clocks.

The family of ``@socket.io/redis-adapter`` 8.3.0 ``createAdapter`` (docs/protocol/cluster.md#classic) and ``@socket.io/redis-emitter`` 5.1.0
(docs/protocol/cluster.md#emitter): a broadcast without ack is the notepack array ``[uid, packet, opts]``
(:func:`encode_classic_broadcast`, :func:`encode_emitter_broadcast`, :func:`parse_classic_broadcast`);
requests and responses are flat objects with numeric ``type`` codes of :class:`ClassicRequestType`, JSON text
except BROADCAST (7) and BROADCAST_ACK (9) which are notepack (:func:`encode_classic_request`,
:func:`parse_classic_request`, :func:`encode_classic_response`, :func:`parse_classic_response`); the
channels are ``K#N#...``, ``K-request#N#`` and ``K-response#N#...`` (docs/protocol/cluster.md#classic-channels). It cannot talk to the ClusterAdapter
family (docs/protocol/cluster.md#flavours).

The bodies are those of :mod:`aiosocketio.adapters.messages.bodies`, plus the classic-only requests and
responses defined here (the legacy per-socket requests of older servers, SOCKETS and ALL_ROOMS).
"""

from __future__ import annotations

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
    read_room,
    read_rooms,
    read_string,
    read_type_code,
    socket_from_wire,
    socket_to_wire,
)
from aiosocketio.adapters.options import BroadcastOptions
from aiosocketio.codecs.errors import DecodeError
from aiosocketio.codecs.js_msgpack import NOTEPACK
from aiosocketio.codecs.js_values import UNDEFINED
from aiosocketio.parsers.packet import Packet

__all__ = [
    "CLASSIC_BINARY_REQUEST_TYPES",
    "EMITTER_UID",
    "AllRoomsRequest",
    "AllRoomsResponse",
    "ClassicMessage",
    "ClassicRequestBody",
    "ClassicRequestType",
    "ClassicResponseBody",
    "LegacyDisconnectRequest",
    "LegacyJoinRequest",
    "LegacyLeaveRequest",
    "LegacyResponse",
    "SocketsRequest",
    "SocketsResponse",
    "classic_broadcast_channel",
    "classic_request_channel",
    "classic_request_to_wire",
    "classic_response_channel",
    "classic_response_to_wire",
    "classic_room_from_channel",
    "classic_subscription_pattern",
    "encode_classic_broadcast",
    "encode_classic_request",
    "encode_classic_response",
    "encode_emitter_broadcast",
    "parse_classic_broadcast",
    "parse_classic_request",
    "parse_classic_response",
]

# =============================================================================================================
# Classic-only bodies
# =============================================================================================================


@dataclass(frozen=True, slots=True)
class SocketsRequest:
    """Legacy SOCKETS (0): ids of the sockets in ``rooms``; 8.3.0 only answers it (docs/protocol/cluster.md#classic-requests)."""

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


# =============================================================================================================
# Requests, responses, broadcasts
# =============================================================================================================

EMITTER_UID: Final = "emitter"
"""The uid ``@socket.io/redis-emitter`` writes in its broadcasts and server-side emits (docs/protocol/cluster.md#uids, docs/protocol/cluster.md#emitter)."""


class ClassicRequestType(IntEnum):
    """The ``type`` codes of the classic adapter (docs/protocol/cluster.md#classic-requests), **not** the ClusterAdapter's (docs/protocol/cluster.md#cluster-types)."""

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
"""The classic messages written as notepack maps; the others are JSON text (docs/protocol/cluster.md#classic-requests)."""


@dataclass(frozen=True, slots=True)
class ClassicMessage:
    """A classic broadcast or request with its sender's ``uid`` (``None``: the emitter's join / leave /
    disconnect requests carry none, docs/protocol/cluster.md#emitter)."""

    uid: str | None
    body: ClassicRequestBody


def encode_classic_broadcast(uid: str, packet: Packet, opts: BroadcastOptions) -> bytes:
    """``notepack([uid, {type, data, nsp}, {rooms, except, flags}])``, published on
    :func:`classic_broadcast_channel` (docs/protocol/cluster.md#classic-broadcast). A broadcast with ``local`` is never published (docs/protocol/cluster.md#broadcast-options)."""
    return NOTEPACK.encode([uid, packet_to_wire(packet, with_nsp=True), opts_to_wire(opts)])


def encode_emitter_broadcast(packet: Packet, opts: BroadcastOptions, uid: str = EMITTER_UID) -> bytes:
    """``@socket.io/redis-emitter``'s broadcast: the same array with uid ``emitter`` and opts in the order
    ``{rooms, flags, except}`` (docs/protocol/cluster.md#emitter)."""
    return NOTEPACK.encode([uid, packet_to_wire(packet, with_nsp=True), opts_to_wire(opts, "emitter")])


def parse_classic_broadcast(payload: bytes | bytearray | memoryview) -> ClassicMessage:
    """A message of the broadcast channels: its uid and a :class:`BroadcastMessage` whose packet keeps the
    namespace it names (``/`` when missing; the receiver drops other namespaces and its own uid, docs/protocol/cluster.md#classic-channels).

    Node crashes on anything that is not a 3-element notepack array there (docs/protocol/cluster.md#notepack-decoder); this raises
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
    """The type and the fields after ``uid`` (requestId, type, ...) in the reference's key order (docs/protocol/cluster.md#classic-requests)."""
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
    """A request for ``K-request#N#`` (docs/protocol/cluster.md#classic-requests): notepack ``bytes`` for a broadcast with ack, JSON text otherwise.

    The emitter's forms (docs/protocol/cluster.md#emitter) are ``encode_classic_request(None, SocketsJoinMessage(...))`` (no uid) and
    ``encode_classic_request(EMITTER_UID, ServerSideEmitMessage(...))``.
    """
    kind, fields = _classic_request_fields(body)
    wire = fields if uid is None else {"uid": uid, **fields}
    if kind in CLASSIC_BINARY_REQUEST_TYPES:
        return NOTEPACK.encode(wire)
    return encode_json(wire)


def parse_classic_request(payload: str | bytes | bytearray | memoryview) -> ClassicMessage:
    """A message of ``K-request#N#``, JSON or notepack by its first byte (docs/protocol/cluster.md#classic-requests).

    REMOTE_JOIN / LEAVE / DISCONNECT with ``opts`` are the current forms; without, the legacy ones. Raises
    :class:`DecodeError` for an unknown type or a malformed request (Node ignores or crashes, docs/protocol/cluster.md#notepack-decoder).
    """
    value = read_object(decode_payload(payload, NOTEPACK), "a classic request")
    uid = read_optional_string(value, "uid")
    kind = read_type_code(value.get("type"))
    request = ClassicRequestType
    body: ClassicRequestBody
    if kind in (request.REMOTE_JOIN, request.REMOTE_LEAVE):
        join = kind == request.REMOTE_JOIN
        if "opts" in value:
            opts = opts_from_wire(value["opts"])
            rooms = read_rooms(value.get("rooms"), "rooms")
            body = SocketsJoinMessage(opts, rooms) if join else SocketsLeaveMessage(opts, rooms)
        else:
            args = (read_string(value, "requestId"), read_string(value, "sid"), read_room(value.get("room")))
            body = LegacyJoinRequest(*args) if join else LegacyLeaveRequest(*args)
    elif kind == request.REMOTE_DISCONNECT:
        if "opts" in value:
            body = DisconnectSocketsMessage(opts_from_wire(value["opts"]), bool(value.get("close")))
        else:
            body = LegacyDisconnectRequest(
                read_string(value, "requestId"), read_string(value, "sid"), bool(value.get("close"))
            )
    elif kind == request.REMOTE_FETCH:
        body = FetchSocketsMessage(opts_from_wire(value.get("opts")), read_string(value, "requestId"))
    elif kind == request.SERVER_SIDE_EMIT:
        body = ServerSideEmitMessage(read_array(value, "data"), read_optional_string(value, "requestId"))
    elif kind == request.BROADCAST:
        body = BroadcastMessage(
            packet_from_wire(value.get("packet")),
            opts_from_wire(value.get("opts")),
            read_string(value, "requestId"),
        )
    elif kind == request.ALL_ROOMS:
        body = AllRoomsRequest(read_string(value, "requestId"))
    elif kind == request.SOCKETS:
        body = SocketsRequest(read_string(value, "requestId"), read_rooms(value.get("rooms"), "rooms"))
    else:
        raise DecodeError(f"unknown classic request type {kind!r}")
    return ClassicMessage(uid, body)


def classic_response_to_wire(body: ClassicResponseBody) -> dict[str, Any]:
    """The response object in the reference's key order; only 6, 8 and 9 carry a ``type`` (docs/protocol/cluster.md#classic-requests)."""
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
    """A response for ``K-response#N#`` (or the requester's ``K-response#N#<uid>#``, docs/protocol/cluster.md#classic-channels): notepack ``bytes``
    for BROADCAST_ACK, JSON text otherwise (docs/protocol/cluster.md#classic-requests). A :data:`UNDEFINED` response is left out, as in Node."""
    wire = classic_response_to_wire(body)
    if isinstance(body, BroadcastAck):
        return NOTEPACK.encode(wire)
    return encode_json(wire)


def parse_classic_response(payload: str | bytes | bytearray | memoryview) -> ClassicResponseBody:
    """A message of the response channels (docs/protocol/cluster.md#classic-requests).

    Typed responses (6, 8, 9) by their type; the others are recognised by their fields, which is what the
    reference's pending-request lookup amounts to: ``rooms`` -> :class:`AllRoomsResponse`, ``sockets`` of
    objects (or empty) -> :class:`FetchSocketsResponse`, ``sockets`` of ids -> :class:`SocketsResponse`,
    nothing else -> :class:`LegacyResponse`. A missing ``data`` / ``packet`` is :data:`UNDEFINED`.
    """
    value = read_object(decode_payload(payload, NOTEPACK), "a classic response")
    request_id = read_string(value, "requestId")
    kind = read_type_code(value.get("type"))
    request = ClassicRequestType
    if kind == request.BROADCAST_CLIENT_COUNT:
        return BroadcastClientCount(request_id, read_integer(value, "clientCount"))
    if kind == request.BROADCAST_ACK:
        return BroadcastAck(request_id, value.get("packet", UNDEFINED))
    if kind == request.SERVER_SIDE_EMIT:
        return ServerSideEmitResponse(request_id, value.get("data", UNDEFINED))
    if kind is not None:
        raise DecodeError(f"unknown classic response type {kind!r}")
    if "rooms" in value:
        return AllRoomsResponse(request_id, read_rooms(value["rooms"], "rooms"))
    if "sockets" in value:
        sockets = read_array(value, "sockets")
        if sockets and all(isinstance(sid, str) for sid in sockets):
            return SocketsResponse(request_id, tuple(sockets))
        return FetchSocketsResponse(request_id, tuple(socket_from_wire(s) for s in sockets))
    return LegacyResponse(request_id)


# --- channels (docs/protocol/cluster.md#classic-channels) -----------------------------------------------------------------------------------------


def classic_subscription_pattern(key: str, nsp: str) -> str:
    """The pattern every classic server PSUBSCRIBEs for broadcasts: ``K#N#*``."""
    return f"{key}#{nsp}#*"


def classic_broadcast_channel(key: str, nsp: str, opts: BroadcastOptions) -> str:
    """``K#N#<room>#`` when exactly one room is targeted (whatever ``except`` holds), else ``K#N#`` (docs/protocol/cluster.md#classic-channels)."""
    if len(opts.rooms) == 1:
        (room,) = opts.rooms
        return f"{key}#{nsp}#{room}#"
    return f"{key}#{nsp}#"


def classic_room_from_channel(channel: str, key: str, nsp: str) -> str | None:
    """The room a broadcast channel names (``""``: the whole namespace), ``None`` when it is not a channel of this
    namespace. As the reference, this takes the text between ``K#N#`` and the last character. A receiver
    without a local room of that name drops the message undecoded (docs/protocol/cluster.md#classic-channels)."""
    prefix = f"{key}#{nsp}#"
    if not channel.startswith(prefix):
        return None
    return channel[len(prefix) : -1]


def classic_request_channel(key: str, nsp: str) -> str:
    """``K-request#N#``: every request (docs/protocol/cluster.md#classic-channels); ``serverCount()`` is its NUMSUB."""
    return f"{key}-request#{nsp}#"


def classic_response_channel(key: str, nsp: str, uid: str | None = None) -> str:
    """``K-response#N#``, or ``K-response#N#<uid>#`` for responses to ``uid`` (publishOnSpecificResponseChannel)."""
    if uid is None:
        return f"{key}-response#{nsp}#"
    return f"{key}-response#{nsp}#{uid}#"
