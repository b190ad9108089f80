"""The HTTP/1.1 side of a connection: one ``asyncio.Protocol`` per TCP connection, requests parsed by ``httptools``,
answered one at a time in order (keep-alive, pipelining), until an upgrade hands the transport to a WebSocket.

Theory of operation:

* :class:`HttpProtocol` parses requests as bytes arrive. Each request whose head is complete becomes an
  :class:`~aiosocketio.runner.exchange.Exchange`; exchanges are answered strictly one at a time, in arrival order,
  so pipelined requests get their responses in order. While one is being answered the next ones wait in a queue
  and reading pauses.
* An exchange goes to the first :class:`~aiosocketio.web.WebApp` whose ``handles(path)`` is true. A plain
  request whose body is all here is first offered to ``app.answer_at_once`` (a
  :class:`~aiosocketio.web.QuickWebApp`) from its raw parts: that answers a long-polling GET or POST of a live
  session with no Request, coroutine or task, or holds a GET that must wait (a
  :class:`~aiosocketio.web.HeldAnswer`, cancelled like a task if the client goes away). Otherwise
  ``app.handle_http`` runs at once, inside ``data_received``, and goes on in a task only if it waits (that task
  is cancelled if the client goes away, which is how the engine notices an aborted long-polling GET); an
  upgrade runs ``app.handle_websocket`` in a task, with a handshake object (``runner/websocket.py``). A request
  for no app goes to the ASGI ``other_app`` when there is one (``runner/asgi_bridge.py``, and
  ``runner/asgi_websocket.py`` for a WebSocket), else gets 404.
* Accepting the handshake writes the 101 and hands the transport to a new
  :class:`~aiosocketio.runner.websocket.WebSocketConnection` (``transport.set_protocol``), so an idle WebSocket
  keeps no HTTP parser and its ``data_received`` has no HTTP branch.

Whose fault: malformed requests, oversized heads and protocol errors are the client's, answered with
400/431 or a WebSocket close code and logged at debug level; exceptions raised by an app are ours and logged
with their traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from http import HTTPStatus
from types import CoroutineType
from typing import Any, Final
from urllib.parse import unquote

import httptools

from .._emitter import carry_on
from ..web import BodyTooLarge, FixedHeaders, Headers, HeldAnswer, Request, Response, WebApp
from . import wsframe
from .asgi_bridge import AsgiCycle
from .asgi_websocket import AsgiWebSocket
from .exchange import Exchange
from .headers import NOT_FOUND, SERVER_ERROR, STATUS_OK, date_header, encode_headers, plain, status_line
from .state import ServerState
from .websocket import Handshake, WebSocketConnection, websocket_problem

__all__ = ["HttpProtocol"]

logger = logging.getLogger("aiosocketio.runner")


_METHODS: Final = {
    name.encode(): name for name in ("GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH")
}


class _HeadTooLarge(Exception):
    """Raised inside a parser callback to stop parsing a request head that passed the limits."""


class _BadRequest(Exception):
    """Raised inside a parser callback for a request the parser accepted but we cannot use."""


# Reasons for which reading from the socket is paused; reading resumes when none is left.
_PAUSE_PIPELINE: Final = 1  # requests wait behind the one being answered
_PAUSE_BODY: Final = 2  # body bytes pile up while nobody reads them
_PAUSE_HOLD: Final = 4  # an upgrade waits for the app to accept it, or the connection is failing
_PAUSE_WRITE: Final = 8  # the peer does not read what we write


class HttpProtocol(asyncio.Protocol):
    """The HTTP/1.1 side of one connection (keep-alive, pipelining, upgrades); see the module docstring."""

    __slots__ = (
        "_active",
        "_advancing",
        "_asgi_task",
        "_closing",
        "_drain_waiters",
        "_head_bytes",
        "_head_size",
        "_header_list",
        "_idle",
        "_idle_deadline",
        "_in_head",
        "_parser",
        "_parsing",
        "_paused",
        "_queue",
        "_server_address",
        "_state",
        "_task",
        "_transport",
        "_upgrade_ex",
        "_url",
        "client",
        "loop",
        "write_paused",
    )

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self.loop = state.loop
        self._transport: asyncio.Transport | None = None
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self.client: tuple[str, int] | None = None
        self._server_address: tuple[str, int] | None = None
        self._url = b""
        self._header_list: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._head_bytes = 0
        self._in_head = True
        self._active: Exchange | None = None  # the exchange being answered
        self._parsing: Exchange | None = None  # the exchange whose body the parser is reading
        self._queue: deque[Exchange] = deque()
        self._advancing = False
        self._task: asyncio.Task[None] | HeldAnswer | None = None  # what answers the active exchange
        self._asgi_task = False  # an ASGI app is told of a lost client, not cancelled
        self._idle: asyncio.TimerHandle | None = None
        self._idle_deadline = 0.0  # loop time at which an idle connection closes; 0: not idle
        self._paused = 0
        self.write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._closing = False
        self._upgrade_ex: Exchange | None = None

    @property
    def server_address(self) -> tuple[str, int] | None:
        """Our own address on this connection (host, port), asked of the transport when first needed: only an
        ASGI app's scope has it, so the other connections skip a system call (getsockname) each."""
        address = self._server_address
        if address is None and self._transport is not None:
            address = self._server_address = _address(self._transport.get_extra_info("sockname"))
        return address

    # --- asyncio callbacks ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport: no isinstance check, and no typing.cast() (a
        # function call per connection) either.
        self._transport = transport  # type: ignore[assignment]
        self.client = _address(transport.get_extra_info("peername"))
        self._state.connections.add(self)
        if self._state.shutting_down:
            self._close()
            return
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._closing = True
        self._parser = None  # breaks the parser <-> protocol cycle at once
        self._cancel_idle()
        self._state.forget(self)
        for ex in (self._active, self._parsing):
            if ex is not None:
                ex.disconnected = True
                ex.wake()
        self._queue.clear()
        task = self._task
        active = self._active
        # A plain handler is cancelled (the engine learns that a long-polling GET was aborted); an ASGI app is
        # told with http.disconnect instead, as ASGI expects.
        if task is not None and active is not None and not active.answered and not self._asgi_task:
            task.cancel()
        self._wake_drain()

    def eof_received(self) -> bool | None:
        # The client shut its side: treat it as gone, as Node.js does (``allowHalfOpen: false``). This is how
        # a client abandoning a long-polling GET shows up, and its handler must be cancelled promptly.
        return None

    def pause_writing(self) -> None:
        self.write_paused = True
        self._pause(_PAUSE_WRITE)

    def resume_writing(self) -> None:
        self.write_paused = False
        self._resume(_PAUSE_WRITE)
        self._wake_drain()

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None or self._closing:
            return
        upgrading = self._upgrade_ex
        if upgrading is not None:
            # Bytes after an upgrade request belong to the new protocol; hold them until the app decides.
            upgrading.upgrade_tail += data
            if len(upgrading.upgrade_tail) > self._state.limits.max_body_buffer:
                self._pause(_PAUSE_HOLD)  # reading again (see read_while_upgrading), but not without bound
            return
        if self._in_head:
            self._head_bytes += len(data)
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            ex = self._upgrade_ex
            if ex is not None:
                ex.upgrade_tail = data[exc.args[0] :]
            self._advance()
            if self._parser is not None:
                # Not switched yet (the app answers later, or refused): hold what comes meanwhile. A WebSocket
                # accepted during _advance() needs no pause and resume of reading (two event-loop changes).
                self._pause(_PAUSE_HOLD)
            return
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _HeadTooLarge):
                logger.debug("request head too large from %s", self.client)
                self._fail(431)
            elif isinstance(cause, _BadRequest):
                logger.debug("bad request target from %s", self.client)
                self._fail(400)
            else:
                logger.error("error while parsing a request from %s", self.client, exc_info=cause)
                self._fail(400)
            return
        except httptools.HttpParserError as exc:
            logger.debug("bad HTTP request from %s: %s", self.client, exc)
            self._fail(400)
            return
        if self._in_head and self._head_bytes > self._state.limits.max_header_size:
            # One huge header line is buffered inside the parser before any callback sees it.
            logger.debug("request head too large from %s", self.client)
            self._fail(431)
            return
        # Requests start only once this chunk is parsed, so a request answered at once already knows whether
        # its body is complete (and thus whether the connection can be kept).
        self._advance()

    # --- httptools callbacks ---

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_size += len(url)
        if self._head_size > self._state.limits.max_header_size:
            raise _HeadTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self._header_list
        headers.append((name.lower(), value))  # lower-case names, as ASGI has them and answer_at_once wants
        self._head_size += len(name) + len(value) + 4
        limits = self._state.limits
        if self._head_size > limits.max_header_size or len(headers) > limits.max_headers:
            raise _HeadTooLarge

    def on_headers_complete(self) -> None:
        parser = self._parser
        if parser is None or self._closing:
            return
        self._in_head = False
        self._head_bytes = 0
        headers = self._header_list
        url = self._url
        # Ready for the next request's head (there is no on_message_begin: one parser callback less).
        self._header_list = []
        self._head_size = 0
        self._url = b""
        if url[:1] != b"/":
            if url == b"*":
                url = b"/"
            else:
                # Absolute form (``http://host/path?q``), sent to proxies; take its path and query.
                try:
                    parsed = httptools.parse_url(url)
                except httptools.HttpParserInvalidURLError:
                    raise _BadRequest from None
                url = (parsed.path or b"/") + (b"?" + parsed.query if parsed.query else b"")
        if b"#" in url:
            url = url.partition(b"#")[0]
        raw_path, _, query = url.partition(b"?")
        path = raw_path.decode("latin-1")
        if "%" in path:
            path = unquote(path)
        method = parser.get_method()
        ex = Exchange(
            _METHODS.get(method) or method.decode("ascii"),
            path,
            raw_path,
            query,
            headers,
            parser.get_http_version(),
            parser.should_keep_alive(),
        )
        self._parsing = ex
        if parser.should_upgrade():
            ex.upgrade = True
            ex.keep_alive = False  # the parser cannot go on after an upgrade request
            self._upgrade_ex = ex
        self._idle_deadline = 0.0  # disarms the idle timer (see _on_idle)
        self._queue.append(ex)

    def on_body(self, body: bytes) -> None:
        ex = self._parsing
        if ex is None:
            return
        ex.chunks.append(body)
        ex.buffered += len(body)
        ex.received += len(body)
        if ex.waiter is not None:
            ex.wake()
        elif not ex.reading and ex.buffered > self._state.limits.max_body_buffer:
            self._pause(_PAUSE_BODY)

    def on_message_complete(self) -> None:
        ex = self._parsing
        self._parsing = None
        self._in_head = True
        if ex is not None:
            ex.body_complete = True
            if ex.waiter is not None:
                ex.wake()

    # --- answering, one exchange at a time ---

    def _advance(self) -> None:
        """Start queued exchanges in order until one is answered asynchronously (or the connection ends)."""
        if self._advancing:
            return
        self._advancing = True
        try:
            while self._active is None and self._queue and not self._closing:
                self._start(self._queue.popleft())
            if self._queue:
                self._pause(_PAUSE_PIPELINE)
            elif self._paused:
                self._resume(_PAUSE_PIPELINE)
        finally:
            self._advancing = False

    def _start(self, ex: Exchange) -> None:
        self._active = ex
        self._task = None
        self._asgi_task = False
        if ex.error:
            self.respond(ex, plain(ex.error, HTTPStatus(ex.error).phrase))
            return
        path = ex.path
        app: WebApp | None = None
        quick = None
        for candidate, candidate_quick in self._state.routes:
            if candidate.handles(path):
                app = candidate
                quick = candidate_quick
                break
        if ex.upgrade:
            problem = websocket_problem(ex)
            if problem is None:
                if app is None:
                    other_app = self._state.other_app
                    if other_app is None:
                        self.respond(ex, NOT_FOUND)
                    else:
                        self._asgi_task = True
                        websocket = AsgiWebSocket(self, ex, other_app, self._state.asgi_state)
                        self._task = self._state.start_task(websocket.run())
                else:
                    self._start_websocket(app, ex)
                return
            if problem.status != 0:
                self.respond(ex, problem)
                return
            # Another kind of upgrade (h2c, ...): answer as plain HTTP; the connection closes afterwards.
        if app is not None:
            if quick is not None and ex.body_complete:
                chunks = ex.chunks
                body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                try:
                    response = quick(ex.method, path, ex.query, ex.headers, body)
                except Exception:
                    logger.exception("error in %r while answering %s %s", app, ex.method, ex.path)
                    response = SERVER_ERROR
                if isinstance(response, HeldAnswer):
                    # A long-polling GET that waits: no task; cancelled like one when the client leaves.
                    response.bind(partial(self.respond, ex))
                    self._task = response
                    return
                if response is not None:
                    self.respond(ex, response)
                    return
            self._serve_http(app, ex)
        elif self._state.other_app is not None:
            self._asgi_task = True
            cycle = AsgiCycle(self, ex, self._state.other_app, self._state.asgi_state)
            self._task = self._state.start_task(cycle.run())
        else:
            self.respond(ex, NOT_FOUND)

    def _serve_http(self, app: WebApp, ex: Exchange) -> None:
        """Run the app's handler now, up to its first suspension; only a handler that suspends gets a task.

        Most requests are answered without waiting for anything (a long-polling POST, a GET that finds
        packets waiting, a refused request), so this saves a task, two loop turns and the task bookkeeping per
        request. The handler may answer, and so complete ``ex`` and even start the next pipelined exchange,
        before ``send`` returns: the task is recorded only if ``ex`` is still the one being answered. Like
        Socket.IO event handlers, the first step runs inside ``data_received``, where
        ``asyncio.current_task()`` is None.
        """
        client = self.client
        body: bytes | None = None
        reader: Callable[[int], Awaitable[bytes]] | None = None
        if ex.body_complete:  # all of it came with the head: hand it over as it is, no reader needed
            chunks = ex.chunks
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            ex.chunks = []
            ex.buffered = 0
        else:
            reader = self._body_reader(ex)
        request = Request(
            ex.method,
            ex.path,
            ex.query.decode("latin-1"),
            Headers.from_raw(ex.headers),
            remote_address=client[0] if client else "",
            secure=self._state.secure,
            body_reader=reader,
            body=body,
        )
        try:
            awaitable = app.handle_http(request)
            if type(awaitable) is CoroutineType:
                rest: Awaitable[Response] = carry_on(awaitable, awaitable.send(None))
            else:
                rest = awaitable  # another kind of awaitable: the task awaits it
        except StopIteration as done:
            self.respond(ex, done.value)
            return
        except Exception:
            logger.exception("error in %r while answering %s %s", app, ex.method, ex.path)
            self.respond(ex, SERVER_ERROR)
            return
        task = self._state.start_task(self._finish_http(app, ex, rest))
        if self._active is ex and not ex.answered:
            self._task = task
            if ex.disconnected:  # the client left during the first step: nobody cancelled the handler yet
                task.cancel()

    async def _finish_http(self, app: WebApp, ex: Exchange, rest: Awaitable[Response]) -> None:
        """The rest of a handler that suspended (see :meth:`_serve_http`), in a task."""
        try:
            response = await rest
        except Exception:
            logger.exception("error in %r while answering %s %s", app, ex.method, ex.path)
            response = SERVER_ERROR
        self.respond(ex, response)

    def complete(self, ex: Exchange, keep_alive: bool) -> None:
        """The answer to ``ex`` is written: go on with the next request, wait for one, or close."""
        ex.answered = True
        if self._active is not ex:
            return
        self._active = None
        self._task = None
        if ex.waiter is not None:
            ex.wake()
        if self._paused:
            self._resume(_PAUSE_BODY)
        if not keep_alive:
            if ex.body_complete and not ex.error:
                self._close()
            else:
                # The client may still be sending: a body we did not read (a 413, say) or bytes that we
                # could not parse.
                self._linger()
            return
        if self._queue:
            self._advance()
        else:
            if self._paused:
                self._resume(_PAUSE_PIPELINE)
            if self._parsing is None:
                # _arm_idle(), inline: once per request
                loop = self.loop
                self._idle_deadline = deadline = loop.time() + self._state.limits.keep_alive_timeout
                if self._idle is None:
                    self._idle = loop.call_at(deadline, self._on_idle)

    def can_keep_alive(self, ex: Exchange) -> bool:
        # A body nobody finished reading leaves the parser mid-message: the connection cannot be reused.
        return ex.keep_alive and ex.body_complete and not self._state.shutting_down and not self._closing

    def respond(self, ex: Exchange, response: Response) -> None:
        """Write a complete response to ``ex`` and move on."""
        transport = self._transport
        if transport is None or self._closing or ex.answered:
            return
        # What can_keep_alive() says, inline (``_closing`` is known to be false here): one call less per request.
        keep_alive = ex.keep_alive and ex.body_complete and not self._state.shutting_down
        status = response.status
        headers = response.headers
        try:
            if type(headers) is FixedHeaders:
                head = headers.http1
                if head is None:
                    head = headers.http1 = b"".join(encode_headers(headers))
                lines = [head]
            else:
                lines = encode_headers(headers)
        except (ValueError, UnicodeEncodeError):
            logger.exception("invalid response headers for %s %s", ex.method, ex.path)
            status = 500
            response = SERVER_ERROR
            lines = encode_headers(response.headers)
        body = response.body
        parts = [STATUS_OK if status == 200 else status_line(status), date_header(), *lines]
        if status >= 200 and status != 204 and status != 304:  # not has_no_body(status)
            parts.append(b"content-length: %d\r\n" % len(body))
        else:
            body = b""
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        elif ex.http_version == "1.0":
            parts.append(b"connection: keep-alive\r\n")
        parts.append(b"\r\n")
        if body and ex.method != "HEAD":
            parts.append(body)
        transport.write(b"".join(parts))
        self.complete(ex, keep_alive)

    def _fail(self, status: int) -> None:
        """Bad bytes from the client: answer ``status`` in turn and close; read nothing more."""
        self._parser = None
        self._pause(_PAUSE_HOLD)
        ex = self._parsing
        self._parsing = None
        if ex is not None and ex is self._active and not ex.answered:
            # Its handler may be waiting for a body that will never be complete: answer now.
            if self._task is not None:
                self._task.cancel()
            ex.keep_alive = False
            self.respond(ex, plain(status, HTTPStatus(status).phrase))
            return
        if ex is not None and ex in self._queue:
            self._queue.remove(ex)
        error = Exchange()
        error.error = status
        error.body_complete = True
        self._queue.append(error)
        self._advance()

    def _start_websocket(self, app: WebApp, ex: Exchange) -> None:
        """Run the app's WebSocket handler now, up to its first suspension; a task only if it suspends.

        The engine accepts a WebSocket without waiting for anything (unless the application's
        ``allow_request`` does), so most upgrades are answered inside this call: a task, its bookkeeping and
        two loop turns less per handshake, which is what a reconnect storm is made of. As in
        :meth:`_serve_http`, the first step runs inside ``data_received``.
        """
        coro = self._run_websocket(app, ex)
        try:
            first = coro.send(None)
        except StopIteration:
            return
        task = self._state.start_task(carry_on(coro, first))
        if self._active is ex and not ex.answered:
            self._task = task
            if ex.disconnected:
                task.cancel()

    async def _run_websocket(self, app: WebApp, ex: Exchange) -> None:
        handshake = Handshake(self, ex)
        try:
            await app.handle_websocket(self._request(ex, None), handshake)
        except Exception:
            logger.exception("error in %r while handling a WebSocket request to %s", app, ex.path)
            if handshake.port is not None:
                handshake.port.close(wsframe.CLOSE_INTERNAL_ERROR)
            elif not ex.answered:
                await handshake.reject(SERVER_ERROR)
            return
        if handshake.port is None and not ex.answered:
            logger.error("%r neither accepted nor rejected the WebSocket request to %s", app, ex.path)
            await handshake.reject(SERVER_ERROR)

    def _request(self, ex: Exchange, body_reader: Callable[[int], Awaitable[bytes]] | None) -> Request:
        return Request(
            ex.method,
            ex.path,
            ex.query.decode("latin-1"),
            Headers.from_raw(ex.headers),
            remote_address=self.client[0] if self.client else "",
            secure=self._state.secure,
            body_reader=body_reader,
        )

    def _body_reader(self, ex: Exchange) -> Callable[[int], Awaitable[bytes]]:
        async def read_body(limit: int) -> bytes:
            if not ex.body_complete:
                declared = ex.header(b"content-length")
                if (
                    declared is not None
                    and declared.isascii()
                    and declared.isdigit()
                    and int(declared) > limit
                ):
                    raise BodyTooLarge(f"the request body is over {limit} bytes")
            ex.reading = True
            self._resume(_PAUSE_BODY)
            try:
                while ex.received <= limit and not ex.body_complete:
                    if ex.disconnected:
                        raise ConnectionResetError("the client went away while sending the body")
                    self.send_continue(ex)
                    await ex.wait(self.loop)
            finally:
                ex.reading = False
            if ex.received > limit:
                raise BodyTooLarge(f"the request body is over {limit} bytes")
            body = b"".join(ex.chunks)
            ex.chunks = []
            ex.buffered = 0
            return body

        return read_body

    def send_continue(self, ex: Exchange) -> None:
        """``Expect: 100-continue`` (RFC 9110 §10.1.1): say "go on" once, when the body is first wanted."""
        if ex.continue_sent or ex.received or self._transport is None:
            return
        ex.continue_sent = True
        expect = ex.header(b"expect")
        if expect is not None and expect.lower() == b"100-continue":
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    # --- the WebSocket switch ---

    def switch_to_websocket(
        self,
        ex: Exchange,
        head: bytes,
        parser: wsframe.FrameParser,
        deflater: wsframe.MessageDeflater | None,
    ) -> WebSocketConnection:
        """Write the 101 and hand the transport to a new :class:`WebSocketConnection`."""
        transport = self._transport
        ws = WebSocketConnection(self._state, parser, deflater)
        ex.answered = True
        self._active = None
        self._task = None
        self._upgrade_ex = None
        self._parser = None
        self._cancel_idle()
        if transport is None or self._closing:
            ws.lost_before_start()
            return ws
        transport.set_protocol(ws)
        ws.connection_made(
            transport
        )  # before forget(): the server never sees the connection count drop to zero
        ws.send_handshake(head)
        self._state.forget(self)
        self._transport = None
        self._closing = True
        ws.start_reading(self.write_paused, ex.upgrade_tail)
        return ws

    def reject_upgrade(self, ex: Exchange, response: Response) -> None:
        """Answer an upgrade request with a plain response instead, then close (see :class:`Handshake`)."""
        ex.keep_alive = False
        self._upgrade_ex = None
        self.respond(ex, response)

    # --- flow control and closing ---

    def _pause(self, reason: int) -> None:
        was = self._paused
        self._paused = was | reason
        if not was and self._transport is not None:
            self._transport.pause_reading()

    def _resume(self, reason: int) -> None:
        was = self._paused
        if not was & reason:
            return
        self._paused = was & ~reason
        if not self._paused and self._transport is not None and not self._closing:
            self._transport.resume_reading()

    def read_while_upgrading(self) -> None:
        """(ASGI WebSocket) The app waits before answering the upgrade: read on, so that a client that leaves
        meanwhile is noticed (what it sends is held for the WebSocket, up to ``max_body_buffer`` bytes)."""
        ex = self._upgrade_ex
        if ex is not None and len(ex.upgrade_tail) <= self._state.limits.max_body_buffer:
            self._resume(_PAUSE_HOLD)

    def resume_body(self) -> None:
        """(ASGI bridge) Someone reads the body now: reading from the socket may go on."""
        self._resume(_PAUSE_BODY)

    @property
    def secure(self) -> bool:
        """Whether the server speaks TLS on this connection."""
        return self._state.secure

    def writer(self) -> asyncio.Transport | None:
        """(ASGI bridge) The transport to write an answer to; None once the connection is closing or gone."""
        return None if self._closing else self._transport

    async def drain(self) -> None:
        """Wait while the peer is not reading (used by streamed ASGI bodies)."""
        if self.write_paused and self._transport is not None:
            waiter: asyncio.Future[None] = self.loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    def _wake_drain(self) -> None:
        waiters = self._drain_waiters
        self._drain_waiters = []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # The keep-alive timer is armed after every response and disarmed by every request head. Rather than
    # cancel and create a timer handle each time (two heap operations per request), arming moves a deadline
    # and disarming clears it; the one pending timer looks at the deadline when it fires and sleeps again if
    # it was moved.

    def _arm_idle(self) -> None:
        deadline = self.loop.time() + self._state.limits.keep_alive_timeout
        self._idle_deadline = deadline
        if self._idle is None:
            self._idle = self.loop.call_at(deadline, self._on_idle)

    def _cancel_idle(self) -> None:
        """Disarm for good (the connection closes or changes protocol): the pending timer goes too."""
        self._idle_deadline = 0.0
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _on_idle(self) -> None:
        self._idle = None
        deadline = self._idle_deadline
        if not deadline:
            return  # a request came; the next response arms a new timer
        if deadline > self.loop.time():
            self._idle = self.loop.call_at(deadline, self._on_idle)
            return
        if self._active is None:
            logger.debug("closing idle connection from %s", self.client)
            self._close()

    def _linger(self) -> None:
        """Close after an answer while the client may still be sending (a body we refused, a bad request).

        Closing a socket with unread input makes the kernel send a reset, which can destroy our answer before
        the client reads it. So send FIN after the answer (``write_eof``) and read and drop whatever still
        comes, until the client closes too or a short timer runs out ("lingering close").
        """
        transport = self._transport
        if transport is None or self._closing:
            return
        self._closing = True  # ``data_received`` now drops everything
        self._cancel_idle()
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self._paused = 0
        transport.resume_reading()
        self._idle = self.loop.call_later(min(self._state.limits.keep_alive_timeout, 2.0), transport.close)

    def _close(self) -> None:
        self._closing = True
        self._cancel_idle()
        if self._transport is not None:
            self._transport.close()

    @property
    def idle(self) -> bool:
        """No request is being answered or waiting (what graceful shutdown closes first)."""
        return self._active is None and not self._queue

    def begin_shutdown(self) -> None:
        """Close now when idle; otherwise close after the response in progress."""
        if self.idle:
            self._close()

    def abort(self) -> None:
        """Drop the connection at once (shutdown took too long)."""
        if self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.abort()


def _address(info: Any) -> tuple[str, int] | None:
    if isinstance(info, tuple) and len(info) >= 2:
        return str(info[0]), int(info[1])
    return None
