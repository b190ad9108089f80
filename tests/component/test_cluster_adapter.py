"""``ClusterAdapterWithHeartbeat`` over an in-process bus: who is in the cluster, and what requests wait for.

The bus delivers every published message to every attached adapter on the next loop turn, like a real message
bus would, so these tests exercise the base class's bookkeeping (heartbeats, node removal, request completion)
without any network. The servers run on one ``aiosocketio.testing.FakeClock``: heartbeats and request timeouts
come when the test advances it, so nothing here sleeps. The operations themselves cross real Redis and real
Node.js servers in tests/integration.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import aiosocketio
from aiosocketio import AckTimeoutError
from aiosocketio.adapters import messages as wire
from aiosocketio.adapters.cluster import ClusterAdapterWithHeartbeat
from aiosocketio.namespace import Namespace
from aiosocketio.testing import FakeClock
from aiosocketio.testing import settle as settle_loop


class Bus:
    """Delivers each message to every attached adapter (the sender drops its own echo)."""

    def __init__(self) -> None:
        self.adapters: list[BusAdapter] = []
        self.log: list[wire.ClusterMessage] = []
        self.muted: set[str] = set()

    def mute(self, adapter: BusAdapter) -> None:
        """The adapter's server vanishes (a crash): it neither sends nor receives anything any more."""
        self.adapters.remove(adapter)
        self.muted.add(adapter.uid)

    def send(self, message: wire.ClusterMessage) -> None:
        if message.uid in self.muted:
            return
        self.log.append(message)
        loop = asyncio.get_running_loop()
        for adapter in list(self.adapters):
            loop.call_soon(adapter.on_message, message)


class BusAdapter(ClusterAdapterWithHeartbeat):
    __slots__ = ("bus",)

    def __init__(self, nsp: Namespace, bus: Bus) -> None:
        super().__init__(nsp, requests_timeout=1.0, heartbeat_interval=0.1, heartbeat_timeout=0.3)
        self.bus = bus
        bus.adapters.append(self)

    async def _do_publish(self, message: wire.ClusterMessage) -> str | None:
        self.bus.send(message)
        return None

    async def _do_publish_response(self, requester: str, message: wire.ClusterMessage) -> None:
        self.bus.send(message)


@pytest.fixture
async def cluster() -> AsyncIterator[Callable[[], Any]]:
    bus = Bus()
    clock = FakeClock()
    servers: list[aiosocketio.Server] = []

    async def make() -> aiosocketio.Server:
        io = aiosocketio.Server(adapter=lambda nsp: BusAdapter(nsp, bus), clock=clock)
        await io.startup()
        servers.append(io)
        return io

    make.bus = bus  # type: ignore[attr-defined]
    make.clock = clock  # type: ignore[attr-defined]
    yield make
    for io in servers:
        await io.close()


async def settle() -> None:
    """Let the bus carry what was published, and the adapters answer it."""
    await settle_loop()


async def test_servers_find_each_other_by_heartbeat(cluster: Any) -> None:
    a = await cluster()
    assert await a.sockets.adapter.server_count() == 1
    b = await cluster()
    await settle()
    assert await a.sockets.adapter.server_count() == 2  # B's INITIAL_HEARTBEAT
    assert await b.sockets.adapter.server_count() == 2  # A's answer
    c = await cluster()
    await settle()
    assert await b.sockets.adapter.server_count() == 3
    await c.close()  # ADAPTER_CLOSE: forgotten at once
    await settle()
    assert await a.sockets.adapter.server_count() == 2
    assert await b.sockets.adapter.server_count() == 2


async def test_a_server_that_stops_and_serves_again_rejoins_the_cluster(cluster: Any) -> None:
    """Shut down, a server leaves the cluster; started again (as a second ``io.listen`` would), its adapters
    reopen, announce themselves and learn the cluster anew rather than remembering it from before."""
    a = await cluster()
    b = await cluster()
    await settle()
    await a.shutdown()
    await settle()
    assert await b.sockets.adapter.server_count() == 1
    assert a.sockets.adapter.nodes == frozenset()
    await a.startup()
    await settle()
    assert await a.sockets.adapter.server_count() == 2
    assert await b.sockets.adapter.server_count() == 2
    b.on("question", lambda: "from-b")
    assert await a.server_side_emit_with_ack("question", timeout=1.0) == ["from-b"]


async def test_an_idle_server_sends_heartbeats_and_a_silent_one_is_forgotten(cluster: Any) -> None:
    a = await cluster()
    b = await cluster()
    await settle()
    bus = cluster.bus
    bus.log.clear()
    await cluster.clock.advance(1.3)
    kinds = {(m.uid, type(m.body).__name__) for m in bus.log}
    assert (a.sockets.adapter.uid, "Heartbeat") in kinds
    assert await a.sockets.adapter.server_count() == 2  # heartbeats kept B known
    bus.mute(b.sockets.adapter)  # B crashes: no ADAPTER_CLOSE, no more heartbeats
    await cluster.clock.advance(1.5)
    assert await a.sockets.adapter.server_count() == 1


async def test_a_request_stops_waiting_for_a_server_that_leaves(cluster: Any) -> None:
    a = await cluster()
    b = await cluster()
    c = await cluster()
    await settle()
    b.on("question", lambda: "from-b")

    @c.on("question")
    async def never() -> None:
        await asyncio.sleep(10)

    asking = asyncio.ensure_future(a.server_side_emit_with_ack("question", timeout=5))
    await settle()
    assert not asking.done()
    await c.sockets.adapter.close()  # C leaves before answering
    assert await asyncio.wait_for(asking, 1) == ["from-b"]


async def test_a_request_times_out_with_the_answers_it_got(cluster: Any) -> None:
    a = await cluster()
    b = await cluster()
    c = await cluster()
    await settle()
    b.on("question", lambda: "from-b")

    @c.on("question")
    async def never() -> None:
        await asyncio.sleep(10)

    asking = asyncio.ensure_future(a.server_side_emit_with_ack("question", timeout=0.3))
    await cluster.clock.advance(0.29)
    assert not asking.done()  # the time is not up yet
    await cluster.clock.advance(0.01)
    with pytest.raises(AckTimeoutError, match="timeout reached: missing 1 responses") as caught:
        await asking
    assert caught.value.responses == ["from-b"]


async def test_the_emitter_is_not_a_server(cluster: Any) -> None:
    a = await cluster()
    a.sockets.adapter.on_message(wire.ClusterMessage("emitter", "/", wire.Heartbeat()))
    assert await a.sockets.adapter.server_count() == 1


async def test_messages_of_other_namespaces_are_ignored(cluster: Any) -> None:
    a = await cluster()
    got: list[Any] = []
    a.on("hello", lambda *args: got.append(args))
    a.sockets.adapter.on_message(
        wire.ClusterMessage("x" * 16, "/other", wire.ServerSideEmitMessage(["hello", 1]))
    )
    a.sockets.adapter.on_message(wire.ClusterMessage("x" * 16, "/", wire.ServerSideEmitMessage(["hello", 2])))
    await settle()
    assert got == [(2,)]


async def test_a_hanging_bus_holds_a_bounded_number_of_messages(
    cluster: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bus that accepts but never answers: messages wait up to the bound, then new ones are dropped (with one
    warning), and local delivery goes on."""
    from aiosocketio.adapters import cluster as cluster_module

    monkeypatch.setattr(cluster_module._Outbox, "MAX_PENDING", 50)
    a = await cluster()
    adapter = a.sockets.adapter
    stuck: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def hangs(self: BusAdapter, batch: Any) -> list[str | None]:
        await stuck
        return [None] * len(batch)

    monkeypatch.setattr(BusAdapter, "_do_publish_batch", hangs)
    with caplog.at_level("WARNING", logger="aiosocketio.adapter.cluster"):
        for n in range(500):
            await a.server_side_emit("tick", n)
        await settle()
    assert len(adapter._outbox._queue) <= 50
    warnings = [r for r in caplog.records if "does not keep up" in r.getMessage()]
    assert len(warnings) == 1
    stuck.set_result(None)
    await adapter.flush()


async def test_each_request_reports_its_kind_duration_and_error(cluster: Any) -> None:
    """The adapter's ``request`` event (what the metrics time): answered, then timed out."""
    a = await cluster()
    b = await cluster()
    c = await cluster()
    await settle()
    reports: list[tuple[str, float, str | None]] = []
    a.sockets.adapter.on("request", lambda kind, seconds, error: reports.append((kind, seconds, error)))
    b.on("question", lambda: "from-b")
    c.on("question", lambda: "from-c")
    assert sorted(await a.server_side_emit_with_ack("question", timeout=1.0)) == ["from-b", "from-c"]
    await a.fetch_sockets()

    @c.on("slow")
    async def never() -> None:
        await asyncio.sleep(10)

    b.on("slow", lambda: "from-b")
    asking = asyncio.ensure_future(a.server_side_emit_with_ack("slow", timeout=0.2))
    await cluster.clock.advance(0.2)
    with pytest.raises(AckTimeoutError):
        await asking
    assert [(kind, error) for kind, _, error in reports] == [
        ("ServerSideEmitMessage", None),
        ("FetchSocketsMessage", None),
        ("ServerSideEmitMessage", "timeout"),
    ]
    assert reports[0][1] == 0  # answered before the (fake) clock moved
    assert reports[2][1] == pytest.approx(0.2)


async def test_cluster_messages_are_traced_without_arguments(
    cluster: Any, caplog: pytest.LogCaptureFixture
) -> None:
    a = await cluster()
    b = await cluster()
    await settle()
    b.on("question", lambda secret: "answer")
    with caplog.at_level("DEBUG", logger="aiosocketio.adapter.cluster"):
        await a.server_side_emit_with_ack("question", "s3cr3t", timeout=1.0)
    messages = [r.getMessage() for r in caplog.records if r.name == "aiosocketio.adapter.cluster"]
    a_uid, b_uid = a.sockets.adapter.uid, b.sockets.adapter.uid
    published = [m for m in messages if m.startswith(f"/: server {a_uid} publishes ServerSideEmitMessage")]
    assert len(published) == 1, messages
    assert "event='question'" in published[0], messages
    assert any(m.startswith(f"/: server {b_uid} received ServerSideEmitMessage request=") for m in messages)
    assert any(
        m.startswith(f"/: server {b_uid} answers {a_uid} with ServerSideEmitResponse") for m in messages
    )
    assert any(m.startswith(f"/: server {a_uid} received ServerSideEmitResponse") for m in messages)
    assert not any("s3cr3t" in m or "answer'" in m for m in messages)


async def test_the_metrics_time_cluster_requests(cluster: Any) -> None:
    import prometheus_client

    from aiosocketio import metrics

    a = await cluster()
    b = await cluster()
    await settle()
    registry = prometheus_client.CollectorRegistry()
    metrics.instrument(a, registry)
    b.on("question", lambda: "from-b")
    await a.server_side_emit_with_ack("question", timeout=1.0)

    @b.on("slow")
    async def never() -> None:
        await asyncio.sleep(10)

    asking = asyncio.ensure_future(a.server_side_emit_with_ack("slow", timeout=0.2))
    await cluster.clock.advance(0.2)
    with pytest.raises(AckTimeoutError):
        await asking
    labels = {"namespace": "/", "request": "ServerSideEmitMessage"}
    assert registry.get_sample_value("socketio_adapter_request_duration_seconds_count", labels) == 2
    assert (
        registry.get_sample_value("socketio_adapter_request_errors_total", {**labels, "error": "timeout"})
        == 1
    )
