"""Our Redis adapters between aiosocketio servers on a real redis-server (docs/protocol/cluster.md#concepts, docs/protocol/cluster.md#classic, docs/protocol/cluster.md#cluster-adapter, docs/protocol/cluster.md#sharded, docs/protocol/cluster.md#streams): every test
runs with the classic adapter, the sharded one (Redis 7 sharded pub/sub) and the streams one."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio

import aiosocketio
from aiosocketio import AckTimeoutError
from aiosocketio.adapters import redis_streams
from aiosocketio.adapters.redis import create_adapter, create_sharded_adapter
from aiosocketio.broadcast import RemoteSocket

PROMPTLY = 5.0 * float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")


class Node:
    """One aiosocketio server of the cluster, and the clients connected to it."""

    def __init__(self, io: aiosocketio.Server, url: str) -> None:
        self.io = io
        self.url = url
        self.clients: list[socketio.AsyncClient] = []

    async def client(self, namespace: str = "/") -> tuple[socketio.AsyncClient, asyncio.Queue[Any]]:
        received: asyncio.Queue[Any] = asyncio.Queue()
        sio = socketio.AsyncClient()

        @sio.on("*", namespace=namespace)
        def on_any(event: str, *args: Any) -> Any:
            received.put_nowait((event, *args))
            return "ack-from-" + sio.get_sid(namespace) if event == "ask" else None

        await sio.connect(self.url, transports=["websocket"], namespaces=[namespace])
        self.clients.append(sio)
        return sio, received


KINDS = ["classic", "sharded", "streams"]


def adapter_for(kind: str, url: str, key: str, requests_timeout: float) -> Any:
    if kind == "classic":
        return create_adapter(url, key=key, requests_timeout=requests_timeout)
    if kind == "sharded":
        return create_sharded_adapter(url, channel_prefix=key, requests_timeout=requests_timeout)
    return redis_streams.create_adapter(
        url, stream_name=key, channel_prefix=key, requests_timeout=requests_timeout
    )


@pytest.fixture(params=KINDS)
async def cluster(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Any]:
    nodes: list[Node] = []
    key = "t" + os.urandom(4).hex()  # pub/sub channels are global: one prefix per test

    async def make() -> Node:
        io = aiosocketio.Server(adapter=adapter_for(request.param, redis_url, key, 2.0))
        running = await io.listen(host="127.0.0.1", port=0)
        node = Node(io, f"http://127.0.0.1:{running.port}")
        nodes.append(node)
        return node

    async def room_channel_ready(room: str) -> None:
        if request.param != "sharded":
            return
        from redis.asyncio import Redis

        redis = Redis.from_url(redis_url)
        try:
            for _ in range(200):
                ((_, count),) = await redis.pubsub_shardnumsub(f"{key}#/#{room}#")
                if count:
                    return
                await asyncio.sleep(0.02)
            raise AssertionError(f"nobody subscribed to the channel of {room}")
        finally:
            await redis.aclose()

    make.room_channel_ready = room_channel_ready  # type: ignore[attr-defined]
    yield make
    for node in nodes:
        for client in node.clients:
            # Bounded: python-socketio's client can hang when this disconnect() meets the one it runs itself
            # after a server-side disconnect (seen twice in CI rehearsals, in test_utility_methods_cross_servers,
            # stuck in this teardown); closing the server below ends such a connection anyway.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.disconnect(), PROMPTLY)
        await node.io.close()


async def next_event(queue: asyncio.Queue[Any]) -> Any:
    return await asyncio.wait_for(queue.get(), PROMPTLY)


async def test_broadcasts_rooms_and_except_cross_servers(cluster: Any) -> None:
    a, b = await cluster(), await cluster()
    _, on_a = await a.client()
    sio_b, on_b = await b.client()
    assert await a.io.sockets.adapter.server_count() == 2
    await a.io.emit("hello", 1, {"x": [True]}, b"\x01\x02")
    assert await next_event(on_b) == ("hello", 1, {"x": [True]}, b"\x01\x02")
    assert await next_event(on_a) == ("hello", 1, {"x": [True]}, b"\x01\x02")
    (socket_b,) = b.io.sockets.sockets.values()
    await socket_b.join("room1")
    await cluster.room_channel_ready("room1")  # sharded: B subscribes to the room's channel in the background
    await a.io.to("room1").emit("to-room", "r")
    assert await next_event(on_b) == ("to-room", "r")
    await a.io.except_("room1").emit("not-room1")
    assert await next_event(on_a) == ("not-room1",)
    await a.io.local.emit("local-only")
    assert await next_event(on_a) == ("local-only",)
    await b.io.emit("marker")
    assert await next_event(on_b) == ("marker",)  # "not-room1" and "local-only" never reached B
    assert sio_b.connected


async def test_utility_methods_cross_servers(cluster: Any) -> None:
    a, b = await cluster(), await cluster()
    await a.client()
    sio_b, on_b = await b.client()
    (socket_b,) = b.io.sockets.sockets.values()
    socket_b.data["user"] = "bob"
    await socket_b.join("r1")

    sockets = await a.io.fetch_sockets()
    remote = [s for s in sockets if isinstance(s, RemoteSocket)]
    assert [s.id for s in remote] == [socket_b.id]
    assert remote[0].rooms == {socket_b.id, "r1"}
    assert remote[0].data == {"user": "bob"}
    assert remote[0].handshake.query["transport"] == "websocket"
    assert len(sockets) == 2

    await a.io.in_("r1").sockets_join("r2")
    await asyncio.sleep(0.2)
    assert socket_b.rooms == {socket_b.id, "r1", "r2"}
    await a.io.sockets_leave("r1")
    await asyncio.sleep(0.2)
    assert socket_b.rooms == {socket_b.id, "r2"}

    await remote[0].emit("direct", 7)
    assert await next_event(on_b) == ("direct", 7)

    disconnected = asyncio.Event()
    sio_b.on("disconnect", lambda *args: disconnected.set())
    await a.io.in_("r2").disconnect_sockets()
    await asyncio.wait_for(disconnected.wait(), PROMPTLY)
    assert not b.io.sockets.sockets


async def test_broadcast_acks_collect_every_client_of_every_server(cluster: Any) -> None:
    a, b = await cluster(), await cluster()
    sio_a, _ = await a.client()
    sio_b1, _ = await b.client()
    sio_b2, _ = await b.client()
    answers = await a.io.timeout(2).emit_with_ack("ask")
    expected = {"ack-from-" + c.get_sid("/") for c in (sio_a, sio_b1, sio_b2)}
    assert sorted(answers) == sorted(expected)


async def test_server_side_emit_with_and_without_ack(cluster: Any) -> None:
    a, b, c = await cluster(), await cluster(), await cluster()
    got: list[Any] = []
    b.io.on("hello", lambda *args: got.append(("b", *args)))

    @b.io.on("question")
    async def on_question(value: int) -> int:
        return value * 2

    c.io.on("question", lambda value: value * 3)
    await a.io.server_side_emit("hello", 1, "two")
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.02)
    assert got == [("b", 1, "two")]
    assert sorted(await a.io.server_side_emit_with_ack("question", 5)) == [10, 15]


async def test_server_side_emit_with_ack_times_out_with_partial_answers(cluster: Any) -> None:
    a, b, c = await cluster(), await cluster(), await cluster()
    b.io.on("slow", lambda: "fast-answer")

    @c.io.on("slow")
    async def never() -> None:
        await asyncio.sleep(10)

    with pytest.raises(AckTimeoutError) as caught:
        await a.io.server_side_emit_with_ack("slow", timeout=0.5)
    assert caught.value.responses == ["fast-answer"]


@pytest.mark.parametrize("kind", KINDS)
async def test_redis_restart_mid_traffic(tmp_path: Any, kind: str) -> None:
    """Redis stops: local delivery goes on and nothing raises; Redis comes back: the cluster heals within 2 s."""
    import shutil
    import socket as sock
    import subprocess

    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed"
    with sock.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def start_redis() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(  # noqa: ASYNC220 - starting a daemon takes no time to wait for
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                with sock.create_connection(("127.0.0.1", port), 0.2):
                    return proc
            except OSError:
                await asyncio.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    redis_proc = await start_redis()
    url = f"redis://127.0.0.1:{port}/0"
    servers = []
    clients = []
    try:
        for _ in range(2):
            io = aiosocketio.Server(adapter=adapter_for(kind, url, "restart", 1.0))
            running = await io.listen(host="127.0.0.1", port=0)
            servers.append((io, f"http://127.0.0.1:{running.port}"))
        queues = []
        for _, server_url in servers:
            received: asyncio.Queue[Any] = asyncio.Queue()
            client = socketio.AsyncClient()
            client.on("*", lambda event, *args, q=received: q.put_nowait((event, *args)))
            await client.connect(server_url, transports=["websocket"])
            clients.append(client)
            queues.append(received)
        a, b = servers[0][0], servers[1][0]
        await a.emit("before", 1)
        assert await next_event(queues[1]) == ("before", 1)

        redis_proc.kill()
        redis_proc.wait()
        await a.emit("while-down", 2)  # published into the void, delivered here, nothing raised
        assert await next_event(queues[0]) == ("before", 1)
        assert await next_event(queues[0]) == ("while-down", 2)
        with pytest.raises(aiosocketio.AdapterError, match="Redis is not reachable"):
            await a.fetch_sockets()  # a request that needs answers fails clearly

        redis_proc = await start_redis()
        loop = asyncio.get_running_loop()
        restarted = loop.time()
        # Healed = broadcasts cross again and every server counts the other. The streams adapter carries
        # broadcasts on its stream reader and counts servers on its pub/sub subscription: two connections that
        # come back one after the other, both within the 2 s.
        while True:
            await a.emit("after", 3)
            try:
                event = await asyncio.wait_for(queues[1].get(), 0.2)
            except TimeoutError:
                event = None
            if event == ("after", 3):
                break
            assert loop.time() - restarted < 2.0, "broadcasts did not cross again within 2 s"
        while await b.sockets.adapter.server_count() != 2 or await a.sockets.adapter.server_count() != 2:
            assert loop.time() - restarted < 2.0, "the servers did not count each other again within 2 s"
            await asyncio.sleep(0.02)
    finally:
        for client in clients:
            await client.disconnect()
        for io, _ in servers:
            await io.close()
        redis_proc.kill()
        redis_proc.wait()


@pytest.mark.parametrize(
    ("mode", "public_room", "socket_room"),
    [("static", False, False), ("dynamic", True, False), ("dynamic-private", True, True)],
)
async def test_sharded_subscription_modes(
    redis_url: str, mode: str, public_room: bool, socket_room: bool
) -> None:
    """Which room channels a server SSUBSCRIBEs to, and that broadcasts reach members in every mode."""
    from redis.asyncio import Redis

    key = "m" + os.urandom(4).hex()
    servers = []
    redis = Redis.from_url(redis_url)
    client = socketio.AsyncClient()
    received: asyncio.Queue[Any] = asyncio.Queue()
    client.on("*", lambda event, *args: received.put_nowait((event, *args)))
    try:
        for _ in range(2):
            io = aiosocketio.Server(
                adapter=create_sharded_adapter(redis_url, channel_prefix=key, subscription_mode=mode)
            )
            running = await io.listen(host="127.0.0.1", port=0)
            servers.append((io, f"http://127.0.0.1:{running.port}"))
        (a, _), (b, b_url) = servers
        await client.connect(b_url, transports=["websocket"])
        (socket_b,) = b.sockets.sockets.values()
        await socket_b.join("news")

        async def subscribed(room: str) -> bool:
            ((_, count),) = await redis.pubsub_shardnumsub(f"{key}#/#{room}#")
            return bool(count)

        for _ in range(100):
            if await subscribed("news") == public_room and await subscribed(socket_b.id) == socket_room:
                break
            await asyncio.sleep(0.02)
        assert await subscribed("news") == public_room
        assert await subscribed(socket_b.id) == socket_room
        await a.to("news").emit("to-room", 1)
        await a.to(socket_b.id).emit("to-socket", 2)
        assert await next_event(received) == ("to-room", 1)
        assert await next_event(received) == ("to-socket", 2)
        await socket_b.leave("news")
        for _ in range(100):
            if not await subscribed("news"):
                break
            await asyncio.sleep(0.02)
        assert not await subscribed("news")  # unsubscribed when the room went away
    finally:
        await client.disconnect()
        for io, _ in servers:
            await io.close()
        await redis.aclose()
