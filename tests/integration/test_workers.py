"""``workers=N``: an app module started in a fresh process, as a user starts it (``io.run(workers=N)`` in a
script, or ``aiosocketio run app:io --workers N``), serves its port from N processes that clients see as one
server (docs/deployment.md#workers).

Real clients (socket.io-client 4.8 and python-socketio's ``AsyncClient``) connect over long-polling, WebSocket
and polling-then-upgrade, with the engine's ids and with a ``generate_id`` of the application's (ids of another
shape, with characters a client percent-encodes); every one connects, and its acknowledgements and events all
come from the one worker that holds its session (the app answers with ``os.getpid()``), while the sessions
are spread over every worker (at random: the kernel picks a worker for each new connection, so the tests open
sessions until every worker holds some). A raw HTTP client sends requests of two sessions held by different workers on
one keep-alive connection, and each gets its own session's answer. A worker killed with SIGKILL is replaced
(same index) and new clients connect; SIGTERM stops everything promptly with status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
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
from jsclient import run_js_scenario

APP_MODULE = """
import itertools
import os
import sys
import time

import aiosocketio

if os.environ.get("WORKERS_TEST_REDIS"):
    from aiosocketio.adapters.redis import create_adapter

    io = aiosocketio.Server(adapter=create_adapter(os.environ["WORKERS_TEST_REDIS"], key="workers-test"))
else:
    io = aiosocketio.Server()

if os.environ.get("WORKERS_TEST_CUSTOM_ID"):
    ids = itertools.count()
    # Not the engine's shape, with characters that socket.io-client percent-encodes; the pid keeps ids of
    # different workers apart (ids must be unique across the workers).
    io.engine.generate_id = lambda request: f"user:{os.getpid()}@{next(ids)}"


@io.on("connection")
async def on_connection(socket):
    @socket.on("whoami")
    async def whoami():
        return [
            os.getpid(),
            os.environ["AIOSOCKETIO_WORKER_INDEX"],
            os.environ["AIOSOCKETIO_WORKERS"],
            os.environ["AIOSOCKETIO_WORKER_DIR"],
            socket.conn.id,
        ]

    @socket.on("echo")
    async def echo(data):
        await socket.emit("echoed", data)
        return ["got", data]

    @socket.on("shout")
    async def shout(text):
        await socket.join("all")
        await io.to("all").emit("news", text, os.getpid())

    @socket.on("listen")
    async def listen():
        await socket.join("all")
        return True

    @socket.on("block")
    def block(seconds):
        time.sleep(seconds)  # a handler that blocks its worker's loop (what a handler must never do)
        return os.getpid()


# A plain Engine.IO server, served alone by the command (app:eio).
eio = aiosocketio.EngineServer()


@eio.on("connection")
def on_engine_connection(conn):
    conn.on("message", lambda data: conn.write(f"{data} from {os.getpid()}"))


if __name__ == "__main__":
    io.run(port=int(sys.argv[1]), workers=int(sys.argv[2]))
"""

TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": ["polling", "websocket"]}


class Cluster:
    """The app module served with ``workers`` processes, by the script or by the command; log in a file."""

    def __init__(
        self, cwd: Path, how: str, workers: int, *, custom_id: bool = False, redis: str = ""
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log_path = cwd / f"server-{self.port}.log"
        if how == "script":
            command = [sys.executable, "app.py", str(self.port), str(workers)]
        else:
            target = "app:eio" if how == "cli-engine" else "app:io"
            command = [sys.executable, "-m", "aiosocketio", "run", target, "--port", str(self.port)]
            command += ["--workers", str(workers)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("WORKERS_TEST_CUSTOM_ID", None)
        env.pop("WORKERS_TEST_REDIS", None)
        if custom_id:
            env["WORKERS_TEST_CUSTOM_ID"] = "1"
        if redis:
            env["WORKERS_TEST_REDIS"] = redis
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_ready(self) -> None:
        """Until every worker said it serves (the parent listens before they do)."""
        deadline = time.monotonic() + scaled(15)
        while self.log().count(") ready") < self.workers:
            assert self.proc.poll() is None, f"the server exited with {self.proc.returncode}:\n{self.log()}"
            assert time.monotonic() < deadline, f"the workers did not start:\n{self.log()}"
            await asyncio.sleep(0.05)

    async def wait_log(self, text: str) -> None:
        deadline = time.monotonic() + scaled(10)
        while text not in self.log():
            assert time.monotonic() < deadline, f"{text!r} is not in the log:\n{self.log()}"
            await asyncio.sleep(0.02)

    async def stop(self, sig: signal.Signals) -> float:
        """Send ``sig``; the seconds until the process ended."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        deadline = started + scaled(10)
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"the server did not stop:\n{self.log()}"
            await asyncio.sleep(0.01)
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(APP_MODULE, encoding="utf-8")
    return tmp_path


@asynccontextmanager
async def cluster(
    app_dir: Path, how: str, workers: int, *, custom_id: bool = False, redis: str = ""
) -> AsyncIterator[Cluster]:
    server = Cluster(app_dir, how, workers, custom_id=custom_id, redis=redis)
    try:
        await server.wait_ready()
        yield server
    finally:
        if server.proc.poll() is None:
            # Whatever failed, the workers must not outlive the test: SIGTERM drains them; SIGKILL would orphan them.
            server.proc.send_signal(signal.SIGTERM)
            try:
                server.proc.wait(scaled(10))
            except subprocess.TimeoutExpired:
                server.kill()
        print(f"server log:\n{server.log()}")


class PySession:
    """A python-socketio ``AsyncClient`` connected with ``transport``; it records the server's "echoed"."""

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.client = socketio.AsyncClient(reconnection=False)
        self.echoed: asyncio.Queue[Any] = asyncio.Queue()
        self.client.on("echoed", self.echoed.put_nowait)
        self.news: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.client.on("news", lambda *args: self.news.put_nowait(args))

    async def connect(self, url: str) -> None:
        await self.client.connect(url, transports=TRANSPORTS[self.transport], wait_timeout=scaled(5))
        if self.transport == "upgrade":
            deadline = time.monotonic() + scaled(5)
            while self.client.transport() != "websocket":
                assert time.monotonic() < deadline, "the client did not upgrade"
                await asyncio.sleep(0.01)

    async def exchange(self, n: int) -> list[list[Any]]:
        """Three "whoami" and an "echo" (its ack and the "echoed" event): what "whoami" answered."""
        answers = [await self.client.call("whoami", timeout=scaled(5)) for _ in range(3)]
        ack = await self.client.call("echo", {"n": n}, timeout=scaled(5))
        assert ack == ["got", {"n": n}]
        assert await asyncio.wait_for(self.echoed.get(), scaled(5)) == {"n": n}
        return answers


async def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + scaled(5)
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


def one_worker(answers: list[list[Any]]) -> tuple[int, str]:
    """The (pid, index) every answer of one session came from; they must all be the same."""
    assert len({(a[0], a[1]) for a in answers}) == 1, answers
    return answers[0][0], answers[0][1]


#: Sessions opened at most to find one on each worker: each new connection reaches a worker the kernel picks at
#: random, so with 4 workers 64 tries miss one with a probability of about 4 * (3/4)**64, 4e-8.
TRIES = 64


async def one_session_per_worker(url: str, transports: list[str], workers: int) -> list[PySession]:
    """Sessions connected one after the other (their transports taken in turn from ``transports``) until each
    of the ``workers`` holds one: those, by worker index; the others are disconnected."""
    chosen: dict[str, PySession] = {}
    for n in range(TRIES):
        session = PySession(transports[n % len(transports)])
        await session.connect(url)
        _, index = one_worker(await session.exchange(1000 + n))
        if index in chosen:
            await session.client.disconnect()
            continue
        chosen[index] = session
        if len(chosen) == workers:
            return [chosen[str(i)] for i in range(workers)]
    raise AssertionError(f"{TRIES} sessions did not reach every worker: {sorted(chosen)}")


@pytest.mark.parametrize(
    ("how", "workers", "custom_id"),
    [("script", 2, False), ("script", 4, True), ("cli", 2, True), ("cli", 4, False)],
    ids=["io.run-2", "io.run-4-custom-id", "cli-2-custom-id", "cli-4"],
)
async def test_every_client_connects_and_sessions_spread_over_the_workers(
    app_dir: Path, how: str, workers: int, custom_id: bool
) -> None:
    async with cluster(app_dir, how, workers, custom_id=custom_id) as server:
        sessions = [PySession(t) for t in ["polling", "websocket", "upgrade"] * 2]
        for session in sessions:
            await session.connect(server.url)
        answers = await asyncio.gather(*(s.exchange(n) for n, s in enumerate(sessions)))
        served = {one_worker(a) for a in answers}
        # Enough JS sessions that each worker gets some (at random): 12 per worker miss one with a probability
        # under 1e-5 with 4 workers.
        count = 12 * workers
        for transport in TRANSPORTS:
            reports = await run_js_scenario("workers_client.mjs", server.url, transport, str(count))
            js = [r for r in reports if r["event"] == "session"]
            assert len(js) == count, reports
            for r in js:
                served.add(one_worker(r["whoami"]))
                assert r["echoed"]["text"] == "héllo"
                assert r["ack"] == ["got", r["echoed"]]
                if custom_id:
                    assert r["engineId"].startswith("user:"), r
                assert r["transport"] == ("polling" if transport == "polling" else "websocket")
            # The JS sessions of this run are spread over every worker.
            assert len({one_worker(r["whoami"]) for r in js}) == workers, js
        pids = {pid for pid, _ in served}
        assert len(pids) == workers, served
        assert {index for _, index in served} == {str(i) for i in range(workers)}
        first = answers[0][0]
        assert first[2] == str(workers)
        worker_dir = first[3]
        assert await asyncio.to_thread(os.path.isdir, worker_dir)
        if custom_id:
            assert all(a[0][4].startswith("user:") for a in answers)
        for session in sessions:
            assert session.client.connected

        took = await server.stop(signal.SIGTERM)
        assert server.proc.returncode == 0, server.log()
        assert took < scaled(2.0), f"stopping took {took:.2f} s"
        for session in sessions:
            await wait_until(lambda s=session: not s.client.connected, "a client saw no disconnect")
            await session.client.disconnect()
        assert not await asyncio.to_thread(os.path.exists, worker_dir), (
            "the workers' directory is removed at the end"
        )
        log = server.log()
        assert f"serving on http://127.0.0.1:{server.port} (uvloop) with {workers} workers" in log
        assert "Traceback" not in log
        assert not any(_alive(pid) for pid in pids), "every worker ended with the parent"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class RawHttp:
    """One keep-alive HTTP/1.1 connection, requests sent one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> RawHttp:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, target: str, body: bytes | None = None, *, cut: int | None = None
    ) -> tuple[int, bytes]:
        """Send a request and read its answer; with ``cut``, the request's first ``cut`` bytes go first, alone,
        and the rest a moment later (a slow client whose request line comes in two parts)."""
        method = "GET" if body is None else "POST"
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if body is not None:
            head += f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n"
        data = head.encode() + b"\r\n" + (body or b"")
        if cut is not None:
            self.writer.write(data[:cut])
            await self.writer.drain()
            await asyncio.sleep(0.1)
            data = data[cut:]
        self.writer.write(data)
        status_line = await asyncio.wait_for(self.reader.readline(), scaled(5))
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        assert headers.get("connection") != "close", headers
        body_in = await self.reader.readexactly(int(headers["content-length"]))
        return int(status_line.split()[1]), body_in

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), scaled(2))


def poll_url(sid: str) -> str:
    return f"/socket.io/?EIO=4&transport=polling&sid={sid}"


def packets(body: bytes) -> list[str]:
    return body.decode().split("\x1e")


async def polling_session(port: int) -> tuple[str, int]:
    """A Socket.IO session over raw long-polling (handshake on a connection of its own): (sid, worker pid)."""
    http = await RawHttp.open(port)
    status, body = await http.request("/socket.io/?EIO=4&transport=polling")
    await http.close()
    assert status == 200, body
    sid = json.loads(body[1:])["sid"]
    http = await RawHttp.open(port)
    assert await http.request(poll_url(sid), b"40") == (200, b"ok")
    status, body = await http.request(poll_url(sid))
    assert status == 200, body
    assert packets(body)[0].startswith("40{"), body
    assert await http.request(poll_url(sid), b'421["whoami"]') == (200, b"ok")
    status, body = await http.request(poll_url(sid))
    assert status == 200, body
    assert body.startswith(b"431"), body
    await http.close()
    [answer] = json.loads(body[3:])
    return sid, answer[0]


@pytest.mark.parametrize("custom_id", [False, True], ids=["engine-ids", "custom-ids"])
async def test_one_keep_alive_connection_carries_requests_of_sessions_in_different_workers(
    app_dir: Path, custom_id: bool
) -> None:
    async with cluster(app_dir, "script", 2, custom_id=custom_id) as server:
        first = await polling_session(server.port)
        for _ in range(TRIES):  # a session held by the other worker (the kernel spreads handshakes at random)
            second = await polling_session(server.port)
            if second[1] != first[1]:
                break
        assert first[1] != second[1], "no handshake reached the other worker"
        http = await RawHttp.open(server.port)
        for round_ in range(3):
            for n, (sid, pid) in enumerate((first, second, first)):
                ack_id = 10 * round_ + n
                assert await http.request(poll_url(sid), f'42{ack_id}["whoami"]'.encode()) == (200, b"ok")
                status, body = await http.request(poll_url(sid))
                assert status == 200, body
                assert body.startswith(f"43{ack_id}".encode()), body
                [answer] = json.loads(body[len(f"43{ack_id}") :])
                assert answer[0] == pid, answer
                assert answer[4] == sid, answer
        # A session nobody holds gets the single server's answer, on that connection too.
        assert await http.request(poll_url("no-such-session")) == (
            400,
            b'{"code":1,"message":"Session ID unknown"}',
        )
        status, body = await http.request(poll_url(first[0]), b'4299["whoami"]')
        assert (status, body) == (200, b"ok")
        status, body = await http.request(poll_url(first[0]))
        assert status == 200, body
        assert body.startswith(b"4399"), body
        await http.close()
        # And on a new connection.
        http = await RawHttp.open(server.port)
        assert await http.request(poll_url("also-unknown")) == (
            400,
            b'{"code":1,"message":"Session ID unknown"}',
        )
        await http.close()
        # A connection that stays silent a while (a browser's preconnect) goes to some worker before its first
        # request comes; that request and the next are still answered by their sessions' workers.
        http = await RawHttp.open(server.port)
        await asyncio.sleep(1.5)
        for n, (sid, pid) in enumerate((second, first)):
            assert await http.request(poll_url(sid), f'42{50 + n}["whoami"]'.encode()) == (200, b"ok")
            status, body = await http.request(poll_url(sid))
            assert status == 200, body
            assert body.startswith(f"43{50 + n}".encode()), body
            assert json.loads(body[4:])[0][0] == pid
        await http.close()
        # A request line that comes in two parts, cut inside the sid, on new connections and on a kept one: each
        # worker waits for the whole line before it decides whose request it is.
        kept = await RawHttp.open(server.port)
        for n, (sid, pid) in enumerate((first, second, first, second)):
            fresh = await RawHttp.open(server.port)
            for k, http in enumerate((fresh, kept)):
                ack_id = 70 + 2 * n + k
                target = poll_url(sid)
                cut = len("POST ") + target.index("sid=") + 6
                assert await http.request(target, f'42{ack_id}["whoami"]'.encode(), cut=cut) == (200, b"ok")
                status, body = await http.request(target)
                assert body.startswith(f"43{ack_id}".encode()), body
                assert json.loads(body[4:])[0][0] == pid
            await fresh.close()
        await kept.close()


async def test_an_engine_server_alone_is_served_by_workers_too(app_dir: Path) -> None:
    async with cluster(app_dir, "cli-engine", 2) as server:
        # Sessions until two are held by different workers (each says which process it is in).
        by_pid: dict[str, str] = {}
        for n in range(TRIES):
            http = await RawHttp.open(server.port)
            status, body = await http.request("/engine.io/?EIO=4&transport=polling")
            assert status == 200, body
            sid = json.loads(body[1:])["sid"]
            url = f"/engine.io/?EIO=4&transport=polling&sid={sid}"
            assert await http.request(url, f"4which {n}".encode()) == (200, b"ok")
            status, body = await http.request(url)
            await http.close()
            by_pid.setdefault(body.decode().rpartition(" from ")[2], sid)
            if len(by_pid) == 2:
                break
        sids = list(by_pid.values())
        assert len(sids) == 2, "no handshake reached the other worker"
        http = await RawHttp.open(server.port)
        pids: dict[str, str] = {}
        for n in range(6):
            sid = sids[n % 2]
            url = f"/engine.io/?EIO=4&transport=polling&sid={sid}"
            assert await http.request(url, f"4hello {n}".encode()) == (200, b"ok")
            status, body = await http.request(url)
            assert status == 200, body
            text, _, pid = body.decode().rpartition(" from ")
            assert text == f"4hello {n}"
            assert pids.setdefault(sid, pid) == pid, "a session is answered by one worker"
        await http.close()
        assert len(set(pids.values())) == 2, "the two sessions are in different workers"


async def test_a_stuck_worker_holds_up_neither_the_others_nor_the_connections_sent_to_it(
    app_dir: Path,
) -> None:
    async with cluster(app_dir, "script", 2) as server:
        stuck, other = await one_session_per_worker(server.url, ["websocket"], 2)
        stuck_pid, _ = one_worker(await stuck.exchange(0))
        assert one_worker(await other.exchange(1))[0] != stuck_pid
        blocked = asyncio.create_task(stuck.client.call("block", 2.0, timeout=scaled(10)))
        await asyncio.sleep(0.2)

        async def handshake() -> int:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            answer = await asyncio.wait_for(reader.read(), scaled(15))
            writer.close()
            return int(answer.split()[1])

        # Far more connections than the stuck worker's control socket holds: those the kernel gives the stuck
        # worker wait in its queue (or in the parent, when it hands one over), none is lost.
        handshakes = asyncio.gather(*(handshake() for _ in range(600)))
        started = time.monotonic()
        assert (await other.exchange(2))[0][0] != stuck_pid
        assert time.monotonic() - started < scaled(1.0), "the other worker answered late"
        assert not blocked.done()
        assert await handshakes == [200] * 600
        assert await blocked == stuck_pid
        for session in (stuck, other):
            await session.client.disconnect()


async def test_with_a_redis_adapter_each_worker_is_a_node_of_the_cluster(
    app_dir: Path, redis_url: str
) -> None:
    """The adapter the application gives connects in each worker once it serves (nothing is shared through the
    fork): a broadcast from one worker reaches the clients of the other through Redis."""
    async with cluster(app_dir, "script", 2, redis=redis_url) as server:
        sessions = await one_session_per_worker(server.url, ["polling", "websocket"], 2)
        pids = [one_worker(await s.exchange(n))[0] for n, s in enumerate(sessions)]
        assert pids[0] != pids[1]
        assert await sessions[1].client.call("listen", timeout=scaled(5)) is True
        await sessions[0].client.emit("shout", "to everyone")
        for session in sessions:
            assert await asyncio.wait_for(session.news.get(), scaled(5)) == ("to everyone", pids[0])
        took = await server.stop(signal.SIGTERM)
        assert server.proc.returncode == 0, server.log()
        assert took < scaled(2.0), f"stopping took {took:.2f} s"
        for session in sessions:
            await session.client.disconnect()
        assert "Traceback" not in server.log()


async def test_a_killed_worker_is_replaced_and_new_clients_connect(app_dir: Path) -> None:
    async with cluster(app_dir, "script", 2) as server:
        victim = PySession("polling")
        await victim.connect(server.url)
        pid, index = one_worker(await victim.exchange(0))
        os.kill(pid, signal.SIGKILL)
        await server.wait_log(f"worker {index} (pid {pid}) killed by signal 9; starting a replacement")
        deadline = time.monotonic() + scaled(10)
        while server.log().count(") ready") < 3:
            assert time.monotonic() < deadline, server.log()
            await asyncio.sleep(0.05)
        sessions = await one_session_per_worker(server.url, ["polling", "websocket", "upgrade"], 2)
        served = {
            one_worker(a) for a in await asyncio.gather(*(s.exchange(n) for n, s in enumerate(sessions)))
        }
        assert pid not in {p for p, _ in served}
        assert {i for _, i in served} == {"0", "1"}, (
            "the replacement took the index of the worker it replaces"
        )
        reports = await run_js_scenario("workers_client.mjs", server.url, "polling", "2")
        assert len([r for r in reports if r["event"] == "session"]) == 2
        # SIGINT (Ctrl-C) stops it as SIGTERM does.
        took = await server.stop(signal.SIGINT)
        assert server.proc.returncode == 0, server.log()
        assert took < scaled(2.0), f"stopping took {took:.2f} s"
        for session in [victim, *sessions]:
            await session.client.disconnect()


async def test_the_workers_do_not_outlive_their_parent(app_dir: Path) -> None:
    async with cluster(app_dir, "script", 2) as server:
        sessions = await one_session_per_worker(server.url, ["websocket", "polling"], 2)
        answers = [await s.exchange(n) for n, s in enumerate(sessions)]
        pids = {one_worker(a)[0] for a in answers}
        assert len(pids) == 2
        worker_dir = answers[0][0][3]
        server.kill()  # SIGKILL: the parent cannot tell anyone, nor clean up
        await wait_until(lambda: not any(_alive(pid) for pid in pids), "a worker outlived its parent")
        await wait_until(lambda: not os.path.exists(worker_dir), "the workers' directory is left behind")
        for session in sessions:
            await session.client.disconnect()


@pytest.mark.parametrize("how", ["script", "cli"])
def test_a_port_in_use_is_one_line_and_status_1(app_dir: Path, how: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        if how == "script":
            command = [sys.executable, "app.py", str(port), "3"]
        else:
            command = [
                sys.executable,
                "-m",
                "aiosocketio",
                "run",
                "app:io",
                "--port",
                str(port),
                "--workers",
                "3",
            ]
        result = subprocess.run(
            command, cwd=app_dir, capture_output=True, text=True, timeout=scaled(30), stdin=subprocess.DEVNULL
        )
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"aiosocketio: error: cannot listen on 127.0.0.1:{port}: the address is already in use "
        "(is another server running there?)"
    ], result.stderr


BROKEN_MODULE = """
import sys

import aiosocketio
from aiosocketio.adapters.memory import InMemoryAdapter


class Unreachable(InMemoryAdapter):
    async def init(self):
        raise ConnectionRefusedError("the bus cannot be reached")


io = aiosocketio.Server(adapter=Unreachable)

if __name__ == "__main__":
    io.run(port=int(sys.argv[1]), workers=2)
"""


def test_workers_that_cannot_start_end_the_program_with_status_1(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(BROKEN_MODULE, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "broken.py", str(free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=scaled(30),
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, result
    assert "ConnectionRefusedError: the bus cannot be reached" in result.stderr
    assert "before it served: stopping" in result.stderr
    assert "starting a replacement" not in result.stderr


def test_an_unknown_option_fails_at_once(app_dir: Path) -> None:
    code = "import app; app.io.run(port=0, workers=2, keep_alive=3)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=app_dir, capture_output=True, text=True, timeout=scaled(30)
    )
    assert result.returncode == 1
    assert "TypeError: got an unexpected keyword argument 'keep_alive'" in result.stderr
    assert "worker 0 started" not in result.stderr


def test_a_system_without_what_workers_need_gets_one_line_and_status_1(app_dir: Path) -> None:
    # As on a system whose Unix sockets cannot keep message boundaries.
    code = "import socket; del socket.SOCK_SEQPACKET; import app; app.io.run(port=0, workers=2)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=app_dir, capture_output=True, text=True, timeout=scaled(30)
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "aiosocketio: error: workers=N needs os.fork, Unix sockets that pass descriptors and keep message "
        "boundaries, and SO_REUSEPORT (Linux); serve with one worker here"
    ]
