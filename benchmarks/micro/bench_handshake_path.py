"""The server's Python cost of one full handshake, in-process: what the ``connect`` scenario pays per connection.

Like ``bench_echo_path.py`` (whose fake transports it uses), the built-in runner's connections sit on transports
that record writes instead of making system calls. Each round opens C connections at once, as the loader's 50
loops do: the HTTP upgrade request, the WebSocket handshake and the Engine.IO open packet, then the Socket.IO
CONNECT to ``/`` and its answer, then the connection is lost (the loader drops the TCP connection). What is left
is the Python (and C extension) work per handshake: HTTP parsing, the upgrade, the session and its timers, the
namespace join and the socket, and the cleanup when the connection goes away. The kernel's share (accept, the
reads and writes, the close) is not in it.

Usage::

    .venv/bin/python benchmarks/micro/bench_handshake_path.py [--conns 50] [--rounds 200] [--repeat 7]
    .venv/bin/python benchmarks/micro/bench_handshake_path.py --profile   # cProfile of one run, by total time

Prints the best and median µs per handshake of ``--repeat`` runs. Not a test; pytest never collects it.
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

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bench_echo_path import _UPGRADE, FakeTransport, masked_text
from bench_server import build

from aiosocketio.runner.http import HttpProtocol
from aiosocketio.runner.state import ServerState

_CONNECT = masked_text("40")


async def _turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def run_round(state: ServerState, conns: int) -> None:
    """``conns`` handshakes at once, each to its end: upgrade, open, CONNECT, CONNECT's answer, connection lost."""
    transports = []
    for _ in range(conns):
        transport = FakeTransport()
        http = HttpProtocol(state)
        transport.protocol = http
        http.connection_made(transport)  # type: ignore[arg-type]
        http.data_received(_UPGRADE)
        transports.append(transport)
    await _turns(2)
    for transport in transports:
        transport.protocol.data_received(_CONNECT)
    await _turns(2)
    for transport in transports:
        assert b'40{"sid"' in transport.last, transport.last
        transport.protocol.connection_lost(None)
    await _turns(2)


async def measure(state: ServerState, conns: int, rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        await run_round(state, conns)
    return (time.perf_counter() - start) / (conns * rounds) * 1e6


async def main_async(args: argparse.Namespace) -> None:
    io = build()
    state = ServerState([io])
    await io.startup()
    await measure(state, args.conns, max(1, args.rounds // 10))  # warm-up
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        await measure(state, args.conns, args.rounds)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(40)
        return
    results = [await measure(state, args.conns, args.rounds) for _ in range(args.repeat)]
    assert io.engine.clients_count == 0, io.engine.clients_count  # every session was closed
    print(
        f"handshake path, {args.conns} connections x {args.rounds} rounds: best {min(results):.2f} us/handshake, "
        f"median {statistics.median(results):.2f} us/handshake"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conns", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(main_async(args))
    except ImportError:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
