"""The package's import graph has no cycle, module by module, ``TYPE_CHECKING`` and function-level imports included.

The layers themselves are import-linter contracts in pyproject.toml (run by scripts/test as ``lint-imports``); a
cycle inside one layer would slip past them, so it is looked for here, on the graph grimp (import-linter's engine)
builds from the source.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp
import pytest


def cycles(package: str) -> list[list[str]]:
    """The strongly connected groups of more than one module (each is at least one cycle), Tarjan's way."""
    graph = grimp.build_graph(package, exclude_type_checking_imports=False, cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_aiosocketio_has_no_import_cycle() -> None:
    assert cycles("aiosocketio") == []


def test_a_cycle_through_a_type_checking_import_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic import b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cyclic.c import C\n"
    )
    (package / "c.py").write_text("def f():\n    from cyclic import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert cycles("cyclic") == [["cyclic.a", "cyclic.b", "cyclic.c"]]
    finally:
        for name in [m for m in sys.modules if m == "cyclic" or m.startswith("cyclic.")]:
            del sys.modules[name]
