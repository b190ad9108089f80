"""Turns the loader's results into what ``scripts/bench`` writes: Markdown tables and SVG bar charts.

Pure functions of the result records (one dict per loader run, as ``loader.py`` prints them, plus ``label`` for
the server and ``round``), so that the test suite can check them on fixed data. The charts are written by hand:
plain SVG rectangles and text, no plotting library to install, and they render in any browser or Markdown viewer.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Scenario:
    title: str
    what: str
    rate: str  # the unit of the rate column, or "" for memory
    op: str  # what one operation is, for "server CPU µs per <op>"


SCENARIOS: dict[str, Scenario] = {
    "echo": Scenario(
        "WebSocket echo with acks", "100 clients, one `echo` emit-with-ack each in flight", "acks/s", "ack"
    ),
    "fanout": Scenario(
        "Broadcast to a room",
        "1,000 clients in a room, 8 broadcasts in flight; every message reaches every client",
        "deliveries/s",
        "delivery",
    ),
    "connect": Scenario(
        "Connect (handshake) rate",
        "50 loops of WebSocket upgrade, Engine.IO open, Socket.IO connect, disconnect",
        "handshakes/s",
        "handshake",
    ),
    "memory": Scenario(
        "Idle memory per connection",
        "idle clients connected (5,000; 2,000 with --quick), the server's resident memory added per connection",
        "",
        "",
    ),
    "poll": Scenario(
        "Long-polling echo",
        "50 HTTP long-polling sessions; a round trip is a POST of the emit and the GET bringing the ack",
        "acks/s",
        "round trip",
    ),
}

# One colour per server, in the order the servers are given (colour-blind-safe palette).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")


@dataclass
class Stat:
    """The median of one metric over the rounds of one server and scenario, with its spread."""

    median: float
    low: float
    high: float
    n: int


def _stat(values: Sequence[float]) -> Stat | None:
    if not values:
        return None
    return Stat(statistics.median(values), min(values), max(values), len(values))


METRICS = (
    "ops_per_s",
    "srv_us_per_op",
    "p50_ms",
    "p99_ms",
    "server_cpu_pct",
    "loader_cpu_pct",
    "other_cpu_pct",
    "bytes_per_conn",
    "rss_mb",
    "alive",
)


def summarize(
    results: Iterable[dict[str, Any]], servers: Sequence[str], scenarios: Sequence[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{scenario: {server: {metric: Stat | None, "runs": ok runs, "failed": failed runs, "errors": [...]}}}``."""
    rows = list(results)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for scenario in scenarios:
        out[scenario] = {}
        for server in servers:
            mine = [r for r in rows if r.get("scenario") == scenario and r.get("label") == server]
            ok = [r for r in mine if r.get("ok")]
            entry: dict[str, Any] = {
                m: _stat([float(r[m]) for r in ok if r.get(m) is not None]) for m in METRICS
            }
            entry["runs"] = len(ok)
            entry["failed"] = len(mine) - len(ok)
            entry["errors"] = sorted({str(r.get("error")) for r in mine if not r.get("ok")})
            out[scenario][server] = entry
    return out


def fmt(value: float | None) -> str:
    """Three significant digits or so, thousands separated: 111,658 / 8.93 / 55.5 / 0.712."""
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{round(value):,}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _median(entry: dict[str, Any], metric: str) -> float | None:
    stat = entry.get(metric)
    return stat.median if isinstance(stat, Stat) else None


def _ratio(value: float | None, ref: float | None) -> str:
    if value is None or not ref:
        return "-"
    return f"{value / ref:.2f}×"


def markdown_table(
    scenario: str, summary: dict[str, dict[str, Any]], servers: Sequence[str], ref: str | None
) -> str:
    """One scenario's table: medians over the rounds, ratios to ``ref`` (rate and CPU per op)."""
    info = SCENARIOS[scenario]
    ref_entry = summary.get(ref, {}) if ref else {}
    if scenario == "memory":
        head = ["server", "bytes/conn", f"÷ {ref}" if ref else "ratio", "RSS MB", "clients alive", "n"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for server in servers:
            e = summary[server]
            value = _median(e, "bytes_per_conn")
            lines.append(
                "| "
                + " | ".join(
                    [
                        server,
                        fmt(value),
                        _ratio(value, _median(ref_entry, "bytes_per_conn")),
                        fmt(_median(e, "rss_mb")),
                        fmt(_median(e, "alive")),
                        _runs(e),
                    ]
                )
                + " |"
            )
        return "\n".join(lines)
    head = [
        "server",
        info.rate,
        f"× {ref}" if ref else "ratio",
        f"srv µs/{info.op}",
        f"÷ {ref}" if ref else "ratio",
    ]
    latency = scenario != "fanout"
    if latency:
        head += ["p50 ms", "p99 ms"]
    head += ["srv cpu%", "ldr cpu%", "other cpu%", "n"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for server in servers:
        e = summary[server]
        rate, cost = _median(e, "ops_per_s"), _median(e, "srv_us_per_op")
        cells = [
            server,
            fmt(rate),
            _ratio(rate, _median(ref_entry, "ops_per_s")),
            fmt(cost),
            _ratio(cost, _median(ref_entry, "srv_us_per_op")),
        ]
        if latency:
            cells += [fmt(_median(e, "p50_ms")), fmt(_median(e, "p99_ms"))]
        cells += [
            fmt(_median(e, "server_cpu_pct")),
            fmt(_median(e, "loader_cpu_pct")),
            fmt(_median(e, "other_cpu_pct")),
            _runs(e),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _runs(entry: dict[str, Any]) -> str:
    return f"{entry['runs']}" + (f" ({entry['failed']} failed)" if entry["failed"] else "")


# -- SVG -----------------------------------------------------------------------------------------------------

ROW = 26
LABEL_W = 150
PANEL_W = 330
GAP = 30
TOP = 48


def _panel(x0: float, title: str, values: list[tuple[str, Stat | None, str]], row_count: int) -> list[str]:
    """Horizontal bars from ``x0``: one row per server, the median as the bar, min-max of the rounds as a line."""
    parts = [f'<text x="{x0}" y="{TOP - 14}" font-weight="bold">{escape(title)}</text>']
    top = max((s.high for _, s, _ in values if s is not None), default=0.0) or 1.0
    width = PANEL_W - 70  # room for the value after the bar
    for i, (_, stat, colour) in enumerate(values):
        y = TOP + i * ROW
        if stat is None:
            parts.append(f'<text x="{x0}" y="{y + 15}" fill="#777">no result</text>')
            continue
        w = max(1.0, stat.median / top * width)
        parts.append(f'<rect x="{x0}" y="{y + 3}" width="{w:.1f}" height="{ROW - 8}" fill="{colour}"/>')
        if stat.n > 1 and stat.high > stat.low:
            lo, hi = stat.low / top * width, stat.high / top * width
            mid = y + ROW / 2 - 1
            parts.append(
                f'<line x1="{x0 + lo:.1f}" y1="{mid}" x2="{x0 + hi:.1f}" y2="{mid}" stroke="#222" stroke-width="1.5"/>'
            )
        label_x = x0 + max(w, stat.high / top * width if stat.n > 1 else w) + 5
        parts.append(f'<text x="{label_x:.1f}" y="{y + 16}">{escape(fmt(stat.median))}</text>')
    axis_bottom = TOP + row_count * ROW
    parts.append(f'<line x1="{x0}" y1="{TOP}" x2="{x0}" y2="{axis_bottom}" stroke="#444"/>')
    return parts


def svg_chart(
    scenario: str, summary: dict[str, dict[str, Any]], servers: Sequence[str], subtitle: str = ""
) -> str:
    """A chart of one scenario: the rate and the server CPU per operation side by side (memory: bytes/conn)."""
    info = SCENARIOS[scenario]
    colours = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(servers)}
    if scenario == "memory":
        panels = [("bytes per connection (lower is better)", "bytes_per_conn")]
    else:
        panels = [
            (f"{info.rate} (higher is better)", "ops_per_s"),
            (f"server CPU µs per {info.op} (lower is better)", "srv_us_per_op"),
        ]
    width = LABEL_W + len(panels) * (PANEL_W + GAP)
    height = TOP + len(servers) * ROW + (34 if subtitle else 16)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="8" y="16" font-size="14" font-weight="bold">{escape(scenario)}: {escape(info.title)}</text>',
    ]
    for i, server in enumerate(servers):
        parts.append(f'<text x="8" y="{TOP + i * ROW + 16}">{escape(server)}</text>')
    for p, (title, metric) in enumerate(panels):
        x0 = LABEL_W + p * (PANEL_W + GAP)
        values = [(s, summary[s].get(metric), colours[s]) for s in servers]
        parts += _panel(x0, title, values, len(servers))
    if subtitle:
        parts.append(f'<text x="8" y="{height - 10}" fill="#555">{escape(subtitle)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# -- the results folder --------------------------------------------------------------------------------------


def write_results(
    out: Path,
    results: list[dict[str, Any]],
    servers: Sequence[str],
    scenarios: Sequence[str],
    ref: str | None,
    header: str,
) -> Path:
    """Write ``README.md`` (``header``, then per scenario its chart and table), ``charts/*.svg`` and the raw
    ``results.jsonl`` into ``out``; return the README's path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "charts").mkdir(exist_ok=True)
    with (out / "results.jsonl").open("w") as f:
        for r in results:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    summary = summarize(results, servers, scenarios)
    rounds = max((r.get("round", 0) for r in results), default=0) + 1
    doc = [header.rstrip(), ""]
    for scenario in scenarios:
        info = SCENARIOS[scenario]
        chart = f"charts/{scenario}.svg"
        subtitle = f"median of {rounds} round{'s' if rounds > 1 else ''}" + (
            "; the line spans the rounds' lowest and highest" if rounds > 1 else ""
        )
        (out / chart).write_text(svg_chart(scenario, summary[scenario], servers, subtitle))
        doc += [
            f"## {scenario}: {info.title}",
            "",
            f"{info.what}.",
            "",
            f"![{scenario}]({chart})",
            "",
            markdown_table(scenario, summary[scenario], servers, ref),
            "",
        ]
        failures = [
            f"- {server}: {', '.join(summary[scenario][server]['errors'])}"
            for server in servers
            if summary[scenario][server]["failed"]
        ]
        if failures:
            doc += ["Failed runs:", "", *failures, ""]
    readme = out / "README.md"
    readme.write_text("\n".join(doc).rstrip() + "\n")
    return readme
