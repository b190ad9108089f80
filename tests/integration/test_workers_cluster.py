"""The workers adapter between separate processes (docs/clusters.md#workers-on-one-machine).

Three server processes (``tests/servers/workers_cluster.py``), each listening on its own port, form a mesh over
Unix sockets in a temporary directory. A socket.io-client 4.8 with connection state recovery reaches worker 0
through a small TCP balancer; worker 0 is killed with SIGKILL (no goodbye of any kind), the balancer now points
at worker 1, an event is broadcast while the client is away, and the client comes back on worker 1 with its id,
rooms and data, and gets the missed event once. A second test forks workers from a server built at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from conftest import CORE_FRONTENDS, SERVERS_DIR, ServerProcess, free_port, scaled, start_server
from test_cluster_recovery import Balancer, failover_client

pytestmark = pytest.mark.node

WORKER = SERVERS_DIR / "workers_cluster.py"
FORKED = SERVERS_DIR / "workers_forked.py"
PROMPTLY = scaled(5.0)


@contextlib.contextmanager
def workers(directory: Path, count: int, frontend: str) -> Iterator[list[ServerProcess]]:
    with contextlib.ExitStack() as stack:
        started = [
            stack.enter_context(
                start_server(
                    WORKER,
                    *("--dir", str(directory), "--index", str(index), "--workers", str(count)),
                    frontend=frontend,
                )
            )
            for index in range(count)
        ]
        try:
            yield started
        finally:
            for server in started:
                print(server.logs())


@contextlib.asynccontextmanager
async def controller(url: str) -> AsyncIterator[socketio.AsyncClient]:
    """A python-socketio client that drives one worker through its events."""
    client = socketio.AsyncClient()
    await client.connect(url, transports=["websocket"])
    try:
        yield client
    finally:
        await client.disconnect()


async def until_count(client: socketio.AsyncClient, count: int) -> None:
    deadline = time.monotonic() + PROMPTLY
    while (seen := await client.call("count", timeout=PROMPTLY)) != count:
        assert time.monotonic() < deadline, f"server_count() is {seen}, not {count}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("frontend", CORE_FRONTENDS)
async def test_a_client_recovers_from_a_worker_killed_with_sigkill(tmp_path: Path, frontend: str) -> None:
    with workers(tmp_path / "mesh", 3, frontend) as (w0, w1, w2):
        async with controller(w1.url) as c1, controller(w2.url) as c2:
            await until_count(c1, 3)
            await until_count(c2, 3)
            balancer = Balancer()
            balancer.target = w0.port
            port = await balancer.start()
            try:
                async with failover_client(f"http://127.0.0.1:{port}") as client:
                    hello = await client.next("connect")
                    assert hello["recovered"] is False
                    await client.send(op="join", room="r1")
                    await client.next("joined")
                    await client.send(op="emit", event="set", args=["color", "blue"])
                    await client.next("acked")
                    # From another worker, so the client has an offset to come back with.
                    await c2.call("emit_to", ("r1", "first", 1), timeout=PROMPTLY)
                    first = await client.next("event")
                    assert first["event"] == "first"
                    assert first["args"][0] == 1
                    await asyncio.sleep(scaled(0.6))  # the data check (every 0.2 s) copies the change

                    balancer.target = w1.port
                    assert w0.proc is not None
                    w0.proc.send_signal(signal.SIGKILL)
                    assert (await client.next("disconnect"))["reason"] == "transport close"
                    await until_count(c1, 2)
                    await until_count(c2, 2)
                    await c2.call("emit_to", ("r1", "while-away", "x"), timeout=PROMPTLY)
                    await c2.call("emit_to", ("elsewhere", "not-for-it", "y"), timeout=PROMPTLY)

                    # socket.io-client hands out the replayed events just before "connect".
                    lines = [await client.next(), await client.next()]
                    back = next(line for line in lines if line["kind"] == "connect")
                    missed = next(line for line in lines if line["kind"] == "event")
                    assert back == {"kind": "connect", "id": hello["id"], "recovered": True}
                    assert missed["event"] == "while-away"
                    assert missed["args"][0] == "x"
                    seen = await c1.call("inspect", hello["id"], timeout=PROMPTLY)
                    assert seen == {
                        "recovered": True,
                        "rooms": sorted([hello["id"], "r1"]),
                        "data": {"first": 0, "color": "blue"},
                    }
                    # Once: a new event arrives, and nothing else before it.
                    await c2.call("emit_to", ("r1", "after", 2), timeout=PROMPTLY)
                    after = await client.next()
                    assert after["kind"] == "event"
                    assert after["event"] == "after"
            finally:
                await balancer.close()
        w0.proc.wait(timeout=PROMPTLY)
        assert w0.proc.returncode == -signal.SIGKILL
        w0.proc = None  # nothing to stop


async def test_workers_forked_from_a_server_built_at_import_time(tmp_path: Path) -> None:
    """A server with the workers adapter is built at import time, then the process forks two workers (with the
    settings in their environment, as the supervisor of ``workers=N`` does): nothing was opened before the fork,
    and the workers find each other."""
    ports = [free_port(), free_port()]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(FORKED),
        str(tmp_path / "mesh"),
        *map(str, ports),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), PROMPTLY)).decode()
        assert line.startswith("BEFORE FORK "), line
        assert line.split()[2:] == ["files=0", "threads=1", "new-fds=0"], line
        for port in ports:
            await until_listening(port)
        async with (
            controller(f"http://127.0.0.1:{ports[0]}") as c0,
            controller(f"http://127.0.0.1:{ports[1]}") as c1,
        ):
            await until_count(c0, 2)
            await until_count(c1, 2)
            got: asyncio.Queue[Any] = asyncio.Queue()
            c1.on("hello", lambda *args: got.put_nowait(args))
            await c0.call("emit_to", (None, "hello", "from-0"), timeout=PROMPTLY)
            assert (await asyncio.wait_for(got.get(), PROMPTLY))[0] == "from-0"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), PROMPTLY)
        except TimeoutError:
            process.kill()
            _, stderr = await process.communicate()
        assert b"Traceback" not in stderr, stderr.decode()


async def until_listening(port: int) -> None:
    deadline = time.monotonic() + PROMPTLY
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            assert time.monotonic() < deadline, f"nobody listens on {port}"
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return
