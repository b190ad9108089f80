"""A FastAPI application hosted by the built-in server vs by uvicorn, in the same run.

The application is the same in both: a FastAPI app with a small JSON route (``GET /json``) and a WebSocket echo
route (``/echo``), behind a Socket.IO server (``io.asgi_app(other_app=api)``). The built-in server runs it with
``aiosocketio.run(io, other_app=api)``; uvicorn runs it with the benchmarks' one uvicorn configuration
(``asgi_config.py``: uvloop, httptools, websockets-sansio, no permessage-deflate). Neither request is a Socket.IO
one: this measures the runner as an ASGI host, not its own fast path.

Two loads, each on fresh server processes, the servers alternating in every round:

``http``  C keep-alive connections [32], each with one ``GET /json`` in flight: requests/s.
``ws``    C WebSocket connections [32] to ``/echo``, each with one 32-character text message in flight: echoes/s.

For each, the server's CPU per operation (``srv_us_per_op``, from ``/proc``) is reported too: it does not depend
on how fast this load generator is, so it is the figure to compare on a busy machine.

Usage::

    python benchmarks/framework_host.py [--duration 5] [--connections 32] [--rounds 1]
    python benchmarks/framework_host.py serve runner|uvicorn PORT     # one server (what the driver starts)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fastapi import FastAPI, WebSocket, WebSocketDisconnect  # noqa: E402  (module level: the routes' annotations)
from loader import CpuWindow, HttpClient, masked_text  # noqa: E402

SERVERS = ("runner", "uvicorn")
ECHO_TEXT = b"x" * 32


def build() -> tuple[Any, Any]:
    """The Socket.IO server and the FastAPI app it sits in front of."""
    import aiosocketio

    api = FastAPI()
    io = aiosocketio.Server()

    @api.get("/json")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @api.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    return io, api


def serve(kind: str, port: int) -> None:
    io, api = build()
    if kind == "runner":
        import aiosocketio

        aiosocketio.run(io, host="127.0.0.1", port=port, other_app=api, log_level="warning")
    else:
        import asgi_config

        sys.argv[1:] = [str(port)]
        asgi_config.serve(io.asgi_app(other_app=api))


# -- load -------------------------------------------------------------------------------------------------------


class WsEcho(asyncio.Protocol):
    """One WebSocket client with one message in flight: a new one as soon as the echo is back."""

    def __init__(self, port: int, frame: bytes) -> None:
        self.port = port
        self.frame = frame
        self.buf = b""
        self.open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.count = 0
        self.running = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16))
        transport.write(  # type: ignore[attr-defined]
            b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        if not self.open.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.open.set_exception(ConnectionError(buf[:end].decode("latin-1")))
                return
            self.open.set_result(None)
            buf = buf[end + 4 :]
        # Server frames are small and unmasked: 2 bytes of head, then the payload.
        while len(buf) >= 2 and len(buf) >= 2 + (buf[1] & 0x7F):
            buf = buf[2 + (buf[1] & 0x7F) :]
            self.count += 1
            if self.running and self.transport is not None:
                self.transport.write(self.frame)
        self.buf = buf

    def start(self) -> None:
        self.running = True
        assert self.transport is not None
        self.transport.write(self.frame)


async def http_load(port: int, pid: int, connections: int, duration: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    request = b"GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    clients = []
    for _ in range(connections):
        _transport, client = await loop.create_connection(HttpClient, "127.0.0.1", port)
        clients.append(client)
    count = 0
    stop = False

    async def one(client: HttpClient) -> None:
        nonlocal count
        while not stop:
            status, _body = await client.request(request)
            assert status == 200, status
            count += 1

    tasks = [asyncio.ensure_future(one(c)) for c in clients]
    await asyncio.sleep(1.0)  # warm-up
    window = CpuWindow(pid)
    before = count
    window.start()
    await asyncio.sleep(duration)
    window.stop()
    ops = count - before
    stop = True
    await asyncio.wait(tasks, timeout=5)
    for client in clients:
        client.transport.close()
    return window.fields(ops)


async def ws_load(port: int, pid: int, connections: int, duration: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    frame = masked_text(ECHO_TEXT)
    clients = []
    for _ in range(connections):
        _transport, client = await loop.create_connection(lambda: WsEcho(port, frame), "127.0.0.1", port)
        await client.open
        clients.append(client)
    for client in clients:
        client.start()
    await asyncio.sleep(1.0)  # warm-up
    window = CpuWindow(pid)
    before = sum(c.count for c in clients)
    window.start()
    await asyncio.sleep(duration)
    window.stop()
    ops = sum(c.count for c in clients) - before
    for client in clients:
        client.running = False
        if client.transport is not None:
            client.transport.close()
    return window.fields(ops)


def start_server(kind: str) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")])
    )
    proc = subprocess.Popen(
        [sys.executable, __file__, "serve", kind, str(port)], env=env, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the {kind} server did not start") from None
            time.sleep(0.05)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(2)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def drive(args: argparse.Namespace) -> int:
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with runner:
        for round_ in range(args.rounds):
            order = SERVERS if round_ % 2 == 0 else SERVERS[::-1]
            for load in ("http", "ws"):
                for kind in order:
                    proc, port = start_server(kind)
                    try:
                        measure = http_load if load == "http" else ws_load
                        fields = runner.run(measure(port, proc.pid, args.connections, args.duration))
                    finally:
                        stop_server(proc)
                    fields.update(server=kind, load=load, round=round_)
                    print(json.dumps(fields), flush=True)
                    results.setdefault((load, kind), []).append(fields)
    print()
    print(f"| load | server | ops/s (median of {args.rounds}) | server µs/op | server CPU % |")
    print("|---|---|---|---|---|")
    for (load, kind), runs in results.items():
        rate = statistics.median(r["ops_per_s"] for r in runs)
        cost = statistics.median(r.get("srv_us_per_op", 0.0) for r in runs)
        cpu = statistics.median(r["server_cpu_pct"] for r in runs)
        print(f"| {load} | {kind} | {rate:,.0f} | {cost:.1f} | {cpu:.0f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        serve(argv[1], int(argv[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per run (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="rounds, alternating the servers' order (default 1)"
    )
    return drive(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
