"""A cluster of two aiosocketio servers and one Node.js socket.io 4.8 server with @socket.io/postgres-adapter 0.5.0,
on a real PostgreSQL (docs/protocol/cluster.md#cluster-adapter, docs/protocol/cluster.md#postgres): every operation crosses in both directions (the tests of
``test_mixed_cluster`` run against this cluster too), binary and large payloads take the attachment table both
ways, the server count follows the heartbeats, and the cluster survives a PostgreSQL restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from test_mixed_cluster import FACTOR, PROMPTLY, Client, make_world

import aiosocketio
from aiosocketio.adapters import postgres
from aiosocketio.exceptions import AckTimeoutError

pytestmark = pytest.mark.node

RECOVERY = 2.0 * FACTOR  # the cluster works again this soon after PostgreSQL is back


@pytest.fixture
async def world(postgres_url: str) -> AsyncIterator[dict[str, Any]]:
    async with make_world("postgres", postgres_url) as made:
        made["url"] = postgres_url
        yield made


@contextlib.asynccontextmanager
async def notifications(url: str, channel: str) -> AsyncIterator[asyncio.Queue[str]]:
    """What is NOTIFYed on ``channel``, as the raw payload texts."""
    connection = await asyncpg.connect(url)
    queue: asyncio.Queue[str] = asyncio.Queue()
    await connection.add_listener(channel, lambda *args: queue.put_nowait(args[3]))
    try:
        yield queue
    finally:
        await connection.close()


async def next_message(seen: asyncio.Queue[str]) -> str:
    """The next NOTIFY payload that is not a heartbeat (servers send those whenever they have been quiet)."""
    while True:
        payload = await asyncio.wait_for(seen.get(), PROMPTLY)
        if json.loads(payload)["type"] not in (1, 2):
            return payload


async def attachment_count(url: str, table: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await connection.close()


async def test_the_notifications_are_the_reference_s(world: dict[str, Any]) -> None:
    """A small event is the JSON envelope; an event with binary is a row and a ``{uid, type, attachmentId}``
    header, byte for byte what the Node.js server writes."""
    channel = world["key"] + "#/"
    uid = world["a"].sockets.adapter.uid
    async with notifications(world["url"], channel) as seen:
        await world["a"].emit("small", 1, "two")
        await world["a"].sockets.adapter.flush()
        assert json.loads(await next_message(seen)) == {
            "type": 3,
            "data": {
                "packet": {"type": 2, "data": ["small", 1, "two"]},
                "opts": {"rooms": [], "except": [], "flags": {}},
            },
            "uid": uid,
            "nsp": "/",
        }
        await world["a"].emit("binary", b"\x00\x01")
        header = await next_message(seen)
        assert header.startswith('{"uid":"' + uid + '","type":3,"attachmentId":"')
        await world["node"].ask("emit", event="binary", binary="0001")
        node_header = await next_message(seen)
        assert list(json.loads(node_header)) == list(json.loads(header))
        assert isinstance(json.loads(node_header)["attachmentId"], str)


async def test_binary_payloads_cross_both_ways(world: dict[str, Any]) -> None:
    on_a = await world["client"](world["a_url"])
    on_b = await world["client"](world["b_url"])
    on_node = await world["client"](world["node"].url)
    await world["node"].ask("emit", event="from-node", args=[{"k": 1}], binary="00ff10")
    for client in (on_a, on_b, on_node):
        assert await client.next() == ("from-node", {"k": 1}, b"\x00\xff\x10")
    await world["b"].emit("from-python", [b"\x01", {"nested": b"\x02\x03"}])
    for client in (on_a, on_b, on_node):
        assert await client.next() == ("from-python", [b"\x01", {"nested": b"\x02\x03"}])
    got: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    world["a"].on("bytes", lambda *args: got.put_nowait(args))
    await world["b"].server_side_emit("bytes", b"\x01\x02")
    assert await asyncio.wait_for(got.get(), PROMPTLY) == (b"\x01\x02",)


async def test_payloads_above_the_threshold_cross_both_ways(world: dict[str, Any]) -> None:
    table = world["key"] + "_attachments"
    before = await attachment_count(world["url"], table)
    on_a = await world["client"](world["a_url"])
    on_node = await world["client"](world["node"].url)
    big = "é" * 5000  # 5000 characters, 10000 bytes of UTF-8: over 8000 bytes only when counted in bytes
    await world["a"].emit("big", big)
    assert await on_node.next() == ("big", big)
    assert await on_a.next() == ("big", big)
    huge = "x" * 20000
    await world["node"].ask("emit", event="huge", args=[huge, {"n": 1}])
    assert await on_a.next() == ("huge", huge, {"n": 1})
    assert await on_node.next() == ("huge", huge, {"n": 1})
    assert await attachment_count(world["url"], table) >= before + 2


async def test_many_messages_keep_their_order_and_none_is_merged(world: dict[str, Any]) -> None:
    """A burst goes out in batches; identical messages are not collapsed (NOTIFY would in one transaction)."""
    on_node = await world["client"](world["node"].url)
    on_b = await world["client"](world["b_url"])
    for i in range(60):
        await world["a"].emit("same" if i % 3 else "seq", *(() if i % 3 else (i,)))
    expected = [("same",) if i % 3 else ("seq", i) for i in range(60)]
    for client in (on_node, on_b):
        assert [await client.next() for _ in range(60)] == expected


async def test_server_count_follows_heartbeats(world: dict[str, Any]) -> None:
    for name in ("a", "b"):
        assert await world[name].sockets.adapter.server_count() == 3
    assert await world["node"].ask("serverCount") == 3

    async def counts() -> list[int]:
        return [await world["a"].sockets.adapter.server_count(), await world["node"].ask("serverCount")]

    await world["b"].close()  # ADAPTER_CLOSE
    for _ in range(int(PROMPTLY / 0.05)):
        if await counts() == [2, 2]:
            break
        await asyncio.sleep(0.05)
    assert await counts() == [2, 2]
    await world["node"].stop()  # ADAPTER_CLOSE, or at the latest silence for heartbeat_timeout (3 s)
    for _ in range(int(PROMPTLY / 0.05)):
        if await world["a"].sockets.adapter.server_count() == 1:
            break
        await asyncio.sleep(0.05)
    assert await world["a"].sockets.adapter.server_count() == 1


async def test_the_attachment_table_is_created_and_cleaned(postgres_url: str) -> None:
    table = "cleaned" + str(time.monotonic_ns())
    io = aiosocketio.Server(
        adapter=postgres.create_adapter(
            postgres_url, channel_prefix=table, table_name=table, cleanup_interval=0.2
        )
    )
    running = await io.listen(host="127.0.0.1", port=0)
    try:
        async with notifications(postgres_url, table + "#/") as seen:
            await io.emit("binary", b"\x01")
            header = json.loads(await next_message(seen))
        assert header["type"] == 3  # and the row went in: it is the same statement
        for _ in range(int(PROMPTLY / 0.1)):
            if not await attachment_count(postgres_url, table):
                break
            await asyncio.sleep(0.1)
        assert await attachment_count(postgres_url, table) == 0
    finally:
        await running.close()


async def test_postgres_restart(postgres_instance: Any) -> None:
    """PostgreSQL goes away mid-traffic: local delivery goes on, requests fail with a timeout; once it is back,
    the servers listen again and know each other within ``RECOVERY``."""
    servers = []
    for _ in range(2):
        io = aiosocketio.Server(
            adapter=postgres.create_adapter(
                postgres_instance.url,
                channel_prefix="restart",
                table_name="restart_attachments",
                heartbeat_interval=0.5,
                heartbeat_timeout=10.0,
                requests_timeout=1.0,
            )
        )
        io.on("question", lambda: "answer")
        running = await io.listen(host="127.0.0.1", port=0)
        servers.append((io, running))
    (a, running_a), (b, running_b) = servers
    clients: list[Client] = []
    sent = 0
    stop_traffic = asyncio.Event()

    async def traffic(target: str) -> None:
        """Broadcasts from ``a`` to one of its own sockets, all along: published, and delivered here at once."""
        nonlocal sent
        while not stop_traffic.is_set():
            await a.to(target).emit("own", sent)
            sent += 1
            await asyncio.sleep(0.01)

    try:
        on_a = await Client().connect(f"http://127.0.0.1:{running_a.port}")
        on_b = await Client().connect(f"http://127.0.0.1:{running_b.port}")
        watcher = await Client().connect(f"http://127.0.0.1:{running_a.port}")
        clients += [on_a, on_b, watcher]
        await asyncio.wait_for(wait_for_cluster(a, b, on_a, on_b), PROMPTLY)
        running_traffic = asyncio.ensure_future(traffic(watcher.sid))

        await asyncio.to_thread(postgres_instance.stop)
        for i in range(5):
            await b.emit("local", i)
            assert await on_b.next() == ("local", i)
        with pytest.raises(TimeoutError, match="timeout reached"):
            await a.fetch_sockets()
        with pytest.raises(AckTimeoutError):
            await a.server_side_emit_with_ack("question")

        await asyncio.to_thread(postgres_instance.start)
        await asyncio.wait_for(wait_for_cluster(a, b, on_a, on_b), RECOVERY)
        assert await a.server_side_emit_with_ack("question") == ["answer"]
        assert on_b.sid in {s.id for s in await a.fetch_sockets()}

        stop_traffic.set()
        await running_traffic
        assert [await watcher.next() for _ in range(sent)] == [("own", i) for i in range(sent)]
    finally:
        for client in clients:
            await client.sio.disconnect()
        for _, running in servers:
            await running.close()


async def test_servers_started_while_postgres_is_down_join_when_it_is_up(postgres_instance: Any) -> None:
    """The servers start anyway (after ``requests_timeout``), serve their own clients, and form the cluster as
    soon as PostgreSQL is there, without waiting for a heartbeat."""
    options = {"channel_prefix": "late", "table_name": "late_attachments", "requests_timeout": 1.0}
    options |= {"heartbeat_interval": 30.0, "heartbeat_timeout": 60.0}  # only the announcements can do it
    await asyncio.to_thread(postgres_instance.stop)
    a = aiosocketio.Server(adapter=postgres.create_adapter(postgres_instance.url, **options))
    running_a = await a.listen(host="127.0.0.1", port=0)
    b = aiosocketio.Server(adapter=postgres.create_adapter(postgres_instance.url, **options))
    running_b = await b.listen(host="127.0.0.1", port=0)
    clients: list[Client] = []
    try:
        on_a = await Client().connect(f"http://127.0.0.1:{running_a.port}")
        on_b = await Client().connect(f"http://127.0.0.1:{running_b.port}")
        clients += [on_a, on_b]
        await b.emit("alone")
        assert await on_b.next() == ("alone",)
        assert await b.sockets.adapter.server_count() == 1
        await asyncio.to_thread(postgres_instance.start)
        for _ in range(int(PROMPTLY / 0.02)):  # no traffic: they hear of each other by their announcements
            counts = [await a.sockets.adapter.server_count(), await b.sockets.adapter.server_count()]
            if counts == [2, 2]:
                break
            await asyncio.sleep(0.02)
        assert counts == [2, 2]
        await asyncio.wait_for(wait_for_cluster(a, b, on_a, on_b), RECOVERY)
    finally:
        for client in clients:
            await client.sio.disconnect()
        for running in (running_a, running_b):
            await running.close()


async def wait_for_cluster(a: aiosocketio.Server, b: aiosocketio.Server, on_a: Client, on_b: Client) -> None:
    """Until a broadcast from ``a`` reaches ``on_b`` and one from ``b`` reaches ``on_a``."""
    crossed: set[str] = set()
    while len(crossed) < 2:
        await a.to(on_b.sid).emit("ping", "from-a")
        await b.to(on_a.sid).emit("ping", "from-b")
        await asyncio.sleep(0.05)
        for client in (on_a, on_b):
            while not client.received.empty():
                event, *args = client.received.get_nowait()
                if event == "ping":
                    crossed.add(args[0])
