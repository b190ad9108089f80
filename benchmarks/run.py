"""The benchmark driver behind ``scripts/bench``: every scenario against every server, in interleaved rounds.

For each round, each server (the order rotates from round to round) and each scenario, it starts a fresh server
process on a fresh port (pinned to CPU 0 when the machine has two or more), waits until it listens, runs
``loader.py`` (pinned to CPU 1) against it, and stops it with SIGINT (then SIGTERM, then SIGKILL, by its process
id). The medians over the rounds go into a results folder: ``README.md`` (tables), ``charts/*.svg`` and the raw
``results.jsonl`` (``report.py`` writes them).

The servers (``--servers``; ``--list`` prints them): ours on the built-in runner and under uvicorn, and the anchors,
Node.js socket.io (from ``tests/node_modules``, locked by ``tests/package-lock.json``) and python-socketio under
the same uvicorn settings as ours (from the project's environment, locked by ``uv.lock``). Every Python server runs
on this interpreter; ``scripts/bench`` puts the checkout's ``src`` first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import procstat  # noqa: E402
import report  # noqa: E402

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aiosocketio-bench"


@dataclass(frozen=True)
class ServerSpec:
    name: str
    what: str
    argv: tuple[str, ...]  # "{port}" is replaced

    def command(self, port: int) -> list[str]:
        return [a.replace("{port}", str(port)) for a in self.argv]


PY = sys.executable
SERVERS: dict[str, ServerSpec] = {
    s.name: s
    for s in (
        ServerSpec(
            "aiosio-runner",
            "aiosocketio on its built-in runner (uvloop, httptools, its own WebSocket codec)",
            (PY, str(HERE / "bench_server.py"), "{port}"),
        ),
        ServerSpec(
            "aiosio-asgi",
            "aiosocketio's ASGI app under uvicorn (`asgi_config.py`)",
            (PY, str(HERE / "bench_server_asgi.py"), "{port}"),
        ),
        ServerSpec(
            "node-sio",
            "Node.js socket.io (anchor), its default `ws` WebSocket server",
            ("node", str(HERE / "anchors" / "node_sio.js"), "{port}"),
        ),
        ServerSpec(
            "pysio-asgi",
            "python-socketio's ASGI app (anchor) under uvicorn, the same settings (`asgi_config.py`)",
            (PY, str(HERE / "anchors" / "pysio_asgi.py"), "{port}"),
        ),
    )
}


def custom_server(name: str, command: str) -> ServerSpec:
    argv = [w.replace("{python}", PY) for w in shlex.split(command)]
    if "=" in argv[0]:  # VAR=value assignments first: run it through env(1), as a shell would
        argv.insert(0, "env")
    return ServerSpec(name, f"`{command}`", tuple(argv))


FULL = {"rounds": 3, "duration": 8.0, "warmup": 2.0}
QUICK = {"rounds": 1, "duration": 2.0, "warmup": 1.0}
# per scenario in --quick: fewer idle clients, a shorter settle (the rest keeps the full clients counts)
QUICK_LOADER_ARGS = {"memory": ["--clients", "2000", "--settle", "1"]}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Run the benchmark scenarios against our servers and the anchors (Node.js socket.io, "
        "python-socketio), in interleaved rounds, and write a results folder: README.md with the tables of "
        "medians, charts/*.svg, results.jsonl.",
        epilog="Scenarios: "
        + "; ".join(f"{k}: {v.what}" for k, v in report.SCENARIOS.items())
        + ". Servers: "
        + "; ".join(f"{s.name}: {s.what}" for s in SERVERS.values())
        + ".",
    )
    p.add_argument("--quick", action="store_true", help="1 round of 2 s per scenario (about 2 minutes)")
    p.add_argument(
        "--scenarios", default=",".join(report.SCENARIOS), help="comma-separated (default: all: %(default)s)"
    )
    p.add_argument("--servers", default=",".join(SERVERS), help="comma-separated (default: all: %(default)s)")
    p.add_argument("--rounds", type=int, help=f"interleaved rounds (default {FULL['rounds']}; --quick 1)")
    p.add_argument("--duration", type=float, help=f"measured seconds per run (default {FULL['duration']:g})")
    p.add_argument(
        "--warmup", type=float, help=f"seconds of load before measuring (default {FULL['warmup']:g})"
    )
    p.add_argument(
        "--add-server",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help="one more server to run, e.g. a checkout of an older commit: COMMAND may start with VAR=value "
        "assignments; {port} and {python} (this interpreter) are replaced (repeatable)",
    )
    p.add_argument(
        "--ref", default=None, help="server the ratios are to (default: node-sio if run, else the first)"
    )
    p.add_argument(
        "--loader-arg",
        action="append",
        default=[],
        metavar="SCENARIO:ARGS",
        help="extra loader arguments for one scenario, e.g. 'memory:--clients 1000' (repeatable)",
    )
    p.add_argument("--out", type=Path, help="results folder (default: benchmarks/results/DATE[-quick])")
    p.add_argument(
        "--note", default="", help="a paragraph for the results' header (e.g. how busy the machine was)"
    )
    p.add_argument("--port", type=int, default=19100, help="first port to use (default %(default)s)")
    p.add_argument(
        "--no-pin", action="store_true", help="do not pin the server to CPU 0 and the loader to CPU 1"
    )
    p.add_argument("--list", action="store_true", help="list the servers and scenarios, then exit")
    a = p.parse_args(argv)
    base = QUICK if a.quick else FULL
    for key, value in base.items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    a.scenario_list = [s for s in a.scenarios.split(",") if s]
    a.server_list = [s for s in a.servers.split(",") if s]
    for s in a.scenario_list:
        if s not in report.SCENARIOS:
            p.error(f"unknown scenario {s!r}; choose among {', '.join(report.SCENARIOS)}")
    for s in a.server_list:
        if s not in SERVERS:
            p.error(f"unknown server {s!r}; choose among {', '.join(SERVERS)}")
    for item in a.add_server:
        name, _, command = item.partition("=")
        if not name or not command.strip() or name in SERVERS:
            p.error(f"--add-server wants NAME=COMMAND with a new NAME, not {item!r}")
        SERVERS[name] = custom_server(name, command)
        a.server_list.append(name)
    if a.ref is None:
        a.ref = "node-sio" if "node-sio" in a.server_list else a.server_list[0]
    elif a.ref not in a.server_list:
        p.error(f"--ref {a.ref} is not among the servers run")
    a.loader_args = {}
    if a.quick:
        a.loader_args.update({k: list(v) for k, v in QUICK_LOADER_ARGS.items()})
    for item in a.loader_arg:
        scenario, _, rest = item.partition(":")
        a.loader_args.setdefault(scenario, []).extend(shlex.split(rest))
    return a


def check_servers(names: list[str]) -> list[str]:
    """What is missing to run these servers, as sentences (empty when all can run)."""
    problems = []
    if "node-sio" in names:
        if shutil.which("node") is None:
            problems.append("node-sio needs Node.js (`node` on PATH)")
        node_path = os.environ.get("NODE_PATH", str(ROOT / "tests" / "node_modules"))
        if not any(
            (Path(d) / "socket.io" / "package.json").exists() for d in node_path.split(os.pathsep) if d
        ):
            problems.append(
                f"node-sio needs the npm package socket.io in NODE_PATH ({node_path}): run scripts/setup"
            )
    if "pysio-asgi" in names:
        try:
            metadata.version("python-socketio")
        except metadata.PackageNotFoundError:
            problems.append("pysio-asgi needs python-socketio in this environment: run scripts/setup")
    return problems


# -- one run ---------------------------------------------------------------------------------------------------


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT (a clean shutdown), then SIGTERM, then SIGKILL, each after 5 s: only this process, by its id."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            continue


def pinned(cpu: str | None, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if cpu is not None else argv


def run_one(
    spec: ServerSpec,
    scenario: str,
    port: int,
    a: argparse.Namespace,
    cpus: tuple[str | None, str | None],
    log: Path,
) -> dict[str, Any]:
    env = dict(os.environ, PORT=str(port), HOST="127.0.0.1")
    with log.open("ab") as logf:
        logf.write(f"\n=== {scenario} on port {port}: {shlex.join(spec.command(port))}\n".encode())
        logf.flush()
        proc = subprocess.Popen(
            pinned(cpus[0], spec.command(port)),
            env=env,
            cwd=ROOT,
            stdout=logf,
            stderr=logf,
            stdin=subprocess.DEVNULL,
        )
        try:
            if not wait_listening(port, proc):
                return {"ok": False, "error": f"server did not listen (log: {log})"}
            time.sleep(0.3)
            loader = [
                sys.executable,
                str(HERE / "loader.py"),
                scenario,
                "--port",
                str(port),
                "--server-pid",
                str(proc.pid),
                "--duration",
                str(a.duration),
                "--warmup",
                str(a.warmup),
                "--label",
                spec.name,
                *a.loader_args.get(scenario, []),
            ]
            try:
                done = subprocess.run(
                    pinned(cpus[1], loader),
                    capture_output=True,
                    text=True,
                    timeout=a.warmup + a.duration + 240,
                )
            except subprocess.TimeoutExpired:
                return {"ok": False, "error": "the loader did not finish"}
            lines = done.stdout.strip().splitlines()
            try:
                result: dict[str, Any] = json.loads(lines[-1])
            except (IndexError, ValueError):
                return {"ok": False, "error": f"no result from the loader: {done.stderr.strip()[-300:]!r}"}
            if done.stderr.strip():
                logf.write(b"loader: " + done.stderr.encode())
            if proc.poll() is not None:
                result.update(ok=False, error="the server exited during the run")
            return result
        finally:
            stop(proc)


# -- the header of the results --------------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _npm_version(package: str) -> str:
    for d in os.environ.get("NODE_PATH", str(ROOT / "tests" / "node_modules")).split(os.pathsep):
        f = Path(d) / package / "package.json"
        if f.exists():
            return str(json.loads(f.read_text())["version"])
    return "not installed"


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _measuring(argv: list[str]) -> list[str]:
    """The arguments that change what is measured: without ``--note`` and ``--out``, which only label and place it."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--note", "--out"):
            skip = True
        elif not arg.startswith(("--note=", "--out=")):
            kept.append(arg)
    return kept


def header(
    a: argparse.Namespace, argv: list[str], results: list[dict[str, Any]], started: datetime.datetime
) -> str:
    import asgi_config

    commit = _git("rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    node = (
        subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        if shutil.which("node")
        else "not installed"
    )
    other = [r["other_cpu_pct"] for r in results if r.get("other_cpu_pct") is not None]
    load = (
        f"CPU used by other processes during the measured windows: median {statistics.median(other):.0f} %, "
        f"max {max(other):.0f} % of one core (`other cpu%` in the tables)."
        if other
        else ""
    )
    busy = bool(other) and statistics.median(other) > 10
    lines = [
        f"# Benchmark results, {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"Reproduce: `scripts/bench {shlex.join(_measuring(argv))}`".rstrip()
        + " (from the repository root; see `benchmarks/README.md`).",
        "",
    ]
    if a.note:
        lines += [f"> {a.note}", ""]
    if busy:
        lines += [
            "> **Noisy:** other jobs used the machine while this ran (below): the rates are understated and vary "
            "from run to run; the server CPU per operation (`srv µs/…`) is much less sensitive: compare that.",
            "",
        ]
    lines += [
        f"- Commit {commit}{dirty}; {a.rounds} interleaved round{'s' if a.rounds > 1 else ''} of "
        f"{a.duration:g} s per scenario after {a.warmup:g} s of warm-up; medians; a fresh server process per run.",
        f"- Machine: {_cpu_model()}, {os.cpu_count()} CPUs, Linux {platform.release()}; "
        + (
            "server pinned to CPU 0, loader to CPU 1."
            if not a.no_pin and (os.cpu_count() or 1) >= 2
            else "no pinning."
        ),
        f"- Python {platform.python_version()}, Node.js {node}; aiosocketio {_version('aiosocketio')} (this checkout), "
        f"uvloop {_version('uvloop')}, httptools {_version('httptools')}, orjson {_version('orjson')}.",
        f"- Anchors: socket.io {_npm_version('socket.io')} (engine.io {_npm_version('engine.io')}, "
        f"ws {_npm_version('ws')}); python-socketio {_version('python-socketio')} "
        f"(python-engineio {_version('python-engineio')}).",
        f"- ASGI servers (aiosio-asgi and pysio-asgi alike): {asgi_config.describe()} "
        f"(websockets {_version('websockets')}).",
    ]
    if load:
        lines.append(f"- {load}")
    lines += ["", "| server | what |", "|---|---|"]
    # a custom server's command may hold a "|", which would end the table cell
    lines += ["| {} | {} |".format(name, SERVERS[name].what.replace("|", "\\|")) for name in a.server_list]
    lines += [
        "",
        "Columns: the rate over the measured window; `× ref` its ratio to the reference server; `srv µs/op` the "
        "server's CPU time (user + system, from `/proc`) per operation and `÷ ref` its ratio (below 1: cheaper "
        "than the reference); `srv cpu%`, `ldr cpu%` the server's and the loader's CPU as % of one core; "
        "`other cpu%` what the rest of the machine used meanwhile; `n` the rounds that succeeded.",
        "",
    ]
    return "\n".join(lines)


def default_out(quick: bool, day: datetime.date) -> Path:
    base = HERE / "results" / (f"{day:%Y-%m-%d}" + ("-quick" if quick else ""))
    out, n = base, 2
    while out.exists():
        out, n = base.with_name(f"{base.name}-{n}"), n + 1
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = parse_args(argv)
    if a.list:
        for s in SERVERS.values():
            print(f"{s.name:14} {s.what}")
        for k, v in report.SCENARIOS.items():
            print(f"{k:14} {v.what}")
        return 0
    problems = check_servers(a.server_list)
    if problems:
        for p in problems:
            print(f"scripts/bench: {p}", file=sys.stderr)
        return 1
    procstat.raise_nofile()  # the servers inherit it
    started = datetime.datetime.now(datetime.UTC)
    out: Path = a.out or default_out(a.quick, started.date())
    logs = CACHE / "logs" / f"{started:%Y%m%d-%H%M%S}"
    logs.mkdir(parents=True, exist_ok=True)
    cpus: tuple[str | None, str | None] = (None, None)
    if not a.no_pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        cpus = ("0", "1")
    specs = [SERVERS[n] for n in a.server_list]
    total = a.rounds * len(specs) * len(a.scenario_list)
    print(
        f"scripts/bench: {total} runs ({a.rounds} round(s) x {len(specs)} servers x {len(a.scenario_list)} "
        f"scenarios); server logs in {logs}",
        file=sys.stderr,
    )
    results: list[dict[str, Any]] = []
    port = a.port
    done = 0
    for rnd in range(a.rounds):
        shift = rnd % len(specs)
        for spec in specs[shift:] + specs[:shift]:
            for scenario in a.scenario_list:
                while not port_free(port):
                    port += 1
                result = run_one(spec, scenario, port, a, cpus, logs / f"{spec.name}.log")
                port += 1
                result.update(label=spec.name, scenario=scenario, round=rnd)
                results.append(result)
                done += 1
                brief = (
                    f"{result.get('ops_per_s', 0):,.0f}/s, {result.get('srv_us_per_op', 0):.2f} µs/op"
                    if result.get("ok") and scenario != "memory"
                    else f"{result.get('bytes_per_conn', 0):,} B/conn"
                    if result.get("ok")
                    else f"FAILED: {result.get('error')}"
                )
                print(
                    f"[{done}/{total}] round {rnd + 1} {spec.name} {scenario}: {brief}",
                    file=sys.stderr,
                    flush=True,
                )
    readme = report.write_results(
        out, results, a.server_list, a.scenario_list, a.ref, header(a, argv, results, started)
    )
    print(readme.read_text())
    print(f"scripts/bench: results in {out}", file=sys.stderr)
    return 0 if all(r.get("ok") for r in results) else 2


if __name__ == "__main__":
    sys.exit(main())
