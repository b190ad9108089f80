"""What routing costs with ``workers=N``: the parent's CPU per new connection and per long-polling request.

The app of ``bench_server.py`` is served with ``workers=1`` (the single-process fast path) and ``workers=N``;
for each, a small HTTP/1.1 client runs these loads, and the server's CPU time is read from ``/proc`` (the parent
alone, and the parent with its workers):

``connect``      a new TCP connection per Engine.IO handshake (a polling GET with no sid), closed after the answer
``poll-new``     a long-polling session whose every request (POST of ``42["echo"]``, the GET bringing the ack)
                 comes on a new TCP connection: each is routed by its sid
``poll-kept``    the same on two keep-alive connections (one for GETs, one for POSTs), as browsers do: the
                 parent never sees these requests; the worker checks the sid of each
``poll-crossed`` two sessions held by different workers, their requests alternating on one keep-alive connection:
                 every request is handed back to the parent and on to the other worker (the worst case)

Per operation it prints the parent's CPU (``parent_us``: the routing hop itself), the whole server's CPU
(``server_us``: parent and workers; compare with ``workers=1`` for the total cost of the hop) and the client's
mean time per operation (``rtt_us``, on an idle machine its latency). Linux only (``/proc``).

Usage: ``python benchmarks/workers_hop.py [--workers 2] [--ops 2000] [--concurrency 8] [--port 19300]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procstat

SERVER = """
import sys
sys.path.insert(0, {bench!r})
import aiosocketio, bench_server
aiosocketio.run(bench_server.build(), port={port}, log_level="warning", workers={workers})
"""
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


class Http:
    """One HTTP/1.1 connection; requests one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Http:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def request(self, target: str, body: bytes | None = None) -> bytes:
        head = f"{'GET' if body is None else 'POST'} {target} HTTP/1.1\r\nHost: x\r\n"
        if body is not None:
            head += f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def once(port: int, target: str, body: bytes | None = None) -> bytes:
    http = await Http.open(port)
    try:
        return await http.request(target, body)
    finally:
        http.close()


async def session(port: int) -> str:
    """A Socket.IO session over long-polling, connected to ``/``; its sid."""
    sid: str = json.loads((await once(port, HANDSHAKE))[1:])["sid"]
    await once(port, f"{HANDSHAKE}&sid={sid}", b"40")
    await once(port, f"{HANDSHAKE}&sid={sid}")  # the CONNECT answer
    return sid


async def echo(
    post: Callable[[bytes], Awaitable[bytes]], get: Callable[[], Awaitable[bytes]], n: int
) -> None:
    """One round trip: POST ``42n["echo",n]``, then the GET that brings back the ack (two requests)."""
    assert await post(f'42{n}["echo",{n}]'.encode()) == b"ok"
    answer = await get()
    assert answer.startswith(f"43{n}[".encode()), answer


async def load_connect(port: int, ops: int) -> None:
    await once(port, HANDSHAKE)


async def load_poll_new(port: int, ops: int) -> None:
    sid = await session(port)
    url = f"{HANDSHAKE}&sid={sid}"
    for n in range(ops // 2):
        await echo(lambda body: once(port, url, body), lambda: once(port, url), n)


async def load_poll_kept(port: int, ops: int) -> None:
    sid = await session(port)
    url = f"{HANDSHAKE}&sid={sid}"
    posts, gets = await Http.open(port), await Http.open(port)
    for n in range(ops // 2):
        await echo(lambda body: posts.request(url, body), lambda: gets.request(url), n)
    posts.close()
    gets.close()


async def load_poll_crossed(port: int, ops: int) -> None:
    # Two sessions opened one after the other land on different workers (round-robin).
    urls = [f"{HANDSHAKE}&sid={await session(port)}" for _ in range(2)]
    http = await Http.open(port)
    for n in range(ops // 2):
        url = urls[n % 2]
        await echo(lambda body, url=url: http.request(url, body), lambda url=url: http.request(url), n)
    http.close()


LOADS: dict[str, Callable[[int, int], Awaitable[None]]] = {
    "connect": load_connect,
    "poll-new": load_poll_new,
    "poll-kept": load_poll_kept,
    "poll-crossed": load_poll_crossed,
}


async def measure(name: str, port: int, pid: int, ops: int, concurrency: int) -> dict[str, float]:
    load = LOADS[name]
    if name == "connect":
        per_loop = ops // concurrency

        async def loop() -> None:
            for _ in range(per_loop):
                await load(port, 1)

        total = per_loop * concurrency
        jobs = [loop() for _ in range(concurrency)]
    else:
        total = (ops // concurrency // 2) * 2 * concurrency
        jobs = [load(port, ops // concurrency) for _ in range(concurrency)]
    parent0, tree0, t0 = procstat.proc_cpu(pid), procstat.tree_cpu(pid), time.perf_counter()
    await asyncio.gather(*jobs)
    elapsed = time.perf_counter() - t0
    parent, tree = procstat.proc_cpu(pid) - parent0, procstat.tree_cpu(pid) - tree0
    # Handshakes and CONNECTs of the poll loads are counted in the CPU too: they are few (3 per loop).
    return {
        "ops": total,
        "parent_us": round(parent / total * 1e6, 1),
        "server_us": round(tree / total * 1e6, 1),
        "rtt_us": round(elapsed / total * concurrency * 1e6, 1),
    }


def start(port: int, workers: int) -> subprocess.Popen[bytes]:
    code = SERVER.format(bench=os.path.dirname(os.path.abspath(__file__)), port=port, workers=workers)
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            asyncio.run(once(port, HANDSHAKE))
            time.sleep(0.5 if workers > 1 else 0.1)  # every worker up
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server on port {port} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ops", type=int, default=2000, help="operations per load (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=8, help="client loops (default %(default)s)")
    parser.add_argument("--port", type=int, default=19300)
    args = parser.parse_args()
    procstat.raise_nofile()
    for offset, workers in enumerate((1, args.workers)):
        port = args.port + offset
        proc = start(port, workers)
        try:
            for name in LOADS:
                if name == "poll-crossed" and workers == 1:
                    continue
                result = asyncio.run(measure(name, port, proc.pid, args.ops, args.concurrency))
                print(json.dumps({"workers": workers, "load": name, **result}), flush=True)
        finally:
            proc.terminate()
            proc.wait(20)


if __name__ == "__main__":
    main()
