"""A cluster of two aiosocketio servers and one Node.js socket.io 4.8 server: every operation crosses in both
directions (docs/protocol/cluster.md#concepts, docs/protocol/cluster.md#classic, docs/protocol/cluster.md#emitter, docs/protocol/cluster.md#cluster-adapter, docs/protocol/cluster.md#sharded, docs/protocol/cluster.md#streams, docs/protocol/cluster.md#postgres), with each kind of adapter on both sides: on a real redis-server the classic one
(@socket.io/redis-adapter 8.3.0 ``createAdapter``), the sharded one (its ``createShardedAdapter``, Redis 7 sharded
pub/sub) and the streams one (@socket.io/redis-streams-adapter 0.3.1); on a real PostgreSQL the postgres one
(@socket.io/postgres-adapter 0.5.0). PostgreSQL-only checks are in test_postgres_cluster.py."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio

import aiosocketio
from aiosocketio.adapters import postgres, redis_streams
from aiosocketio.adapters.redis import create_adapter, create_sharded_adapter
from aiosocketio.broadcast import RemoteSocket

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
PROMPTLY = 5.0 * FACTOR
TESTS_DIR = Path(__file__).resolve().parent.parent
NODE_SERVER = Path(__file__).resolve().parent / "js" / "node_cluster_server.mjs"

pytestmark = pytest.mark.node


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """End a Node.js helper by closing its stdin (it exits on EOF); kill it if it does not."""
    assert process.stdin is not None
    process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), PROMPTLY)
    except TimeoutError:
        process.kill()
        await process.wait()


class NodeServer:
    """The Node.js member of the cluster, driven by JSON commands on its stdin."""

    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process = process
        self.url = url
        self._ids = itertools.count()
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = json.loads(raw)
            waiter = self._waiting.pop(line.get("id", -1), None)
            if waiter is not None:
                waiter.set_result(line)
            else:
                self.events.put_nowait(line)

    async def ask(self, op: str, **fields: Any) -> Any:
        ident = next(self._ids)
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = waiter
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"id": ident, "op": op, **fields}) + "\n").encode())
        await self.process.stdin.drain()
        line = await asyncio.wait_for(waiter, PROMPTLY)
        assert "error" not in line, line
        return line["result"]

    async def stop(self) -> None:
        await stop_process(self.process)
        self._reader.cancel()


class Client:
    """A python-socketio client that records what it receives and answers "ask" with an ack."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient()
        self.received: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.disconnected = asyncio.Event()

        @self.sio.on("*")
        def on_any(event: str, *args: Any) -> Any:
            self.received.put_nowait((event, *args))
            return f"ack-{self.sio.get_sid()}" if event == "ask" else None

        self.sio.on("disconnect", lambda *args: self.disconnected.set())

    async def connect(self, url: str) -> Client:
        await self.sio.connect(url, transports=["websocket"])
        return self

    async def next(self) -> tuple[Any, ...]:
        return await asyncio.wait_for(self.received.get(), PROMPTLY)

    @property
    def sid(self) -> str:
        return str(self.sio.get_sid())


def python_adapter(kind: str, url: str, key: str) -> Any:
    """Our adapter factory speaking the same protocol as the Node server's ``kind`` (same key/prefix/stream)."""
    if kind == "classic":
        return create_adapter(url, key=key, requests_timeout=2.0)
    if kind == "sharded":
        return create_sharded_adapter(url, channel_prefix=key, requests_timeout=2.0)
    if kind == "streams":
        return redis_streams.create_adapter(
            url,
            stream_name=key,
            channel_prefix=key,
            session_key_prefix=key + ":session:",
            requests_timeout=2.0,
        )
    if kind == "postgres":  # heartbeats as the Node server's (1 s, 3 s)
        return postgres.create_adapter(
            url,
            channel_prefix=key,
            table_name=key + "_attachments",
            heartbeat_interval=1.0,
            heartbeat_timeout=3.0,
            requests_timeout=2.0,
        )
    raise AssertionError(kind)


@contextlib.asynccontextmanager
async def make_world(kind: str, url: str, **server_options: Any) -> AsyncIterator[dict[str, Any]]:
    """Servers "a" and "b" (ours) and "node" in one cluster of ``kind``; ``client(url)`` connects a client."""
    node_binary = shutil.which("node")
    assert node_binary, "Node.js is needed (scripts/setup installs the npm packages)"
    key = "mixed" + os.urandom(4).hex()
    servers = []
    for name in ("a", "b"):
        io = aiosocketio.Server(adapter=python_adapter(kind, url, key), **server_options)
        running = await io.listen(host="127.0.0.1", port=0)
        servers.append((name, io, f"http://127.0.0.1:{running.port}"))
    port = free_port()
    extra = ["csr"] if server_options.get("connection_state_recovery") else []
    process = await asyncio.create_subprocess_exec(
        node_binary,
        str(NODE_SERVER),
        str(port),
        url,
        key,
        kind,
        *extra,
        cwd=TESTS_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    node = NodeServer(process, f"http://127.0.0.1:{port}")
    clients: list[Client] = []
    try:
        assert (await asyncio.wait_for(node.events.get(), 10 * FACTOR)) == {"kind": "ready"}
        for _ in range(int(200 * FACTOR)):  # the Node adapter subscribes in the background after listening
            counts = [await io.sockets.adapter.server_count() for _, io, _ in servers]
            if counts == [3, 3] and await node.ask("serverCount") == 3:
                break
            await asyncio.sleep(0.02)

        async def client(url: str) -> Client:
            made = await Client().connect(url)
            clients.append(made)
            return made

        world = {
            "a": servers[0][1],
            "b": servers[1][1],
            "node": node,
            "client": client,
            "kind": kind,
            "key": key,
            "url": url,
        }
        world |= {f"{name}_url": url for name, _, url in servers}
        yield world
    finally:
        for made in clients:
            await made.sio.disconnect()
        await node.stop()
        for _, io, _ in servers:
            await io.close()


async def room_channels_ready(world: dict[str, Any], *rooms: str) -> None:
    """With the sharded adapter a server subscribes to a room's channel when the room appears there, in the
    background (Node does the same): wait until each room's channel has its subscriber before emitting to it."""
    if world["kind"] != "sharded":
        return
    from redis.asyncio import Redis

    redis = Redis.from_url(world["url"])
    try:
        for room in rooms:
            for _ in range(int(100 * FACTOR)):
                ((_, count),) = await redis.pubsub_shardnumsub(f"{world['key']}#/#{room}#")
                if count:
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError(f"nobody subscribed to the channel of {room}")
    finally:
        await redis.aclose()


@pytest.fixture(params=["classic", "sharded", "streams", "postgres"])
async def world(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """The cluster of each kind of adapter; every test below runs on all of them."""
    url = request.getfixturevalue("postgres_url" if request.param == "postgres" else "redis_url")
    async with make_world(request.param, url) as made:
        yield made


@pytest.fixture
async def classic_world(redis_url: str) -> AsyncIterator[dict[str, Any]]:
    """The emitters speak the classic adapter's protocol."""
    async with make_world("classic", redis_url) as made:
        yield made


async def test_every_server_counts_three(world: dict[str, Any]) -> None:
    assert await world["a"].sockets.adapter.server_count() == 3
    assert await world["node"].ask("serverCount") == 3


async def test_broadcasts_cross_both_ways(world: dict[str, Any]) -> None:
    on_a = await world["client"](world["a_url"])
    on_b = await world["client"](world["b_url"])
    on_node = await world["client"](world["node"].url)
    await world["a"].emit("from-python", 1, 2.5, {"k": [None, True]}, b"\x01\x02")
    for client in (on_a, on_b, on_node):
        assert await client.next() == ("from-python", 1, 2.5, {"k": [None, True]}, b"\x01\x02")
    await world["node"].ask("emit", event="from-node", args=["x", {"n": 3}])
    for client in (on_a, on_b, on_node):
        assert await client.next() == ("from-node", "x", {"n": 3})


async def test_rooms_and_except_cross_both_ways(world: dict[str, Any]) -> None:
    on_a = await world["client"](world["a_url"])
    on_node = await world["client"](world["node"].url)
    await on_node.sio.call("join", "room1")
    (socket_a,) = world["a"].sockets.sockets.values()
    await socket_a.join("room2")
    await room_channels_ready(world, "room1", "room2")
    await world["a"].to("room1").emit("python-to-room1")
    assert await on_node.next() == ("python-to-room1",)
    await world["node"].ask("emit", rooms=["room2"], event="node-to-room2")
    assert await on_a.next() == ("node-to-room2",)
    await world["node"].ask("emit", **{"except": ["room2"]}, event="all-but-room2")
    await world["node"].ask("emit", event="marker")
    assert await on_a.next() == ("marker",)


async def test_fetch_sockets_both_ways(world: dict[str, Any]) -> None:
    on_a = await world["client"](world["a_url"])
    on_node = await world["client"](world["node"].url)
    await on_node.sio.call("join", "room1")
    (socket_a,) = world["a"].sockets.sockets.values()
    socket_a.data["who"] = "python"
    remote = [s for s in await world["a"].fetch_sockets() if isinstance(s, RemoteSocket)]
    assert [s.id for s in remote] == [on_node.sid]
    assert remote[0].rooms == {on_node.sid, "room1"}
    assert remote[0].data == {"server": "node"}
    assert remote[0].handshake.query["transport"] == "websocket"
    seen = await world["node"].ask("fetchSockets")
    by_id = {s["id"]: s for s in seen}
    assert set(by_id) == {on_a.sid, on_node.sid}
    assert by_id[on_a.sid]["data"] == {"who": "python"}
    assert by_id[on_a.sid]["rooms"] == [on_a.sid]
    assert by_id[on_a.sid]["query"]["transport"] == "websocket"


async def test_sockets_join_and_disconnect_cross_both_ways(world: dict[str, Any]) -> None:
    on_a = await world["client"](world["a_url"])
    on_node = await world["client"](world["node"].url)
    await world["a"].sockets_join("everyone")
    for _ in range(100):
        seen = await world["node"].ask("fetchSockets", rooms=["everyone"])
        if len(seen) == 2:
            break
        await asyncio.sleep(0.02)
    assert {s["id"] for s in seen} == {on_a.sid, on_node.sid}
    await world["node"].ask("disconnectSockets", rooms=[on_a.sid])
    await asyncio.wait_for(on_a.disconnected.wait(), PROMPTLY)
    assert not on_node.disconnected.is_set()


async def test_server_side_emit_both_ways(world: dict[str, Any]) -> None:
    got: list[Any] = []
    world["a"].on("hello", lambda *args: got.append(args))
    world["b"].on("question", lambda value: value * 2)
    world["a"].on("question", lambda value: value * 3)
    await world["node"].ask("serverSideEmit", event="hello", args=[1, "two"])
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.02)
    assert got == [(1, "two")]
    assert sorted(await world["node"].ask("serverSideEmitWithAck", event="question", args=[5])) == [10, 15]
    assert sorted(await world["a"].server_side_emit_with_ack("question", 5)) == [10, 20]
    await world["a"].server_side_emit("hello", "from-python")
    assert (await asyncio.wait_for(world["node"].events.get(), PROMPTLY)) == {
        "kind": "server-side",
        "args": ["from-python"],
    }


async def test_broadcast_acks_both_ways(world: dict[str, Any]) -> None:
    clients = [
        await world["client"](world["a_url"]),
        await world["client"](world["b_url"]),
        await world["client"](world["node"].url),
    ]
    expected = sorted(f"ack-{c.sid}" for c in clients)
    assert sorted(await world["a"].timeout(2).emit_with_ack("ask")) == expected
    assert sorted(await world["node"].ask("emitWithAck", event="ask", timeout=2000)) == expected


async def test_the_node_emitter_drives_python_servers(classic_world: dict[str, Any]) -> None:
    world = classic_world
    on_a = await world["client"](world["a_url"])
    (socket_a,) = world["a"].sockets.sockets.values()
    await socket_a.join("r")
    got: list[Any] = []
    world["b"].on("from-emitter", lambda *args: got.append(args))
    await world["node"].ask("emitterEmit", rooms=["r"], event="emitted", args=[1, {"a": "b"}])
    assert await on_a.next() == ("emitted", 1, {"a": "b"})
    await world["node"].ask("emitterServerSideEmit", event="from-emitter", args=["x"])
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.02)
    assert got == [("x",)]


@pytest.mark.parametrize("flavour", ["async", "sync"])
async def test_our_emitter_drives_node_and_python_servers(
    classic_world: dict[str, Any], redis_url: str, flavour: str
) -> None:
    world = classic_world
    from aiosocketio.emitter import RedisEmitter, SyncRedisEmitter

    key = world["a"].sockets.adapter._key
    on_a = await world["client"](world["a_url"])
    on_node = await world["client"](world["node"].url)
    await on_node.sio.call("join", "r")
    (socket_a,) = world["a"].sockets.sockets.values()
    await socket_a.join("r")
    got: list[Any] = []
    world["b"].on("ping-servers", lambda *args: got.append(args))

    if flavour == "async":
        emitter: Any = RedisEmitter(redis_url, key=key)

        async def call(method: str, *args: Any) -> None:
            await getattr(emitter, method)(*args)
    else:
        emitter = SyncRedisEmitter(redis_url, key=key)

        async def call(method: str, *args: Any) -> None:
            await asyncio.to_thread(getattr(emitter, method), *args)

    await call("emit", "all", 1, b"\x00\xff")
    assert await on_a.next() == ("all", 1, b"\x00\xff")
    assert await on_node.next() == ("all", 1, b"\x00\xff")
    room = emitter.to("r").except_(on_a.sid)
    await (room.emit("room-not-a") if flavour == "async" else asyncio.to_thread(room.emit, "room-not-a"))
    assert await on_node.next() == ("room-not-a",)
    await call("server_side_emit", "ping-servers", "hi")
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.02)
    assert got == [("hi",)]
    await call("sockets_join", "joined-by-emitter")
    for _ in range(100):
        if "joined-by-emitter" in socket_a.rooms:
            break
        await asyncio.sleep(0.02)
    assert "joined-by-emitter" in socket_a.rooms
    seen = await world["node"].ask("fetchSockets", rooms=["joined-by-emitter"])
    assert {s["id"] for s in seen} == {on_a.sid, on_node.sid}
    await call("disconnect_sockets")
    await asyncio.wait_for(on_a.disconnected.wait(), PROMPTLY)
    await asyncio.wait_for(on_node.disconnected.wait(), PROMPTLY)
    closer = emitter.aclose() if flavour == "async" else asyncio.to_thread(emitter.close)
    await closer


async def test_remote_sockets_act_on_the_other_side(world: dict[str, Any]) -> None:
    """``fetch_sockets`` hands out RemoteSocket objects whose methods reach the socket's own server, both ways."""
    on_a = await world["client"](world["a_url"])
    on_node = await world["client"](world["node"].url)
    (remote,) = [s for s in await world["a"].fetch_sockets() if isinstance(s, RemoteSocket)]
    assert remote.id == on_node.sid
    await remote.emit("direct", 1)
    assert await on_node.next() == ("direct", 1)
    assert await remote.timeout(2).emit_with_ack("ask") == f"ack-{on_node.sid}"
    await remote.join("joined-remotely")
    seen = await _eventually(world["node"], rooms=["joined-remotely"], count=1)
    assert [s["id"] for s in seen] == [on_node.sid]
    await remote.leave("joined-remotely")
    await _eventually(world["node"], rooms=["joined-remotely"], count=0)

    done = await world["node"].ask(
        "remote", ids=[on_a.sid], method="emit", event="from-node-remote", args=[2]
    )
    assert done["count"] == 1
    assert await on_a.next() == ("from-node-remote", 2)
    done = await world["node"].ask("remote", ids=[on_a.sid], method="emitWithAck", event="ask", timeout=2000)
    assert done["results"] == [f"ack-{on_a.sid}"]
    await world["node"].ask("remote", ids=[on_a.sid], method="join", room="by-node")
    (socket_a,) = world["a"].sockets.sockets.values()
    await _until(lambda: "by-node" in socket_a.rooms)
    await world["node"].ask("remote", ids=[on_a.sid], method="disconnect", close=True)
    await asyncio.wait_for(on_a.disconnected.wait(), PROMPTLY)
    await remote.disconnect()
    await asyncio.wait_for(on_node.disconnected.wait(), PROMPTLY)


async def test_sockets_leave_crosses_both_ways(world: dict[str, Any]) -> None:
    await world["client"](world["a_url"])
    on_node = await world["client"](world["node"].url)
    await on_node.sio.call("join", "r")
    (socket_a,) = world["a"].sockets.sockets.values()
    await socket_a.join("r")
    await world["a"].sockets_leave("r")
    await _eventually(world["node"], rooms=["r"], count=0)
    await socket_a.join("r")
    await on_node.sio.call("join", "r")
    await world["node"].ask("socketsLeave", leave="r")
    await _until(lambda: "r" not in socket_a.rooms)


async def test_local_stays_local(world: dict[str, Any]) -> None:
    on_a = await world["client"](world["a_url"])
    on_b = await world["client"](world["b_url"])
    on_node = await world["client"](world["node"].url)
    await world["a"].local.emit("only-a")
    await world["a"].local.sockets_join("local-room")
    assert [s.id for s in await world["a"].local.fetch_sockets()] == [on_a.sid]
    await world["a"].emit("marker")
    assert await on_a.next() == ("only-a",)
    for client in (on_a, on_b, on_node):
        assert await client.next() == ("marker",)  # B and Node never got "only-a"
    (socket_b,) = world["b"].sockets.sockets.values()
    assert "local-room" not in socket_b.rooms


async def test_binary_from_node_reaches_python_clients(world: dict[str, Any]) -> None:
    """Binary makes the sharded adapter switch to notepack and the streams one to base64 MessagePack."""
    on_a = await world["client"](world["a_url"])
    await world["node"].ask("emit", event="bin", args=[{"n": 1}], binary="00ff10")
    assert await on_a.next() == ("bin", {"n": 1}, b"\x00\xff\x10")


async def _eventually(node: NodeServer, *, rooms: list[str], count: int) -> list[dict[str, Any]]:
    """The Node server's fetchSockets for ``rooms`` once it finds ``count`` sockets (the join travels first)."""
    seen: list[dict[str, Any]] = []
    for _ in range(int(100 * FACTOR)):
        seen = await node.ask("fetchSockets", rooms=rooms)
        if len(seen) == count:
            return seen
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} sockets in {rooms}, got {seen}")


async def _until(condition: Any) -> None:
    for _ in range(int(100 * FACTOR)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never became true")


async def test_volatile_and_compress_flags_cross(world: dict[str, Any]) -> None:
    on_node = await world["client"](world["node"].url)
    on_b = await world["client"](world["b_url"])
    await world["a"].volatile.emit("volatile", 1)
    await world["a"].compress(False).emit("uncompressed", 2)
    for client in (on_node, on_b):
        assert await client.next() == ("volatile", 1)
        assert await client.next() == ("uncompressed", 2)


async def test_node_legacy_all_rooms_request_is_answered(classic_world: dict[str, Any]) -> None:
    """``adapter.allRooms()`` of the Node classic adapter asks every server (ALL_ROOMS, docs/protocol/cluster.md#classic-requests)."""
    world = classic_world
    on_a = await world["client"](world["a_url"])
    (socket_a,) = world["a"].sockets.sockets.values()
    await socket_a.join("python-room")
    assert await world["node"].ask("allRooms") == sorted([on_a.sid, "python-room"])
