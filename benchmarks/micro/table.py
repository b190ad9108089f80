"""Print a pyperf result file of ``bench_codecs.py`` as the Markdown table kept in ``benchmarks/README.md``.

Usage: ``.venv/bin/python benchmarks/micro/table.py /tmp/micro.json``. The median is the figure to compare
(robust to the shared machine's outliers); the spread column is pyperf's standard deviation.
"""

from __future__ import annotations

import sys

import pyperf  # type: ignore[import-untyped]


def _fmt(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def main(path: str) -> None:
    suite = pyperf.BenchmarkSuite.load(path)
    print("| benchmark | median | ± std dev | values |")
    print("|---|---|---|---|")
    for bench in suite.get_benchmarks():
        std = bench.stdev() if bench.get_nvalue() > 1 else 0.0
        print(f"| {bench.get_name()} | {_fmt(bench.median())} | {_fmt(std)} | {bench.get_nvalue()} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
