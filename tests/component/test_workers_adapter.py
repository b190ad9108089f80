"""The workers adapter (docs/clusters.md#workers-on-one-machine): several servers in one process, each a worker with its own
index, meshed over real Unix sockets in a temporary directory, with python-socketio clients.

A worker that "crashes" here has every Unix socket of its mesh cut at once (what the kernel does to a process
killed with SIGKILL), without any goodbye; the separate-process version, with a real SIGKILL and a JavaScript
client that recovers its session, is tests/integration/test_workers_cluster.py.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio

import aiosocketio
from aiosocketio import AckTimeoutError
from aiosocketio.adapters.workers import WorkersAdapter, create_adapter, decode_offset, encode_offset

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
PROMPTLY = 5.0 * FACTOR
RECOVERY = {"max_disconnection_duration": 30.0, "skip_middlewares": True}


class Worker:
    """One server of the mesh, and the clients connected to it."""

    def __init__(self, io: aiosocketio.Server, url: str) -> None:
        self.io = io
        self.url = url
        self.clients: list[socketio.AsyncClient] = []
        io.on("barrier", lambda: True)  # see settled()

    @property
    def adapter(self) -> WorkersAdapter:
        adapter = self.io.sockets.adapter
        assert isinstance(adapter, WorkersAdapter)
        return adapter

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

    def crash(self) -> None:
        """Cut every connection of the mesh at once, like the kernel does for a killed process."""
        hub = self.adapter._hub
        if hub._server is not None:
            hub._server.close()
        for link in hub.links.values():
            link.task.cancel()
            if link.writer is not None:
                link.writer.transport.abort()
        for writer in list(hub._inbound):
            writer.transport.abort()


@pytest.fixture
async def mesh(tmp_path: Path) -> AsyncIterator[Any]:
    workers: list[Worker] = []

    async def make(count: int, **server: Any) -> list[Worker]:
        made = []
        for index in range(count):
            adapter = create_adapter(
                socket_dir=tmp_path, index=index, workers=count, requests_timeout=1.0 * FACTOR
            )
            io = aiosocketio.Server(adapter=adapter, **server)
            running = await io.listen(host="127.0.0.1", port=0)
            worker = Worker(io, f"http://127.0.0.1:{running.port}")
            workers.append(worker)
            made.append(worker)
        await until_counts(made, count)
        return made

    yield make
    for worker in workers:
        for client in worker.clients:
            await client.disconnect()
        await worker.io.close()


async def until_counts(workers: list[Worker], count: int) -> None:
    deadline = time.monotonic() + PROMPTLY
    while True:
        counts = [await w.io.sockets.adapter.server_count() for w in workers]
        if counts == [count] * len(workers):
            return
        assert time.monotonic() < deadline, f"server counts {counts}, not {count}"
        await asyncio.sleep(0.01)


async def settled(*workers: Worker) -> None:
    """Everything these workers sent so far has been handled by every other worker: a request goes after it on
    the same connections, and each answers it once it has handled what came before."""
    for worker in workers:
        await worker.io.server_side_emit_with_ack("barrier")


async def eventually(check: Any) -> None:
    deadline = time.monotonic() + PROMPTLY
    while not check():
        assert time.monotonic() < deadline, "never came true"
        await asyncio.sleep(0.01)


async def next_event(queue: asyncio.Queue[Any]) -> Any:
    return await asyncio.wait_for(queue.get(), PROMPTLY)


async def nothing_more(queue: asyncio.Queue[Any]) -> None:
    await asyncio.sleep(0.1)
    assert queue.empty(), queue.get_nowait()


async def test_nothing_is_opened_before_the_server_serves(tmp_path: Path) -> None:
    io = aiosocketio.Server(adapter=create_adapter(socket_dir=tmp_path, index=0, workers=2))
    io.of("/other")
    assert os.listdir(tmp_path) == []
    running = await io.listen(host="127.0.0.1", port=0)
    try:
        assert os.listdir(tmp_path) == ["worker-0.sock"]
    finally:
        await running.close()
    assert os.listdir(tmp_path) == []


async def test_settings_come_from_the_environment_when_the_server_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AIOSOCKETIO_WORKER_INDEX", "AIOSOCKETIO_WORKERS", "AIOSOCKETIO_WORKER_DIR"):
        monkeypatch.delenv(name, raising=False)
    io = aiosocketio.Server(adapter=create_adapter())  # no error yet: the supervisor has not forked
    with pytest.raises(RuntimeError, match="AIOSOCKETIO_WORKER_DIR"):
        await io.startup()
    monkeypatch.setenv("AIOSOCKETIO_WORKER_DIR", str(tmp_path))
    monkeypatch.setenv("AIOSOCKETIO_WORKER_INDEX", "1")
    monkeypatch.setenv("AIOSOCKETIO_WORKERS", "2")
    io = aiosocketio.Server(adapter=create_adapter())
    await io.startup()
    try:
        assert os.listdir(tmp_path) == ["worker-1.sock"]
    finally:
        await io.shutdown()
    with pytest.raises(ValueError, match="index"):
        create_adapter(socket_dir=tmp_path, index=2, workers=2)
    io = aiosocketio.Server(adapter=create_adapter(socket_dir=tmp_path / ("x" * 120), index=0, workers=2))
    with pytest.raises(ValueError, match="shorter socket_dir"):
        await io.startup()


async def test_the_socket_directory_is_made_private(tmp_path: Path) -> None:
    directory = tmp_path / "made"
    io = aiosocketio.Server(adapter=create_adapter(socket_dir=directory, index=0, workers=1))
    await io.startup()
    try:
        assert os.stat(directory).st_mode & 0o777 == 0o700
    finally:
        await io.shutdown()


async def test_broadcasts_rooms_except_volatile_and_local(mesh: Any) -> None:
    a, b, c = await mesh(3)
    _, on_a = await a.client()
    _, on_b = await b.client()
    _, on_c = await c.client()
    await a.io.emit("hello", 1, {"x": [True]}, b"\x01\x02")
    for queue in (on_a, on_b, on_c):
        assert await next_event(queue) == ("hello", 1, {"x": [True]}, b"\x01\x02")
    (socket_b,) = b.io.sockets.sockets.values()
    (socket_c,) = c.io.sockets.sockets.values()
    await socket_b.join(["r1", "r2"])
    await socket_c.join("r2")
    await a.io.to("r1").emit("to-r1")
    assert await next_event(on_b) == ("to-r1",)
    await a.io.to("r2").except_("r1").emit("r2-not-r1")
    assert await next_event(on_c) == ("r2-not-r1",)
    await c.io.volatile.emit("volatile", 2)
    for queue in (on_a, on_b, on_c):
        assert await next_event(queue) == ("volatile", 2)
    await b.io.local.emit("local-only")
    assert await next_event(on_b) == ("local-only",)
    for queue in (on_a, on_b, on_c):
        await nothing_more(queue)


async def test_broadcast_with_acks_collects_every_worker(mesh: Any) -> None:
    a, b, c = await mesh(3)
    sio_a, _ = await a.client()
    sio_b, _ = await b.client()
    sio_c, _ = await c.client()
    answers = await b.io.timeout(PROMPTLY).emit_with_ack("ask", "q")
    assert sorted(answers) == sorted("ack-from-" + s.get_sid() for s in (sio_a, sio_b, sio_c))


async def test_fetch_sockets_and_remote_sockets(mesh: Any) -> None:
    a, b = await mesh(2)
    _, on_a = await a.client()
    sio_b, on_b = await b.client()
    (socket_b,) = b.io.sockets.sockets.values()
    socket_b.data["user"] = "bob"
    await socket_b.join("room")
    found = await a.io.in_("room").fetch_sockets()
    assert len(found) == 1
    (remote,) = found
    assert remote.id == sio_b.get_sid()
    assert remote.rooms == {remote.id, "room"}
    assert remote.data == {"user": "bob"}
    assert remote.handshake.address
    await remote.emit("direct", 7)
    assert await next_event(on_b) == ("direct", 7)
    await remote.join("joined-remotely")
    await settled(a)
    assert "joined-remotely" in socket_b.rooms
    assert len(await a.io.fetch_sockets()) == 2
    await nothing_more(on_a)


async def test_sockets_join_leave_and_disconnect(mesh: Any) -> None:
    a, b = await mesh(2)
    sio_a, _ = await a.client()
    sio_b, _ = await b.client()
    await a.io.sockets_join("everyone")
    await settled(a)
    (socket_b,) = b.io.sockets.sockets.values()
    assert "everyone" in socket_b.rooms
    await a.io.in_("everyone").sockets_leave("everyone")
    await settled(a)
    assert "everyone" not in socket_b.rooms
    disconnected = asyncio.Event()
    sio_b.on("disconnect", disconnected.set)
    await a.io.in_(sio_b.get_sid()).disconnect_sockets()
    await asyncio.wait_for(disconnected.wait(), PROMPTLY)
    assert sio_a.connected


async def test_server_side_emit_with_acks(mesh: Any) -> None:
    a, b, c = await mesh(3)
    got: list[Any] = []
    for name, worker in (("b", b), ("c", c)):

        def on_ping(value: int, name: str = name) -> str:
            got.append((name, value))
            return f"pong-{name}-{value}"

        worker.io.on("ping", on_ping)
    await a.io.server_side_emit("ping", 1)
    answers = await a.io.server_side_emit_with_ack("ping", 2)
    assert sorted(answers) == ["pong-b-2", "pong-c-2"]
    assert sorted(got) == [("b", 1), ("b", 2), ("c", 1), ("c", 2)]


async def test_a_worker_that_disappears_is_not_waited_for(mesh: Any) -> None:
    a, b, c = await mesh(3)
    await c.client()
    b.io.on("question", lambda: "b")
    c.io.on("question", lambda: "c")
    c.crash()
    await until_counts([a, b], 2)
    started = time.monotonic()
    assert len(await a.io.fetch_sockets()) == 0
    assert await a.io.server_side_emit_with_ack("question") == ["b"]
    assert time.monotonic() - started < 0.5 * FACTOR


async def test_a_worker_that_does_not_answer_times_out(mesh: Any) -> None:
    a, b = await mesh(2)

    async def never() -> None:
        await asyncio.sleep(60)

    b.io.on("slow", never)
    started = time.monotonic()
    with pytest.raises(AckTimeoutError):
        await a.io.server_side_emit_with_ack("slow")
    assert time.monotonic() - started < 2.0 * FACTOR


async def test_a_replaced_worker_is_reconnected(mesh: Any, tmp_path: Path) -> None:
    a, b = await mesh(2)
    b.crash()
    await until_counts([a], 1)
    await b.io.close()
    io = aiosocketio.Server(adapter=create_adapter(socket_dir=tmp_path, index=1, workers=2))
    running = await io.listen(host="127.0.0.1", port=0)
    replacement = Worker(io, f"http://127.0.0.1:{running.port}")
    try:
        await until_counts([a, replacement], 2)
        _, on_new = await replacement.client()
        await a.io.emit("after", 1)
        assert (await next_event(on_new))[0] == "after"
    finally:
        for client in replacement.clients:
            await client.disconnect()
        await io.close()


async def test_namespaces_are_separate(mesh: Any) -> None:
    a, b = await mesh(2)
    a.io.of("/chat")
    b.io.of("/chat")
    _, on_main = await b.client()
    _, on_chat = await b.client("/chat")
    await a.io.of("/chat").emit("chat", 1)
    assert await next_event(on_chat) == ("chat", 1)
    await nothing_more(on_main)
    assert await a.io.of("/chat").adapter.server_count() == 2


# -- connection state recovery ---------------------------------------------------------------------------


def test_offsets_are_vectors() -> None:
    vector = {"abcdef": 1, "zz0011": 36**3}
    assert decode_offset(encode_offset(vector)) == vector
    for bad in ("", "abc", "abcdef", "abcdef!", "1700000000000-0", "x" * 5000):
        assert decode_offset(bad) is None


async def test_sessions_are_copied_while_the_socket_lives(mesh: Any) -> None:
    a, b, c = await mesh(3, connection_state_recovery=RECOVERY)
    sio, _ = await a.client()
    (socket,) = a.io.sockets.sockets.values()
    await socket.join("r1")
    socket.data["user"] = "ann"
    await settled(a)
    # The room is copied at once; the data at the next check (sync_interval).
    replica = b.adapter._replicas[socket.pid]
    assert replica.sid == sio.get_sid()
    assert set(replica.rooms) == {socket.id, "r1"}
    assert replica.kept_at is None
    deadline = time.monotonic() + PROMPTLY
    while c.adapter._replicas[socket.pid].data != {"user": "ann"}:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await socket.leave("r1")
    await settled(a)
    assert set(b.adapter._replicas[socket.pid].rooms) == {socket.id}
    # A disconnection that cannot be recovered from ends the session everywhere.
    await socket.disconnect()
    await settled(a)
    assert socket.pid not in b.adapter._replicas
    assert socket.pid not in c.adapter._replicas


async def test_a_crashed_workers_client_recovers_on_another_worker(mesh: Any) -> None:
    a, b, c = await mesh(3, connection_state_recovery=RECOVERY)
    sio, on_a = await a.client()
    (socket,) = a.io.sockets.sockets.values()
    await socket.join("r1")
    socket.data["user"] = "ann"
    await b.io.to("r1").emit("first", 1)
    event, value, offset = await next_event(on_a)
    assert (event, value) == ("first", 1)
    a.adapter._sync_data()  # the data check that sync_interval would run
    await settled(a)
    a.crash()
    await until_counts([b, c], 2)
    # Sent while the client is away: from the worker it will land on, and from another one.
    await b.io.to("r1").emit("away-b", 2)
    await c.io.emit("away-c", 3)
    await c.io.to("elsewhere").emit("not-for-it", 4)
    await settled(c)
    session = await b.adapter.restore_session(socket.pid, offset)
    assert session is not None
    assert session.sid == socket.id
    assert session.rooms == {socket.id, "r1"}
    assert session.data == {"user": "ann"}
    assert [p[:-1] for p in session.missed_packets] == [["away-b", 2], ["away-c", 3]]
    # Recovered once: the other worker let go of it.
    await settled(b)
    assert await c.adapter.restore_session(socket.pid, offset) is None
    assert sio.connected  # (in this process the crashed server still holds the connection)


async def test_every_missed_event_exactly_once_whatever_the_order(mesh: Any) -> None:
    """Events from three workers interleave differently on each; the vector offset replays exactly the
    ones the client had not seen, none twice."""
    a, b, c = await mesh(3, connection_state_recovery=RECOVERY)
    _, on_a = await a.client()
    (socket,) = a.io.sockets.sockets.values()
    for i in range(5):
        await a.io.emit("e", f"a{i}")
        await b.io.emit("e", f"b{i}")
        await c.io.emit("e", f"c{i}")
    seen = [await next_event(on_a) for _ in range(15)]
    offset = seen[-1][-1]
    await settled(a)
    a.crash()
    await until_counts([b, c], 2)
    for i in range(5, 7):
        await b.io.emit("e", f"b{i}")
        await c.io.emit("e", f"c{i}")
    await settled(b, c)
    session = await c.adapter.restore_session(socket.pid, offset)
    assert session is not None
    assert sorted(p[1] for p in session.missed_packets) == ["b5", "b6", "c5", "c6"]
    for packet in session.missed_packets:
        assert decode_offset(packet[-1]) is not None


async def test_a_worker_that_closes_keeps_its_sessions_on_the_others(mesh: Any) -> None:
    a, b = await mesh(2, connection_state_recovery=RECOVERY)
    _, on_a = await a.client()
    (socket,) = a.io.sockets.sockets.values()
    pid = socket.pid
    await a.io.emit("first")
    offset = (await next_event(on_a))[-1]
    await a.io.close()
    await until_counts([b], 1)
    await b.io.emit("away")
    session = await b.adapter.restore_session(pid, offset)
    assert session is not None
    assert [p[:-1] for p in session.missed_packets] == [["away"]]


async def test_a_replacement_worker_gets_the_state_and_recovers(mesh: Any, tmp_path: Path) -> None:
    """The worker that replaces a crashed one (same index) gets, when it joins, the sessions waiting for their
    clients and the event log from the others: the crashed worker's client may land on it and recover."""
    a, b, c = await mesh(3, connection_state_recovery=RECOVERY)
    _, on_a = await a.client()
    (socket,) = a.io.sockets.sockets.values()
    await socket.join("r1")
    await c.io.emit("before", 0)
    offset = (await next_event(on_a))[-1]
    await settled(a)
    a.crash()
    await until_counts([b, c], 2)
    await b.io.to("r1").emit("away", 1)
    await c.io.to("nobody").emit("not-for-it", 2)
    await settled(b, c)
    io = aiosocketio.Server(
        adapter=create_adapter(socket_dir=tmp_path, index=0, workers=3), connection_state_recovery=RECOVERY
    )
    running = await io.listen(host="127.0.0.1", port=0)
    replacement = Worker(io, f"http://127.0.0.1:{running.port}")
    try:
        await until_counts([replacement, b, c], 3)
        await c.io.to("r1").emit("away-later", 3)
        await settled(b, c)
        session = await replacement.adapter.restore_session(socket.pid, offset)
        assert session is not None
        assert session.rooms == {socket.id, "r1"}
        assert [p[:-1] for p in session.missed_packets] == [["away", 1], ["away-later", 3]]
    finally:
        await io.close()


async def test_a_hole_in_the_log_is_not_papered_over(mesh: Any) -> None:
    """An event of a worker that did not arrive (as when the link was down) makes the sessions that may have
    missed it unrecoverable here, rather than recovered without it."""
    a, b = await mesh(2, connection_state_recovery=RECOVERY)
    _, on_b = await b.client()
    (socket,) = b.io.sockets.sockets.values()
    await b.io.emit("first", 1)
    offset = (await next_event(on_b))[-1]
    b.adapter._seq += 1  # b's second event never reaches a ...
    await b.io.emit("third", 3)  # ... its third does
    assert (await next_event(on_b))[:2] == ("third", 3)
    await settled(b)
    token = b.adapter._hub.token
    assert a.adapter._first_seen[token] == 3
    assert [entry.seq for entry in a.adapter._log[token]] == [3]
    b.crash()
    await until_counts([a], 1)
    assert await a.adapter.restore_session(socket.pid, offset) is None


async def test_a_worker_shut_down_by_its_front_end_keeps_its_sessions(mesh: Any) -> None:
    """``shutdown()`` (what the ASGI lifespan calls) disconnects the sockets, whose sessions are kept by tasks
    that run later: the other workers get them as sessions waiting for their clients, not as ended ones."""
    a, b = await mesh(2, connection_state_recovery=RECOVERY)
    await a.client()
    (socket,) = a.io.sockets.sockets.values()
    await settled(a)
    await a.io.shutdown()
    # B holds the live socket's session from the start; the shutdown turns it into a kept one (kept_at set).
    await eventually(
        lambda: socket.pid in b.adapter._replicas and b.adapter._replicas[socket.pid].kept_at is not None
    )


async def test_a_server_served_again_counts_its_events_anew(mesh: Any) -> None:
    a, b = await mesh(2, connection_state_recovery=RECOVERY)
    await a.io.emit("one")
    await a.io.shutdown()
    await a.io.startup()
    await until_counts([a, b], 2)
    await a.io.emit("two")
    await settled(a)
    token = a.adapter._hub.token
    assert b.adapter._first_seen[token] == 1


async def test_one_worker_reports_an_expired_session(mesh: Any) -> None:
    """``session-expired`` is emitted once in the cluster: by the worker that had the socket, or, when that
    worker died, by the first of the others."""
    a, b, c = await mesh(3, connection_state_recovery={"max_disconnection_duration": 0.3})
    expired: list[tuple[str, str, str]] = []
    for name, worker in (("a", a), ("b", b), ("c", c)):
        worker.adapter.on("session-expired", lambda pid, sid, name=name: expired.append((name, pid, sid)))
    _sio, _ = await a.client()
    await a.client()
    first, second = a.io.sockets.sockets.values()
    await settled(a)
    # One leaves with a recoverable reason while its worker lives on ...
    await first.conn.close()
    await eventually(lambda: first.pid in b.adapter._replicas and b.adapter._replicas[first.pid].kept_at)
    await eventually(lambda: len(expired) >= 1)
    await asyncio.sleep(0.5)
    assert expired == [("a", first.pid, first.id)]
    # ... the other's worker dies.
    a.crash()
    await eventually(lambda: any(pid == second.pid for _, pid, _ in expired))
    await asyncio.sleep(0.5)
    # (The first client reconnected meanwhile, as a new session: it expires with its worker too.)
    assert {name for name, _, _ in expired[1:]} == {"b"}
    pids = [pid for _, pid, _ in expired]
    assert len(pids) == len(set(pids))
    assert ("b", second.pid, second.id) in expired


async def test_an_unknown_or_foreign_offset_is_not_recovered(mesh: Any) -> None:
    a, b = await mesh(2, connection_state_recovery=RECOVERY)
    await a.client()
    (socket,) = a.io.sockets.sockets.values()
    await settled(a)
    a.crash()
    await until_counts([b], 1)
    assert await b.adapter.restore_session(socket.pid, "1700000000000-0") is None
    assert await b.adapter.restore_session("no-such-pid", "abcdef1") is None


async def test_replication_cost(mesh: Any) -> None:
    """What copying a session costs the worker that has the socket, per join/leave and per data check:
    printed (pytest -s) for the record, and bounded loosely so that a regression shows."""
    a, _b, _c = await mesh(3, connection_state_recovery=RECOVERY)
    await a.client()
    (socket,) = a.io.sockets.sockets.values()
    socket.data.update(user="ann", roles=["a", "b"], n=1)
    adapter = a.adapter
    rounds = 2000
    started = time.perf_counter()
    for i in range(rounds):
        socket.join_now((f"room{i % 10}",))
        adapter._flush_sessions()
        socket.leave_now(f"room{i % 10}")
        adapter._flush_sessions()
    per_change = (time.perf_counter() - started) / (2 * rounds)
    started = time.perf_counter()
    for i in range(rounds):
        socket.data["n"] = i
        adapter._sync_data()
    per_data = (time.perf_counter() - started) / rounds
    started = time.perf_counter()
    for _ in range(rounds):
        adapter._sync_data()  # data unchanged: compared, not sent
    per_check = (time.perf_counter() - started) / rounds
    print(
        f"join/leave: {per_change * 1e6:.1f} us, data change: {per_data * 1e6:.1f} us, "
        f"unchanged data check: {per_check * 1e6:.1f} us (one socket, 2 other workers)"
    )
    assert per_change < 0.002 * FACTOR
    assert per_data < 0.002 * FACTOR
    assert per_check < 0.002 * FACTOR
