"""Load generator of the benchmarks: drives one scenario against a running server and prints one JSON line.

It speaks the wire protocols itself (Engine.IO 4 and Socket.IO 5 text packets, over its own small WebSocket
client and HTTP/1.1 keep-alive client, asyncio protocols on uvloop), so that it needs nothing beyond the project's
runtime dependencies and costs as little CPU per message as Python allows: frames that never change are built
once, and every client frame uses one masking key chosen at start (the key only matters to proxies; on loopback
the server unmasks as usual, it cannot tell).

Scenarios (the server contract is in ``benchmarks/README.md``; defaults in brackets):

``echo``     N websocket clients [100], each with one ``echo`` emit-with-ack outstanding: acks/s, latency.
``fanout``   K clients [1000] join room ``bench``; one more client keeps W broadcasts [8] in flight (a new one
             each time K more deliveries have arrived): deliveries/s.
``connect``  C concurrent loops [50] of: TCP connect, WebSocket upgrade, Engine.IO open, Socket.IO connect to
             ``/``, then drop the TCP connection: handshakes/s.
``memory``   after a warm-up, C idle clients [5000] connected (200 at a time): the server's resident memory
             per connection, (RSS after - RSS before) / C.
``poll``     N long-polling sessions [50], each with a keep-alive connection for its GETs and one for its POSTs;
             a round trip is a POST of ``421["echo",...]`` and the GET that brings back the ack: acks/s.

For every throughput scenario the server's CPU time (its process and descendants, ``/proc``) over the measured
window gives ``srv_us_per_op``: server CPU microseconds per ack, delivery or handshake. That figure does not depend
on how fast the loader is, so it is the one to compare when the loader or other jobs limit the rate
(``loader_cpu_pct`` near 100, or ``other_cpu_pct`` high: CPU used by neither the server nor the loader).

Usage: ``python benchmarks/loader.py SCENARIO --port PORT --server-pid PID [--duration S] [--clients N] ...``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procstat

PERF = time.perf_counter
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MASK = os.urandom(4)  # one masking key for the run: frames are built once and reused
SCENARIOS = ("echo", "fanout", "connect", "memory", "poll")
DEFAULT_CLIENTS = {"echo": 100, "fanout": 1000, "connect": 50, "memory": 5000, "poll": 50}


def masked_text(payload: bytes) -> bytes:
    """A client text frame (FIN, opcode 1) carrying ``payload`` masked with ``MASK``."""
    n = len(payload)
    if n < 126:
        head = bytes((0x81, 0x80 | n))
    elif n < 65536:
        head = bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 0x80 | 127)) + n.to_bytes(8, "big")
    key = (MASK * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big") if n else b""
    return head + MASK + body


PONG = masked_text(b"3")
SIO_CONNECT = masked_text(b"40")


def percentile(ordered: list[float], p: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class CpuWindow:
    """CPU used over a wall-clock window: by the server tree, by this loader, and by everything else."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.wall = self.server = self.loader = self.other = 0.0

    def start(self) -> None:
        self.t0 = PERF()
        self.s0 = procstat.tree_cpu(self.pid) if self.pid else 0.0
        self.l0 = procstat.self_cpu()
        self.m0 = procstat.machine_busy()

    def stop(self) -> float:
        self.wall = PERF() - self.t0
        self.server = (procstat.tree_cpu(self.pid) - self.s0) if self.pid else 0.0
        self.loader = procstat.self_cpu() - self.l0
        self.other = max(0.0, procstat.machine_busy() - self.m0 - self.server - self.loader)
        return self.wall

    def fields(self, ops: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "wall_s": round(self.wall, 3),
            "ops": ops,
            "ops_per_s": round(ops / self.wall, 1) if self.wall else 0.0,
            "server_cpu_pct": round(self.server / self.wall * 100, 1),
            "loader_cpu_pct": round(self.loader / self.wall * 100, 1),
            "other_cpu_pct": round(self.other / self.wall * 100, 1),
        }
        if ops and self.pid:
            out["srv_us_per_op"] = round(self.server / ops * 1e6, 3)
        return out


# -- WebSocket + Engine.IO/Socket.IO client ----------------------------------------------------------------

OnMessage = Callable[["SioClient", bytes], None]


def _ignore(client: SioClient, payload: bytes) -> None:
    pass


class SioClient(asyncio.Protocol):
    """One Socket.IO client on namespace ``/`` over a WebSocket (``?EIO=4&transport=websocket``, no polling).

    ``ready`` resolves once the server's ``40`` arrived; from then on every text message goes to
    ``on_message(client, payload)``, except Engine.IO pings, which are answered here. Server frames are never
    masked; fragmented messages never happen with the servers under test (and would be counted as errors).
    """

    def __init__(self, host: str, port: int, on_message: OnMessage = _ignore) -> None:
        self.host = host
        self.port = port
        self.on_message = on_message
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set by connection_made
        self.buf = b""
        self.key = base64.b64encode(os.urandom(16))
        self.upgraded = False
        self.stage = 0  # 0: waiting for the Engine.IO open packet, 1: for the Socket.IO connect, 2: connected
        self.alive = True
        self.sent_at = 0.0
        self.checked = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(  # type: ignore[attr-defined]
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (self.host.encode(), self.port, self.key)
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("connection lost before the Socket.IO connect"))

    def fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))
        self.transport.abort()

    def data_received(self, data: bytes) -> None:
        # The common read under load: exactly one short, whole text message (an ack, a delivery).
        if (
            self.stage == 2
            and not self.buf
            and len(data) >= 2
            and data[0] == 0x81
            and data[1] == len(data) - 2
        ):
            payload = data[2:]
            if payload == b"2":
                self.transport.write(PONG)
            else:
                self.on_message(self, payload)
            return
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            head = buf[:end].lower()
            accept = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest()).lower()
            if not head.startswith(b"http/1.1 101") or accept not in head:
                self.fail(f"upgrade refused: {buf[:80]!r}")
                return
            self.upgraded = True
            buf = buf[end + 4 :]
        size = len(buf)
        i = 0
        while size - i >= 2:
            b0 = buf[i]
            n = buf[i + 1]
            if n < 126:
                start = i + 2
            elif n == 126:
                if size - i < 4:
                    break
                n = int.from_bytes(buf[i + 2 : i + 4], "big")
                start = i + 4
            else:
                if size - i < 10:
                    break
                n = int.from_bytes(buf[i + 2 : i + 10], "big")
                start = i + 10
            end = start + n
            if end > size:
                break
            payload = buf[start:end]
            i = end
            if b0 == 0x81:
                if payload == b"2":
                    self.transport.write(PONG)
                elif self.stage == 2:
                    self.on_message(self, payload)
                else:
                    self._handshake(payload)
            elif b0 == 0x88:  # close: answer nothing, just go
                self.fail("closed by the server")
                return
            elif b0 == 0x89:  # WebSocket ping (the servers under test never send one; answered anyway)
                self.transport.write(bytes((0x8A, 0x80 | n)) + MASK + _mask(payload))
            else:
                self.fail(f"unexpected frame 0x{b0:02x}")
                return
        self.buf = buf[i:] if i < size else b""

    def _handshake(self, payload: bytes) -> None:
        if self.stage == 0 and payload[:1] == b"0":
            self.stage = 1
            self.transport.write(SIO_CONNECT)
        elif self.stage == 1 and payload[:2] == b"40":
            self.stage = 2
            self.ready.set_result(None)
        elif self.stage == 1 and payload[:2] == b"44":
            self.fail(f"connect refused: {payload[:80]!r}")


def _mask(payload: bytes) -> bytes:
    n = len(payload)
    key = (MASK * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big") if n else b""


async def open_client(host: str, port: int, on_message: OnMessage = _ignore) -> SioClient:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: SioClient(host, port, on_message), host, port)
    await asyncio.wait_for(client.ready, 30)
    return client


async def open_clients(
    host: str, port: int, n: int, conc: int, on_message: OnMessage = _ignore
) -> list[SioClient]:
    """``n`` connected clients, at most ``conc`` handshakes in flight at once."""
    sem = asyncio.Semaphore(conc)
    clients: list[SioClient] = []

    async def one() -> None:
        async with sem:
            clients.append(await open_client(host, port, on_message))

    await asyncio.gather(*(one() for _ in range(n)))
    return clients


async def close_clients(clients: list[SioClient]) -> None:
    for c in clients:
        c.transport.abort()
    await asyncio.sleep(0.1)


# -- scenarios ---------------------------------------------------------------------------------------------


async def echo(a: argparse.Namespace) -> dict[str, Any]:
    payload = json.dumps("x" * a.payload_size).encode()
    request = masked_text(b'421["echo",%s]' % payload)
    expected = b"431[%s]" % payload
    latencies: list[float] = []
    record = latencies.append
    counting = False
    bad = 0

    def on_message(c: SioClient, msg: bytes) -> None:
        nonlocal bad
        now = PERF()
        if msg != expected:
            bad += 1
        elif counting:
            record(now - c.sent_at)
        c.sent_at = now
        c.transport.write(request)

    clients = await open_clients(a.host, a.port, a.clients, a.conc, on_message)
    for c in clients:
        c.sent_at = PERF()
        c.transport.write(request)
    await asyncio.sleep(a.warmup)
    window = CpuWindow(a.server_pid)
    counting = True
    window.start()
    await asyncio.sleep(a.duration)
    counting = False
    window.stop()
    ops = len(latencies)
    await close_clients(clients)
    latencies.sort()
    out = window.fields(ops)
    out.update(_latency(latencies), clients=a.clients, errors=bad)
    return out


async def fanout(a: argparse.Namespace) -> dict[str, Any]:
    payload = json.dumps("x" * a.payload_size).encode()
    broadcast = masked_text(b'42["broadcast","bench",%s]' % payload)
    expected = b'42["msg",%s]' % payload
    receivers_count = a.clients
    delivered = 0
    release_at = receivers_count
    bad = 0
    sender: SioClient | None = None

    def on_delivery(c: SioClient, msg: bytes) -> None:
        nonlocal delivered, release_at, bad
        if not c.checked:  # the first message of each receiver is checked, the rest only counted
            c.checked = True
            if msg != expected:
                bad += 1
        delivered += 1
        if delivered >= release_at:
            release_at += receivers_count
            assert sender is not None
            sender.transport.write(broadcast)

    joined: list[asyncio.Future[None]] = []

    def on_join_ack(c: SioClient, msg: bytes) -> None:
        if msg.startswith(b"430"):
            c.on_message = on_delivery
            c.ready_to_count.set_result(None)  # type: ignore[attr-defined]

    receivers = await open_clients(a.host, a.port, receivers_count, a.conc, on_join_ack)
    join = masked_text(b'420["join","bench"]')
    loop = asyncio.get_running_loop()
    for c in receivers:
        c.ready_to_count = fut = loop.create_future()  # type: ignore[attr-defined]
        joined.append(fut)
        c.transport.write(join)
    await asyncio.wait_for(asyncio.gather(*joined), 60)
    sender = await open_client(a.host, a.port)  # what the sender receives (acks) is ignored
    for _ in range(a.window):
        sender.transport.write(broadcast)
    await asyncio.sleep(a.warmup)
    window = CpuWindow(a.server_pid)
    first = delivered
    window.start()
    await asyncio.sleep(a.duration)
    ops = delivered - first
    window.stop()
    await close_clients([*receivers, sender])
    out = window.fields(ops)
    out.update(clients=receivers_count, window=a.window, errors=bad)
    return out


async def connect(a: argparse.Namespace) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    stop = False
    counting = False

    async def loop_one() -> None:
        nonlocal errors
        while not stop:
            t0 = PERF()
            try:
                client = await open_client(a.host, a.port)
            except (TimeoutError, OSError):
                errors += 1
                await asyncio.sleep(0.01)
                continue
            if counting:
                latencies.append(PERF() - t0)
            client.transport.abort()

    tasks = [asyncio.create_task(loop_one()) for _ in range(a.clients)]
    await asyncio.sleep(a.warmup)
    window = CpuWindow(a.server_pid)
    counting = True
    window.start()
    await asyncio.sleep(a.duration)
    counting = False
    window.stop()
    ops = len(latencies)
    stop = True
    await asyncio.wait(tasks, timeout=30)
    latencies.sort()
    out = window.fields(ops)
    out.update(_latency(latencies), clients=a.clients, errors=errors)
    return out


async def memory(a: argparse.Namespace) -> dict[str, Any]:
    if not a.server_pid:
        raise SystemExit("memory needs --server-pid")
    warm = await open_clients(a.host, a.port, 20, 20)  # so that lazy imports and first-use caches are paid
    await close_clients(warm)
    await asyncio.sleep(1.0)
    base = procstat.tree_rss(a.server_pid)
    t0 = PERF()
    clients = await open_clients(a.host, a.port, a.clients, a.conc)
    connect_s = PERF() - t0
    await asyncio.sleep(a.settle)
    rss = procstat.tree_rss(a.server_pid)
    alive = sum(c.alive for c in clients)
    await close_clients(clients)
    return {
        "clients": a.clients,
        "alive": alive,
        "errors": a.clients - alive,
        "rss_base_mb": round(base / 2**20, 1),
        "rss_mb": round(rss / 2**20, 1),
        "bytes_per_conn": round((rss - base) / a.clients),
        "connect_all_s": round(connect_s, 2),
    }


# -- long-polling --------------------------------------------------------------------------------------------


class HttpClient(asyncio.Protocol):
    """A keep-alive HTTP/1.1 connection with one request at a time; bodies by Content-Length or chunked."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.buf = b""
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed by the server"))

    def request(self, raw: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.waiter is None, "one request at a time"
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.buf = self.buf + data if self.buf else data
        if self.waiter is None:
            return
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = buf[:end].lower()
        status = int(head[9:12])
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : stop if stop > 0 else len(head)])
            if len(buf) < end + 4 + length:
                return
            body = buf[end + 4 : end + 4 + length]
            self.buf = buf[end + 4 + length :]
        elif b"\r\ntransfer-encoding: chunked" in head:
            pos = end + 4
            parts = []
            while True:
                line_end = buf.find(b"\r\n", pos)
                if line_end < 0:
                    return
                size = int(buf[pos:line_end].split(b";")[0], 16)
                if len(buf) < line_end + 2 + size + 2:
                    return
                if size == 0:
                    self.buf = buf[line_end + 4 :]
                    break
                parts.append(buf[line_end + 2 : line_end + 2 + size])
                pos = line_end + 2 + size + 2
            body = b"".join(parts)
        else:
            body = b""
            self.buf = buf[end + 4 :]
        waiter, self.waiter = self.waiter, None
        waiter.set_result((status, body))


async def poll(a: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    payload = json.dumps("x" * a.payload_size).encode()
    echo_body = b'421["echo",%s]' % payload
    expected = b"431[%s]" % payload
    host_line = b"Host: %s:%d\r\n" % (a.host.encode(), a.port)
    latencies: list[float] = []
    counting = False
    stop = False
    errors = 0
    bad = 0

    def get(path: bytes) -> bytes:
        return b"GET %s HTTP/1.1\r\n%s\r\n" % (path, host_line)

    def post(path: bytes, body: bytes) -> bytes:
        return (
            b"POST %s HTTP/1.1\r\n%sContent-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s"
            % (
                path,
                host_line,
                len(body),
                body,
            )
        )

    async def session(go: asyncio.Event) -> None:
        nonlocal errors, bad
        try:
            _, getter = await loop.create_connection(HttpClient, a.host, a.port)
            _, poster = await loop.create_connection(HttpClient, a.host, a.port)
            status, body = await getter.request(get(b"/socket.io/?EIO=4&transport=polling"))
            if status != 200 or body[:1] != b"0":
                raise ConnectionError(f"handshake: {status} {body[:80]!r}")
            sid = json.loads(body[1:])["sid"].encode()
            path = b"/socket.io/?EIO=4&transport=polling&sid=" + sid
            get_req, post_echo, post_pong = get(path), post(path, echo_body), post(path, b"3")
            await poster.request(post(path, b"40"))
            status, body = await getter.request(get_req)
            if not body.startswith(b"40"):
                raise ConnectionError(f"Socket.IO connect: {status} {body[:80]!r}")
            await go.wait()
            while not stop:
                t0 = PERF()
                posted = poster.request(post_echo)
                got = False
                while not got:
                    status, body = await getter.request(get_req)
                    if status != 200:
                        raise ConnectionError(f"GET answered {status}")
                    pings = 0
                    for packet in body.split(b"\x1e"):
                        if packet == b"2":
                            pings += 1
                        elif packet.startswith(b"43"):
                            got = True
                            if packet != expected:
                                bad += 1
                    if not posted.done():
                        await posted
                    for _ in range(pings):
                        await poster.request(post_pong)
                await posted
                if counting:
                    latencies.append(PERF() - t0)
            getter.transport.close()
            poster.transport.close()
        except (OSError, ValueError, KeyError) as exc:
            errors += 1
            print(f"poll session: {type(exc).__name__}: {exc}", file=sys.stderr)

    go = asyncio.Event()
    sessions = [asyncio.create_task(session(go)) for _ in range(a.clients)]
    await asyncio.sleep(1.0)  # every session through its handshake before the round trips start
    go.set()
    await asyncio.sleep(a.warmup)
    window = CpuWindow(a.server_pid)
    counting = True
    window.start()
    await asyncio.sleep(a.duration)
    counting = False
    window.stop()
    ops = len(latencies)
    stop = True
    await asyncio.wait(sessions, timeout=30)
    latencies.sort()
    out = window.fields(ops)
    out.update(_latency(latencies), clients=a.clients, errors=errors + bad)
    return out


def _latency(ordered: list[float]) -> dict[str, Any]:
    p50, p99 = percentile(ordered, 50), percentile(ordered, 99)
    return {
        "p50_ms": None if p50 is None else round(p50 * 1e3, 3),
        "p99_ms": None if p99 is None else round(p99 * 1e3, 3),
    }


RUN: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]]] = {
    "echo": echo,
    "fanout": fanout,
    "connect": connect,
    "memory": memory,
    "poll": poll,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", choices=SCENARIOS)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "9001")))
    p.add_argument(
        "--server-pid", type=int, default=0, help="the server's process id, for its CPU and memory"
    )
    p.add_argument("--clients", type=int, help="clients (connect: concurrent loops); default per scenario")
    p.add_argument("--conc", type=int, default=200, help="handshakes in flight while connecting clients")
    p.add_argument("--duration", type=float, default=8.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    p.add_argument(
        "--settle", type=float, default=3.0, help="memory: seconds between connecting and measuring"
    )
    p.add_argument("--window", type=int, default=8, help="fanout: broadcasts in flight")
    p.add_argument("--payload-size", type=int, default=32, help="characters of the string payload")
    p.add_argument("--label", default="", help="copied into the output")
    a = p.parse_args(argv)
    if a.clients is None:
        a.clients = DEFAULT_CLIENTS[a.scenario]
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    procstat.raise_nofile()
    try:
        import uvloop
    except ImportError:  # plain asyncio works, only slower
        uvloop = None  # type: ignore[assignment]
    started = time.time()
    out: dict[str, Any] = {"scenario": a.scenario, "label": a.label}
    try:
        coro = asyncio.wait_for(RUN[a.scenario](a), a.warmup + a.duration + 180)
        result = uvloop.run(coro) if uvloop is not None else asyncio.run(coro)
        out.update(result, ok=True)
    except Exception as exc:  # one JSON line whatever happens: the driver records the failure and goes on
        out.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    out["elapsed_s"] = round(time.time() - started, 1)
    print(json.dumps(out), flush=True)
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
