"""The messages Socket.IO servers exchange through Redis (and Postgres), byte-compatible with the Node packages.

Reference: ``docs/protocol/cluster.md`` and the machine-generated vectors
``tests/vectors/cluster_messages.json``, which win over prose. Pure: no event loop, socket or clock; a cluster
adapter does the I/O and calls these functions to build and read what it publishes. Every name is importable
from this package; the modules say where each one belongs:

* :mod:`~aiosocketio.adapters.messages.bodies` - the operations both families carry (:class:`BroadcastMessage`,
  :class:`SocketsJoinMessage`, :class:`FetchSocketsMessage`, ...), as our own types;
* :mod:`~aiosocketio.adapters.messages.common` - the wire pieces both families share: JSON / MessagePack
  payloads (:func:`encode_json`, :func:`decode_json`, :func:`decode_payload`), ``opts``, packets, sockets, and
  the field checks;
* :mod:`~aiosocketio.adapters.messages.classic` - the classic ``@socket.io/redis-adapter`` and
  ``@socket.io/redis-emitter`` family (docs/protocol/cluster.md#classic, docs/protocol/cluster.md#emitter);
* :mod:`~aiosocketio.adapters.messages.cluster` - the ``socket.io-adapter`` ClusterAdapter family: sharded
  Redis, Redis streams and Postgres (docs/protocol/cluster.md#cluster-adapter, docs/protocol/cluster.md#sharded, docs/protocol/cluster.md#streams, docs/protocol/cluster.md#postgres);
* the MessagePack codecs :data:`NOTEPACK` and :data:`MSGPACK` (:mod:`aiosocketio.codecs.js_msgpack`) and
  :data:`UNDEFINED` (:mod:`aiosocketio.codecs.js_values`), re-exported here for the adapters.

The two families are incompatible with each other (docs/protocol/cluster.md#flavours): a server speaks one of them.
"""

from __future__ import annotations

try:  # first: every module of this package needs it, and a missing one should name the extra to install
    import msgpack  # type: ignore[import-untyped, unused-ignore]  # noqa: F401
except ImportError:
    from aiosocketio._checks import missing_extra

    # The cluster adapters (and the Redis emitter) speak msgpack to each other; their extras bring it, and the
    # workers adapter, which needs nothing else, has the "msgpack" extra.
    raise missing_extra(
        "msgpack",
        ("msgpack", "redis", "postgres"),
        "each cluster adapter (workers, Redis, PostgreSQL) and emitter",
    ) from None

from aiosocketio.adapters.messages.bodies import (
    BroadcastAck,
    BroadcastClientCount,
    BroadcastMessage,
    DisconnectSocketsMessage,
    FetchSocketsMessage,
    FetchSocketsResponse,
    ServerSideEmitMessage,
    ServerSideEmitResponse,
    SocketData,
    SocketsJoinMessage,
    SocketsLeaveMessage,
)
from aiosocketio.adapters.messages.classic import (
    CLASSIC_BINARY_REQUEST_TYPES,
    EMITTER_UID,
    AllRoomsRequest,
    AllRoomsResponse,
    ClassicMessage,
    ClassicRequestBody,
    ClassicRequestType,
    ClassicResponseBody,
    LegacyDisconnectRequest,
    LegacyJoinRequest,
    LegacyLeaveRequest,
    LegacyResponse,
    SocketsRequest,
    SocketsResponse,
    classic_broadcast_channel,
    classic_request_channel,
    classic_request_to_wire,
    classic_response_channel,
    classic_response_to_wire,
    classic_room_from_channel,
    classic_subscription_pattern,
    encode_classic_broadcast,
    encode_classic_request,
    encode_classic_response,
    encode_emitter_broadcast,
    parse_classic_broadcast,
    parse_classic_request,
    parse_classic_response,
)
from aiosocketio.adapters.messages.cluster import (
    SHARDED_BINARY_TYPES,
    STREAM_ENTRY_TYPES,
    STREAMS_BINARY_TYPES,
    AdapterClose,
    ClusterBody,
    ClusterMessage,
    ClusterMessageType,
    Heartbeat,
    InitialHeartbeat,
    PersistedSession,
    cluster_channel,
    cluster_from_wire,
    cluster_to_wire,
    decode_cluster,
    decode_stream_entry,
    decode_stream_session,
    encode_cluster_json,
    encode_cluster_msgpack,
    encode_sharded,
    encode_stream_entry,
    encode_stream_session,
    postgres_channel,
    stream_name,
)
from aiosocketio.adapters.messages.common import (
    decode_json,
    decode_payload,
    encode_json,
    opts_from_wire,
    opts_to_wire,
    packet_from_wire,
    packet_to_wire,
    socket_from_wire,
    socket_to_wire,
)
from aiosocketio.codecs.js_msgpack import (
    MAX_DEPTH,
    MSGPACK,
    NOTEPACK,
    MsgpackCodec,
)
from aiosocketio.codecs.js_values import (
    UNDEFINED,
    UndefinedType,
)

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
