"""Prometheus metrics (docs/operations/metrics.md): ``/metrics`` scraped with a real HTTP client while real
clients connect and exchange events, on the built-in server and under uvicorn; the counters move as they should.

Clients: python-socketio's ``AsyncClient``, one over WebSocket and one over long-polling upgraded to WebSocket
(which also answers the server's emit with an ack); a refused handshake (an unsupported protocol version)
counts as a refusal with its code. Raw long-polling sessions drop volatile packets and get dropped as slow
consumers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import prometheus_client
import pytest
import socketio
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

import aiosocketio
from aiosocketio import metrics

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
PROMPTLY = 5.0 * FACTOR
HOST = "127.0.0.1"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def make_server() -> aiosocketio.Server:
    io = aiosocketio.Server()

    @io.on("connection")
    async def on_connection(socket: aiosocketio.Socket) -> None:
        await socket.join("lobby")

        @socket.on("echo")
        def echo(*args: Any) -> tuple[Any, ...]:
            return args

        @socket.on("ask me")
        async def ask_me() -> Any:
            return await socket.timeout(PROMPTLY).emit_with_ack("question", 1)

    return io


@contextlib.asynccontextmanager
async def serving(io: aiosocketio.Server, frontend: str, other_app: Any) -> AsyncIterator[int]:
    if frontend == "runner":
        running = await io.listen(host=HOST, port=0, other_app=other_app)
        try:
            yield running.port
        finally:
            await io.close()
        return
    server = uvicorn.Server(
        uvicorn.Config(io.asgi_app(other_app), host=HOST, port=0, log_level="warning", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(PROMPTLY):
        while not server.started:
            assert not task.done(), "uvicorn stopped at once"
            await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        await io.close()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, PROMPTLY)


async def scrape(http: aiohttp.ClientSession, port: int) -> Samples:
    async with http.get(f"http://{HOST}:{port}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def eventually(condition: Callable[[], Any]) -> None:
    async with asyncio.timeout(PROMPTLY):
        while not await condition():  # noqa: ASYNC110 - scrapes until the server has counted
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("frontend", ["runner", "uvicorn"])
async def test_metrics_follow_real_clients(frontend: str) -> None:
    registry = prometheus_client.CollectorRegistry()
    io = make_server()
    instrumented = metrics.instrument(io, registry, loop_lag_interval=0.05)
    app = metrics.asgi_app(registry)
    async with serving(io, frontend, app) as port, aiohttp.ClientSession() as http:
        url = f"http://{HOST}:{port}"
        before = await scrape(http, port)
        assert value(before, "socketio_connected_clients", transport="websocket") == 0
        assert value(before, "socketio_handshakes_total", transport="websocket") == 0

        ws_client = socketio.AsyncClient(reconnection=False)
        up_client = socketio.AsyncClient(reconnection=False)
        question = asyncio.Event()

        @up_client.on("question")
        def on_question(n: int) -> int:
            question.set()
            return n + 1

        await ws_client.connect(url, transports=["websocket"], wait_timeout=PROMPTLY)
        await up_client.connect(url, transports=["polling", "websocket"], wait_timeout=PROMPTLY)
        try:
            for i in range(5):
                assert await ws_client.call("echo", f"x{i}", timeout=PROMPTLY) == f"x{i}"
            assert await up_client.call("ask me", timeout=PROMPTLY) == 2

            async with http.get(f"{url}/socket.io/?EIO=5&transport=polling") as refused:
                assert refused.status == 400

            async def both_upgraded() -> bool:
                now = await scrape(http, port)
                return value(now, "socketio_connected_clients", transport="websocket") == 2

            await eventually(both_upgraded)
            during = await scrape(http, port)
            assert value(during, "socketio_connected_clients", transport="polling") == 0
            assert value(during, "socketio_connected_sockets", namespace="/") == 2
            assert value(during, "socketio_rooms", namespace="/") == 3  # "lobby" and each socket's own
            assert value(during, "socketio_handshakes_total", transport="websocket") == 1
            assert value(during, "socketio_handshakes_total", transport="polling") == 1
            assert value(during, "socketio_upgrades_total") == 1
            assert (
                value(
                    during,
                    "socketio_handshake_refusals_total",
                    code="5",
                    message="Unsupported protocol version",
                )
                == 1
            )
            # 5 echoes and the "ask me" in, each acknowledged; the server's question and its answer
            assert value(during, "socketio_packets_in_total", type="EVENT") == 6
            assert value(during, "socketio_packets_out_total", type="ACK") == 6
            assert value(during, "socketio_packets_out_total", type="EVENT") == 1
            assert value(during, "socketio_packets_in_total", type="ACK") == 1
            assert value(during, "socketio_packets_in_total", type="CONNECT") == 2
            assert value(during, "socketio_packets_out_total", type="CONNECT") == 2
            # the bytes of the packets as sent, with their Engine.IO type: ack ids 1 to 5, then 1 on the other client
            sent = [f'42{i + 1}["echo","x{i}"]' for i in range(5)] + ['421["ask me"]']
            assert value(during, "socketio_bytes_in_total", type="EVENT") == sum(map(len, sent))
            assert value(during, "socketio_ack_latency_seconds_count") == 1
            assert 0 < value(during, "socketio_ack_latency_seconds_sum") < PROMPTLY
            assert value(during, "socketio_event_loop_lag_max_seconds") >= 0
            assert question.is_set()
        finally:
            await ws_client.disconnect()
            await up_client.disconnect()

        async def both_gone() -> bool:
            now = await scrape(http, port)
            return value(now, "socketio_connected_clients", transport="websocket") == 0

        await eventually(both_gone)
        after = await scrape(http, port)
        assert value(after, "socketio_disconnects_total", reason="transport close") == 2
        assert value(after, "socketio_rooms", namespace="/") == 0
        assert value(after, "socketio_slow_consumer_disconnects_total") == 0
    instrumented.close()
    assert "socketio_connected_clients" not in prometheus_client.generate_latest(registry).decode()


async def test_dropped_volatile_packets_and_slow_consumers() -> None:
    """A volatile broadcast finds a long-polling client with no GET waiting: dropped, and counted; a client that
    stops fetching while packets pile up past ``max_queued_bytes`` is dropped as a slow consumer."""
    registry = prometheus_client.CollectorRegistry()
    io = aiosocketio.Server(max_queued_bytes=10_000)
    metrics.instrument(io, registry)
    running = await io.listen(host=HOST, port=0)
    try:
        async with aiohttp.ClientSession() as http:
            base = f"http://{HOST}:{running.port}/socket.io/?EIO=4&transport=polling"
            async with http.get(base) as response:
                sid = (await response.text()).split('"sid":"')[1].split('"')[0]
            query = f"{base}&sid={sid}"
            async with http.post(query, data="40") as response:
                assert response.status == 200
            async with http.get(query) as response:
                assert (await response.text()).startswith("40{")
            # no GET is waiting now
            for _ in range(3):
                await io.volatile.emit("tick", 1)
            for _ in range(20):
                await io.emit("big", "y" * 1000)
            await asyncio.sleep(0.1)
            collected = registry.get_sample_value
            assert collected("socketio_dropped_volatile_packets_total") == 3
            assert collected("socketio_slow_consumer_disconnects_total") == 1
            assert collected("socketio_disconnects_total", {"reason": "transport error"}) == 1
    finally:
        await io.close()


async def test_the_asgi_app_passes_other_paths_on() -> None:
    registry = prometheus_client.CollectorRegistry()
    counter = prometheus_client.Counter("things", "Things", registry=registry)
    counter.inc(3)

    async def fallback(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"fallback"})

    io = aiosocketio.Server()
    app = metrics.asgi_app(registry, other_app=fallback)
    async with serving(io, "runner", app) as port, aiohttp.ClientSession() as http:
        async with http.get(f"http://{HOST}:{port}/metrics") as response:
            assert "things_total 3.0" in await response.text()
        async with http.get(f"http://{HOST}:{port}/elsewhere") as response:
            assert await response.text() == "fallback"
    io = aiosocketio.Server()
    async with (
        serving(io, "runner", metrics.asgi_app(registry)) as port,
        aiohttp.ClientSession() as http,
        http.get(f"http://{HOST}:{port}/elsewhere") as response,
    ):
        assert response.status == 404


def test_without_prometheus_client_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'aiosocketio\[metrics\]'"):
        metrics.instrument(aiosocketio.Server())
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'aiosocketio\[metrics\]'"):
        metrics.asgi_app()


def test_a_lag_interval_in_milliseconds_is_refused() -> None:
    with pytest.raises(ValueError, match="looks like milliseconds"):
        metrics.instrument(
            aiosocketio.Server(), prometheus_client.CollectorRegistry(), loop_lag_interval=5000
        )
