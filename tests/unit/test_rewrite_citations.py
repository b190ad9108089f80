"""``scripts/rewrite_citations.py`` on a small tree, with the real table ``docs/protocol/citations.tsv``.

The script turns citations of the notes that used to live outside the repository into links to ``docs/``; these
tests check the forms it recognises, the ones it must leave alone (RFC sections, hex bytes, example ids, data
strings), the dry run, ``--apply`` and ``--check``, and that every target of the table exists.
"""

# rewrite-citations: skip-file

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "docs" / "protocol" / "citations.tsv"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "rewrite_citations", REPO / "scripts" / "rewrite_citations.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


rc = _load_script()

ENGINE = "docs/protocol/engineio.md"
SOCKETIO = "docs/protocol/socketio.md"
CLUSTER = "docs/protocol/cluster.md"

SAMPLE = '''\
"""The engine (protocol.md A4, A10) and ``shared/spec/adapters.md`` §5, §8; vectors ``shared/vectors/engineio_packets.json``."""

RFC_NOTE = 1  # RFC 6455 §5.5.1: echo the close code


def f() -> str:
    """Acks per namespace (B5); routing (protocol.md B4 case 3); see API.md "Socket"."""
    # Part E 9-14: decode errors; (D4, D5, E); §1.4 and §3-§5
    data = "A8 stays: a data string (B5)"
    return data  # bytes ED A0 80 are not a label; nor is A14 or E99


def g() -> None:
    """Coalescing, see (DESIGN.md, "Coalesce writes per connection")."""
'''

REWRITTEN = f'''\
"""The engine ({ENGINE}#handshake, {ENGINE}#verification) and ``{CLUSTER}#cluster-adapter``, ``{CLUSTER}#postgres``; vectors ``tests/vectors/engineio_packets.json``."""

RFC_NOTE = 1  # RFC 6455 §5.5.1: echo the close code


def f() -> str:
    """Acks per namespace ({SOCKETIO}#events-and-acks); routing ({SOCKETIO}#packet-routing case 3); see docs/api-contract.md#socket."""
    # {SOCKETIO}#disconnect-reasons, {SOCKETIO}#decoding, {SOCKETIO}#ack-ids, {SOCKETIO}#events-and-acks: decode errors; ({ENGINE}#examples-http, {ENGINE}#examples-upgrade, docs/protocol/index.md#pitfalls); {CLUSTER}#broadcast-acks, {CLUSTER}#classic, {CLUSTER}#emitter, {CLUSTER}#cluster-adapter
    data = "A8 stays: a data string (B5)"
    return data  # bytes ED A0 80 are not a label; nor is A14 or E99


def g() -> None:
    """Coalescing, see (DESIGN.md, "Coalesce writes per connection")."""
'''


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A repository-like tree: the real table, one source module, one test module."""
    (tmp_path / "docs" / "protocol").mkdir(parents=True)
    (tmp_path / "docs" / "protocol" / "citations.tsv").write_text(
        TABLE.read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "mod.py").write_text(SAMPLE, encoding="utf-8")
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "tests" / "unit" / "test_engineio_packet.py").write_text(
        '"""Vectors of protocol.md D1/D2."""\n\nCASES = [("E13", "2")]  # E13: a ping; see also B7\n',
        encoding="utf-8",
    )
    return tmp_path


def test_dry_run_lists_and_counts_without_writing(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rc.main(["--root", str(tree)]) == 0
    out, err = capsys.readouterr()
    assert (tree / "src" / "pkg" / "mod.py").read_text(encoding="utf-8") == SAMPLE
    assert "src/pkg/mod.py:1: would rewrite: 'protocol.md A4, A10' -> " in out
    assert "src/pkg/mod.py:14: cannot map: 'DESIGN.md, \"Coalesce writes per connection\"'" in out
    # mod.py: 3 groups on line 1, 3 in f's docstring, 3 in the comment; the test module: 2.
    assert err.strip() == "11 citations (22 links) in 2 files to rewrite; 1 cannot be mapped"


def test_apply_rewrites_comments_and_docstrings_only(tree: Path) -> None:
    assert rc.main(["--root", str(tree), "--apply", "--quiet"]) == 0
    assert (tree / "src" / "pkg" / "mod.py").read_text(encoding="utf-8") == REWRITTEN
    # In a file of example tables, E1..E15 are example ids, which the docs keep.
    assert (tree / "tests" / "unit" / "test_engineio_packet.py").read_text(encoding="utf-8") == (
        f'"""Vectors of {ENGINE}#examples-packets, {ENGINE}#examples-decoding."""\n\n'
        f'CASES = [("E13", "2")]  # E13: a ping; see also {SOCKETIO}#reserved-names\n'
    )


def test_apply_twice_changes_nothing_more(tree: Path) -> None:
    assert rc.main(["--root", str(tree), "--apply", "--quiet"]) == 0
    once = (tree / "src" / "pkg" / "mod.py").read_text(encoding="utf-8")
    assert rc.main(["--root", str(tree), "--apply", "--quiet"]) == 0
    assert (tree / "src" / "pkg" / "mod.py").read_text(encoding="utf-8") == once


def test_check_fails_until_every_citation_is_in_the_repository(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rc.main(["--root", str(tree), "--check"]) == 1
    assert "remaining: 'B5'" in capsys.readouterr().out
    rc.main(["--root", str(tree), "--apply", "--quiet"])
    assert rc.main(["--root", str(tree), "--check"]) == 1  # the DESIGN.md citation has no target
    out = capsys.readouterr().out
    assert "remaining" not in out
    assert "cannot map" in out
    module = tree / "src" / "pkg" / "mod.py"
    module.write_text(
        module.read_text(encoding="utf-8").replace('(DESIGN.md, "Coalesce writes per connection")', "x")
    )
    assert rc.main(["--root", str(tree), "--check"]) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "(B2-B4, B6)",
            f"({SOCKETIO}#default-parser, {SOCKETIO}#binary-attachments, {SOCKETIO}#connecting, {SOCKETIO}#disconnection)",
        ),
        (
            "protocol.md B5-B8 and C.",
            f"{SOCKETIO}#events-and-acks, {SOCKETIO}#disconnection, {SOCKETIO}#reserved-names, {SOCKETIO}#emit-flags, docs/protocol/server.md.",
        ),
        ("``shared/spec/protocol.md`` Part D6 (S*)", f"``{SOCKETIO}#examples`` (S*)"),
        (
            "(spec A5.1, A11, D4 H20-H22, E22-E23)",
            f"({ENGINE}#polling-get, {ENGINE}#cors-cookie-hooks, {ENGINE}#examples-http H20-H22, {ENGINE}#cookie, {ENGINE}#cors)",
        ),
        ("(A2/A3)", f"({ENGINE}#packets, {ENGINE}#payloads)"),
        ("(A10 step 3)", f"({ENGINE}#verification step 3)"),
        ("(B2 step 7)", f"({SOCKETIO}#decoding step 7)"),
        ("(B2 step 4)", f"({SOCKETIO}#default-parser step 4)"),
        ("(A13)", "(docs/protocol/engineio-v3.md)"),
        ("adapters.md captures", f"{CLUSTER} captures"),
        ("A user, B2B, SHA1, 0xB5, C3PO, A0", "A user, B2B, SHA1, 0xB5, C3PO, A0"),
    ],
)
def test_forms(text: str, expected: str) -> None:
    table = rc.load_table(TABLE)
    ctx = rc.Context(path="src/x.py", rfc_file=False, vector_e=False)
    assert rc.rewrite_text(text, ctx, table).source == expected


def test_rfc_sections_are_left_alone_in_rfc_files() -> None:
    table = rc.load_table(TABLE)
    source = (
        '"""WebSocket frames (RFC 6455)."""\n\nX = 1  # the peer\'s close code (§5.5.1), the GUID of §1.3\n'
    )
    assert rc.rewrite_source(source, "src/pkg/ws.py", table).source == source


def test_every_target_exists() -> None:
    table = rc.load_table(TABLE)
    anchors: dict[Path, set[str]] = {}
    for label, target in table.items():
        path, _, anchor = target.partition("#")
        file = REPO / path
        assert file.is_file(), f"{label}: {path} does not exist"
        if anchor:
            if file not in anchors:
                anchors[file] = set(re.findall(r"\{ #([\w-]+) \}", file.read_text(encoding="utf-8")))
            assert anchor in anchors[file], f"{label}: no anchor #{anchor} in {path}"


def test_table_lists_every_old_label() -> None:
    table = rc.load_table(TABLE)
    expected = {f"protocol.md A{n}" for n in range(1, 14)} | {f"protocol.md B{n}" for n in range(1, 11)}
    expected |= {f"protocol.md C{n}" for n in range(1, 9)} | {f"protocol.md Part E {n}" for n in range(1, 27)}
    sections = (
        "1",
        "1.1",
        "1.2",
        "1.3",
        "1.4",
        "2",
        "2.1",
        "2.2",
        "2.3",
        "2.4",
        "3",
        "3.1",
        "3.2",
        "3.3",
        "4",
    )
    sections += ("5", "5.1", "5.2", "5.3", "5.4", "6", "7", "7.1", "7.2", "7.3", "8")
    expected |= {f"adapters.md §{s}" for s in sections}
    assert expected <= set(table)


def test_a_file_can_opt_out(tree: Path) -> None:
    module = tree / "src" / "pkg" / "mod.py"
    module.write_text("# rewrite-citations: skip-file\n" + SAMPLE, encoding="utf-8")
    assert rc.main(["--root", str(tree), "--apply", "--quiet", "src"]) == 0
    assert module.read_text(encoding="utf-8") == "# rewrite-citations: skip-file\n" + SAMPLE


def test_a_trailing_comment_made_too_long_moves_above_its_code() -> None:
    table = rc.load_table(TABLE)
    source = "def f(x: int) -> int:\n    if x == 3:  # a v2 client (A13)\n        return 1\n    return 0  # (A13)\n"
    moved = rc.rewrite_source(source, "src/pkg/m.py", table, line_length=50).source
    assert moved == (
        "def f(x: int) -> int:\n    # a v2 client (docs/protocol/engineio-v3.md)\n    if x == 3:\n        return 1\n"
        "    return 0  # (docs/protocol/engineio-v3.md)\n"
    )
