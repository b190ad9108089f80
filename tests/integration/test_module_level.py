"""Servers built at import time (no event loop yet) serve, and serve again on another loop.

Each test imports a module that builds two servers with the same kind of adapter (and a Redis emitter where
there is one) with no loop running, as uvicorn imports ``app:app``, then runs two ``asyncio.run(...)`` in a row.
In each, server A listens on the built-in runner and server B is served by uvicorn (its ASGI lifespan starts it),
a client of B gets its acknowledgement, and a broadcast from A (and from the emitter) reaches it through the bus.
Between the two, both servers are shut down: everything they connected belongs to the first loop, which is
closed, and the second run must connect anew rather than hang or use it.

The last test starts the cluster page's Redis example (``docs/clusters.md``) as a module-level ``app.py`` in fresh
processes, each way the README shows that is not run elsewhere: ``aiosocketio.run(io, ...)``, ``await
io.listen(...)``, ``hypercorn app:app`` and ``gunicorn -k uvicorn.workers.UvicornWorker app:app``; each serves
next to a ``python app.py`` of the same file, and a chat crosses the two both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import engineio
import pytest
import socketio
import uvicorn
from apps import REPO, AppProcess, compose, start_app
from conftest import free_port
from docsamples import Block, Program, Run, Services, blocks, localise, start

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
PROMPTLY = 5.0 * FACTOR

MODULE = """
import aiosocketio
from aiosocketio.adapters import postgres, redis_streams
from aiosocketio.adapters.redis import create_adapter, create_sharded_adapter
from aiosocketio.emitter import RedisEmitter, SyncRedisEmitter

REDIS = {redis!r}
POSTGRES = {postgres!r}


def make_server():
    return aiosocketio.Server({arguments})


io_a = make_server()
io_b = make_server()
emitters = {emitters}


@io_b.of("/x").on("connection")
async def on_connection(socket):
    await socket.join("room1")

    @socket.on("chat")
    async def on_chat(message):
        return ["received", message]
"""

KINDS: dict[str, tuple[str, str]] = {
    "memory": ("connection_state_recovery=True", "[]"),
    "classic": (
        'adapter=create_adapter(REDIS, key="ml-classic")',
        '[RedisEmitter(REDIS, key="ml-classic"), SyncRedisEmitter(REDIS, key="ml-classic")]',
    ),
    "sharded": ('adapter=create_sharded_adapter(REDIS, channel_prefix="ml-sharded")', "[]"),
    "streams": (
        'adapter=redis_streams.create_adapter(REDIS, stream_name="ml-streams", channel_prefix="ml-streams"), '
        "connection_state_recovery=True",
        "[]",
    ),
    "postgres": (
        'adapter=postgres.create_adapter(POSTGRES, channel_prefix="ml-pg", table_name="ml_attachments")',
        "[]",
    ),
}
"""Server arguments and emitters of each kind (module-level expressions)."""


def import_module_level(tmp_path: Path, kind: str, redis: str, postgres: str) -> ModuleType:
    """Write and import the module for ``kind``, with no loop running (the test functions are not async)."""
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    arguments, emitters = KINDS[kind]
    path = tmp_path / f"module_level_{kind}.py"
    path.write_text(
        MODULE.format(redis=redis, postgres=postgres, arguments=arguments, emitters=emitters),
        encoding="utf-8",
    )
    return import_file(path)


def import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class UvicornInLoop:
    """uvicorn serving an ASGI app inside the running loop (its lifespan included), until :meth:`stop`."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="on", log_level="warning")
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.ensure_future(self.server.serve())
        for _ in range(int(200 * FACTOR)):
            if self.server.started:
                return
            assert not self.task.done(), "uvicorn stopped"
            await asyncio.sleep(0.025)
        raise AssertionError("uvicorn did not start")

    async def stop(self) -> None:
        self.server.should_exit = True
        assert self.task is not None
        await asyncio.wait_for(self.task, PROMPTLY)


async def serve_once(module: ModuleType, run: int, *, cluster: bool) -> None:
    """One life of the module's servers on the running loop: serve, check, shut down."""
    running = await module.io_a.listen(port=0)
    b = UvicornInLoop(module.io_b.asgi_app())
    client = socketio.AsyncClient(reconnection=False)
    news: asyncio.Queue[Any] = asyncio.Queue()
    client.on("news", lambda *args: news.put_nowait(args[:1]), namespace="/x")
    try:
        await b.start()
        await client.connect(
            f"http://127.0.0.1:{b.port}", namespaces=["/x"], transports=["websocket"], wait_timeout=PROMPTLY
        )
        assert await client.call("chat", run, namespace="/x", timeout=PROMPTLY) == ["received", run]
        if not cluster:
            return
        # A's broadcast crosses the bus (again, for the sharded adapter: it subscribes to room1's channel in the
        # background, and a broadcast right after the room appeared may miss it).
        for _ in range(20):
            await module.io_a.of("/x").to("room1").emit("news", f"from A {run}")
            try:
                assert await asyncio.wait_for(news.get(), 0.5 * FACTOR) == (f"from A {run}",)
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError(f"run {run}: no broadcast crossed the servers")
        await asyncio.sleep(0.3)
        while not news.empty():
            news.get_nowait()
        for emitter in module.emitters:
            sent = emitter.of("/x").to("room1").emit("news", f"emitter {run}")
            await (sent if asyncio.iscoroutine(sent) else asyncio.sleep(0))
            assert await asyncio.wait_for(news.get(), PROMPTLY) == (f"emitter {run}",)
    finally:
        await client.disconnect()
        await b.stop()
        await running.close()
        for emitter in module.emitters:
            closing = emitter.aclose() if hasattr(emitter, "aclose") else asyncio.to_thread(emitter.close)
            await closing


@pytest.mark.parametrize("kind", ["memory", "classic", "sharded", "streams"])
def test_a_module_level_server_serves_twice(kind: str, redis_url: str, tmp_path: Path) -> None:
    module = import_module_level(tmp_path, kind, redis_url, "")
    for run in (1, 2):
        asyncio.run(asyncio.wait_for(serve_once(module, run, cluster=kind != "memory"), 30 * FACTOR))


def test_a_module_level_postgres_server_serves_twice(postgres_url: str, tmp_path: Path) -> None:
    module = import_module_level(tmp_path, "postgres", "", postgres_url)
    for run in (1, 2):
        asyncio.run(asyncio.wait_for(serve_once(module, run, cluster=True), 30 * FACTOR))


def test_a_module_level_engine_serves_twice(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    path = tmp_path / "module_level_engine.py"
    path.write_text(
        "from aiosocketio.engineio import EngineServer\n\n"
        "engine = EngineServer()\n\n\n"
        "@engine.on('connection')\n"
        "def on_connection(socket):\n"
        "    @socket.on('message')\n"
        "    async def on_message(data):\n"
        "        await socket.send(data)\n",
        encoding="utf-8",
    )
    module = import_file(path)

    async def echo_once(run: int) -> None:
        from aiosocketio.runner import serve

        running = await serve([module.engine], port=0)
        client = engineio.AsyncClient()
        echoed: asyncio.Queue[Any] = asyncio.Queue()
        client.on("message", echoed.put_nowait)
        try:
            await client.connect(f"http://127.0.0.1:{running.port}", engineio_path="/engine.io/")
            await client.send(f"hello {run}")
            assert await asyncio.wait_for(echoed.get(), PROMPTLY) == f"hello {run}"
        finally:
            await client.disconnect()
            await running.close()

    for run in (1, 2):
        asyncio.run(echo_once(run))


# -- the documented cluster example, in fresh processes, each way a reader may start it ---------------------

#: The README shows each way to start a server; the cluster page's Redis example is started each of those ways
#: here, next to a ``python app.py`` of itself on the same Redis. (``python app.py`` next to ``uvicorn app:app``
#: is the cluster scenario of test_doc_samples.py, and the README's own example runs every way there.)
CLUSTER_WAYS = {
    "aiosocketio.run": ("readme", "run"),
    "io.listen": ("readme", "listen"),
    "hypercorn": ("", "hypercorn"),
    "gunicorn": ("", "gunicorn"),
}


def _sample(page: str, kind: str, name: str, variant: str = "") -> Block:
    """The marked block of ``page`` (relative to the repository) with this kind, name and variant."""
    found = [b for b in blocks(REPO / page) if (b.kind, b.name, b.variant) == (kind, name, variant)]
    assert len(found) == 1, f"{page}: no single <!-- sample: {kind} {name}{'/' * bool(variant)}{variant} -->"
    return found[0]


def _cluster_example() -> Program:
    return Program("clusters-redis", server=_sample("docs/clusters.md", "server", "clusters-redis"))


def _started(way: str, services: Services) -> contextlib.AbstractContextManager[int]:
    """The cluster page's Redis example started ``way`` on a free port (the port its clients use)."""
    program = _cluster_example()
    source, how = CLUSTER_WAYS[way]
    if source:  # the README's other ending, in place of the example's ``if __name__ == "__main__":`` block
        alt = _sample("README.md", "alt", source, how)
        assert program.server is not None
        port = free_port()
        code = localise(compose(program.server.code, alt.code), {3000: port}, services)
        return _app_port(start_app(code, "python", port))
    return start(program, Run("clusters-redis", "", how), services)


@contextlib.contextmanager
def _app_port(app: contextlib.AbstractContextManager[AppProcess]) -> Iterator[int]:
    with app as started:
        yield started.port


async def _chat_across(one: str, other: str) -> None:
    """A chat sent on server ``one`` reaches room1 on server ``other`` (a polling client there), and back."""
    alice, bob = socketio.AsyncClient(reconnection=False), socketio.AsyncClient(reconnection=False)
    heard: dict[str, asyncio.Queue[Any]] = {"alice": asyncio.Queue(), "bob": asyncio.Queue()}
    alice.on("chat", heard["alice"].put_nowait)
    bob.on("chat", heard["bob"].put_nowait)
    try:
        await alice.connect(one, transports=["websocket"], wait_timeout=PROMPTLY)
        await bob.connect(other, transports=["polling"], wait_timeout=PROMPTLY)
        assert await alice.call("chat", "hello bob", timeout=PROMPTLY) == "received"
        assert await asyncio.wait_for(heard["bob"].get(), PROMPTLY) == "hello bob"
        assert await bob.call("chat", "hello alice", timeout=PROMPTLY) == "received"
        # alice is in room1 too: she hears her own chat first, then bob's.
        assert await asyncio.wait_for(heard["alice"].get(), PROMPTLY) == "hello bob"
        assert await asyncio.wait_for(heard["alice"].get(), PROMPTLY) == "hello alice"
    finally:
        await alice.disconnect()
        await bob.disconnect()


@pytest.mark.parametrize("way", list(CLUSTER_WAYS))
async def test_the_cluster_example_serves_each_way(way: str, redis_url: str) -> None:
    services = Services()
    services.replacements["127.0.0.1:6379"] = urlsplit(redis_url).netloc
    with (
        _started(way, services) as port,
        start(_cluster_example(), Run("clusters-redis", "", "python"), services) as other,
    ):
        await _chat_across(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{other}")
