"""``serve_client=True``: the official browser bundles of npm ``socket.io-client``, served under the server's path.

Like the reference, ``<path>socket.io.js``, ``.min.js``, ``.msgpack.min.js``, ``.esm.min.js`` and their ``.map``
files are answered with an ETag (the client package's version) and 304 when the browser already has them. No
third-party code ships with aiosocketio: the files are read from the npm package on disk, found (in this order)
at ``client_dir``, ``$AIOSOCKETIO_CLIENT_DIR``, or the first ``node_modules/socket.io-client`` from the working
directory upward. Not finding them is an error at start-up, not a 404 later.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from aiosocketio.web import Request, Response

__all__ = ["BUNDLES", "ClientBundle", "find_client_dir"]

#: The files the reference serves, and their content types.
BUNDLES: dict[str, str] = {
    "socket.io.js": "application/javascript; charset=utf-8",
    "socket.io.min.js": "application/javascript; charset=utf-8",
    "socket.io.msgpack.min.js": "application/javascript; charset=utf-8",
    "socket.io.esm.min.js": "application/javascript; charset=utf-8",
}
BUNDLES |= {name + ".map": "application/json; charset=utf-8" for name in list(BUNDLES)}


def find_client_dir(client_dir: str | os.PathLike[str] | None = None, start: Path | None = None) -> Path:
    """The ``dist`` folder of the ``socket.io-client`` package; ``FileNotFoundError`` saying where it looked."""
    tried: list[str] = []
    candidates: list[Path] = []
    if client_dir is not None:
        candidates.append(Path(client_dir))
    elif os.environ.get("AIOSOCKETIO_CLIENT_DIR"):
        candidates.append(Path(os.environ["AIOSOCKETIO_CLIENT_DIR"]))
    else:
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            candidates.append(folder / "node_modules" / "socket.io-client")
            candidates.append(folder / "tests" / "node_modules" / "socket.io-client")
    for candidate in candidates:
        for dist in (candidate / "dist", candidate):
            tried.append(str(dist))
            if (dist / "socket.io.min.js").is_file():
                return dist
    raise FileNotFoundError(
        "serve_client=True needs the browser bundles of the npm package socket.io-client "
        "(run `npm install socket.io-client`), or pass client_dir= or set $AIOSOCKETIO_CLIENT_DIR; looked in: "
        + ", ".join(tried[:6])
        + (" ..." if len(tried) > 6 else "")
    )


class ClientBundle:
    """Answers requests for the bundle files under ``path``; files are read once, when first asked for."""

    __slots__ = ("_cache", "_dist", "_etag", "_path")

    def __init__(self, path: str, dist: Path) -> None:
        self._path = path
        self._dist = dist
        self._cache: dict[str, bytes] = {}
        version = "unknown"
        package = dist.parent / "package.json"
        try:
            version = str(json.loads(package.read_text(encoding="utf-8")).get("version", version))
        except (OSError, ValueError):
            pass
        self._etag = f'"{version}"'

    def file_for(self, request_path: str) -> str | None:
        """The bundle file a request path asks for, if it is one."""
        if not request_path.startswith(self._path):
            return None
        name = request_path[len(self._path) :]
        return name if name in BUNDLES else None

    def respond(self, request: Request, name: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, [("Allow", "GET, HEAD")])
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
                return Response(404, [("Content-Type", "text/plain")], b"Not Found")
            self._cache[name] = body
        headers.append(("Content-Type", BUNDLES[name]))
        return Response(200, headers, body)  # the front-end leaves the body out for HEAD
