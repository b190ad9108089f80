"""What idle connections cost: the server's CPU with N connected, silent Socket.IO clients (issue 6).

The only work such a server does is the heartbeat (a ping every ``pingInterval`` per connection, and reading
the pong), so this measures the timer machinery plus one tiny frame each way per connection per interval.

It starts the server command itself (pinned to CPU 0 when ``taskset`` exists), pins itself to CPU 1, opens
``--clients`` WebSocket connections (``?EIO=4&transport=websocket``, then ``40`` for namespace ``/``) with a
small asyncio client of its own, answers every ``2`` with ``3``, waits ``--settle`` seconds, then reads the
server's CPU time (user + system, from ``/proc``, the process and its children) over a ``--window`` of wall
clock time and prints it as a percentage of one core. The window should cover several ping intervals: the
default 60 s sees each connection pinged two or three times at the default 25 s interval.

Usage (from the repository root)::

    .venv/bin/python benchmarks/idle_cpu.py                       # our runner, 10,000 clients, 60 s
    NODE_PATH=tests/node_modules \\
        .venv/bin/python benchmarks/idle_cpu.py --server 'node benchmarks/anchors/node_sio.js {port}'
    .venv/bin/python benchmarks/idle_cpu.py --ping-interval 2 --ping-timeout 2   # the trend, faster pings

``--ping-interval``/``--ping-timeout`` (seconds) are passed to the server as the environment variables
``PING_INTERVAL``/``PING_TIMEOUT``, which ``bench_server.py`` reads (the Node.js anchor ignores them).
Prints one human line and one JSON line. Linux only (``/proc``); raises its own ``ulimit -n`` (the server
inherits it).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SERVER = f"{shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'bench_server.py'))} {{port}}"
TICKS = os.sysconf("SC_CLK_TCK")


# -- the server's CPU time -------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except OSError:
            continue
        out.extend(int(c) for c in text.split())
    return out


def tree_cpu(pid: int) -> float:
    """User + system seconds of ``pid`` and all its descendants."""
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)
        todo.extend(_children(p))
    return total


def tree_rss(pid: int) -> int:
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
        todo.extend(_children(p))
    return total


# -- a minimal Engine.IO client over WebSocket -----------------------------------------------------------


class IdleClient(asyncio.Protocol):
    """HTTP upgrade, Engine.IO open, Socket.IO connect to ``/``, then only answers pings. Frames from the
    server are unmasked and small here (``2``, the open packet, the ``40`` reply), so one parser state does."""

    def __init__(self, host: str, port: int, stats: dict[str, int]) -> None:
        self.host = host
        self.port = port
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.stage = 0  # 0: wait EIO open, 1: wait SIO connect, 2: connected
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {self.host}:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def send_text(self, text: bytes) -> None:
        assert self.transport is not None
        assert len(text) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(text))
        self.transport.write(bytes((0x81, 0x80 | len(text))) + mask + masked)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buf.startswith(b"HTTP/1.1 101"):
                self._fail(f"upgrade refused: {bytes(self.buf[:60])!r}")
                return
            del self.buf[: end + 4]
            self.upgraded = True
        buf = self.buf
        while len(buf) >= 2:
            opcode = buf[0] & 0x0F
            n = buf[1] & 0x7F
            head = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = int.from_bytes(buf[2:4], "big")
                head = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = int.from_bytes(buf[2:10], "big")
                head = 10
            if len(buf) < head + n:
                return
            payload = bytes(buf[head : head + n])
            del buf[: head + n]
            self._frame(opcode, payload)

    def _frame(self, opcode: int, payload: bytes) -> None:
        if opcode == 0x8:  # close
            self._fail("closed by the server")
            return
        if opcode != 0x1:
            return
        if payload == b"2":
            self.stats["pings"] += 1
            self.send_text(b"3")
        elif self.stage == 0 and payload[:1] == b"0":
            self.stage = 1
            self.send_text(b"40")
        elif self.stage == 1 and payload[:2] == b"40":
            self.stage = 2
            if not self.ready.done():
                self.ready.set_result(None)

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("connection lost during the handshake"))


async def open_clients(host: str, port: int, n: int, conc: int, stats: dict[str, int]) -> list[IdleClient]:
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(conc)
    clients: list[IdleClient] = []

    async def one() -> None:
        async with sem:
            _, client = await loop.create_connection(lambda: IdleClient(host, port, stats), host, port)
            await asyncio.wait_for(client.ready, 30)
            clients.append(client)

    await asyncio.gather(*(one() for _ in range(n)))
    return clients


# -- driver ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not listen in time")


async def measure(args: argparse.Namespace, port: int, pid: int) -> dict[str, object]:
    stats = {"pings": 0}
    t0 = time.perf_counter()
    base_rss = tree_rss(pid)
    clients = await open_clients("127.0.0.1", port, args.clients, args.conc, stats)
    connect_s = time.perf_counter() - t0
    await asyncio.sleep(args.settle)
    pings0 = stats["pings"]
    cpu0 = tree_cpu(pid)
    w0 = time.perf_counter()
    await asyncio.sleep(args.window)
    cpu1 = tree_cpu(pid)
    wall = time.perf_counter() - w0
    pings = stats["pings"] - pings0
    alive = sum(1 for c in clients if not c.closed)
    rss = tree_rss(pid)
    for c in clients:
        if c.transport is not None:
            c.transport.abort()
    await asyncio.sleep(0.2)
    return {
        "clients": args.clients,
        "alive": alive,
        "window_s": round(wall, 1),
        "server_cpu_s": round(cpu1 - cpu0, 2),
        "cpu_pct_of_core": round(100 * (cpu1 - cpu0) / wall, 2),
        "pings_in_window": pings,
        "us_per_ping": round(1e6 * (cpu1 - cpu0) / pings, 1) if pings else None,
        "rss_mb": round(rss / 2**20, 1),
        "bytes_per_conn": round((rss - base_rss) / args.clients),
        "connect_all_s": round(connect_s, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", default=DEFAULT_SERVER, help="shell command, {port} is substituted")
    ap.add_argument("--label", default=None)
    ap.add_argument("--clients", type=int, default=10_000)
    ap.add_argument(
        "--window", type=float, default=60.0, help="measured seconds (>= 60 for the default pings)"
    )
    ap.add_argument(
        "--settle", type=float, default=5.0, help="seconds between the last connect and the window"
    )
    ap.add_argument("--conc", type=int, default=200, help="concurrent handshakes while connecting")
    ap.add_argument(
        "--ping-interval", type=float, default=None, help="seconds, as PING_INTERVAL to the server"
    )
    ap.add_argument("--ping-timeout", type=float, default=None, help="seconds, as PING_TIMEOUT to the server")
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--client-cpu", type=int, default=1)
    args = ap.parse_args()

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = args.clients + 1000
    if hard != resource.RLIM_INFINITY and hard < want:
        sys.exit(f"ulimit -n hard limit {hard} is below {want}: lower --clients")
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    env = dict(os.environ)
    if args.ping_interval is not None:
        env["PING_INTERVAL"] = str(args.ping_interval)
    if args.ping_timeout is not None:
        env["PING_TIMEOUT"] = str(args.ping_timeout)
    port = free_port()
    command = "exec " + args.server.replace("{port}", str(port))
    argv = ["sh", "-c", command]
    if args.server_cpu and subprocess.run(["which", "taskset"], capture_output=True).returncode == 0:
        argv = ["taskset", "-c", args.server_cpu, *argv]
    proc = subprocess.Popen(argv, env=env, start_new_session=True)
    try:
        try:
            os.sched_setaffinity(0, {args.client_cpu})
        except (AttributeError, OSError):
            pass
        wait_port(port, proc)
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        result = runner(measure(args, port, proc.pid))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    result = {"label": args.label or args.server, **result}
    print(
        f"{result['label']}: {result['alive']}/{result['clients']} idle connections, "
        f"{result['cpu_pct_of_core']} % of one core over {result['window_s']} s "
        f"({result['pings_in_window']} pings, {result['us_per_ping']} µs per ping), "
        f"RSS {result['rss_mb']} MB",
        file=sys.stderr,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
