"""What the PostgreSQL adapter sends for a batch of messages (docs/protocol/cluster.md#postgres), against a recording stand-in for
the asyncpg pool: which messages become a NOTIFY and which an attachment row, and that a batch is never sent in a
way PostgreSQL would collapse (identical payloads in one transaction are delivered once)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import aiosocketio
from aiosocketio.adapters import messages as wire
from aiosocketio.adapters import postgres
from aiosocketio.adapters.options import BroadcastOptions
from aiosocketio.parsers.packet import Packet, PacketType


class Recorder:
    """Both the pool and its connection: records every statement with its arguments."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    def acquire(self, timeout: float | None = None) -> Recorder:
        return self

    async def __aenter__(self) -> Recorder:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def execute(self, sql: str, *args: Any, timeout: float | None = None) -> str:
        self.statements.append((sql, args))
        return "SELECT 1"


def hub(**options: Any) -> tuple[Any, Recorder]:
    recorder = Recorder()
    factory = postgres.create_adapter(recorder, channel_prefix="pfx", table_name="atts", **options)  # type: ignore[arg-type]
    made = factory.__self__  # type: ignore[attr-defined]
    return made, recorder


def event(*data: Any, nsp: str = "/") -> wire.ClusterMessage:
    packet = Packet(PacketType.EVENT, nsp, list(data))
    return wire.ClusterMessage("u1", nsp, wire.BroadcastMessage(packet, BroadcastOptions()))


def notified(statement: tuple[str, tuple[Any, ...]]) -> list[tuple[str, Any]]:
    """The (channel, decoded payload) pairs a NOTIFY statement sends."""
    sql, args = statement
    assert "pg_notify" in sql
    assert "INSERT" not in sql
    if "unnest" in sql:
        return [(channel, json.loads(text)) for channel, text in zip(args[0], args[1], strict=True)]
    return [(args[0], json.loads(args[1]))]


async def test_small_messages_go_together_and_identical_ones_apart() -> None:
    made, recorder = hub()
    await made.publish([event("a"), event("b"), event("a"), event("c", nsp="/chat")])
    first, second = recorder.statements
    assert [(c, m["data"]["packet"]["data"]) for c, m in notified(first)] == [
        ("pfx#/", ["a"]),
        ("pfx#/", ["b"]),
    ]
    assert [(c, m["data"]["packet"]["data"]) for c, m in notified(second)] == [
        ("pfx#/", ["a"]),
        ("pfx#/chat", ["c"]),
    ]


async def test_binary_and_large_messages_become_attachments() -> None:
    small = len(wire.encode_cluster_json(event("big", "")))
    made, recorder = hub(payload_threshold=small + 60)
    # 40 "é": 40 more characters of JSON but 80 more bytes, over the threshold only when counted in bytes (as
    # Buffer.byteLength does)
    await made.publish([event("small"), event("bin", b"\x01"), event("big", "é" * 40), event("after")])
    kinds = ["attachment" if "INSERT INTO atts" in sql else "notify" for sql, _ in recorder.statements]
    assert kinds == ["notify", "attachment", "attachment", "notify"]
    _, (payload, channel, header) = recorder.statements[1]
    assert channel == "pfx#/"
    assert wire.MSGPACK.decode(payload)["data"]["packet"]["data"] == ["bin", b"\x01"]
    assert json.loads(header + "17" + '"}') == {"uid": "u1", "type": 3, "attachmentId": "17"}
    assert wire.MSGPACK.decode(recorder.statements[2][1][0])["data"]["packet"]["data"] == ["big", "é" * 40]


async def test_binary_in_a_fetch_sockets_answer_stays_json() -> None:
    """The reference only checks types 3, 9, 10 and 12 for binary."""
    made, recorder = hub()
    socket = wire.SocketData("sid", {"query": {}}, ("sid",), {"blob": b"\x01"})
    await made.publish([wire.ClusterMessage("u1", "/", wire.FetchSocketsResponse("r1", (socket,)))])
    ((_, message),) = notified(recorder.statements[0])
    assert message["data"]["sockets"][0]["data"] == {"blob": {"type": "Buffer", "data": [1]}}


def test_options_are_checked() -> None:
    for bad in (
        {"payload_threshold": 0},
        {"requests_timeout": 0},
        {"heartbeat_timeout": -1},
        {"table_name": ""},
    ):
        with pytest.raises(ValueError):  # noqa: PT011
            postgres.create_adapter("postgresql://localhost/x", **bad)


async def test_a_message_that_cannot_be_encoded_does_not_take_the_batch_down() -> None:
    made, recorder = hub()
    await made.publish([event("ok1"), event("bad", object()), event("ok2")])
    ((sql, args),) = recorder.statements
    assert [m["data"]["packet"]["data"] for _, m in notified((sql, args))] == [["ok1"], ["ok2"]]


def test_a_namespace_too_long_for_a_channel_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    io = aiosocketio.Server(adapter=postgres.create_adapter("postgresql://127.0.0.1/x"))
    io.of("/" + "n" * 50)
    assert not caplog.records
    io.of("/" + "n" * 60)  # "socket.io#/nnn…": 71 bytes
    assert "longer than PostgreSQL allows" in caplog.text
