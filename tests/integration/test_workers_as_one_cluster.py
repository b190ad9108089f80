"""``workers=N`` with no ``adapter=``: the workers are one cluster through the built-in inter-process adapter
(docs/deployment.md#workers, docs/clusters.md), with nothing else running.

An app module is started in a fresh process as a user starts it (``python app.py``, ending in
``io.run(workers=N)``). python-socketio clients over long-polling, WebSocket and the upgrade land on every
worker; a broadcast to a room reaches each member exactly once, wherever the sender is; ``fetch_sockets`` sees
every socket; ``server_side_emit_with_ack`` gets one answer per other worker; a broadcast with acks collects
every client's answer across workers. Then one worker is killed with SIGKILL: it is replaced, the clients of
the other workers notice nothing, and a socket.io-client 4.8 client that was on it reconnects to another worker
and recovers its session (same id, rooms, data, the event it missed, once).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import socketio
from conftest import free_port, scaled
from test_cluster_recovery import failover_client

APP = """
import os
import sys

import aiosocketio

io = aiosocketio.Server(connection_state_recovery={"max_disconnection_duration": 30})


@io.on("connection")
async def on_connection(socket):
    @socket.on("whoami")
    def whoami():
        return [os.getpid(), int(os.environ["AIOSOCKETIO_WORKER_INDEX"]), socket.id]

    @socket.on("join")
    async def join(room):
        await socket.join(room)
        return True

    @socket.on("set")
    def set_data(key, value):
        socket.data[key] = value
        return True

    @socket.on("shout")
    async def shout(room, text):
        await io.to(room).emit("news", text, os.getpid())
        return True

    @socket.on("ids")
    async def ids():
        return sorted(s.id for s in await io.fetch_sockets())

    @socket.on("other_workers")
    async def other_workers():
        return sorted(await io.server_side_emit_with_ack("pid", timeout=5))

    @socket.on("servers")
    async def servers():
        return await io.sockets.adapter.server_count()

    @socket.on("poll")
    async def poll():
        return sorted(await io.timeout(5).emit_with_ack("question"))

    @socket.on("inspect")
    async def inspect(sid):
        for s in await io.fetch_sockets():
            if s.id == sid:
                return {"rooms": sorted(s.rooms), "data": dict(s.data)}
        return None


@io.on("pid")
def answer_pid():
    return os.getpid()


if __name__ == "__main__":
    io.run(port=int(sys.argv[1]), workers=int(sys.argv[2]), log_level="info")
"""

TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": ["polling", "websocket"]}


class Served:
    def __init__(self, cwd: Path, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log_path = cwd / f"server-{self.port}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "app.py", str(self.port), str(workers)],
                cwd=cwd,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_for_log(self, text: str, count: int = 1) -> None:
        deadline = time.monotonic() + scaled(20)
        while self.log().count(text) < count:
            assert self.proc.poll() is None, f"the server exited with {self.proc.returncode}:\n{self.log()}"
            assert time.monotonic() < deadline, f"{text!r} x{count} is not in the log:\n{self.log()}"
            await asyncio.sleep(0.05)


@asynccontextmanager
async def served(tmp_path: Path, workers: int) -> AsyncIterator[Served]:
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    server = Served(tmp_path, workers)
    try:
        await server.wait_for_log(") ready", workers)
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGTERM)
            try:
                server.proc.wait(scaled(10))
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(5)
        print(f"server log:\n{server.log()}")
    assert server.proc.returncode == 0, server.log()
    assert "Traceback" not in server.log()


class Member:
    """A python-socketio client: records "news", answers "question" with its own id."""

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.client = socketio.AsyncClient(reconnection=False)
        self.news: list[tuple[Any, ...]] = []  # (text, pid, the recovery offset)
        self.client.on("news", lambda *args: self.news.append(args))
        self.client.on("question", lambda: self.sid)
        self.sid = ""
        self.worker = -1

    async def connect(self, url: str) -> None:
        await self.client.connect(url, transports=TRANSPORTS[self.transport], wait_timeout=scaled(5))
        _pid, self.worker, self.sid = await self.call("whoami")
        assert await self.call("join", "all")

    async def call(self, event: str, *args: Any) -> Any:
        return await self.client.call(event, args if len(args) != 1 else args[0], timeout=scaled(8))


async def settle(condition: Any, what: str, seconds: float = 5) -> None:
    deadline = time.monotonic() + scaled(seconds)
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("workers", [2, 4])
async def test_the_workers_are_one_cluster(tmp_path: Path, workers: int) -> None:
    async with served(tmp_path, workers) as server:
        # Three sessions per worker or more: the kernel gives each new connection to a worker at random, so
        # members are added until every worker has some (64 miss one with a probability of about 4e-8).
        members: list[Member] = []
        transports = ["polling", "websocket", "upgrade"]
        while len(members) < 3 * workers or {m.worker for m in members} != set(range(workers)):
            assert len(members) < 64, f"sessions did not reach every worker: {[m.worker for m in members]}"
            member = Member(transports[len(members) % len(transports)])
            await member.connect(server.url)
            members.append(member)
        sids = sorted(m.sid for m in members)

        # Every worker counts the others, and fetch_sockets sees every socket from any worker.
        for member in members[:workers]:
            assert await member.call("servers") == workers
            assert await member.call("ids") == sids

        # A broadcast from each worker reaches every member exactly once.
        senders = {m.worker: m for m in members}
        for worker, sender in senders.items():
            assert await sender.call("shout", "all", f"from {worker}")
        await settle(lambda: all(len(m.news) == workers for m in members), "a member missed a broadcast")
        await asyncio.sleep(scaled(0.2))  # and nothing arrives twice
        for member in members:
            assert sorted(args[0] for args in member.news) == sorted(f"from {w}" for w in senders)

        # Server-side emits with acks reach every other worker; a broadcast with acks collects every client.
        pids = {(await member.call("whoami"))[0] for member in members}
        assert len(pids) == workers
        asked = members[0]
        own_pid = (await asked.call("whoami"))[0]
        assert await asked.call("other_workers") == sorted(pids - {own_pid})
        assert await asked.call("poll") == sids

        for member in members:
            await member.client.disconnect()


async def test_a_worker_killed_with_sigkill_is_replaced_and_its_client_recovers(tmp_path: Path) -> None:
    async with served(tmp_path, 2) as server, failover_client(server.url) as client:
        hello = await client.next("connect")
        assert hello["recovered"] is False
        await client.send(op="emit", event="join", args=["r1"])
        await client.next("acked")
        await client.send(op="emit", event="set", args=["color", "blue"])
        await client.next("acked")
        await client.send(op="emit", event="whoami", args=[])
        victim_pid, victim_index, _ = (await client.next("acked"))["args"][0]

        # Bystanders on the other worker, and an event so that the client has an offset to come back with.
        bystanders: list[Member] = []
        while len(bystanders) < 2:
            member = Member("websocket")
            await member.connect(server.url)
            if member.worker == victim_index:
                await member.client.disconnect()
            else:
                bystanders.append(member)
        assert await bystanders[0].call("shout", "r1", "first")
        first = await client.next("event")
        assert first["event"] == "news"
        assert first["args"][0] == "first"
        await asyncio.sleep(scaled(1.5))  # the data check (every second) copies the change to the others

        os.kill(victim_pid, signal.SIGKILL)
        assert (await client.next("disconnect"))["reason"] == "transport close"
        await server.wait_for_log(f"worker {victim_index} (pid {victim_pid}) killed by signal 9")
        assert await bystanders[0].call("shout", "r1", "while-away")
        assert await bystanders[0].call("shout", "all", "to-bystanders")

        # socket.io-client hands out the replayed events just before "connect".
        lines = [await client.next(), await client.next()]
        back = next(line for line in lines if line["kind"] == "connect")
        missed = next(line for line in lines if line["kind"] == "event")
        assert back == {"kind": "connect", "id": hello["id"], "recovered": True}
        assert missed["args"][0] == "while-away"
        seen = await bystanders[0].call("inspect", hello["id"])
        assert seen == {"rooms": sorted([hello["id"], "r1"]), "data": {"color": "blue"}}
        assert await bystanders[0].call("shout", "r1", "after")
        after = await client.next()
        assert after["kind"] == "event"
        assert after["args"][0] == "after"  # the missed event came once, nothing else before this one

        # The other worker's clients noticed nothing: still connected, they got what was sent meanwhile.
        await settle(lambda: all(len(m.news) == 1 for m in bystanders), "a bystander missed an event")
        for member in bystanders:
            assert member.client.connected
            assert [args[0] for args in member.news] == ["to-bystanders"]
        # The killed worker was replaced: two workers again.
        await server.wait_for_log(") ready", 3)
        assert await bystanders[0].call("servers") == 2
        for member in bystanders:
            await member.client.disconnect()
    log = json.dumps(server.log())
    assert "killed by signal 9" in log
