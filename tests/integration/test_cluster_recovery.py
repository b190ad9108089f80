"""Connection state recovery across servers with the Redis Streams adapter (docs/protocol/cluster.md#streams-sessions).

A socket.io-client 4.8 reaches the cluster through a small TCP "load balancer". Its server shuts down, the
balancer now points at another server, an event is broadcast while the client is away, and the client comes back
with its old id, rooms and data, and gets the event it missed. Every direction is covered: ours → ours, ours →
Node.js (@socket.io/redis-streams-adapter 0.3.1 reads the session we stored) and Node.js → ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_mixed_cluster import FACTOR, PROMPTLY, TESTS_DIR, make_world, stop_process

import aiosocketio

pytestmark = pytest.mark.node

CLIENT = Path(__file__).resolve().parent / "js" / "sio_failover_client.mjs"
RECOVERY = {"max_disconnection_duration": 60.0, "skip_middlewares": True}


class Balancer:
    """Forwards each TCP connection to the current ``target`` port (switchable at any time)."""

    def __init__(self) -> None:
        self.target = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter, list[asyncio.Task[None]]]] = []
        self._stale: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        tasks = []
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)
            tasks.append(task)
        self._links.append((writer, up_writer, tasks))

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Copy until the source ends, then close the sink (a cancelled pipe leaves it open)."""
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        sink.close()

    async def cut_clients(self) -> None:
        """Close the clients' side of every connection so far, and only it: the servers see nothing (like a
        network that fails between them and the clients) until their heartbeat gives up."""
        links, self._links = self._links, []
        for client_side, _, tasks in links:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            client_side.close()
        self._stale += [server_side for _, server_side, _ in links]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        for client_side, server_side, _ in self._links:
            client_side.close()
            server_side.close()
        for server_side in self._stale:
            server_side.close()


class FailoverClient:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def next(self, kind: str | None = None) -> dict[str, Any]:
        """The next observation (of ``kind`` if given, skipping others)."""
        assert self.process.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.process.stdout.readline(), PROMPTLY * 2)
            assert raw, "the client exited"
            line: dict[str, Any] = json.loads(raw)
            assert line["kind"] != "timeout"
            if kind is None or line["kind"] == kind:
                return line

    async def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()

    async def stop(self) -> None:
        await stop_process(self.process)


@contextlib.asynccontextmanager
async def failover_client(url: str, reconnect_delay_ms: int = 1000) -> AsyncIterator[FailoverClient]:
    node = shutil.which("node")
    assert node, "Node.js is needed"
    process = await asyncio.create_subprocess_exec(
        node,
        str(CLIENT),
        url,
        str(reconnect_delay_ms),
        cwd=TESTS_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    client = FailoverClient(process)
    try:
        yield client
    finally:
        await client.stop()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def python_join_handler(io: aiosocketio.Server) -> None:
    """Like the Node server's: ``join(room, ack)`` joins, and the connection gets ``data.server``."""

    async def on_connection(socket: aiosocketio.Socket) -> None:
        if not socket.recovered:
            socket.data["server"] = "python"

        async def join(room: str) -> None:
            await socket.join(room)

        socket.on("join", join)

    io.on("connection", on_connection)


@pytest.fixture
async def world(redis_url: str) -> AsyncIterator[dict[str, Any]]:
    async with make_world("streams", redis_url, connection_state_recovery=RECOVERY) as made:
        python_join_handler(made["a"])
        python_join_handler(made["b"])
        yield made


@pytest.mark.parametrize(("first", "then"), [("a", "b"), ("a", "node"), ("node", "a")])
async def test_a_client_recovers_on_another_server(world: dict[str, Any], first: str, then: str) -> None:
    urls = {"a": world["a_url"], "b": world["b_url"], "node": world["node"].url}
    balancer = Balancer()
    balancer.target = port_of(urls[first])
    port = await balancer.start()
    try:
        async with failover_client(f"http://127.0.0.1:{port}") as client:
            hello = await client.next("connect")
            assert hello["recovered"] is False
            await client.send(op="join", room="r1")
            await client.next("joined")
            # An event with an offset, so the client has something to resume from.
            if first == "node":
                await world["node"].ask("emit", rooms=["r1"], event="first", args=[1])
            else:
                await world[first].to("r1").emit("first", 1)
            got = await client.next("event")
            assert got["event"] == "first"
            assert got["args"][0] == 1
            assert isinstance(got["args"][-1], str)
            assert "-" in got["args"][-1]

            balancer.target = port_of(urls[then])
            if first == "node":
                await world["node"].ask("close")
            else:
                await world[first].close()
            assert (await client.next("disconnect"))["reason"] == "transport close"
            # Broadcast from the server that the client will land on, while the client is away.
            if then == "node":
                await world["node"].ask("emit", rooms=["r1"], event="while-away", args=["x"])
            else:
                await world[then].to("r1").emit("while-away", "x")

            # socket.io-client hands the replayed events out just before "connect" (Node sends them first).
            lines = [await client.next(), await client.next()]
            back = next(line for line in lines if line["kind"] == "connect")
            missed = next(line for line in lines if line["kind"] == "event")
            assert back == {"kind": "connect", "id": hello["id"], "recovered": True}
            assert missed["event"] == "while-away"
            assert missed["args"][0] == "x"
            assert "-" in missed["args"][-1]

            # The new server has the socket with its rooms and data.
            if then == "node":
                (seen,) = await world["node"].ask("fetchSockets", rooms=["r1"])
                assert seen["id"] == hello["id"]
                assert seen["data"] == {"server": "python"}
            else:
                socket = world[then].sockets.sockets[hello["id"]]
                assert socket.recovered
                assert socket.rooms == {hello["id"], "r1"}
                assert socket.data == {"server": "node" if first == "node" else "python"}
    finally:
        await balancer.close()


async def test_an_unknown_session_gets_a_new_id(world: dict[str, Any], redis_url: str) -> None:
    """A session that expired (here: deleted from Redis) is not recovered: new id, nothing replayed."""
    from redis.asyncio import Redis

    balancer = Balancer()
    balancer.target = port_of(world["a_url"])
    port = await balancer.start()
    redis = Redis.from_url(redis_url)
    try:
        async with failover_client(f"http://127.0.0.1:{port}") as client:
            hello = await client.next("connect")
            await world["a"].emit("first", 1)
            await client.next("event")
            balancer.target = port_of(world["b_url"])
            await world["a"].close()
            await client.next("disconnect")
            for _ in range(int(100 * FACTOR)):
                keys = await redis.keys(world["key"] + ":session:*")
                if keys:
                    break
                await asyncio.sleep(0.02)
            assert len(keys) == 1
            await redis.delete(*keys)
            back = await client.next("connect")
            assert back["recovered"] is False
            assert back["id"] != hello["id"]
    finally:
        await redis.aclose()
        await balancer.close()
