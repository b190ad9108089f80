"""``ui_app()``: the Admin UI's page, served by us under ``/admin/`` (a :class:`~aiosocketio.web.WebApp`).

The UI is a static single-page application; the npm package ``@socket.io/admin-ui`` ships it built, in
``ui/dist``. No third-party code ships with aiosocketio: the files are read from the package on disk, found (in
this order) at ``ui_dir``, ``$AIOSOCKETIO_ADMIN_UI_DIR``, or the first ``node_modules/@socket.io/admin-ui`` from
the working directory upward. Not finding them is an error when the app is made, not a 404 later.

The page loads its own files by relative paths (``js/app.….js``), so it is served at a path that ends with a
slash: ``/admin`` redirects to ``/admin/``. Its router keeps its state after ``#``, which never reaches us.
"""

from __future__ import annotations

import json
import mimetypes
import os
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from aiosocketio.web import Request, Response, WebSocketHandshake

__all__ = ["AdminUI", "find_ui_dir", "ui_app"]

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def find_ui_dir(ui_dir: str | os.PathLike[str] | None = None, start: Path | None = None) -> Path:
    """The ``ui/dist`` folder of the ``@socket.io/admin-ui`` package; ``FileNotFoundError`` saying where it
    looked."""
    candidates: list[Path] = []
    if ui_dir is not None:
        candidates.append(Path(ui_dir))
    elif os.environ.get("AIOSOCKETIO_ADMIN_UI_DIR"):
        candidates.append(Path(os.environ["AIOSOCKETIO_ADMIN_UI_DIR"]))
    else:
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            for modules in (folder / "node_modules", folder / "tests" / "node_modules"):
                candidates.append(modules / "@socket.io" / "admin-ui")
    tried: list[str] = []
    for candidate in candidates:
        for dist in (candidate / "ui" / "dist", candidate / "dist", candidate):
            tried.append(str(dist))
            if (dist / "index.html").is_file() and (dist / "js").is_dir():
                return dist
    raise FileNotFoundError(
        "the Admin UI's files come from the npm package @socket.io/admin-ui (run `npm install "
        "@socket.io/admin-ui`), or pass ui_dir= or set $AIOSOCKETIO_ADMIN_UI_DIR; looked in: "
        + ", ".join(tried[:6])
        + (" ..." if len(tried) > 6 else "")
    )


def _version(dist: Path) -> str:
    for package in (dist.parent.parent / "package.json", dist.parent / "package.json"):
        try:
            return str(json.loads(package.read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return "unknown"


class AdminUI:
    """Serves the files of the UI's ``dist`` folder under ``path``; each file is read once, when first asked.

    Made by :func:`ui_app`, which finds the folder; serve it next to the Socket.IO server:
    ``aiosocketio.run(io, ui_app())``, or ``ASGIApp(io, ui_app())`` under an ASGI server. It answers ``GET`` and ``HEAD`` only, with ``ETag`` revalidation.

    Args:
        path: The URL path to serve the UI under, such as ``"/admin/"``.
        dist: The folder holding the UI's ``index.html`` and ``js/``.

    Raises:
        ValueError: ``path`` does not start with ``/``.
    """

    __slots__ = ("_cache", "_dist", "_etag", "_path")

    def __init__(self, path: str, dist: Path) -> None:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path is an absolute URL path such as '/admin/', got {path!r}")
        self._path = path.rstrip("/") + "/"
        self._dist = dist.resolve()
        self._cache: dict[str, bytes] = {}
        self._etag = f'"admin-ui-{_version(self._dist)}"'

    def __repr__(self) -> str:
        return f"<AdminUI {self._path} from {self._dist}>"

    @property
    def path(self) -> str:
        """The URL path the UI is served under, with a trailing slash."""
        return self._path

    # -- WebApp ------------------------------------------------------------------------------------------

    def handles(self, path: str) -> bool:
        """For front-ends: whether a request for ``path`` is the UI's (under :attr:`path`, or it without its slash).

        Args:
            path: The request's path.
        """
        return path.startswith(self._path) or path == self._path[:-1]

    async def handle_http(self, request: Request) -> Response:
        """For front-ends: answer a request for one of the UI's files.

        ``path`` without its slash is redirected (301) to it, and ``path`` itself serves ``index.html``.

        Args:
            request: The request.

        Returns:
            The file (200), 304 when the client's copy is current, 404 for a missing file or a path that leaves
            the folder, 405 for a method other than GET or HEAD.
        """
        if request.method not in ("GET", "HEAD"):
            return Response(
                405, [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")], b"Method Not Allowed"
            )
        if request.path == self._path[:-1]:
            return Response(301, [("Location", self._path)])
        name = self._file_name(request.path[len(self._path) :])
        if name is None:
            return _not_found()
        headers = [("Cache-Control", "public, max-age=0"), ("ETag", self._etag)]
        if_none_match = request.headers.get("if-none-match")
        if if_none_match and self._etag in [
            tag.strip().removeprefix("W/") for tag in if_none_match.split(",")
        ]:
            return Response(304, headers)
        body = self._cache.get(name)
        if body is None:
            try:
                body = (self._dist / name).read_bytes()
            except OSError:
                return _not_found()
            self._cache[name] = body
        suffix = PurePosixPath(name).suffix
        content_type = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        headers.append(("Content-Type", content_type))
        return Response(200, headers, body)  # the front-end leaves the body out for HEAD

    def _file_name(self, rest: str) -> str | None:
        """The file under ``dist`` that ``rest`` (the path after ours) names, if it is one and stays inside."""
        rest = unquote(rest) or "index.html"
        parts = PurePosixPath(rest).parts
        if not parts or any(part in ("..", ".") or "\\" in part or "\x00" in part for part in parts):
            return None
        name = "/".join(parts)
        target = (self._dist / name).resolve()
        if not target.is_relative_to(self._dist) or not target.is_file():
            return None
        return name

    async def handle_websocket(self, request: Request, handshake: WebSocketHandshake) -> None:
        """For front-ends: refuse a WebSocket upgrade under the UI's path (404): it serves files only.

        Args:
            request: The upgrade request.
            handshake: The front-end's way to reject it.
        """
        await handshake.reject(_not_found())

    async def startup(self) -> None:
        """Nothing to prepare: the files are read when first asked for."""

    async def shutdown(self) -> None:
        """Nothing to close."""


def _not_found() -> Response:
    return Response(404, [("Content-Type", "text/plain")], b"Not Found")


def ui_app(path: str = "/admin/", *, ui_dir: str | os.PathLike[str] | None = None) -> AdminUI:
    """The Admin UI's page at ``path``, to serve beside the server: ``aiosocketio.run(io, ui_app())`` or
    ``ASGIApp(io, ui_app())``. ``ui_dir``: the npm package's folder (or its ``ui/dist``), if not found by
    itself (see the module documentation)."""
    return AdminUI(path, find_ui_dir(ui_dir))
