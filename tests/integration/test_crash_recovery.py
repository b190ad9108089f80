"""Connection state recovery after a crash, with the Redis Streams adapter (docs/guide/recovery.md#crash).

Server A (``tests/servers/streams_member.py``, a process of its own) keeps the session of each connected socket in
Redis while it lives. A socket.io-client 4.8 connects to A through a small TCP balancer, joins a room, gets an event
(its offset is where it will resume from) and changes its ``data``; A is killed with SIGKILL, so it handles no
disconnection at all; an event is broadcast to the room while the client is away; the client comes back to another
server of the cluster and recovers its id, rooms and data, and gets the missed event exactly once. The other
server is ours, or Node.js socket.io 4.8 with ``@socket.io/redis-streams-adapter`` 0.3.1 reading the session ours
kept. The graceful-shutdown cases are in ``test_cluster_recovery.py``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from test_cluster_recovery import (
    RECOVERY,
    Balancer,
    FailoverClient,
    failover_client,
    port_of,
    python_join_handler,
)
from test_mixed_cluster import FACTOR, Client, make_world

import aiosocketio
from aiosocketio.adapters import messages as wire
from aiosocketio.adapters import redis_streams

pytestmark = pytest.mark.node

MEMBER = Path(__file__).resolve().parent.parent / "servers" / "streams_member.py"


@pytest.fixture
async def world(redis_url: str) -> AsyncIterator[dict[str, Any]]:
    async with make_world("streams", redis_url, connection_state_recovery=RECOVERY) as made:
        python_join_handler(made["a"])
        python_join_handler(made["b"])
        yield made


async def sessions(redis: Any, key: str) -> dict[str, wire.PersistedSession]:
    """The sessions kept in Redis for the cluster ``key``, by pid."""
    found = {}
    for name in await redis.keys(key + ":session:*"):
        raw = await redis.get(name)
        if raw is not None:
            session = wire.decode_stream_session(raw)
            found[session.pid] = session
    return found


async def until(check: Callable[[], Any]) -> Any:
    """Poll the coroutine function ``check`` until it returns something true; return that."""
    for _ in range(int(250 * FACTOR)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError("the condition did not come true")


async def broadcast(world: dict[str, Any], server: str, event: str, *args: Any) -> None:
    if server == "node":
        await world["node"].ask("emit", rooms=["r1"], event=event, args=list(args))
    else:
        await world[server].to("r1").emit(event, *args)


@pytest.mark.parametrize(("frontend", "then"), [("runner", "b"), ("runner", "node"), ("uvicorn", "b")])
async def test_a_client_of_a_killed_server_recovers_elsewhere(
    world: dict[str, Any], server_factory: Any, redis_url: str, frontend: str, then: str
) -> None:
    from redis.asyncio import Redis

    key = world["key"]
    member = server_factory(MEMBER, "--redis", redis_url, "--key", key, frontend=frontend)
    redis = Redis.from_url(redis_url)
    balancer = Balancer()
    balancer.target = member.port
    port = await balancer.start()
    urls = {"b": world["b_url"], "node": world["node"].url}
    try:
        async with failover_client(f"http://127.0.0.1:{port}") as client:
            hello = await client.next("connect")
            assert hello["recovered"] is False
            sid = hello["id"]

            # Written at connect, with what the connection handler put in socket.data.
            kept = await until(lambda: sessions(redis, key))
            (pid,) = kept
            assert kept[pid].sid == sid
            assert set(kept[pid].rooms) == {sid}
            assert kept[pid].data == {"server": "python"}
            # While the socket lives, the expiry outlasts the recovery window (60 s here) until the next refresh.
            assert await redis.pttl(f"{key}:session:{pid}") > 60_000

            await client.send(op="join", room="r1")
            await client.next("joined")
            await ack(client, "set", "name", "ada")  # in place, then save_session()
            await ack(client, "assign", "level", 3)  # an assignment
            # The writes are queued when the change is made and sent right after; the ack can reach the client
            # before Redis has them (a single read here failed about one run in five).
            expected = {"server": "python", "name": "ada", "level": 3}

            async def written() -> bool:
                now = (await sessions(redis, key)).get(pid)
                return now is not None and set(now.rooms) == {sid, "r1"} and now.data == expected

            await until(written)

            # An event with an offset, from another server, so the client has something to resume from.
            await broadcast(world, then, "first", 1)
            got = await client.next("event")
            assert got["event"] == "first"
            assert "-" in got["args"][-1]

            balancer.target = port_of(urls[then])
            assert member.proc is not None
            member.proc.kill()  # SIGKILL: no disconnection is handled, nothing is written at the end
            member.proc.wait()
            assert (await client.next("disconnect"))["reason"] == "transport close"
            await broadcast(world, then, "while-away", "x")

            # socket.io-client hands the replayed events out just before "connect" (the server sends them first).
            lines = [await client.next(), await client.next()]
            back = next(line for line in lines if line["kind"] == "connect")
            missed = next(line for line in lines if line["kind"] == "event")
            assert back == {"kind": "connect", "id": sid, "recovered": True}
            assert missed["event"] == "while-away"
            assert missed["args"][0] == "x"
            # Exactly once: the next event is the one sent after the recovery.
            await broadcast(world, then, "after", 2)
            following = await client.next("event")
            assert following["event"] == "after"

            if then == "node":
                (seen,) = await world["node"].ask("fetchSockets", rooms=["r1"])
                assert seen["id"] == sid
                assert seen["rooms"] == sorted([sid, "r1"])
                assert seen["data"] == {"server": "python", "name": "ada", "level": 3}
            else:
                socket = world["b"].sockets.sockets[sid]
                assert socket.recovered
                assert socket.rooms == {sid, "r1"}
                assert socket.data == {"server": "python", "name": "ada", "level": 3}
                # B keeps it in turn while the socket lives (the restore took the key, B wrote it again).
                kept = await until(lambda: sessions(redis, key))
                assert set(kept[pid].rooms) == {sid, "r1"}
        if then == "b":
            # The client left for good ("client namespace disconnect"): its session is gone from Redis.
            assert await until(lambda: _no_sessions(redis, key))
    finally:
        await redis.aclose()
        await balancer.close()


async def _no_sessions(redis: Any, key: str) -> bool:
    return not await redis.keys(key + ":session:*")


async def ack(client: FailoverClient, event: str, *args: Any) -> None:
    await client.send(op="emit", event=event, args=list(args))
    await client.next("acked")


async def test_the_kept_session_follows_the_socket(redis_url: str) -> None:
    """What Redis holds for a live socket, refreshed every ``session_refresh_interval``: the expiry is pushed back,
    an in-place change of ``data`` is picked up, a key lost meanwhile is written again; a socket that leaves for
    good takes its session with it, one that may come back leaves it for ``max_disconnection_duration``."""
    from redis.asyncio import Redis

    key = "live" + os.urandom(4).hex()
    adapter = redis_streams.create_adapter(
        redis_url,
        stream_name=key,
        channel_prefix=key,
        session_key_prefix=key + ":session:",
        session_refresh_interval=0.3,
    )
    io = aiosocketio.Server(adapter=adapter, connection_state_recovery={"max_disconnection_duration": 5.0})
    running = await io.listen(host="127.0.0.1", port=0)
    redis = Redis.from_url(redis_url)
    clients = []
    try:
        first, second = Client(), Client()
        clients += [first, second]
        await first.connect(f"http://127.0.0.1:{running.port}")
        socket = io.sockets.sockets[first.sid]
        assert socket.pid is not None
        name = f"{key}:session:{socket.pid}"
        kept = await until(lambda: sessions(redis, key))
        assert kept[socket.pid].sid == socket.id
        # Alive for the window (5 s) plus two refresh intervals.
        assert 5_000 < await redis.pttl(name) <= 5_600

        socket.data["color"] = "blue"  # in place, no save_session(): the next refresh stores it
        kept = await until(lambda: _with_data(redis, key, {"color": "blue"}))
        await asyncio.sleep(0.7)
        assert await redis.pttl(name) > 5_000  # pushed back: more than the 5.6 s minus the 0.7 s waited

        await redis.delete(name)  # lost (a flushed or restarted Redis): the next refresh writes it again
        await until(lambda: _with_data(redis, key, {"color": "blue"}))

        await socket.disconnect()  # for good: the session is deleted
        assert await until(lambda: _no_sessions(redis, key))

        await second.connect(f"http://127.0.0.1:{running.port}")
        other = io.sockets.sockets[second.sid]
        await other.join("r2")
        await other.save_session()
        assert set((await sessions(redis, key))[str(other.pid)].rooms) == {other.id, "r2"}
        await io.close()  # "server shutting down" may be recovered: the session stays for the window
        assert 0 < await redis.pttl(f"{key}:session:{other.pid}") <= 5_000
    finally:
        for client in clients:
            await client.sio.disconnect()
        await io.close()
        await redis.aclose()


async def _with_data(redis: Any, key: str, data: dict[str, Any]) -> dict[str, wire.PersistedSession] | None:
    found = await sessions(redis, key)
    return found if any(s.data == data for s in found.values()) else None


async def test_a_client_back_before_its_server_noticed(redis_url: str) -> None:
    """The client's connection fails on its side only: it reconnects to the same server, which still has the old
    socket (its heartbeat has not given up yet) and finds the live session. The old socket is closed first, so
    that the recovered one alone has the id and rooms, even after the old connection times out."""
    key = "back" + os.urandom(4).hex()
    adapter = redis_streams.create_adapter(
        redis_url, stream_name=key, channel_prefix=key, session_key_prefix=key + ":session:"
    )
    io = aiosocketio.Server(
        adapter=adapter, connection_state_recovery=RECOVERY, ping_interval=1.0, ping_timeout=1.0
    )
    python_join_handler(io)
    reasons: list[str] = []

    @io.on("connection")
    def on_connection(socket: aiosocketio.Socket) -> None:
        socket.on("disconnect", lambda reason, *_: reasons.append(reason))

    running = await io.listen(host="127.0.0.1", port=0)
    balancer = Balancer()
    balancer.target = running.port
    port = await balancer.start()
    try:
        async with failover_client(f"http://127.0.0.1:{port}", reconnect_delay_ms=100) as client:
            hello = await client.next("connect")
            sid = hello["id"]
            await client.send(op="join", room="r1")
            await client.next("joined")
            await io.to("r1").emit("first", 1)
            await client.next("event")

            await balancer.cut_clients()
            assert (await client.next("disconnect"))["reason"] == "transport close"
            assert sid in io.sockets.sockets  # the server has not noticed
            back = await client.next("connect")
            assert back == {"kind": "connect", "id": sid, "recovered": True}
            assert reasons == ["transport close"]  # the old socket, closed for the recovered one

            await asyncio.sleep(2.5)  # the old connection's heartbeat gives up meanwhile
            socket = io.sockets.sockets[sid]
            assert socket.recovered
            assert socket.rooms == {sid, "r1"}
            assert len(io.sockets.sockets) == 1
            assert reasons == ["transport close"]
            await io.to("r1").emit("after", 1)
            await io.to("r1").emit("after", 2)
            assert [(await client.next("event"))["args"][0] for _ in range(2)] == [1, 2]
    finally:
        await balancer.close()
        await io.close()


async def test_the_old_server_does_not_overwrite_a_session_taken_over(redis_url: str) -> None:
    """The client's connection to A fails on its side only and it recovers on B, which keeps the session from
    then on. When A's heartbeat finally gives up on the old socket, A's last write (a recoverable disconnection)
    finds a value it did not write and leaves it: Redis keeps B's rooms, with B's expiry."""
    from redis.asyncio import Redis

    key = "over" + os.urandom(4).hex()
    servers = []
    for _ in range(2):
        adapter = redis_streams.create_adapter(
            redis_url, stream_name=key, channel_prefix=key, session_key_prefix=key + ":session:"
        )
        io = aiosocketio.Server(
            adapter=adapter, connection_state_recovery=RECOVERY, ping_interval=1.0, ping_timeout=1.0
        )
        python_join_handler(io)
        servers.append((io, await io.listen(host="127.0.0.1", port=0)))
    (a, a_running), (b, b_running) = servers
    redis = Redis.from_url(redis_url)
    balancer = Balancer()
    balancer.target = a_running.port
    port = await balancer.start()
    try:
        async with failover_client(f"http://127.0.0.1:{port}", reconnect_delay_ms=100) as client:
            sid = (await client.next("connect"))["id"]
            await client.send(op="join", room="r1")
            await client.next("joined")
            await b.to("r1").emit("first", 1)
            await client.next("event")

            balancer.target = b_running.port
            await balancer.cut_clients()
            await client.next("disconnect")
            assert (await client.next("connect"))["recovered"] is True
            await client.send(op="join", room="r2")  # a change on B
            await client.next("joined")
            assert sid in a.sockets.sockets  # A has not noticed yet
            await until(lambda: _no_socket(a, sid))  # now it has (ping timeout)
            await asyncio.sleep(0.2)  # A's last write has been sent

            (kept,) = (await sessions(redis, key)).values()
            assert set(kept.rooms) == {sid, "r1", "r2"}
            assert await redis.pttl(f"{key}:session:{kept.pid}") > 60_000  # B's: the socket lives there
    finally:
        await redis.aclose()
        await balancer.close()
        for io, _ in servers:
            await io.close()


async def _no_socket(io: aiosocketio.Server, sid: str) -> bool:
    return sid not in io.sockets.sockets
