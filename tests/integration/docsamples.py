"""Every code sample of the documentation, found, sorted and run as its reader would run it.

A sample is a fenced block of ``README.md`` or ``docs/**/*.md``. The line before a block (blank lines aside) may
be an HTML comment that says what the block is; Markdown renders it as nothing::

    <!-- sample: server getting-started -->          a program that serves (app.py); started each way below
    <!-- sample: alt getting-started/listen -->      another way to write part of it (composed into the server)
    <!-- sample: client getting-started -->          a Python program run against each started server ...
    <!-- sample: output getting-started -->          ... whose stdout must be exactly this block
    <!-- sample: browser getting-started -->         an HTML page, opened in headless Chromium against the
                                                      server; its ``#log`` items must read as the block
                                                      ``output getting-started/browser`` says
    <!-- sample: command getting-started -->         a shell block of one command line that starts the server
    <!-- sample: script clusters/redis -->           a program that runs to its end (a scenario runs it)
    <!-- sample: pytest testing/test_chat -->        a file of a pytest project (here ``test_chat.py``; a
                                                      ``toml`` block is ``NAME.toml``): the files of one
                                                      name are written into a folder where ``pytest`` must
                                                      pass (aiosocketio's pytest plugin loaded, as installed)
    <!-- sample: fragment -- why it is not run -->   explicitly not run; the reason is required

``server`` and ``alt`` take ``ways=python,uvicorn,...`` (see :data:`apps.WAYS`; ``ways=none`` for a program that only
its ``command`` blocks start); by default a server is started
with ``python app.py``, and also with ``uvicorn app:app`` when it has a module-level ``app``; an ``alt`` with
``python app.py`` only. A program that has neither a client nor a browser page must be checked by a scenario of
the test module (clusters need two servers and the emitter); one that is checked by nothing is an error.

:func:`catalog` refuses a ``python`` block with no marker (a sample must never be skipped silently), a marker
that does not parse, a fragment without a reason, and a name with a client but no server. The samples are
written for readers, so nothing in them is test-specific: :func:`localise` only changes the addresses (port
3000 and 3001 become free ports, Redis's and PostgreSQL's the test's own).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from apps import REPO, WAYS, compose, run_program, start_app
from conftest import free_port, scaled

DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]

KINDS = ("server", "alt", "client", "output", "browser", "command", "script", "pytest", "fragment")
#: The languages a marked block of each kind is written in.
LANGUAGES = {
    "server": ("python",),
    "alt": ("python",),
    "client": ("python",),
    "script": ("python",),
    "output": ("text",),
    "browser": ("html",),
    "command": ("sh",),
    "pytest": ("python", "toml"),
}

_FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^\n`]*)\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
_MARKER = re.compile(r"<!--\s*sample:\s*(?P<body>.*?)\s*-->\s*$", re.S)


class SampleError(AssertionError):
    """The documentation's samples are not all accounted for (the message lists every problem)."""


@dataclass
class Block:
    """One fenced block: where it is, its language, its marker (``kind``, ``name``, options) and its text."""

    file: Path
    line: int
    language: str
    code: str
    kind: str | None = None
    name: str = ""
    variant: str = ""
    options: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(REPO) if self.file.is_relative_to(REPO) else self.file}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, each with the marker just before it (if any)."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        language = match.group("info").strip().split(" ")[0].lower()
        indent = len(match.group("indent"))
        code = "\n".join(row[indent:] for row in match.group("code").splitlines()) + "\n"
        block = Block(path, line, language, code)
        before = text[: match.start()].rstrip()
        marker = _MARKER.search(before[before.rfind("<!--") :]) if "<!--" in before else None
        if marker is not None and before.endswith("-->"):
            _parse_marker(block, marker.group("body"))
        found.append(block)
    return found


def _parse_marker(block: Block, body: str) -> None:
    words, _, reason = body.partition(" -- ")
    kind, *rest = words.split()
    block.kind = kind
    block.reason = reason.strip()
    if rest:
        block.name, _, block.variant = rest[0].partition("/")
    for option in rest[1:]:
        key, _, value = option.partition("=")
        block.options[key] = value


@dataclass
class Program:
    """The samples that share one name: a server (and its alternatives), what checks it, how else it starts."""

    name: str
    server: Block | None = None
    alts: list[Block] = field(default_factory=list)
    client: Block | None = None
    output: Block | None = None
    browser: Block | None = None
    browser_output: Block | None = None
    commands: list[Block] = field(default_factory=list)
    scripts: list[Block] = field(default_factory=list)
    #: The files of a pytest project (``pytest`` blocks), named by their variant.
    pytest_files: list[Block] = field(default_factory=list)

    def source(self, variant: str = "") -> str:
        """The server's program, or the server with the alternative ``variant`` composed into it."""
        assert self.server is not None
        if not variant:
            return self.server.code
        (alt,) = [a for a in self.alts if a.variant == variant]
        return compose(self.server.code, alt.code)

    def ways(self, variant: str = "") -> tuple[str, ...]:
        block = self.server if not variant else next(a for a in self.alts if a.variant == variant)
        assert block is not None
        if "ways" in block.options:  # ``ways=none``: only the documented commands start it
            return tuple(way for way in block.options["ways"].split(",") if way != "none")
        if variant:
            return ("python",)
        has_app = re.search(r"^app\s*=", block.code, re.M) is not None
        return ("python", "uvicorn") if has_app else ("python",)

    def runs(self) -> list[Run]:
        """Every way this program is started: each way of the server and of each alternative, each command."""
        found = [Run(self.name, "", way) for way in self.ways()]
        for alt in self.alts:
            found += [Run(self.name, alt.variant, way) for way in self.ways(alt.variant)]
        found += [Run(self.name, "", f"command{i}", command) for i, command in enumerate(self.commands)]
        return found


@dataclass(frozen=True)
class Run:
    """One start of a program: ``way`` (one of :data:`apps.WAYS`), or a documented command."""

    name: str
    variant: str
    way: str
    command: Block | None = None

    @property
    def id(self) -> str:
        return "/".join(filter(None, (self.name, self.variant))) + f"[{self.way}]"


def catalog(paths: list[Path], *, scenarios: frozenset[str] = frozenset()) -> dict[str, Program]:
    """The programs of the samples in ``paths``; raise :class:`SampleError` listing every block that is neither
    run nor explicitly marked as a fragment, and every other inconsistency. ``scenarios``: the names the test
    module checks with a scenario of its own."""
    problems: list[str] = []
    programs: dict[str, Program] = {}
    for path in paths:
        for block in blocks(path):
            if block.kind is None:
                if block.language == "python":
                    problems.append(
                        f"{block.where}: a python block with no <!-- sample: ... --> marker before it (mark it "
                        "as a server, client, script, alt or `fragment -- reason`)"
                    )
                continue
            if block.kind not in KINDS:
                problems.append(f"{block.where}: unknown sample kind {block.kind!r} (one of {KINDS})")
                continue
            if block.kind == "fragment":
                if not block.reason:
                    problems.append(
                        f"{block.where}: a fragment needs a reason: <!-- sample: fragment -- why -->"
                    )
                continue
            if block.language not in LANGUAGES[block.kind]:
                problems.append(f"{block.where}: a {block.kind} is a {LANGUAGES[block.kind][0]} block")
                continue
            if not block.name:
                problems.append(f"{block.where}: a {block.kind} needs a name")
                continue
            _file(programs.setdefault(block.name, Program(block.name)), block, problems)
    for name, program in programs.items():
        if program.server is None and (program.alts or program.client or program.browser or program.commands):
            problems.append(f"sample {name!r}: no `server {name}` block for its other blocks")
        if program.output is not None and program.client is None:
            problems.append(f"sample {name!r}: an output with no client")
        if program.browser is not None and program.browser_output is None:
            problems.append(f"sample {name!r}: a browser page with no `output {name}/browser` to check it by")
        if program.pytest_files:
            if program.server is not None:
                problems.append(f"sample {name!r}: a pytest project and a server cannot share a name")
            if not any(
                b.variant.startswith("test_") and b.language == "python" for b in program.pytest_files
            ):
                problems.append(f"sample {name!r}: a pytest project with no test_*.py file")
        checked = program.client is not None or program.browser is not None or name in scenarios
        checked = checked or bool(program.pytest_files)
        if (program.server is not None or program.scripts) and not checked:
            problems.append(f"sample {name!r}: nothing checks it (no client, no browser page, no scenario)")
    for name in scenarios - set(programs):
        problems.append(f"the test has a scenario for {name!r}, and the documentation no such sample")
    if problems:
        raise SampleError("\n".join(problems))
    return programs


def _file(program: Program, block: Block, problems: list[str]) -> None:
    def single(attribute: str) -> None:
        if getattr(program, attribute) is not None:
            problems.append(f"{block.where}: a second {block.kind} for {program.name!r}")
        setattr(program, attribute, block)

    if block.kind == "server":
        single("server")
    elif block.kind == "alt":
        if not block.variant or any(a.variant == block.variant for a in program.alts):
            problems.append(f"{block.where}: an alt needs a name of its own: alt {program.name}/VARIANT")
        program.alts.append(block)
    elif block.kind == "client":
        single("client")
    elif block.kind == "output":
        single("browser_output" if block.variant == "browser" else "output")
    elif block.kind == "browser":
        single("browser")
    elif block.kind == "command":
        if len([line for line in block.code.splitlines() if line.strip()]) != 1:
            problems.append(f"{block.where}: a command block is one command line")
        program.commands.append(block)
    elif block.kind == "script":
        program.scripts.append(block)
    elif block.kind == "pytest":
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", block.variant) or any(
            b.variant == block.variant and b.language == block.language for b in program.pytest_files
        ):
            problems.append(
                f"{block.where}: a pytest file needs a file name of its own: pytest {program.name}/FILE"
            )
        program.pytest_files.append(block)


# -- running ------------------------------------------------------------------------------------------------


@dataclass
class Services:
    """The addresses the samples name, and the test's own: ``127.0.0.1:6379`` (Redis), ``127.0.0.1:5432``."""

    replacements: dict[str, str] = field(default_factory=dict)


def localise(source: str, ports: dict[int, int], services: Services) -> str:
    """``source`` with the documented ports (3000, 3001) made ``ports[...]`` and the services' addresses made
    the test's own: the only change a sample ever gets."""
    for old, new in services.replacements.items():
        source = source.replace(old, new)
    for documented, actual in ports.items():
        source = re.sub(rf"(?<![\d.]){documented}(?!\d)", str(actual), source)
    return source


def needs(program: Program) -> set[str]:
    """The services ``program``'s samples name: ``redis``, ``postgres``."""
    text = "".join(
        b.code for b in (program.server, *program.alts, program.client, *program.scripts) if b is not None
    )
    return {name for name, port in (("redis", "6379"), ("postgres", "5432")) if f"127.0.0.1:{port}" in text}


@contextlib.contextmanager
def start(program: Program, run: Run, services: Services, port: int | None = None) -> Iterator[int]:
    """Start ``run`` of ``program`` on a free port (or ``port``); yields the port its clients use (3000's)."""
    port = port or free_port()
    # Under an ASGI server the program's own port differs from the one served, so that a program that started a
    # server of its own at import would not be the one answering.
    # A documented command names the port itself (``--port 3000``), or is ``python app.py`` (the program's own).
    own = port if run.way == "python" or run.command is not None else free_port()
    source = localise(program.source(run.variant), {3000: own}, services)
    shell = None
    if run.command is not None:
        shell = localise(
            next(line for line in run.command.code.splitlines() if line.strip()), {3000: port}, services
        )
        shell = shell.split(" #")[0].strip()
        assert shlex.split(shell), shell
    with start_app(source, run.way, port, shell=shell):
        yield port


def run_client(program: Program, port: int, services: Services) -> None:
    """Run ``program``'s client against the server on ``port``; its output must be the documented one."""
    assert program.client is not None
    output = run_program(localise(program.client.code, {3000: port}, services), timeout=30.0)
    if program.output is not None:
        expected = program.output.code
        assert output.strip() == expected.strip(), (
            f"{program.client.where}: the client printed\n{output}\nand {program.output.where} says\n{expected}"
        )


def _plugin_installed() -> bool:
    """Whether aiosocketio's pytest plugin is registered by an installed entry point (else it is named with -p)."""
    return any(
        entry.value == "aiosocketio.testing.pytest_plugin"
        for entry in importlib.metadata.entry_points(group="pytest11")
    )


def run_pytest(program: Program, *, timeout: float = 60.0) -> str:
    """Write ``program``'s pytest files into a new folder and run ``python -m pytest`` there: every test must pass
    (none skipped); returns pytest's output."""
    with tempfile.TemporaryDirectory(prefix="aiosocketio-pytest-") as name:
        folder = Path(name)
        for block in program.pytest_files:
            suffix = ".toml" if block.language == "toml" else ".py"
            (folder / f"{block.variant}{suffix}").write_text(block.code, encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), name]), PYTHONUNBUFFERED="1")
        env.pop("PYTEST_ADDOPTS", None)
        plugin = [] if _plugin_installed() else ["-p", "aiosocketio.testing.pytest_plugin"]
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", *plugin],
            cwd=name,
            env=env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=scaled(timeout),
            check=False,
        )
    output = done.stdout.decode() + done.stderr.decode()
    where = program.pytest_files[0].where
    assert done.returncode == 0, f"{where}: pytest failed:\n{output}"
    assert re.search(r"\d+ passed", output), f"{where}: no test ran:\n{output}"
    assert not re.search(r"\d+ (skipped|xfailed|xpassed|warnings?)\b", output), (
        f"{where}: not a clean pass:\n{output}"
    )
    return output


async def check(
    program: Program, run: Run, services: Services, browser: Callable[..., object] | None
) -> None:
    """Start ``run`` and check it with the program's client, and with its browser page (on ``python app.py``)."""
    with start(program, run, services) as port:
        if program.client is not None:
            await asyncio.to_thread(run_client, program, port, services)
        if program.browser is not None and browser is not None and run.way == "python" and not run.variant:
            assert program.browser_output is not None
            expected = [line for line in program.browser_output.code.splitlines() if line.strip()]
            with tempfile.TemporaryDirectory(prefix="aiosocketio-page-") as folder:
                page = Path(folder) / "index.html"
                page.write_text(localise(program.browser.code, {3000: port}, services), encoding="utf-8")
                await browser(page.as_uri(), expected)  # type: ignore[misc]


__all__ = [
    "DOCS",
    "WAYS",
    "Block",
    "Program",
    "Run",
    "SampleError",
    "Services",
    "blocks",
    "catalog",
    "check",
    "run_pytest",
]
