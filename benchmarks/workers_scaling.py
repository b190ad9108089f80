"""What ``workers=N`` costs and gives on the scenarios of ``loader.py``: echo, fan-out and connect.

The app of ``bench_server.py`` is served with ``workers=1`` and with each ``workers=N`` asked for, in interleaved
rounds (a fresh server per run), and ``loader.py`` runs each scenario against it. The server's CPU is the whole
process tree (the parent and its workers, from ``/proc``), so ``srv_us`` per operation includes the routing
parent and, for fan-out, the inter-process adapter that carries each broadcast to the other workers (the room of
1,000 clients spans every worker: the handshakes are spread round-robin).

What to read: ``srv_us`` against ``workers=1`` (the cost of the layer, which should stay under 1.25x), and the
rate, which grows with N only as far as the machine has idle cores (the loader itself takes one; on a 2-core
machine the rate cannot grow much). ``capacity`` says what the server's CPU would allow with a core for each
worker: ``N x 10^6 / srv_us`` operations per second (an upper bound: it assumes the cores are otherwise idle).

Usage: ``python benchmarks/workers_scaling.py [--workers 2] [--rounds 3] [--duration 5] [--scenarios echo,fanout,connect]
[--pin]``

``--pin`` puts the whole server on one CPU and the loader on another: on a machine with fewer cores than workers
plus one, the unpinned figures include what the processes lose to each other (more context switches, colder
caches), which an echo ack (it never leaves its worker) shows as well as a broadcast.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SERVER = """
import sys
sys.path.insert(0, {bench!r})
import aiosocketio, bench_server
aiosocketio.run(bench_server.build(), port={port}, log_level="warning", workers={workers})
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not listen")


def run_once(workers: int, scenario: str, duration: float, pin: bool = False) -> dict[str, float]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    server_cpus, loader_cpus = (["taskset", "-c", "0"], ["taskset", "-c", "1"]) if pin else ([], [])
    server = subprocess.Popen(
        [*server_cpus, sys.executable, "-c", SERVER.format(bench=HERE, port=port, workers=workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, server)
        time.sleep(0.5 + 0.2 * workers)  # every worker up
        out = subprocess.run(
            [
                *loader_cpus,
                sys.executable,
                os.path.join(HERE, "loader.py"),
                scenario,
                "--port",
                str(port),
                "--server-pid",
                str(server.pid),
                "--duration",
                str(duration),
                "--warmup",
                "1",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=duration * 4 + 120,
            check=True,
        )
        result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        return result
    finally:
        server.terminate()
        server.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", default="2", help="comma-separated worker counts to compare with 1")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--scenarios", default="echo,fanout,connect")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the whole server (parent and workers) on CPU 0, the loader on CPU 1: the cost of the layer without "
        "more busy processes than cores (with 2 cores, 2 workers and the loader otherwise share them)",
    )
    args = parser.parse_args()
    counts = [1, *(int(n) for n in args.workers.split(","))]
    scenarios = args.scenarios.split(",")
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        for scenario in scenarios:
            for workers in counts:  # interleaved: each round runs every configuration once
                result = run_once(workers, scenario, args.duration, args.pin)
                results.setdefault((scenario, workers), []).append(result)
                print(
                    f"round {round_ + 1} {scenario:8} workers={workers}: {result['ops_per_s']:>10,.0f}/s "
                    f"srv {result.get('srv_us_per_op', 0):7.2f} us/op "
                    f"other cpu {result.get('other_cpu_pct', 0):.0f}%",
                    file=sys.stderr,
                )
    print("| scenario | workers | rate/s | srv µs/op | ÷ 1 worker | capacity with a core per worker |")
    print("|---|---|---|---|---|---|")
    for scenario in scenarios:
        base = statistics.median(r["srv_us_per_op"] for r in results[(scenario, 1)])
        for workers in counts:
            runs = results[(scenario, workers)]
            rate = statistics.median(r["ops_per_s"] for r in runs)
            us = statistics.median(r["srv_us_per_op"] for r in runs)
            capacity = workers * 1e6 / us
            print(
                f"| {scenario} | {workers} | {rate:,.0f} | {us:.2f} | {us / base:.2f}x | {capacity:,.0f}/s |"
            )


if __name__ == "__main__":
    main()
