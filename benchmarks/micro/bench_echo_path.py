"""The server's Python cost of one WebSocket echo ack, from a received frame to the written ack, in-process.

The harness ``echo`` scenario mixes this with the kernel (one read and one write per ack on loopback) and
with whatever else runs on the shared machine. Here C connections of the built-in runner sit on fake
transports that record writes instead of making system calls; each "loop turn" feeds every connection one
masked ``421["echo",…]`` frame, like the loader's 100 clients with one emit in flight each, and lets the loop
run once so the end-of-turn writes happen. What is left is the Python (and C extension) work per ack:
frame parsing, Engine.IO and Socket.IO dispatch, the handler, the ack encoding and the write.

Usage::

    .venv/bin/python benchmarks/micro/bench_echo_path.py [--conns 100] [--turns 2000] [--repeat 7]
    .venv/bin/python benchmarks/micro/bench_echo_path.py --profile   # cProfile of one run, by total time
    .venv/bin/python benchmarks/micro/bench_echo_path.py --fanout --conns 1000   # µs per broadcast delivery

Prints the best and median µs per ack of ``--repeat`` runs (the best is the least disturbed by other
processes). Not a test; pytest never collects it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bench_server import build

from aiosocketio.runner.http import HttpProtocol
from aiosocketio.runner.state import ServerState

_MASK = b"\x37\xfa\x21\x3d"


def masked_text(text: str) -> bytes:
    """A client frame (masked, RFC 6455 §5.3) carrying ``text``; short messages only."""
    payload = text.encode()
    assert len(payload) < 126
    body = bytes(b ^ _MASK[i % 4] for i, b in enumerate(payload))
    return bytes((0x81, 0x80 | len(payload))) + _MASK + body


class FakeTransport:
    """Just enough of a uvloop transport for the runner: writes are counted, never sent."""

    def __init__(self) -> None:
        self.protocol: Any = None
        self.written = 0
        self.writes = 0
        self.last = b""
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written += len(data)
        self.writes += 1
        self.last = data

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_protocol(self) -> Any:
        return self.protocol

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return ("127.0.0.1", 40000)
        if name == "sockname":
            return ("127.0.0.1", 9001)
        return default


_UPGRADE = (
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


async def _turn() -> None:
    """Let the loop run the callbacks scheduled so far (the end-of-turn flushes)."""
    await asyncio.sleep(0)


async def connect(state: ServerState, count: int) -> list[tuple[FakeTransport, Any]]:
    """``count`` Socket.IO connections on namespace ``/`` over WebSocket, as the loader makes them."""
    conns = []
    for _ in range(count):
        transport = FakeTransport()
        http = HttpProtocol(state)
        transport.protocol = http
        http.connection_made(transport)  # type: ignore[arg-type]
        http.data_received(_UPGRADE)
        for _ in range(5):
            await _turn()
        ws = transport.protocol
        ws.data_received(masked_text("40"))
        for _ in range(5):
            await _turn()
        assert transport.last.startswith(b"\x81"), transport.last
        assert b'40{"sid"' in transport.last, transport.last
        conns.append((transport, ws))
    return conns


async def run_echo(conns: list[tuple[FakeTransport, Any]], turns: int, ack_base: int) -> float:
    """Seconds for ``turns`` loop turns of one echo per connection."""
    frames = [masked_text(f'42{ack_base + i}["echo","xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]') for i in range(10)]
    receivers = [ws.data_received for _, ws in conns]
    writes_before = sum(t.writes for t, _ in conns)
    start = time.perf_counter()
    for turn in range(turns):
        frame = frames[turn % 10]
        for receive in receivers:
            receive(frame)
        await _turn()
    elapsed = time.perf_counter() - start
    writes = sum(t.writes for t, _ in conns) - writes_before
    assert writes == turns * len(conns), (writes, turns * len(conns))
    last = conns[0][0].last
    assert last.startswith(b"\x81"), last
    assert last.endswith(b'["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]'), last
    return elapsed


async def run_fanout(conns: list[tuple[FakeTransport, Any]], turns: int, per_turn: int) -> float:
    """Seconds for ``turns`` loop turns in which the first connection broadcasts ``per_turn`` times to the
    others (all in room ``bench``), like the harness ``fanout`` scenario with several broadcasts in flight."""
    sender = conns[0][1]
    frame = masked_text('42["broadcast","bench","xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]')
    writes_before = sum(t.writes for t, _ in conns)
    start = time.perf_counter()
    for _ in range(turns):
        for _ in range(per_turn):
            sender.data_received(frame)
        await _turn()
    await _turn()  # the last turn's deliveries may be flushed one loop turn later (the runner batches frames)
    elapsed = time.perf_counter() - start
    writes = sum(t.writes for t, _ in conns) - writes_before
    assert writes == turns * (len(conns) - 1), (writes, turns * (len(conns) - 1))  # one write per turn each
    return elapsed


async def main_fanout(state: ServerState, args: argparse.Namespace) -> None:
    conns = await connect(state, args.conns + 1)
    for _, ws in conns[1:]:
        ws.data_received(masked_text('420["join","bench"]'))
    for _ in range(5):
        await _turn()
    turns = max(1, args.turns // 20)
    deliveries = turns * args.conns * 4
    await run_fanout(conns, max(1, turns // 10), 4)  # warm-up
    results = [await run_fanout(conns, turns, 4) / deliveries * 1e6 for _ in range(args.repeat)]
    print(
        f"fan-out, {args.conns} receivers x 4 broadcasts x {turns} turns: "
        f"best {min(results):.3f} us/delivery, median {statistics.median(results):.3f} us/delivery"
    )


async def main_async(args: argparse.Namespace) -> None:
    io = build(args.echo)
    state = ServerState([io])
    await io.startup()
    if args.fanout:
        await main_fanout(state, args)
        return
    conns = await connect(state, args.conns)
    await run_echo(conns, max(1, args.turns // 10), 100)  # warm-up
    acks = args.turns * args.conns
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        await run_echo(conns, args.turns, 200)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(80)
        return
    results = []
    for _ in range(args.repeat):
        results.append(await run_echo(conns, args.turns, 300) / acks * 1e6)
    print(
        f"echo path, {args.conns} connections x {args.turns} turns: "
        f"best {min(results):.3f} us/ack, median {statistics.median(results):.3f} us/ack "
        f"({' '.join(f'{r:.3f}' for r in results)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conns", type=int, default=100)
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--echo",
        choices=["args", "one", "validated"],
        default="args",
        help="the echo handler: (*args), (text: str), or (text: a pydantic model) under @validated",
    )
    parser.add_argument(
        "--fanout", action="store_true", help="broadcasts from one connection to --conns others instead"
    )
    parser.add_argument("--asyncio", action="store_true", help="the stdlib loop instead of uvloop")
    args = parser.parse_args()
    if args.asyncio:
        asyncio.run(main_async(args))
    else:
        import uvloop

        uvloop.run(main_async(args))


if __name__ == "__main__":
    main()
