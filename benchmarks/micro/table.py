"""Print pyperf result files of ``bench_codecs.py`` as the Markdown table kept in ``benchmarks/README.md``.

Usage: ``.venv/bin/python benchmarks/micro/table.py RUN.json [RUN2.json ...]``: one column of medians per file
(e.g. two runs of the same code to show the noise, or before / after a change), then the spread of the last
file (pyperf's standard deviation). The median is the figure to compare: the shared machine adds outliers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyperf  # type: ignore[import-untyped]


def _fmt(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def main(paths: list[str]) -> None:
    suites = [pyperf.BenchmarkSuite.load(path) for path in paths]
    names = [bench.get_name() for bench in suites[0].get_benchmarks()]
    heads = [f"median ({Path(path).stem})" for path in paths] if len(paths) > 1 else ["median"]
    print("| benchmark | " + " | ".join(heads) + " | ± std dev |")
    print("|---" * (len(heads) + 2) + "|")
    for name in names:
        cells = []
        last = None
        for suite in suites:
            try:
                last = suite.get_benchmark(name)
            except KeyError:
                cells.append("")
                last = None
                continue
            cells.append(_fmt(last.median()))
        spread = _fmt(last.stdev()) if last is not None and last.get_nvalue() > 1 else ""
        print(f"| {name} | " + " | ".join(cells) + f" | {spread} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
