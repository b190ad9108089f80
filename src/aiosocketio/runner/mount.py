"""Serving under a path prefix (the runner's ``root_path``): the apps are mounted at ``/prefix``.

With ``root_path="/chat"`` a Socket.IO server whose path is ``/socket.io/`` answers at ``/chat/socket.io/`` (a
client connects with ``path: "/chat/socket.io/"``), and nothing answers outside the prefix: the runner's usual
404. Each mounted app sees paths without the prefix, as a sub-application mounted in Express sees its requests,
so its own ``path`` option, its client bundle and the rest work unchanged. The ASGI ``other_app`` gets the
full path and ``root_path`` set to the prefix, as the ASGI specification describes a mounted application.

This is the meaning for a server reached directly at the prefix (or through a proxy that keeps it). A proxy
that strips the prefix needs no ``root_path`` at all: the requests arrive at the app's own path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, MutableMapping, Sequence
from typing import Any

from ..web import HeldAnswer, Request, Response, WebApp, WebSocketHandshake, quick_answerer

__all__ = ["MountedApp", "MountedAsgiApp", "normalize_root_path"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def normalize_root_path(root_path: str) -> str:
    """``"/chat/"`` -> ``"/chat"``; ``""`` and ``"/"`` -> ``""`` (no prefix). Raises on what is not a path."""
    if not isinstance(root_path, str):
        raise TypeError(f"root_path is a str such as '/chat', got {type(root_path).__name__}")
    if root_path in ("", "/"):
        return ""
    if not root_path.startswith("/") or "?" in root_path or "#" in root_path:
        raise ValueError(f"root_path must be a path starting with '/', such as '/chat', got {root_path!r}")
    return root_path.rstrip("/")


def _inner_path(prefix: str, path: str) -> str | None:
    """``path`` without ``prefix`` when it is under it (``/chat`` and ``/chat/...``, not ``/chatter``)."""
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix) :]
    if not rest:
        return "/"
    return rest if rest[0] == "/" else None


class MountedApp:
    """A ``WebApp`` served under ``prefix``: it handles the paths under the prefix that ``app`` handles once
    the prefix is taken off, and sees them so."""

    __slots__ = ("_app", "_prefix", "_quick")

    def __init__(self, app: WebApp, prefix: str) -> None:
        self._app = app
        self._prefix = prefix
        self._quick = quick_answerer(app)

    def __repr__(self) -> str:
        return f"<{self._app!r} under {self._prefix}>"

    def handles(self, path: str) -> bool:
        inner = _inner_path(self._prefix, path)
        return inner is not None and self._app.handles(inner)

    def _strip(self, request: Request) -> Request:
        request.path = _inner_path(self._prefix, request.path) or "/"
        return request

    def handle_http(self, request: Request) -> Coroutine[Any, Any, Response]:
        return self._app.handle_http(self._strip(request))

    def handle_websocket(self, request: Request, handshake: WebSocketHandshake) -> Coroutine[Any, Any, None]:
        return self._app.handle_websocket(self._strip(request), handshake)

    def answer_at_once(
        self, method: str, path: str, query: bytes, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> Response | HeldAnswer | None:
        quick = self._quick
        if quick is None:
            return None
        return quick(method, _inner_path(self._prefix, path) or "/", query, headers, body)

    def startup(self) -> Coroutine[Any, Any, None]:
        return self._app.startup()

    def shutdown(self) -> Coroutine[Any, Any, None]:
        return self._app.shutdown()


class MountedAsgiApp:
    """An ASGI app served under ``prefix``: requests there get ``root_path`` set to it (the path stays whole,
    as ASGI has it); others get 404."""

    __slots__ = ("_app", "_prefix")

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self._app = app
        self._prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind in ("http", "websocket"):
            if _inner_path(self._prefix, scope.get("path", "/")) is None:
                # 404 for a WebSocket too, with the runner's denial-response extension (else it would be a 403).
                prefix = "http" if kind == "http" else "websocket.http"
                if kind == "http" or "websocket.http.response" in scope.get("extensions", {}):
                    await send(
                        {
                            "type": f"{prefix}.response.start",
                            "status": 404,
                            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"9")],
                        }
                    )
                    await send({"type": f"{prefix}.response.body", "body": b"Not Found"})
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
            scope = dict(scope)
            scope["root_path"] = scope.get("root_path", "") + self._prefix
        await self._app(scope, receive, send)
