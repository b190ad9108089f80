"""Scrape ``/metrics`` while the echo benchmark runs: the counters a dashboard would show, moving under load.

Starts ``bench_server.py`` with ``BENCH_METRICS=1`` (instrumented by ``aiosocketio.metrics``, the exposition at
``/metrics`` on the same port), runs ``loader.py echo`` against it, and scrapes once a second meanwhile; prints,
per scrape, the connected WebSocket clients, the EVENT packets in and ACK packets out, and the rate of EVENTs.

Usage: ``python benchmarks/metrics_scrape.py [--duration 6]`` (needs the ``metrics`` extra: prometheus_client).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WATCHED = {
    "clients": r'^socketio_connected_clients\{transport="websocket"\} (\S+)$',
    "EVENTs in": r'^socketio_packets_in_total\{type="EVENT"\} (\S+)$',
    "ACKs out": r'^socketio_packets_out_total\{type="ACK"\} (\S+)$',
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found: dict[str, float] = {}
    for name, pattern in WATCHED.items():
        match = re.search(pattern, text, re.MULTILINE)
        found[name] = float(match.group(1)) if match else 0.0  # a counter not yet incremented is not shown
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=6.0)
    args = parser.parse_args()
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), BENCH_METRICS="1")
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "bench_server.py"), str(port)], env=env)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                before = scrape(port)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)
        loader = subprocess.Popen(
            [
                *(sys.executable, os.path.join(HERE, "loader.py"), "echo", "--port", str(port)),
                *("--duration", str(args.duration), "--warmup", "1", "--server-pid", str(server.pid)),
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        print("| t (s) | " + " | ".join(WATCHED) + " | EVENTs in/s |")
        print("|---" * (len(WATCHED) + 2) + "|")
        started = last_time = time.monotonic()
        last = before
        while loader.poll() is None:
            time.sleep(1.0)
            now, values = time.monotonic(), scrape(port)
            rate = (values["EVENTs in"] - last["EVENTs in"]) / (now - last_time)
            cells = " | ".join(f"{values[name]:,.0f}" for name in WATCHED)
            print(f"| {now - started:.1f} | {cells} | {rate:,.0f} |")
            last, last_time = values, now
        out = (loader.stdout.read() if loader.stdout else "").strip().splitlines()
        print(f"\nloader: {out[-1] if out else '(no output)'}")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
