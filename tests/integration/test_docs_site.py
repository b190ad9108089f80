"""The documentation site as a reader gets it: built by mkdocs from ``docs/``, every public name with a reference
entry, no dead internal link, and the pages rendered by headless Chromium.

The site is built once per module (``mkdocs build --strict``, as ``scripts/test`` does) into a temporary folder.
Screenshots of the home page and of the API reference are written to ``tests/artifacts/docs/`` (or the folder
``AIOSOCKETIO_TEST_ARTIFACTS`` names), which CI keeps with the test results; the folder is not committed.
"""

from __future__ import annotations

import contextlib
import functools
import html.parser
import http.server
import importlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import griffe
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("AIOSOCKETIO_TEST_ARTIFACTS", ROOT / "tests" / "artifacts")) / "docs"
CHROMIUM = os.environ.get("AIOSOCKETIO_CHROMIUM", "/usr/bin/chromium")

# The modules whose public names (their ``__all__``) the reference must cover, each entry under that name.
REFERENCED_MODULES = (
    "aiosocketio",
    "aiosocketio.adapters",
    "aiosocketio.adapters.cluster",
    "aiosocketio.adapters.redis",
    "aiosocketio.adapters.redis_streams",
    "aiosocketio.adapters.postgres",
    "aiosocketio.adapters.workers",
    "aiosocketio.emitter",
    "aiosocketio.parsers",
    "aiosocketio.admin",
    "aiosocketio.engineio",
    "aiosocketio.web",
    "aiosocketio.testing",
    "aiosocketio.eventmaps",
    "aiosocketio.validation",
)
NOT_REFERENCED = {"aiosocketio.__version__"}  # a string, shown on the home page


def public_names() -> list[str]:
    names: list[str] = []
    for module_name in REFERENCED_MODULES:
        module = importlib.import_module(module_name)
        names += [
            f"{module_name}.{name}"
            for name in module.__all__
            if f"{module_name}.{name}" not in NOT_REFERENCED
        ]
    return names


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    mkdocs = Path(sys.executable).with_name("mkdocs")
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out


class _Anchors(html.parser.HTMLParser):
    """Collects a page's element ids and the targets of its links."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag in ("a", "link") and found.get("href"):
            self.links.append(str(found["href"]))
        if tag in ("img", "script") and found.get("src"):
            self.links.append(str(found["src"]))


@functools.cache
def read_page(path: Path) -> _Anchors:
    page = _Anchors()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def reference_ids(site: Path) -> set[str]:
    ids: set[str] = set()
    for page in (site / "reference").rglob("index.html"):
        ids |= read_page(page).ids
    return ids


def test_every_public_name_has_a_reference_entry(site: Path) -> None:
    # A name exported by several modules (``aiosocketio.Request`` is ``aiosocketio.web.Request``) needs one entry.
    documented = set()
    for entry in reference_ids(site):
        with contextlib.suppress(Exception):
            documented.add(_resolve(entry).path)
    missing = [name for name in public_names() if _resolve(name).path not in documented]
    assert not missing, (
        f"no entry in docs/reference/ for {missing}: add a `::: name` line to a reference page"
    )


def _resolve(path: str) -> griffe.Object:
    module_name, _, name = path.rpartition(".")
    found = (
        PACKAGE[module_name.removeprefix("aiosocketio").lstrip(".")]
        if module_name != "aiosocketio"
        else PACKAGE
    )
    member = found[name]
    return member.final_target if member.is_alias else member


PACKAGE = griffe.load("aiosocketio", search_paths=[str(ROOT / "src")], resolve_aliases=True)


@pytest.mark.parametrize("path", public_names())
def test_every_public_name_is_described_and_typed(path: str) -> None:
    target = _resolve(path)
    assert target.docstring is not None, f"{path} has no docstring"
    assert target.docstring.value.strip(), f"{path} has an empty docstring"
    if isinstance(target, griffe.Class):
        function: griffe.Function | None = target.members.get("__init__")  # type: ignore[assignment]
        if function is not None and function.is_alias:
            function = None  # inherited from a base class outside the package
    elif isinstance(target, griffe.Function):
        function = target
    else:
        return
    if function is None:
        return
    untyped = [
        parameter.name
        for parameter in function.parameters
        if parameter.name not in ("self", "cls") and parameter.annotation is None
    ]
    assert not untyped, f"{path}: parameters without a type: {untyped}"


# The files whose public members must each have a docstring wherever the reference renders them: a member
# (method, property, attribute; an inherited one counts where it is defined) of an object that a ``::: name``
# entry of docs/reference/ shows is checked when it is defined in one of these modules or packages. A module
# that a reference page starts to render belongs here too.
MEMBER_DOCSTRING_MODULES = (
    "aiosocketio._emitter",  # EventEmitter: on/off/listeners of the server, engine, sockets and adapters
    "aiosocketio.adapters",
    "aiosocketio.admin",
    "aiosocketio.broadcast",
    "aiosocketio.clock",
    "aiosocketio.emitter",
    "aiosocketio.engineio.handshake",  # ErrorCode
    "aiosocketio.engineio.server",
    "aiosocketio.engineio.session",  # CloseReason
    "aiosocketio.engineio.socket",
    "aiosocketio.eventmaps",
    "aiosocketio.exceptions",
    "aiosocketio.namespace",
    "aiosocketio.parsers",
    "aiosocketio.server",
    "aiosocketio.socket",
    "aiosocketio.testing",
    "aiosocketio.validation",
    "aiosocketio.web",
)


def reference_entries(folder: Path = ROOT / "docs" / "reference") -> list[tuple[str, list[str] | None]]:
    """Each ``::: name`` of the reference pages, with the ``members`` its options restrict it to (if any)."""
    entries: list[tuple[str, list[str] | None]] = []
    for page in sorted(folder.glob("*.md")):
        lines = page.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if not line.startswith("::: "):
                continue
            block = []
            for following in lines[number + 1 :]:
                if following.strip() and not following.startswith(" "):
                    break
                block.append(following)
            options = (yaml.safe_load("\n".join(block)) or {}).get("options", {})
            entries.append((line[4:].strip(), options.get("members")))
    return entries


def _covered(obj: griffe.Object, modules: tuple[str, ...]) -> bool:
    module = obj.module.path
    return any(module == name or module.startswith(name + ".") for name in modules)


def undocumented_rendered_members(
    package: griffe.Module, entries: list[tuple[str, list[str] | None]], modules: tuple[str, ...]
) -> list[str]:
    """The members the reference renders (as the mkdocs options select them: a module's ``__all__``, a class's
    public members, inherited ones included) that are defined in ``modules`` and have no docstring."""
    missing: set[str] = set()
    seen: set[str] = set()

    def visit(obj: griffe.Object | griffe.Alias, shown_as: str) -> None:
        target = obj.final_target if obj.is_alias else obj
        if target.path in seen:
            return
        seen.add(target.path)
        if _covered(target, modules) and not (target.docstring and target.docstring.value.strip()):
            where = f"{target.relative_filepath}:{target.lineno}"
            missing.add(f"{shown_as} (defined as {target.path}, {where})")
        if isinstance(target, griffe.Class):
            for name, member in target.all_members.items():
                if not name.startswith("_"):
                    visit(member, f"{shown_as}.{name}")

    for path, only in entries:
        relative = path.removeprefix(package.path).lstrip(".")
        found = package[relative] if relative else package
        target = found.final_target if found.is_alias else found
        if isinstance(target, griffe.Module):
            names = [str(name) for name in (target.exports or ())]
            if not names:  # no __all__: what the module defines itself
                names = [name for name, m in target.members.items() if not m.is_alias and not m.is_module]
            for name in only if only is not None else names:
                if not name.startswith("_"):
                    visit(target.members[name], f"{path}.{name}")
        else:
            visit(found, path)
    return sorted(missing)


def test_every_rendered_member_has_a_docstring() -> None:
    entries = reference_entries()
    assert len(entries) > 20, "the reference pages' ::: entries were not found"
    missing = undocumented_rendered_members(PACKAGE, entries, MEMBER_DOCSTRING_MODULES)
    assert not missing, "members the API reference shows without a docstring:\n" + "\n".join(missing)


def test_the_rendered_member_check_finds_an_undocumented_member(tmp_path: Path) -> None:
    """The check above is not vacuous: an undocumented method, an inherited undocumented property and an
    attribute without a docstring are reported, where a documented one is not."""
    package = tmp_path / "sample"
    package.mkdir()
    (package / "__init__.py").write_text(
        '''"""A package."""

__all__ = ["Child"]


class Base:
    """A base."""

    @property
    def size(self) -> int:
        return 1


class Child(Base):
    """A child."""

    def __init__(self) -> None:
        self.count = 0
        self.documented = 1
        """Documented."""

    def run(self) -> None:
        pass

    def _private(self) -> None:
        pass
'''
    )
    sample = griffe.load("sample", search_paths=[str(tmp_path)], resolve_aliases=True)
    missing = undocumented_rendered_members(sample, [("sample", None)], ("sample",))
    assert [entry.split(" ")[0] for entry in missing] == [
        "sample.Child.count",
        "sample.Child.run",
        "sample.Child.size",
    ]
    assert "defined as sample.Base.size" in missing[2]


# The classes of the Socket.IO layer whose every public member must say what it does: the reference renders
# each member of a class, inherited ones included, and one without a docstring shows as a bare signature.
SOCKETIO_LAYER_CLASSES = (
    "server.Server",
    "namespace.Namespace",
    "namespace.ParentNamespace",
    "socket.Socket",
    "socket.Handshake",
    "broadcast.BroadcastOperator",
    "broadcast.RemoteSocket",
    "broadcast.RemoteEmitter",
    "broadcast.FetchedSocket",
    "broadcast.AckEmitter",
    "client.Client",
    "clock.Clock",
    "clock.TimerHandle",
    "validation.Conversion",
)


def undocumented_members(package: griffe.Object | griffe.Alias, class_path: str) -> list[str]:
    """The public members of ``class_path`` (inside ``package``) without a docstring, each named where it is
    defined: an inherited member is checked where its base class defines it, and members inherited from
    outside the package (``Generic``, ``Protocol``) are not the package's to document."""
    missing: list[str] = []
    for name, member in package[class_path].all_members.items():
        if name.startswith("_"):
            continue
        try:
            target = member.final_target if member.is_alias else member
        except griffe.AliasResolutionError:
            continue  # an alias into a module that was not loaded: outside the package
        if target.package is not package:
            continue
        if target.docstring is None or not target.docstring.value.strip():
            missing.append(f"{class_path}.{name} (defined at {target.relative_filepath}:{target.lineno})")
    return missing


@pytest.mark.parametrize("class_path", SOCKETIO_LAYER_CLASSES)
def test_every_public_member_of_the_socketio_layer_has_a_docstring(class_path: str) -> None:
    missing = undocumented_members(PACKAGE, class_path)
    assert not missing, "public members without a docstring:\n" + "\n".join(missing)


def test_the_member_check_finds_an_undocumented_member(tmp_path: Path) -> None:
    """The check above is not vacuous: an undocumented method, property, attribute and inherited method are
    reported, a documented one and a private one are not."""
    package_dir = tmp_path / "docpkg"
    package_dir.mkdir()
    (package_dir / "__init__.py").write_text('"""A package."""\n')
    (package_dir / "base.py").write_text(
        '"""Base."""\n\n\nclass Base:\n    """Base."""\n\n    def inherited(self) -> None:\n        pass\n'
    )
    (package_dir / "child.py").write_text(
        '"""Child."""\n\nfrom docpkg.base import Base\n\n\nclass Child(Base):\n    """Child."""\n\n'
        "    def __init__(self) -> None:\n        self.bare = 1\n        self.told = 2\n"
        '        """Documented."""\n\n'
        "    def method(self) -> None:\n        pass\n\n"
        '    def documented(self) -> None:\n        """Documented."""\n\n'
        "    def _private(self) -> None:\n        pass\n\n"
        "    @property\n    def prop(self) -> int:\n        return 1\n"
    )
    package = griffe.load("docpkg", search_paths=[str(tmp_path)], resolve_aliases=True)
    missing = undocumented_members(package, "child.Child")
    assert sorted(entry.split(" ")[0] for entry in missing) == [
        "child.Child.bare",
        "child.Child.inherited",
        "child.Child.method",
        "child.Child.prop",
    ]


def test_no_dead_internal_link(site: Path) -> None:
    dead: list[str] = []
    for page_path in site.rglob("*.html"):
        for link in read_page(page_path).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue  # leaves the site: not ours to check offline
            if not parts.path:
                target = page_path
            elif parts.path.startswith("/"):  # the 404 page links from the root (no site_url is set)
                target = (site / unquote(parts.path).lstrip("/")).resolve()
            else:
                target = (page_path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                dead.append(f"{page_path.relative_to(site)} -> {link} (no such file)")
            elif (
                parts.fragment
                and target.suffix == ".html"
                and unquote(parts.fragment) not in read_page(target).ids
            ):
                dead.append(f"{page_path.relative_to(site)} -> {link} (no such anchor)")
    assert not dead, "dead links in the built site:\n" + "\n".join(sorted(set(dead)))


def test_the_link_checker_finds_a_dead_link(tmp_path: Path) -> None:
    """The checker above is not vacuous: a page with a dead file link and a dead anchor is reported."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text(
        '<h1 id="top">A</h1><a href="../b/">B</a><a href="#nowhere">x</a>'
    )
    with pytest.raises(AssertionError, match=r"(?s)no such file.*no such anchor"):
        test_no_dead_internal_link(tmp_path)


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def chromium(*args: str, profile: Path) -> str:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is needed to render the docs and {CHROMIUM} is missing: `apt-get install -y chromium`"
        )
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}"]
    result = subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"chromium failed: {result.stderr[-2000:]}"
    return result.stdout


@pytest.mark.parametrize(
    ("page", "expected"),
    [("", "Socket.IO"), ("reference/server/", "aiosocketio.Server")],
    ids=["home", "api-reference"],
)
def test_pages_render_in_chromium(site: Path, tmp_path: Path, page: str, expected: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"{page.strip('/').replace('/', '-') or 'home'}.png"
    shot.unlink(missing_ok=True)
    with serve_folder(site) as base:
        dom = chromium("--dump-dom", f"{base}/{page}", profile=tmp_path / "dom")
        chromium(
            f"--screenshot={shot}", "--window-size=1280,1600", f"{base}/{page}", profile=tmp_path / "shot"
        )
    text = re.sub(r"<[^>]+>", " ", dom)
    assert expected in text, f"the rendered page lacks {expected!r}"
    assert shot.exists(), "no screenshot was written"
    assert shot.stat().st_size > 10_000, "the screenshot is blank"
    shutil.copy(shot, tmp_path / shot.name)  # also kept with the test's own tmp folder
