"""Every kind of deadline comes on time, over many sessions, on an idle and on a busy loop.

The server is driven through its ASGI app with raw ASGI messages on the test's own loop (no HTTP client in
between), so the time an answer leaves the server is read with ``loop.time()`` in the ``send`` callable:

* heartbeat pings: a held long-polling GET is answered with ``2`` ``ping_interval`` after the handshake, and
  ``ping_interval`` after the POST that carried the pong (or up to 1/500 of the interval before: pings go out
  in batches, never late);
* ping timeouts: without a pong, the next held GET is answered with ``1`` (close) ``ping_interval +
  ping_timeout`` after the handshake (or after the pong's POST), not later: the pong's deadline is counted from
  when the ping was due, so a late ping does not make the timeout later still;
* upgrade timeouts: a WebSocket opened for a polling session that never probes is closed ``upgrade_timeout``
  after it was accepted;
* Socket.IO connect timeouts: a client that never sends CONNECT gets the close packet ``connect_timeout`` after
  the handshake;
* ack timeouts: ``socket.timeout(t).emit_with_ack()`` and ``io.to(room).timeout(t).emit_with_ack()`` raise
  ``AckTimeoutError`` ``t`` after the call.

How late each one is gets compared with a plain event-loop timer set for the same due time (``loop.call_at``):
that one is late only by what the loop and the machine add (a busy coroutine's step, the process being
descheduled on a shared machine). The server may add at most ``ENGINE_SLACK`` to it on an idle loop; on a
busy loop (a coroutine that computes for ``STEP`` seconds at a time), one more step, since the loop may start
a step between the plain timer and the server's. Sessions start spread over one ping interval, so their
deadlines fall at every phase of a millisecond, and none may come early.

Before the fix the timers' buckets (12.5 ms at 300/200 ms intervals) made pings up to 12.5 ms late and ping
timeouts up to 25 ms late; ``test_the_next_request_500_ms_after_the_handshake_finds_the_session_closed`` is the
user's report: the official protocol suite asks 500 ms after the handshake and expects the session gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from aiosocketio import AckTimeoutError, Server, Socket
from aiosocketio.engineio import EngineServer, EngineSocket
from aiosocketio.engineio.packet import Packet, PacketType
from aiosocketio.engineio.session import PING_BATCH_MAX, PING_BATCH_SHARE

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
PATH = "/engine.io/"
SIO_PATH = "/socket.io/"
#: Sessions per scenario, and the time over which they start (seconds): the deadlines of 200 sessions fall at
#: every phase of the timers' millisecond, and the test's own requests do not crowd the loop.
SESSIONS = 200
SPREAD = 0.6
#: What the server may add to a plain loop timer's lateness (seconds).
ENGINE_SLACK = 0.003
#: How long the busy coroutine computes before it lets the loop run (seconds).
STEP = 0.005
#: How long it then sleeps: the loop turns at least once between two steps.
GAP = 0.001
#: Nothing may come earlier than its due time by more than this (the test's own clock reads are µs apart).
EARLY = 0.0002
#: The share of a scenario's deadlines that may exceed the bound above: the machine running the tests is
#: shared, and it can stall the test process in ways its run-queue wait does not show (the hypervisor,
#: memory pressure). Before the fix, three quarters of the pings at 300/200 ms were beyond it. (At 1 %, the busy
#: variant failed once in CI while benchmarks ran beside it: 4 of 300 ack timeouts 8.04-8.17 ms beyond a plain
#: timer, where the bound is 8.)
OUTLIERS = 0.02
#: ... and how far beyond a plain timer even those may be (seconds).
HARD_LIMIT = 0.05 * FACTOR

INTERVALS = [pytest.param(0.3, 0.2, id="300/200ms"), pytest.param(0.05, 0.03, id="50/30ms")]
LOADS = [pytest.param(0.0, id="idle"), pytest.param(STEP, id="busy")]


# -- raw ASGI ------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    at: float  # loop.time() when the last part of the body was sent
    waited: float  # run_queue_wait() then

    @property
    def text(self) -> str:
        return self.body.decode()


async def http(app: Any, path: str, query: str, method: str = "GET", body: bytes = b"") -> Answer:
    """One HTTP request through the ASGI app; the client stays until the answer comes."""
    loop = asyncio.get_running_loop()
    requested = False
    stays: asyncio.Future[None] = loop.create_future()  # never done: the client does not leave
    status = 0
    parts: list[bytes] = []
    at = waited = 0.0

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": body, "more_body": False}
        await stays
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, at, waited
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                at, waited = loop.time(), run_queue_wait()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    try:
        await app(scope, receive, send)
    finally:
        stays.cancel()
    return Answer(status, b"".join(parts), at, waited)


class RawWebSocket:
    """A WebSocket through the ASGI app: what the server sends arrives in ``frames`` as (text or None for the
    close, loop time, run-queue wait), stamped in the ``send`` callable itself."""

    def __init__(self, app: Any, path: str, query: str) -> None:
        loop = asyncio.get_running_loop()
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.inbox.put_nowait({"type": "websocket.connect"})
        self.accepted: asyncio.Future[float] = loop.create_future()
        self.frames: asyncio.Queue[tuple[str | None, float, float]] = asyncio.Queue()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(b"host", b"test"), (b"upgrade", b"websocket"), (b"connection", b"upgrade")],
            "client": ("127.0.0.1", 50001),
            "server": ("test", 80),
            "subprotocols": [],
        }
        self.task = loop.create_task(app(scope, self.inbox.get, self._send))

    async def _send(self, message: dict[str, Any]) -> None:
        at, waited = asyncio.get_running_loop().time(), run_queue_wait()
        if message["type"] == "websocket.accept":
            self.accepted.set_result(at)
        elif message["type"] == "websocket.send":
            self.frames.put_nowait((message.get("text"), at, waited))
        elif message["type"] == "websocket.close":
            self.frames.put_nowait((None, at, waited))
            self.inbox.put_nowait({"type": "websocket.disconnect", "code": message.get("code", 1000)})

    def send_text(self, text: str) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "text": text})

    async def recv(self) -> tuple[str | None, float, float]:
        return await asyncio.wait_for(self.frames.get(), 30)


def sid_of(answer: Answer) -> str:
    assert answer.status == 200, answer
    assert answer.text[0] == "0", answer
    return str(orjson.loads(answer.text[1:])["sid"])


# -- measuring -------------------------------------------------------------------------------------------------


def run_queue_wait() -> float:
    """Seconds this thread has spent ready to run while the OS ran something else (0 where Linux's
    ``/proc/<pid>/task/<tid>/schedstat`` is not available)."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat", "rb") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass
class Deadline:
    kind: str
    due: float  # taken from a moment at or after the server's own start of the count
    earliest: float  # the same from a moment at or before it: nothing may come before this
    #: when a plain loop timer set for ``due`` ran, and run_queue_wait() then
    plain: asyncio.Future[tuple[float, float]]
    at: float = 0.0  # when the server acted
    waited: float = 0.0  # run_queue_wait() then

    def observed(self, at: float, waited: float | None = None) -> None:
        self.at = at
        self.waited = run_queue_wait() if waited is None else waited


class Lateness:
    """The deadlines of one scenario, each with a plain loop timer set for the same time.

    A deadline's lateness beyond its plain timer leaves out the time the OS kept the test process waiting in
    between (the machine is shared): what remains is what the server and the loop's work added."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.deadlines: list[Deadline] = []

    def expect(self, kind: str, due: float, earliest: float | None = None) -> Deadline:
        plain: asyncio.Future[tuple[float, float]] = self.loop.create_future()

        def ring() -> None:
            if not plain.done():
                plain.set_result((self.loop.time(), run_queue_wait()))

        self.loop.call_at(due, ring)
        deadline = Deadline(kind, due, due if earliest is None else earliest, plain)
        self.deadlines.append(deadline)
        return deadline

    async def check(self, load_step: float) -> None:
        """Nothing early; nothing later than its plain timer by more than ENGINE_SLACK (+ one load step), but
        for at most ``OUTLIERS`` of the deadlines, which must still be within ``HARD_LIMIT``."""
        await asyncio.gather(*(d.plain for d in self.deadlines))
        allowed = ENGINE_SLACK + load_step
        worst: dict[str, tuple[float, float]] = {}
        failures: list[str] = []
        outliers: list[str] = []
        for d in self.deadlines:
            assert d.at, f"{d.kind}: never observed"
            plain_at, plain_waited = d.plain.result()
            late = d.at - d.due
            extra = d.at - plain_at - max(0.0, d.waited - plain_waited)
            if d.kind not in worst or extra > worst[d.kind][0]:
                worst[d.kind] = (extra, late)
            if d.at < d.earliest - EARLY or extra > allowed:
                report = (
                    f"{d.kind}: {late * 1000:+.2f} ms (a plain timer: {(plain_at - d.due) * 1000:+.2f} ms, "
                    f"descheduled in between: {(d.waited - plain_waited) * 1000:.2f} ms)"
                )
                if d.at < d.earliest - EARLY or extra > HARD_LIMIT:
                    failures.append(report)
                else:
                    outliers.append(report)
        if len(outliers) > OUTLIERS * len(self.deadlines):
            failures.extend(outliers)
        summary = ", ".join(
            f"{kind}: worst {extra * 1000:.2f} ms beyond a plain timer ({late * 1000:.2f} ms late)"
            for kind, (extra, late) in sorted(worst.items())
        )
        assert not failures, f"{len(failures)} of {len(self.deadlines)} off: {failures[:10]}; {summary}"


@contextlib.asynccontextmanager
async def busy_loop(step: float) -> AsyncIterator[None]:
    """A coroutine that keeps the loop busy ``step`` seconds at a time (none when ``step`` is 0). The cyclic
    garbage collector is off meanwhile: a full collection of the test process's heap takes milliseconds."""

    async def work() -> None:
        while True:
            end = time.perf_counter() + step
            while time.perf_counter() < end:
                pass
            await asyncio.sleep(GAP)

    task = asyncio.get_running_loop().create_task(work()) if step else None
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def staggered(count: int, spread: float, one: Callable[[int], Awaitable[None]]) -> None:
    """``one(k)`` for k in range(count), started evenly over ``spread`` seconds."""
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def later(k: int) -> None:
        await asyncio.sleep(start + spread * k / count - loop.time())
        await one(k)

    await asyncio.gather(*(later(k) for k in range(count)))


def polling(sid: str | None = None) -> str:
    return "EIO=4&transport=polling" + (f"&sid={sid}" if sid else "")


def websocket(sid: str | None = None) -> str:
    return "EIO=4&transport=websocket" + (f"&sid={sid}" if sid else "")


# -- Engine.IO: pings, ping timeouts, upgrade timeouts -----------------------------------------------------------


@pytest.mark.parametrize("load_step", LOADS)
@pytest.mark.parametrize(("interval", "timeout"), INTERVALS)
async def test_heartbeat_and_upgrade_deadlines_over_many_sessions(
    interval: float, timeout: float, load_step: float
) -> None:
    """Sessions of four kinds, in turn: over WebSocket, one that never answers a ping and one that answers the
    first only; over polling, one that never answers (a GET always waiting) and one whose WebSocket upgrade
    never probes. Each ping, ping timeout and upgrade timeout is stamped where the server hands it over: the
    WebSocket message or close, or the answer of the waiting GET."""
    engine = EngineServer(PATH, ping_interval=interval, ping_timeout=timeout, upgrade_timeout=timeout)
    app = engine.asgi_app()
    loop = asyncio.get_running_loop()
    opened: dict[str, float] = {}
    pongs: dict[str, asyncio.Future[float]] = {}
    closes: dict[str, asyncio.Future[str]] = {}

    def on_connection(socket: EngineSocket) -> None:
        opened[socket.id] = loop.time()
        closed = closes[socket.id] = loop.create_future()
        socket.on("close", lambda reason, _description: closed.set_result(reason))
        pong = pongs[socket.id] = loop.create_future()

        def on_packet(packet: Packet) -> None:  # stamps when the server takes the pong
            if packet.type is PacketType.PONG and not pong.done():
                pong.set_result(loop.time())

        socket.on("packet", on_packet)

    engine.on("connection", on_connection)
    lateness = Lateness()
    batch = min(interval * PING_BATCH_SHARE, PING_BATCH_MAX)  # pings go out at the start of their slice

    async def over_websocket(answers_once: bool) -> None:
        before = loop.time()
        ws = RawWebSocket(app, PATH, websocket())
        text, _, _ = await ws.recv()
        assert text is not None
        assert text[0] == "0", text
        sid = str(orjson.loads(text[1:])["sid"])
        ping = lateness.expect("ping", opened[sid] + interval, before + interval - batch)
        text, at, waited = await ws.recv()
        assert text == "2", text
        ping.observed(at, waited)
        start = opened[sid]
        if answers_once:
            ws.send_text("3")
            # on a busy loop, the pong may come too late at 50/30 ms: then the session expires as if silent
            await asyncio.wait((pongs[sid], closes[sid]), return_when=asyncio.FIRST_COMPLETED)
            if pongs[sid].done():
                start = before = pongs[sid].result()
                ping = lateness.expect("ping after a pong", start + interval, start + interval - batch)
                text, at, waited = await ws.recv()
                assert text == "2", text
                ping.observed(at, waited)
        expired = lateness.expect("ping timeout", start + interval + timeout, before + interval + timeout)
        text, at, waited = await ws.recv()
        assert text is None, text
        expired.observed(at, waited)
        assert closes[sid].result() == "ping timeout"
        await ws.task

    async def over_polling(upgrade: bool) -> None:
        before = loop.time()
        sid = sid_of(await http(app, PATH, polling()))
        if upgrade:  # a WebSocket that never probes, while the session goes on over polling
            ws = RawWebSocket(app, PATH, websocket(sid))
            aborted = lateness.expect("upgrade timeout", await ws.accepted + timeout)
        ping = lateness.expect("ping", opened[sid] + interval, before + interval - batch)
        answer = await http(app, PATH, polling(sid))
        assert answer.text == "2", answer
        ping.observed(answer.at, answer.waited)
        expired = lateness.expect(
            "ping timeout", opened[sid] + interval + timeout, before + interval + timeout
        )
        answer = await http(app, PATH, polling(sid))
        assert (answer.status, answer.text) == (200, "1"), answer
        expired.observed(answer.at, answer.waited)
        assert closes[sid].result() == "ping timeout"
        if upgrade:
            text, at, waited = await ws.recv()
            assert text is None, text
            aborted.observed(at, waited)
            await ws.task

    async def session(k: int) -> None:
        role = k % 4
        if role < 2:
            await over_websocket(answers_once=role == 1)
        else:
            await over_polling(upgrade=role == 3)

    try:
        async with busy_loop(load_step):
            await asyncio.wait_for(staggered(SESSIONS, SPREAD, session), 30)
        await lateness.check(load_step)
    finally:
        await engine.shutdown()


# -- Socket.IO: connect timeouts, ack timeouts ---------------------------------------------------------------------


@pytest.mark.parametrize("load_step", LOADS)
@pytest.mark.parametrize(("connect_timeout", "ack_timeout"), INTERVALS)
async def test_connect_and_ack_timeouts_over_many_sessions(
    connect_timeout: float, ack_timeout: float, load_step: float
) -> None:
    """Half the clients never send CONNECT: their WebSocket is closed ``connect_timeout`` after the handshake.
    The other half connect to "/" and never acknowledge: ``socket.timeout(t).emit_with_ack()`` and then
    ``io.to(socket.id).timeout(t).emit_with_ack()`` raise ``AckTimeoutError`` ``t`` after the call."""
    io = Server(SIO_PATH, connect_timeout=connect_timeout)
    app = io.asgi_app()
    loop = asyncio.get_running_loop()
    opened: dict[str, float] = {}
    io.engine.on("connection", lambda socket: opened.__setitem__(socket.id, loop.time()))
    lateness = Lateness()
    handlers: list[asyncio.Future[None]] = []

    async def expire(kind: str, emit: Callable[[], Awaitable[Any]]) -> None:
        deadline = lateness.expect(kind, loop.time() + ack_timeout)
        with pytest.raises(AckTimeoutError):
            await emit()
        deadline.observed(loop.time())

    @io.on("connection")
    async def on_connection(socket: Socket) -> None:
        done: asyncio.Future[None] = loop.create_future()
        handlers.append(done)
        try:
            await expire("ack timeout", lambda: socket.timeout(ack_timeout).emit_with_ack("answer-me"))
            await expire(
                "broadcast ack timeout",
                lambda: io.to(socket.id).timeout(ack_timeout).emit_with_ack("answer-me"),
            )
            done.set_result(None)
        except BaseException as exc:
            done.set_exception(exc)
            raise

    async def session(k: int) -> None:
        before = loop.time()
        ws = RawWebSocket(app, SIO_PATH, websocket())
        text, _, _ = await ws.recv()
        assert text is not None
        assert text[0] == "0", text
        sid = str(orjson.loads(text[1:])["sid"])
        if k % 2:  # connects to "/": its socket's acks are never answered
            ws.send_text("40")
            return
        closed = lateness.expect("connect timeout", opened[sid] + connect_timeout, before + connect_timeout)
        text, at, waited = await ws.recv()
        assert text is None, text
        closed.observed(at, waited)
        await ws.task

    try:
        async with busy_loop(load_step):
            await asyncio.wait_for(staggered(SESSIONS, SPREAD, session), 30)
            await asyncio.wait_for(asyncio.gather(*handlers), 10 * ack_timeout + 10)
        assert len(handlers) == SESSIONS // 2
        await lateness.check(load_step)
    finally:
        await io.shutdown()


# -- the report: ping 300 ms, timeout 200 ms, no pong ------------------------------------------------------------


async def test_the_next_request_500_ms_after_the_handshake_finds_the_session_closed() -> None:
    """As the official protocol suite does: open a polling session, never fetch the ping, ask again 500 ms
    after the handshake: the session is gone (400 "Session ID unknown"); and a session whose GET waits after
    the ping gets the close packet by then."""
    engine = EngineServer(PATH, ping_interval=0.3, ping_timeout=0.2)
    app = engine.asgi_app()
    loop = asyncio.get_running_loop()

    async def one(k: int) -> None:
        handshake = await http(app, PATH, polling())
        sid = sid_of(handshake)
        if k % 2:
            answer = await http(app, PATH, polling(sid))
            assert answer.text == "2", answer
            answer = await http(app, PATH, polling(sid))
            assert (answer.status, answer.text) == (200, "1"), answer
            descheduled = answer.waited - handshake.waited  # the machine is shared: not the server's doing
            assert answer.at - handshake.at - descheduled <= 0.5 + ENGINE_SLACK, answer.at - handshake.at
            return
        await asyncio.sleep(handshake.at + 0.5 + ENGINE_SLACK - loop.time())
        answer = await http(app, PATH, polling(sid))
        assert answer.status == 400, (answer, loop.time() - handshake.at)
        assert orjson.loads(answer.body) == {"code": 1, "message": "Session ID unknown"}

    gc.collect()
    gc.disable()  # a collection of the test process's heap takes milliseconds
    try:
        # 40 sessions a little under a millisecond apart: their deadlines fall at every phase of a bucket
        await asyncio.wait_for(staggered(40, 0.037, one), 5)
    finally:
        gc.enable()
        await engine.shutdown()
