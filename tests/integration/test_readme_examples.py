"""The README's examples, as written, run as programs: ``app.py`` in a fresh process, started each way the README
names, with real clients.

The only changes made to an example are the addresses: the Redis or PostgreSQL port becomes the test's own and
port 3000 a free one (each substitution must happen: see :func:`apps.substitute`). Where the README shows
alternatives (another way to start, another adapter), each one is composed into the program
(:func:`apps.compose`) and run too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import engineio
import pytest
import socketio
from apps import compose, readme_blocks, run_program, start_app, substitute
from conftest import free_port
from jsclient import run_js_scenario

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
PROMPTLY = 5.0 * FACTOR

SOCKETIO = "Socket.IO"
REDIS = "A cluster over Redis, with Node.js servers in it"
POSTGRES = "A cluster over PostgreSQL"
ENGINE = "Engine.IO on its own"


def _named(program: str, alternatives: list[str], names: dict[str, str]) -> dict[str, str]:
    """``{name: program}``: the example itself under ``names[""]``, and each alternative composed into it, named
    by the first key of ``names`` found in its text (each must be found once)."""
    programs = {names[""]: program}
    for alternative in alternatives:
        found = [name for marker, name in names.items() if marker and marker in alternative]
        assert len(found) == 1, f"which alternative is this?\n{alternative}"
        programs[found[0]] = compose(program, alternative)
    assert set(programs) == set(names.values()), f"the README's alternatives changed: {sorted(programs)}"
    return programs


def socketio_programs() -> dict[str, str]:
    """The "Socket.IO" example and its other ways to start."""
    program, *alternatives = readme_blocks(SOCKETIO)
    names = {"": "io.run", "aiosocketio.run(io": "aiosocketio.run", "await io.listen(": "io.listen"}
    return _named(program, alternatives, names)


def redis_programs() -> tuple[dict[str, str], str]:
    """The Redis cluster example with each adapter, and the emitter program."""
    program, *alternatives, emitter = readme_blocks(REDIS)
    assert "RedisEmitter" in emitter, emitter
    names = {"": "classic", "create_sharded_adapter(": "sharded", "redis_streams.create_adapter(": "streams"}
    return _named(program, alternatives, names), emitter


class Chat:
    """A python-socketio client of the example that records every ``chat`` and ``news`` it receives."""

    def __init__(self, transport: str) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.transport = transport
        self.received: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.client.on("chat", lambda *args: self.received.put_nowait(("chat", *args)))
        self.client.on("news", lambda *args: self.received.put_nowait(("news", *args)))

    async def connect(self, url: str) -> Chat:
        await self.client.connect(url, transports=[self.transport], wait_timeout=PROMPTLY)
        return self

    async def next(self) -> tuple[Any, ...]:
        return await asyncio.wait_for(self.received.get(), PROMPTLY)

    async def nothing(self, wait: float = 0.3) -> None:
        await asyncio.sleep(wait)
        assert self.received.empty(), self.received.get_nowait()


@contextlib.asynccontextmanager
async def chats(*urls_and_transports: tuple[str, str]) -> AsyncIterator[list[Chat]]:
    clients = [Chat(transport) for _, transport in urls_and_transports]
    try:
        for chat, (url, _) in zip(clients, urls_and_transports, strict=True):
            await chat.connect(url)
        yield clients
    finally:
        for chat in clients:
            await chat.client.disconnect()


def listening_ports(way: str) -> tuple[int, int]:
    """``(port, own_port)``: where the app is reached, and the port its own code names. Under an ASGI server they
    differ, so an example that started a server of its own at import would not be the one answering."""
    port = free_port()
    return port, port if way == "python" else free_port()


# -- the "Socket.IO" example ------------------------------------------------------------------------------


STARTS = [
    ("python", "io.run"),
    ("python", "aiosocketio.run"),
    ("python", "io.listen"),
    ("uvicorn", "io.run"),
    ("hypercorn", "io.run"),
    ("gunicorn", "io.run"),
]
"""Each way the README starts the example: ``python app.py`` with each ending, and each ASGI server named next to
``app = io.asgi_app()`` (the same file)."""


@pytest.mark.parametrize(("way", "ending"), STARTS, ids=[f"{w}-{e}" for w, e in STARTS])
async def test_the_socketio_example(way: str, ending: str) -> None:
    """A chat message is acknowledged with "received" and reaches the other member of room1, not the sender."""
    port, own_port = listening_ports(way)
    source = substitute(socketio_programs()[ending], {"port=3000": f"port={own_port}"})
    with start_app(source, way, port) as app:
        async with chats((app.url, "polling"), (app.url, "websocket")) as (alice, bob):
            assert await alice.client.call("chat", "hello", timeout=PROMPTLY) == "received"
            assert await bob.next() == ("chat", "hello")
            assert await bob.client.call("chat", "hi", timeout=PROMPTLY) == "received"
            assert await alice.next() == ("chat", "hi")
            await alice.nothing()
            if way in ("python", "uvicorn") and ending == "io.run":
                # socket.io-client 4.8 too, with the upgrade to WebSocket.
                reports = await run_js_scenario("chat_client.mjs", app.url, "upgrade", "from js")
                assert [r for r in reports if r["event"] == "ack"] == [{"event": "ack", "args": ["received"]}]
                assert {"event": "upgrade", "transport": "websocket"} in reports
                assert await alice.next() == ("chat", "from js")
                assert await bob.next() == ("chat", "from js")


@pytest.mark.parametrize("way", ["python", "uvicorn"])
async def test_the_engineio_example(way: str) -> None:
    """The echo engine answers each message with itself, over polling and WebSocket."""
    (source,) = readme_blocks(ENGINE)
    port, own_port = listening_ports(way)
    with start_app(substitute(source, {"port=3000": f"port={own_port}"}), way, port) as app:
        for transports in (["polling"], ["websocket"]):
            client = engineio.AsyncClient()
            echoed: asyncio.Queue[Any] = asyncio.Queue()
            client.on("message", echoed.put_nowait)
            try:
                await client.connect(app.url, transports=transports, engineio_path="/engine.io/")
                await client.send("hello")
                await client.send(b"\x00\x01")
                assert await asyncio.wait_for(echoed.get(), PROMPTLY) == "hello"
                assert await asyncio.wait_for(echoed.get(), PROMPTLY) == b"\x00\x01"
            finally:
                await client.disconnect()


# -- the cluster examples ---------------------------------------------------------------------------------


async def _cross_servers(one: str, other: str, *, retry: bool) -> None:
    """A chat sent on server ``one`` reaches room1 on both servers; and the other way round.

    ``retry``: the sharded adapter subscribes to a new room's channel in the background (as the README says), so
    the first messages right after the room appeared may miss the other server: send again until one arrives.
    """
    async with chats((one, "websocket"), (other, "polling")) as (alice, bob):
        for attempt in range(20 if retry else 1):
            assert await alice.client.call("chat", f"hello {attempt}", timeout=PROMPTLY) == "received"
            assert (await alice.next())[:2] == ("chat", f"hello {attempt}")
            try:
                got = await asyncio.wait_for(bob.received.get(), 0.5 if retry else PROMPTLY)
            except TimeoutError:
                continue
            # (With connection state recovery, an event carries its offset as a last argument.)
            assert got[:2] == ("chat", f"hello {attempt}")
            break
        else:
            raise AssertionError("no chat crossed the servers")
        if retry:  # a first message that arrived late is not the one awaited next
            await asyncio.sleep(0.5)
            for chat in (alice, bob):
                while not chat.received.empty():
                    chat.received.get_nowait()
        assert await bob.client.call("chat", "back", timeout=PROMPTLY) == "received"
        assert (await bob.next())[:2] == ("chat", "back")
        assert (await alice.next())[:2] == ("chat", "back")


@pytest.mark.parametrize("adapter", ["classic", "sharded", "streams"])
async def test_the_redis_cluster_example(adapter: str, redis_url: str) -> None:
    """Two servers of the example on one Redis (``python app.py`` and ``uvicorn app:app``) share room1; with
    the classic adapter, the emitter program reaches the clients of both."""
    programs, emitter = redis_programs()
    redis_address = urlsplit(redis_url).netloc
    port_a, port_b = free_port(), free_port()
    source = substitute(programs[adapter], {"127.0.0.1:6379": redis_address, "port=3000": f"port={port_a}"})
    with start_app(source, "python", port_a) as a, start_app(source, "uvicorn", port_b) as b:
        await _cross_servers(a.url, b.url, retry=adapter == "sharded")
        if adapter == "classic":
            async with chats((a.url, "websocket"), (b.url, "websocket")) as (alice, bob):
                program = substitute(emitter, {"127.0.0.1:6379": redis_address})
                await asyncio.to_thread(run_program, program)
                for chat in (alice, bob):
                    assert await chat.next() == ("news", 1)
                    assert await chat.next() == ("news", 2)


async def test_the_postgres_cluster_example(postgres_url: str) -> None:
    """Two servers of the example on one PostgreSQL (``python app.py`` and ``uvicorn app:app``) share room1."""
    (source,) = readme_blocks(POSTGRES)
    database = urlsplit(postgres_url)
    port_a, port_b = free_port(), free_port()
    source = substitute(
        source, {"127.0.0.1:5432": f"127.0.0.1:{database.port}", "port=3000": f"port={port_a}"}
    )
    with start_app(source, "python", port_a) as a, start_app(source, "uvicorn", port_b) as b:
        await _cross_servers(a.url, b.url, retry=False)
