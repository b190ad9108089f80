"""Running an ASGI 3 application (the runner's ``other_app``) for the HTTP requests no app handles: from one
HTTP/1.1 exchange to the ASGI HTTP messages (WebSocket requests: ``asgi_websocket.py``; lifespan:
``lifespan.py``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol, TypeAlias

from ..web import Response
from .exchange import Exchange
from .headers import OWN_HEADERS_B, SERVER_ERROR, checked, date_header, has_no_body, status_line

__all__ = ["ASGIApp", "AsgiCycle", "BridgedConnection"]

logger = logging.getLogger("aiosocketio.runner")

ASGIMessage: TypeAlias = MutableMapping[str, Any]
ASGIReceive: TypeAlias = Callable[[], Awaitable[ASGIMessage]]
ASGISend: TypeAlias = Callable[[ASGIMessage], Awaitable[None]]
#: An ASGI 3 application (the runner gives it ``lifespan``, ``http`` and ``websocket`` scopes).
ASGIApp: TypeAlias = Callable[[ASGIMessage, ASGIReceive, ASGISend], Awaitable[None]]


class BridgedConnection(Protocol):
    """The HTTP connection of a request for ``other_app``: its addresses, its answer, its flow control."""

    #: The peer's address (host, port), when the transport knows it.
    client: tuple[str, int] | None
    loop: asyncio.AbstractEventLoop
    #: The peer does not read what we write (the transport paused our writes).
    write_paused: bool

    @property
    def server_address(self) -> tuple[str, int] | None:
        """Our own address (host, port), when the transport knows it."""
        ...

    @property
    def secure(self) -> bool:
        """Whether the connection is TLS (the scope's scheme)."""
        ...

    def writer(self) -> asyncio.Transport | None:
        """The transport to write the answer to; None once the connection is closing or gone."""
        ...

    def respond(self, ex: Exchange, response: Response) -> None:
        """Write a complete response to ``ex`` and go on with the next request."""

    def complete(self, ex: Exchange, keep_alive: bool) -> None:
        """The answer to ``ex`` was written by hand: go on with the next request, or close."""

    def can_keep_alive(self, ex: Exchange) -> bool:
        """Whether the connection may serve another request after ``ex``."""
        ...

    def resume_body(self) -> None:
        """Someone reads the body now: reading from the socket may go on."""

    def send_continue(self, ex: Exchange) -> None:
        """Say ``100 Continue`` once if the client waits for it before sending the body."""

    async def drain(self) -> None:
        """Wait while the peer does not read what we write."""


class AsgiCycle:
    """One request served by the ASGI ``other_app`` (ASGI HTTP spec 2.x: ``http.request``/``http.response.*``).

    The body is handed over as it arrives (``more_body``). A response without ``content-length`` is sent
    with its length when it comes in one piece, chunked when streamed to an HTTP/1.1 client, and delimited by
    closing the connection for HTTP/1.0. A client that goes away is reported as ``http.disconnect``.
    """

    __slots__ = (
        "_app",
        "_app_state",
        "_body_done",
        "_chunked",
        "_complete",
        "_ex",
        "_head_sent",
        "_headers",
        "_http",
        "_keep_alive",
        "_started",
        "_status",
    )

    def __init__(
        self, http: BridgedConnection, ex: Exchange, app: ASGIApp, state: dict[str, Any] | None = None
    ) -> None:
        self._http = http
        self._ex = ex
        self._app = app
        self._app_state = state
        self._started = False
        self._head_sent = False
        self._headers: list[tuple[bytes, bytes]] = []
        self._status = 200
        self._chunked = False
        self._body_done = False
        self._complete = False
        self._keep_alive = True

    async def run(self) -> None:
        http = self._http
        ex = self._ex
        client = http.client
        server = http.server_address
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": ex.http_version,
            "method": ex.method,
            "scheme": "https" if http.secure else "http",
            "path": ex.path,
            "raw_path": ex.raw_path,
            "query_string": ex.query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in ex.headers],
            "client": list(client) if client else None,
            "server": list(server) if server else None,
        }
        if self._app_state is not None:
            # What the lifespan startup stored, a shallow copy per request (as uvicorn gives it).
            scope["state"] = dict(self._app_state)
        try:
            await self._app(scope, self.receive, self.send)
        except Exception:
            logger.exception("error in the ASGI app while answering %s %s", ex.method, ex.path)
            self._abandon()
            return
        if not self._complete:
            if self._started:
                logger.error(
                    "the ASGI app returned before finishing its response to %s %s", ex.method, ex.path
                )
            else:
                logger.error("the ASGI app returned without a response to %s %s", ex.method, ex.path)
            self._abandon()

    def _abandon(self) -> None:
        if self._complete or self._ex.disconnected:
            return
        if not self._head_sent:
            self._complete = True
            self._http.respond(self._ex, SERVER_ERROR)
        else:
            # Part of the response is out: the only honest signal left is closing the connection.
            self._complete = True
            self._http.complete(self._ex, keep_alive=False)

    async def receive(self) -> ASGIMessage:
        ex = self._ex
        http = self._http
        while True:
            if ex.disconnected or self._complete:
                return {"type": "http.disconnect"}
            if not self._body_done and (ex.chunks or ex.body_complete):
                body = b"".join(ex.chunks)
                ex.chunks = []
                ex.buffered = 0
                more = not ex.body_complete
                self._body_done = not more
                http.resume_body()
                return {"type": "http.request", "body": body, "more_body": more}
            if not self._body_done:
                http.resume_body()
                http.send_continue(ex)
                ex.reading = True
            try:
                await ex.wait(http.loop)
            finally:
                ex.reading = False

    async def send(self, message: ASGIMessage) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self._started:
                raise RuntimeError("http.response.start sent twice")
            self._started = True
            self._status = int(message["status"])
            self._headers = [
                (checked(bytes(name)), checked(bytes(value))) for name, value in message.get("headers", ())
            ]
            return
        if kind != "http.response.body":
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        if not self._started:
            raise RuntimeError("http.response.body before http.response.start")
        if self._complete:
            raise RuntimeError("http.response.body after the response was complete")
        http = self._http
        ex = self._ex
        transport = http.writer()
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if ex.disconnected or transport is None:
            self._complete = not more  # nobody to tell: drop it, as ASGI servers do after a disconnect
            return
        head_only = ex.method == "HEAD" or has_no_body(self._status)
        out: list[bytes] = []
        if not self._head_sent:
            out.append(self._start_response(body, more))
        if not head_only and body:
            out.append(b"%x\r\n%b\r\n" % (len(body), body) if self._chunked else body)
        if not more:
            if self._chunked and not head_only:
                out.append(b"0\r\n\r\n")
            self._complete = True
        if out:
            transport.write(b"".join(out) if len(out) > 1 else out[0])
        if self._complete:
            http.complete(ex, self._keep_alive and http.can_keep_alive(ex))
        elif http.write_paused:
            await http.drain()

    def _start_response(self, body: bytes, more: bool) -> bytes:
        """The response head, once the first body message tells how the body will be delimited."""
        ex = self._ex
        headers = self._headers
        self._head_sent = True
        has_length = False
        lines = [status_line(self._status), date_header()]
        for name, value in headers:
            lower = name.lower()
            if lower == b"content-length":
                has_length = True
            elif lower in OWN_HEADERS_B:
                continue
            lines.append(name + b": " + value + b"\r\n")
        if not has_no_body(self._status) and not has_length:
            if not more:
                lines.append(b"content-length: %d\r\n" % len(body))
            elif ex.http_version == "1.1" and ex.method != "HEAD":
                self._chunked = True
                lines.append(b"transfer-encoding: chunked\r\n")
            else:
                self._keep_alive = False  # HTTP/1.0: the end of the body is the end of the connection
        keep_alive = self._keep_alive and self._http.can_keep_alive(ex)
        if not keep_alive:
            self._keep_alive = False
            lines.append(b"connection: close\r\n")
        elif ex.http_version == "1.0":
            lines.append(b"connection: keep-alive\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)
