"""The benchmark tooling that ``scripts/bench`` runs, on fixed data: the tables and charts written from results, and
the command line itself (``--help``, ``--list``, a wrong scenario). The benchmarks themselves never run here.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "benchmarks" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


report = _load("report")


def _echo(label: str, rnd: int, rate: float, cost: float) -> dict[str, Any]:
    return {
        "scenario": "echo",
        "label": label,
        "round": rnd,
        "ok": True,
        "ops_per_s": rate,
        "srv_us_per_op": cost,
        "p50_ms": 1.0,
        "p99_ms": 2.5,
        "server_cpu_pct": 99.5,
        "loader_cpu_pct": 60.0,
        "other_cpu_pct": 3.0,
    }


SAMPLE: list[dict[str, Any]] = [
    _echo("node", 0, 90_000, 11.0),
    _echo("node", 1, 80_000, 12.0),
    _echo("node", 2, 100_000, 10.0),
    _echo("ours", 0, 110_000, 9.0),
    _echo("ours", 1, 120_000, 8.0),
    {"scenario": "echo", "label": "ours", "round": 2, "ok": False, "error": "server did not listen"},
    {
        "scenario": "memory",
        "label": "node",
        "round": 0,
        "ok": True,
        "bytes_per_conn": 17_500,
        "rss_mb": 141.2,
        "alive": 5000,
    },
    {
        "scenario": "memory",
        "label": "ours",
        "round": 0,
        "ok": True,
        "bytes_per_conn": 5_250,
        "rss_mb": 54.6,
        "alive": 5000,
    },
]


def test_numbers_are_formatted_to_about_three_digits() -> None:
    assert [report.fmt(v) for v in (111_658.4, 8.934, 55.46, 0.7123, 100.0, None)] == [
        "111,658",
        "8.93",
        "55.5",
        "0.712",
        "100",
        "-",
    ]


def test_the_table_holds_medians_over_the_rounds_and_ratios_to_the_reference() -> None:
    summary = report.summarize(SAMPLE, ["node", "ours"], ["echo", "memory"])
    assert report.markdown_table("echo", summary["echo"], ["node", "ours"], "node").splitlines() == [
        "| server | acks/s | × node | srv µs/ack | ÷ node | p50 ms | p99 ms | srv cpu% | ldr cpu% | other cpu% | n |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        "| node | 90,000 | 1.00× | 11.0 | 1.00× | 1.00 | 2.50 | 99.5 | 60.0 | 3.00 | 3 |",
        # ours: the median of the two rounds that succeeded; the failed one is counted apart
        "| ours | 115,000 | 1.28× | 8.50 | 0.77× | 1.00 | 2.50 | 99.5 | 60.0 | 3.00 | 2 (1 failed) |",
    ]
    assert report.markdown_table("memory", summary["memory"], ["node", "ours"], "node").splitlines()[2:] == [
        "| node | 17,500 | 1.00× | 141 | 5,000 | 1 |",
        "| ours | 5,250 | 0.30× | 54.6 | 5,000 | 1 |",
    ]


def test_the_chart_draws_one_bar_per_server_in_proportion_with_the_rounds_spread() -> None:
    summary = report.summarize(SAMPLE, ["node", "ours"], ["echo"])["echo"]
    root = ET.fromstring(report.svg_chart("echo", summary, ["node", "ours"], "median of 3 rounds"))
    assert root.tag == f"{SVG}svg"
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") != "white"]
    # two panels (acks/s, then µs per ack), one bar per server in each, the colour of the server in both
    assert len(bars) == 4
    rate_node, rate_ours, cost_node, cost_ours = (float(b.attrib["width"]) for b in bars)
    assert rate_node / rate_ours == pytest.approx(90_000 / 115_000, rel=1e-3)
    assert cost_node / cost_ours == pytest.approx(11.0 / 8.5, rel=1e-3)
    assert bars[0].get("fill") == bars[2].get("fill") != bars[1].get("fill")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"node", "ours", "90,000", "115,000", "11.0", "8.50", "median of 3 rounds"} <= set(texts)
    assert "acks/s (higher is better)" in texts
    assert "server CPU µs per ack (lower is better)" in texts
    # the lowest and highest round of each server with several rounds, as a line across its bar
    assert len(list(root.iter(f"{SVG}line"))) == 2 * 2 + 2  # two spreads per panel, and each panel's axis


def test_the_results_folder_has_the_tables_the_charts_and_the_raw_results(tmp_path: Path) -> None:
    readme = report.write_results(
        tmp_path, SAMPLE, ["node", "ours"], ["echo", "memory"], "node", "# Header\n"
    )
    text = readme.read_text()
    assert text.startswith("# Header\n")
    assert "![echo](charts/echo.svg)" in text
    assert "![memory](charts/memory.svg)" in text
    assert "| ours | 115,000 | 1.28× |" in text
    assert "- ours: server did not listen" in text
    for chart in ("echo", "memory"):
        ET.parse(tmp_path / "charts" / f"{chart}.svg")  # well-formed
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == len(SAMPLE)


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run(
        [str(REPO / "scripts" / "bench"), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_scripts_bench_help_and_list_run() -> None:
    done = _bench("--help")
    assert done.returncode == 0, done.stderr
    for option in ("--quick", "--scenarios", "--servers", "--rounds", "--duration", "--out"):
        assert option in done.stdout
    listed = _bench("--list")
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == [
        "aiosio-runner",
        "aiosio-asgi",
        "node-sio",
        "pysio-asgi",
        "echo",
        "fanout",
        "connect",
        "memory",
        "poll",
    ]


def test_scripts_bench_refuses_an_unknown_scenario() -> None:
    done = _bench("--scenarios", "echo,nope")
    assert done.returncode == 2
    assert "unknown scenario 'nope'" in done.stderr


def test_scripts_bench_refuses_an_added_server_without_a_command_or_with_a_taken_name() -> None:
    for bad in ("nameonly", "node-sio=node x.js {port}"):
        done = _bench("--add-server", bad)
        assert done.returncode == 2
        assert "--add-server wants NAME=COMMAND with a new NAME" in done.stderr
