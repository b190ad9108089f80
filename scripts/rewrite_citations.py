#!/usr/bin/env python3
"""Rewrite the code's citations of the old out-of-repository notes into links to ``docs/``.

Comments and docstrings in ``src/`` and ``tests/`` used to cite notes that lived outside the repository:
``protocol.md B5``, bare labels such as ``(A8)``, ``C3`` or ``Part E 9``, ``adapters.md §5.3`` (or a bare
``§5.3``), ``API.md "Server"``, and the generated vectors under ``shared/vectors/``. This script turns each of
them into a path from the repository root, e.g. ``(protocol.md B5)`` -> ``(docs/protocol/socketio.md#events-and-acks)``,
using the table ``docs/protocol/citations.tsv`` (old label, new target, title).

Usage::

    scripts/rewrite_citations.py            # dry run: print every rewrite and the counts, change nothing
    scripts/rewrite_citations.py --apply    # rewrite the files in place
    scripts/rewrite_citations.py --check    # list citations of files outside the repository; exit 1 if any

Only comments and docstrings of ``*.py`` files are read (string literals that are data, such as test ids,
are left alone). How a citation is recognised:

* an explicit file (``protocol.md``, ``adapters.md``, ``API.md``, ``DESIGN.md``, ``style-anchors.md``, with any
  ``/work/``, ``../``, ``shared/``, ``spec/`` prefix, optionally in double backquotes, or the word ``spec``)
  followed by labels separated by ``,``, ``/``, ``and``, with ranges such as ``B2-B4`` or ``§5-§7``;
* a bare label: ``A1``...``D9`` as listed in the table, ``Part A``...``Part E``, ``E<n>`` (an item of the old
  "Part E" list), ``§n`` (a section of the old cluster notes).

Two kinds of bare labels are context dependent and handled so:

* ``§n`` in a file that mentions ``RFC`` but not ``adapters.md`` is an RFC section, never rewritten; nor is a
  ``§n`` with ``RFC`` earlier on the same line;
* ``E1``...``E15`` in :data:`VECTOR_E_FILES` are the ids of the Engine.IO example tables (they still exist, in
  ``docs/protocol/engineio.md#examples``), not items of "Part E", and are left as they are.

A file holding the line ``# rewrite-citations: skip-file`` is not read (this script and its tests quote old
citations on purpose).

A citation group that holds a label the table does not know (``DESIGN.md``, ``protocol.md A14``, ...) is left
untouched and reported as "cannot map".
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# rewrite-citations: skip-file

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TSV = ROOT / "docs" / "protocol" / "citations.tsv"
DEFAULT_TARGETS = ("src", "tests")
SKIP_FILE = "# rewrite-citations: skip-file"
#: The project's line length (ruff's ``line-length``); longer trailing comments move above their code.
LINE_LENGTH = 110

#: Files whose bare ``E1``..``E15`` are example ids of the Engine.IO tables, not "Part E" items.
VECTOR_E_FILES = frozenset(
    {
        "tests/unit/test_engineio_packet.py",
        "tests/unit/test_engineio_session.py",
        "tests/component/test_engine_websocket.py",
    }
)

_FILE = r"(?P<file>protocol|adapters|API|DESIGN|style-anchors)\.md"
_PREFIX = r"(?:/work/)?(?:\.\./)*(?:shared/)?(?:spec/)?"
_VECTOR = r"(?:/work/shared/|shared/|\.\./)vectors/(?P<vector>\w+)\.json"
_START = re.compile(
    r"(?P<bt>``)?(?<![\w./-])(?:" + _PREFIX + _FILE + r"|" + _VECTOR + r")(?(bt)``)"
    r"|(?P<spec>\bspec\s+)(?=(?:Part\s+)?[A-E]\d|Part\s+[A-E]\b)"
    r"|(?<![\w§.#/-])(?P<bare>Part\s+[A-E]\b|[A-E]\d{1,2}(?:\.\d{1,2})?\b|§\d+(?:\.\d+)*)"
)
# One label inside a group. ``Part`` before a regular label (``Part D6``) is dropped.
_LABEL = re.compile(
    r"(?:Part\s+(?=[A-D]\d))?(?P<reg>[A-D]\d{1,2}(?:\.\d{1,2})?)(?![\w.]\w)"
    r"|Part\s+E\s+(?P<items>\d{1,2}(?:\s*[-–]\s*\d{1,2})?(?:\s*,\s*\d{1,2}(?:\s*[-–]\s*\d{1,2})?)*)\b"
    r"|Part\s+(?P<part>[A-E])\b"
    r"|(?P<e>E\d{1,2})\b"
    r"|(?P<sec>§\d+(?:\.\d+)*)"
)
# A part letter alone (``D5 and E``, ``B5-B8 and C``), only after another label and only before punctuation.
_LONE = re.compile(r"(?P<lone>[A-E])(?=[).,;:]|$)", re.MULTILINE)
_RANGE = re.compile(r"\s*[-–]\s*(?P<end>(?:[A-E]|§)?\d+)\b")
_SEP = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*/\s*")
_SECTION = re.compile(r"\s*,?\s*\"(?P<title>[^\"\n]+)\"")
_HEX = re.compile(r"[0-9A-Fa-f]{2}")


@dataclass(frozen=True, slots=True)
class Rewrite:
    """One citation group that is (or would be) replaced."""

    path: str
    line: int
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Unmapped:
    """One citation group that names something the table does not know."""

    path: str
    line: int
    text: str
    missing: tuple[str, ...]


@dataclass(slots=True)
class FileResult:
    """What rewriting one file gives: the new source and what changed or could not be mapped."""

    source: str
    rewrites: list[Rewrite] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)


def load_table(path: Path) -> dict[str, str]:
    """Read ``citations.tsv``: ``old label <TAB> new target <TAB> title``; ``#`` starts a comment line."""
    table: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValueError(f"{path}:{number}: expected 'old label<TAB>new target[<TAB>title]'")
        if parts[0] in table:
            raise ValueError(f"{path}:{number}: {parts[0]!r} appears twice")
        table[parts[0]] = parts[1]
    return table


@dataclass(frozen=True, slots=True)
class Context:
    """What decides the meaning of bare labels in one file."""

    path: str
    rfc_file: bool
    vector_e: bool

    @classmethod
    def for_file(cls, path: str, source: str) -> Context:
        return cls(
            path=path,
            rfc_file="RFC" in source and "adapters.md" not in source,
            vector_e=path in VECTOR_E_FILES,
        )


def _expand(first: str, end: str) -> list[str]:
    """``B2`` .. ``4`` (or ``B4``) -> ``B2 B3 B4``; ``§5`` .. ``§7`` -> ``§5 §6 §7``; sub-sections do not expand."""
    head = first.rstrip("0123456789")
    if "." in first or not first[len(head) :]:
        return [first]
    low, high = int(first[len(head) :]), int(end.lstrip("ABCDE§"))
    if not low < high <= low + 30:
        return [first]
    return [f"{head}{n}" for n in range(low, high + 1)]


def _items(text: str) -> list[int]:
    """``9-14, 26`` -> ``[9, ..., 14, 26]``."""
    numbers: list[int] = []
    for piece in text.split(","):
        low, _, high = piece.strip().replace("–", "-").partition("-")
        numbers.extend(range(int(low), int(high or low) + 1))
    return numbers


def _near_hex(text: str, start: int, end: int) -> bool:
    """Whether a two-character label sits among hex byte pairs (``ED A0 80``), so it is data, not a label."""
    before = text[max(0, start - 3) : start]
    after = text[end : end + 3]
    return bool(
        (len(before) == 3 and before[2] == " " and _HEX.fullmatch(before[:2]))
        or (len(after) == 3 and after[0] == " " and _HEX.fullmatch(after[1:]))
    )


def _qualified(text: str, end: int, key: str, table: dict[str, str]) -> str:
    """``key`` made more precise by the words that follow the label, when the table has such a row.

    ``B4 case 3`` has a row of its own (``protocol.md B4 case 3``) because that case has its own anchor. The
    words stay in the text after the link: the qualifier only picks a better target.
    """
    best = key
    for candidate in table:
        if candidate.startswith(key + " "):
            words = candidate[len(key) :]
            follows = text[end : end + len(words) + 1]
            if (
                follows.startswith(words)
                and not follows[len(words) :].isdigit()
                and len(candidate) > len(best)
            ):
                best = candidate
    return best


@dataclass(slots=True)
class _Group:
    start: int
    end: int
    keys: list[str]
    missing: list[str]
    backquoted: bool


def _parse_group(text: str, m: re.Match[str], ctx: Context, table: dict[str, str]) -> _Group | None:
    """The citation group starting at the match ``m`` of :data:`_START`, or None when it is no citation."""
    keys: list[str] = []
    missing: list[str] = []
    backquoted = m.group("bt") is not None
    explicit: str | None = None  # the file named before the labels, if any
    pos = m.end()
    if m.group("vector"):
        key = f"vectors/{m.group('vector')}.json"
        (keys if key in table else missing).append(key)
        return _Group(m.start(), pos, keys, missing, backquoted)
    if m.group("file"):
        explicit = f"{m.group('file')}.md"
        if explicit in ("API.md", "DESIGN.md", "style-anchors.md"):
            section = _SECTION.match(text, pos)
            key = explicit
            if section:
                key = f'{explicit} "{section.group("title")}"'
                pos = section.end()
            (keys if key in table else missing).append(key)
            return _Group(m.start(), pos, keys, missing, backquoted)
        gap = re.compile(r"\s+").match(text, pos)
        if gap and _LABEL.match(text, gap.end()):
            pos = gap.end()
        else:  # the file alone
            (keys if explicit in table else missing).append(explicit)
            return _Group(m.start(), pos, keys, missing, backquoted)
    elif m.group("spec"):
        explicit = "protocol.md"
        pos = m.end()
    else:
        pos = m.start("bare")
    family_default = "adapters.md" if explicit == "adapters.md" else "protocol.md"

    first = True
    while True:
        label = _LABEL.match(text, pos)
        lone = None if (label or first) else _LONE.match(text, pos)
        if label is None and lone is None:
            break
        found: list[str] = []
        if lone is not None:
            found.append(f"protocol.md Part {lone.group('lone')}")
            end = lone.end()
        else:
            assert label is not None
            end = label.end()
            if label.group("reg"):
                reg = label.group("reg")
                names = [reg]
                rng = _RANGE.match(text, end)
                if rng and "." not in reg:
                    names = _expand(reg, rng.group("end"))
                    end = rng.end()
                if explicit is None and (
                    f"protocol.md {reg}" not in table
                    or (len(reg) == 2 and _near_hex(text, label.start(), end))
                ):
                    if first:
                        return None  # a bare token that is not one of the old labels (hex, a name, ...)
                    break
                if len(names) == 1:
                    names = [
                        _qualified(text, end, f"{family_default} {reg}", table)[len(family_default) + 1 :]
                    ]
                found.extend(f"{family_default} {name}" for name in names)
            elif label.group("items"):
                found.extend(f"protocol.md Part E {n}" for n in _items(label.group("items")))
            elif label.group("part"):
                found.append(f"protocol.md Part {label.group('part')}")
            elif label.group("e"):
                number = int(label.group("e")[1:])
                rng = _RANGE.match(text, end)
                numbers = [number]
                if rng:
                    numbers = [int(n[1:]) for n in _expand(label.group("e"), rng.group("end"))]
                    end = rng.end()
                if explicit is None and (ctx.vector_e and number <= 15):
                    if first:
                        return None  # an example id of the Engine.IO tables
                    break
                if explicit is None and not 1 <= number <= 26:
                    if first:
                        return None
                    break
                found.extend(f"protocol.md Part E {n}" for n in numbers)
            else:
                sec = label.group("sec")
                if explicit is None:
                    line_start = text.rfind("\n", 0, label.start()) + 1
                    if ctx.rfc_file or "RFC" in text[line_start : label.start()]:
                        if first:
                            return None  # a section of an RFC
                        break
                elif explicit != "adapters.md":
                    if first:
                        return None
                    break
                names = [sec]
                rng = _RANGE.match(text, end)
                if rng and "." not in sec:
                    names = _expand(sec, rng.group("end"))
                    end = rng.end()
                found.extend(f"adapters.md {name}" for name in names)
        for key in found:
            (keys if key in table else missing).append(key)
        pos = end
        first = False
        sep = _SEP.match(text, pos)
        if sep is None or not (_LABEL.match(text, sep.end()) or _LONE.match(text, sep.end())):
            break
        pos = sep.end()
    if first:
        # A file followed by something that is not a label after all.
        if explicit is None:
            return None
        (keys if explicit in table else missing).append(explicit)
        return _Group(m.start(), m.end(), keys, missing, backquoted)
    return _Group(m.start(), pos, keys, missing, backquoted)


def rewrite_text(text: str, ctx: Context, table: dict[str, str], first_line: int = 1) -> FileResult:
    """Rewrite the citations in one comment or docstring; ``first_line`` numbers its first line."""
    result = FileResult(text)
    out: list[str] = []
    pos = 0
    search = 0
    while True:
        m = _START.search(text, search)
        if m is None:
            break
        group = _parse_group(text, m, ctx, table)
        if group is None:
            search = m.end()
            continue
        line = first_line + text.count("\n", 0, group.start)
        old = text[group.start : group.end]
        if group.missing:
            result.unmapped.append(Unmapped(ctx.path, line, old, tuple(group.missing)))
        else:
            targets = list(dict.fromkeys(table[key] for key in group.keys))
            quote = "``" if group.backquoted else ""
            new = ", ".join(f"{quote}{target}{quote}" for target in targets)
            out.append(text[pos : group.start])
            out.append(new)
            pos = group.end
            result.rewrites.append(Rewrite(ctx.path, line, old, new))
        search = group.end
    out.append(text[pos:])
    result.source = "".join(out)
    return result


def _docstring_spans(tree: ast.AST) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Start and end positions of every string statement: module, class, function and attribute docstrings."""
    spans = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            and node.end_lineno is not None
            and node.end_col_offset is not None
        ):
            spans.append(((node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)))
    return spans


def _prose_tokens(source: str) -> Iterator[tokenize.TokenInfo]:
    """The comment tokens and the docstring tokens of ``source``."""
    spans = _docstring_spans(ast.parse(source))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        is_docstring = token.type == tokenize.STRING and any(lo <= token.start < hi for lo, hi in spans)
        if token.type == tokenize.COMMENT or is_docstring:
            yield token


def rewrite_source(
    source: str, path: str, table: dict[str, str], line_length: int = LINE_LENGTH
) -> FileResult:
    """Rewrite every citation in the comments and docstrings of one Python source.

    A comment after code that the rewrite would push past ``line_length`` moves to its own line above the code,
    with the same indentation, so that the formatter has no reason to split the statement around it.
    """
    ctx = Context.for_file(path, source)
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    result = FileResult(source)
    pieces: list[str] = []
    pos = 0
    for token in _prose_tokens(source):
        done = rewrite_text(token.string, ctx, table, token.start[0])
        result.rewrites.extend(done.rewrites)
        result.unmapped.extend(done.unmapped)
        if done.source == token.string:
            continue
        line_start = starts[token.start[0] - 1]
        begin = line_start + token.start[1]
        finish = starts[token.end[0] - 1] + token.end[1]
        code = source[line_start:begin]
        too_long = len(token.line.rstrip("\r\n")) - len(token.string) + len(done.source) > line_length
        if token.type == tokenize.COMMENT and code.strip() and too_long and pos <= line_start:
            indent = code[: len(code) - len(code.lstrip())]
            pieces.append(source[pos:line_start])
            pieces.append(f"{indent}{done.source}\n{code.rstrip()}")
        else:
            pieces.append(source[pos:begin])
            pieces.append(done.source)
        pos = finish
    pieces.append(source[pos:])
    result.source = "".join(pieces)
    return result


def python_files(root: Path, targets: Iterable[str]) -> Iterator[Path]:
    """The ``*.py`` files under each target, in a stable order, without ``node_modules``."""
    for target in targets:
        base = root / target
        paths = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for path in paths:
            if "node_modules" not in path.parts:
                yield path


def run(
    root: Path, targets: Sequence[str], table: dict[str, str], apply: bool, line_length: int = LINE_LENGTH
) -> tuple[list[Rewrite], list[Unmapped]]:
    """Rewrite (or only examine, when ``apply`` is false) every file; return what was found."""
    rewrites: list[Rewrite] = []
    unmapped: list[Unmapped] = []
    for path in python_files(root, targets):
        relative = path.relative_to(root).as_posix()
        source = path.read_text(encoding="utf-8")
        if any(line.strip() == SKIP_FILE for line in source.splitlines()):
            continue
        try:
            result = rewrite_source(source, relative, table, line_length)
        except (SyntaxError, tokenize.TokenError) as exc:
            unmapped.append(Unmapped(relative, 0, f"(not parsed: {exc})", ()))
            continue
        rewrites.extend(result.rewrites)
        unmapped.extend(result.unmapped)
        if apply and result.source != source:
            path.write_text(result.source, encoding="utf-8")
    return rewrites, unmapped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--apply", action="store_true", help="rewrite the files in place")
    mode.add_argument(
        "--check",
        action="store_true",
        help="list remaining citations of files outside the repository; exit 1 if any",
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the repository root (default: this checkout)"
    )
    parser.add_argument(
        "--table", type=Path, default=None, help="the mapping (default: docs/protocol/citations.tsv)"
    )
    parser.add_argument("--quiet", action="store_true", help="print the counts only")
    parser.add_argument(
        "--line-length", type=int, default=LINE_LENGTH, help="longer trailing comments move up"
    )
    parser.add_argument(
        "targets", nargs="*", default=list(DEFAULT_TARGETS), help="directories or files (default: src tests)"
    )
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    table = load_table(args.table or root / "docs" / "protocol" / "citations.tsv")
    rewrites, unmapped = run(root, args.targets, table, apply=args.apply, line_length=args.line_length)

    if not args.quiet:
        for item in rewrites:
            verb = "remaining" if args.check else "rewrote" if args.apply else "would rewrite"
            print(f"{item.path}:{item.line}: {verb}: {item.old!r} -> {item.new!r}")
        for miss in unmapped:
            why = ", ".join(miss.missing) or "unreadable"
            print(f"{miss.path}:{miss.line}: cannot map: {miss.text!r} ({why})")
    files = len({item.path for item in rewrites})
    labels = sum(item.new.count(", ") + 1 for item in rewrites)
    action = "remaining" if args.check else "rewritten" if args.apply else "to rewrite"
    print(
        f"{len(rewrites)} citations ({labels} links) in {files} files {action}; {len(unmapped)} cannot be mapped",
        file=sys.stderr,
    )
    if args.check:
        return 1 if rewrites or unmapped else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
