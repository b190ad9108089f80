"""One ``asyncio.Protocol`` per TCP connection: HTTP/1.1 through ``httptools``, then WebSocket frames.

Theory of operation:

* :class:`HttpProtocol` parses requests as bytes arrive. Each request whose head is complete becomes an
  ``_Exchange``; exchanges are answered strictly one at a time, in arrival order, so pipelined requests get
  their responses in order. While one is being answered the next ones wait in a queue and reading pauses.
* An exchange goes to the first :class:`~aiosocketio.web.WebApp` whose ``handles(path)`` is true. A plain
  request whose body is all here is first offered to ``app.answer_at_once`` (a
  :class:`~aiosocketio.web.QuickWebApp`) from its raw parts: that answers a long-polling GET or POST of a live
  session with no Request, coroutine or task, or holds a GET that must wait (a
  :class:`~aiosocketio.web.HeldAnswer`, cancelled like a task if the client goes away). Otherwise
  ``app.handle_http`` runs at once, inside ``data_received``, and goes on in a task only if it waits (that task
  is cancelled if the client goes away, which is how the engine notices an aborted long-polling GET); an
  upgrade runs ``app.handle_websocket`` in a task, with a handshake object. A request for no app goes to the
  ASGI ``other_app`` when there is one, else gets 404.
* Accepting the handshake writes the 101 and hands the transport to a new :class:`WebSocketConnection`
  (``transport.set_protocol``), so an idle WebSocket keeps no HTTP parser and its ``data_received`` has no
  HTTP branch. That object is also the engine's :class:`~aiosocketio.web.WebSocketPort`.
* Frames sent during one loop turn are joined and written with one ``transport.write`` per connection at the
  end of the turn, by one ``loop.call_soon`` for all connections (``ServerState.flush_later``): a write costs
  a system call, so coalescing is what makes broadcasts cheap (DESIGN.md, "Coalesce writes per connection"),
  and writing after all the reads of a turn costs the kernel less than writing between them.

Whose fault: malformed requests, oversized heads and protocol errors are the client's, answered with
400/431 or a WebSocket close code and logged at debug level; exceptions raised by an app are ours and logged
with their traceback.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping, Sequence
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from types import CoroutineType
from typing import Any, Final, TypeAlias, cast
from urllib.parse import unquote

import httptools

from .._emitter import carry_on
from ..web import (
    CLOSE_DROPPED,
    BodyTooLarge,
    FixedHeaders,
    HeaderPairs,
    Headers,
    HeldAnswer,
    Request,
    Response,
    WebApp,
    WebSocketReceiver,
    quick_answerer,
)
from . import wsframe

__all__ = [
    "ASGIApp",
    "HttpProtocol",
    "Limits",
    "ServerState",
    "WebSocketConnection",
]

logger = logging.getLogger("aiosocketio.runner")

ASGIMessage: TypeAlias = MutableMapping[str, Any]
ASGIReceive: TypeAlias = Callable[[], Awaitable[ASGIMessage]]
ASGISend: TypeAlias = Callable[[ASGIMessage], Awaitable[None]]
#: An ASGI 3 application (only its ``http`` scope is used by the runner).
ASGIApp: TypeAlias = Callable[[ASGIMessage, ASGIReceive, ASGISend], Awaitable[None]]


#: Bytes of request line plus headers; more gets 431 and the connection is closed (Node.js allows 16 KiB).
DEFAULT_MAX_HEADER_SIZE: Final = 16 * 1024
#: Header lines per request; more gets 431.
DEFAULT_MAX_HEADERS: Final = 100
#: Seconds an idle keep-alive connection stays open; also the time a client has to send a request head
#: (Node.js's ``keepAliveTimeout`` is 5 s as well).
DEFAULT_KEEP_ALIVE_TIMEOUT: Final = 5.0
#: Request body bytes held while nobody reads them, before reading from the socket pauses.
DEFAULT_MAX_BODY_BUFFER: Final = 256 * 1024
#: Unsent bytes a WebSocket connection may hold while its peer does not read; past that it is dropped (the
#: session closes with "transport error"). Checked on every frame once the transport has paused our writes
#: (above its 64 KiB high-water mark), so a connection holds at most this plus one frame.
DEFAULT_MAX_WRITE_BUFFER: Final = 16 * 1024 * 1024
#: WebSocket frames of one connection handled in one turn of the event loop. One read of 256 KiB may hold
#: some 40 000 empty fragments or pings, or thousands of small messages: handled at once, they held the loop
#: (and every other connection) for 20-30 ms. 256 frames cost well under a millisecond of parsing, and about
#: 2 ms when each is a Socket.IO event answered with an acknowledgement.
FRAMES_PER_TURN: Final = 256
#: Seconds to wait for the client's close frame after sending ours.
DEFAULT_WS_CLOSE_TIMEOUT: Final = 5.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection limits, shared by every connection of one server (one object, not one per socket,
    since an idle connection should cost as little memory as possible). Fields: the ``DEFAULT_*`` above."""

    max_header_size: int = DEFAULT_MAX_HEADER_SIZE
    max_headers: int = DEFAULT_MAX_HEADERS
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT
    max_body_buffer: int = DEFAULT_MAX_BODY_BUFFER
    max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER
    ws_close_timeout: float = DEFAULT_WS_CLOSE_TIMEOUT


class ServerState:
    """What all connections of one server share: the apps, the limits and the set of live connections."""

    __slots__ = (
        "_all_gone",
        "_dirty",
        "_flush_pending",
        "apps",
        "connections",
        "limits",
        "loop",
        "other_app",
        "routes",
        "secure",
        "shutting_down",
        "tasks",
    )

    def __init__(
        self,
        apps: Sequence[WebApp],
        *,
        other_app: ASGIApp | None = None,
        limits: Limits | None = None,
        secure: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.apps = tuple(apps)
        # Each app with its answer_at_once (None if it has none), looked up once here rather than per request.
        self.routes = tuple((app, quick_answerer(app)) for app in self.apps)
        self.other_app = other_app
        self.limits = limits or Limits()
        self.secure = secure
        self.loop = loop or asyncio.get_running_loop()
        self.connections: set[HttpProtocol | WebSocketConnection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.shutting_down = False
        self._all_gone: asyncio.Event | None = None
        # WebSockets with frames queued during this loop turn, written by one callback at its end (see
        # ``WebSocketConnection._queue``): a broadcast to 1,000 sockets schedules one callback, not 1,000.
        self._dirty: list[WebSocketConnection] = []
        self._flush_pending = False

    def forget(self, connection: HttpProtocol | WebSocketConnection) -> None:
        """A connection ended (or changed protocol)."""
        connections = self.connections
        connections.discard(connection)
        if not connections and self._all_gone is not None:
            self._all_gone.set()

    async def wait_connections_closed(self) -> None:
        """Return once every connection has ended (bound it with ``asyncio.timeout``)."""
        if not self.connections:
            return
        self._all_gone = gone = asyncio.Event()
        try:
            await gone.wait()
        finally:
            self._all_gone = None

    def flush_later(self, connection: WebSocketConnection) -> None:
        """Write ``connection``'s queued frames at the end of this loop turn, with every other one's."""
        self._dirty.append(connection)
        if not self._flush_pending:
            self._flush_pending = True
            self.loop.call_soon(self._flush_dirty)

    def _flush_dirty(self) -> None:
        # Swapped first: a connection that queues again while this runs lands in the next round.
        dirty = self._dirty
        self._dirty = []
        self._flush_pending = False
        for connection in dirty:
            connection._flush()

    def start_task(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a request handler, keeping a reference so shutdown can wait for it."""
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


# --- response heads ---

_date_cache: list[Any] = [0, b""]


def _date_header() -> bytes:
    """``date: ...\\r\\n`` (RFC 9110 §6.6.1), formatted at most once a second."""
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0] = now
        _date_cache[1] = f"date: {email.utils.formatdate(now, usegmt=True)}\r\n".encode("ascii")
    value: bytes = _date_cache[1]
    return value


_status_lines: dict[int, bytes] = {}
_STATUS_OK: Final = b"HTTP/1.1 200 OK\r\n"


def _status_line(status: int) -> bytes:
    line = _status_lines.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        line = f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")
        if len(_status_lines) < 256:
            _status_lines[status] = line
    return line


# Headers the runner owns: an app's value would contradict the framing or the connection handling.
_OWN_HEADERS: Final = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})
_OWN_HEADERS_B: Final = frozenset(name.encode("ascii") for name in _OWN_HEADERS)


def _checked(value: bytes) -> bytes:
    """A header name or value as given, refusing CR/LF so no one can smuggle a header or a response."""
    if b"\r" in value or b"\n" in value:
        raise ValueError(f"CR or LF in a response header: {value!r}")
    return value


def _encode_header(name: str, value: str) -> bytes:
    """``name: value\r\n``, or nothing for a header the runner owns."""
    if name.lower() in _OWN_HEADERS:
        return b""
    return _checked(name.encode("latin-1")) + b": " + _checked(value.encode("latin-1")) + b"\r\n"


#: Encoded lines of the header pairs seen so far. Engine responses repeat the same few pairs on every request
#: (content type, cache control, CORS), and encoding and checking them was a tenth of a polling round trip.
#: Bounded: unique values (a session cookie) stop being remembered once it is full.
_header_lines: dict[tuple[str, str], bytes] = {}
_MAX_CACHED_LINES: Final = 512


def _encode_str_headers(headers: Sequence[tuple[str, str]]) -> list[bytes]:
    out: list[bytes] = []
    cache = _header_lines
    for pair in headers:
        line = cache.get(pair) if type(pair) is tuple else None
        if line is None:
            name, value = pair
            line = _encode_header(name, value)
            if type(pair) is tuple and len(cache) < _MAX_CACHED_LINES:
                cache[pair] = line
        if line:
            out.append(line)
    return out


def _has_no_body(status: int) -> bool:
    return status < 200 or status in (204, 304)


_NOT_FOUND: Final = Response(404, [("content-type", "text/plain; charset=utf-8")], b"Not Found")
_SERVER_ERROR: Final = Response(
    500, [("content-type", "text/plain; charset=utf-8")], b"Internal Server Error"
)


def _plain(status: int, text: str, headers: HeaderPairs | None = None) -> Response:
    return Response(status, [("content-type", "text/plain; charset=utf-8"), *(headers or [])], text.encode())


# --- one request ---


class _Exchange:
    """One request and the state of its answer. Bodies are buffered as chunks until someone reads them."""

    __slots__ = (
        "answered",
        "body_complete",
        "buffered",
        "chunks",
        "continue_sent",
        "disconnected",
        "error",
        "headers",
        "http_version",
        "keep_alive",
        "method",
        "path",
        "query",
        "raw_path",
        "reading",
        "received",
        "upgrade",
        "upgrade_tail",
        "waiter",
    )

    def __init__(
        self,
        method: str = "GET",
        path: str = "/",
        raw_path: bytes = b"/",
        query: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None,
        http_version: str = "1.1",
        keep_alive: bool = False,
    ) -> None:
        # The request line and head come in as arguments: one exchange per request, so no field is set twice.
        self.method = method
        self.path = path
        self.raw_path = raw_path
        self.query = query
        self.headers = headers if headers is not None else []
        self.http_version = http_version
        self.keep_alive = keep_alive
        self.upgrade = False
        self.upgrade_tail = b""
        self.chunks: list[bytes] = []
        self.buffered = 0  # body bytes held in ``chunks``
        self.received = 0  # body bytes received in all
        self.body_complete = False
        self.reading = False  # someone is waiting for the body
        self.continue_sent = False
        self.waiter: asyncio.Future[None] | None = None
        self.disconnected = False
        self.answered = False
        self.error = 0  # an HTTP status to answer with at once (bad request, head too large)

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header, ``name`` in lower case (only for rarely needed headers)."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    async def wait(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait for more body, its end, the answer or a disconnect. Several readers may wait at once
        (an ASGI app listening for disconnect while reading), so the future is shielded: cancelling
        one reader must not cancel the wait of the others."""
        waiter = self.waiter
        if waiter is None:
            waiter = self.waiter = loop.create_future()
        await asyncio.shield(waiter)

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)


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
        "_client",
        "_closing",
        "_drain_waiters",
        "_head_bytes",
        "_head_size",
        "_header_list",
        "_idle",
        "_idle_deadline",
        "_in_head",
        "_loop",
        "_parser",
        "_parsing",
        "_paused",
        "_queue",
        "_server",
        "_state",
        "_task",
        "_transport",
        "_upgrade_ex",
        "_url",
        "_write_paused",
    )

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._loop = state.loop
        self._transport: asyncio.Transport | None = None
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._client: tuple[str, int] | None = None
        self._server: tuple[str, int] | None = None
        self._url = b""
        self._header_list: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._head_bytes = 0
        self._in_head = True
        self._active: _Exchange | None = None  # the exchange being answered
        self._parsing: _Exchange | None = None  # the exchange whose body the parser is reading
        self._queue: deque[_Exchange] = deque()
        self._advancing = False
        self._task: asyncio.Task[None] | HeldAnswer | None = None  # what answers the active exchange
        self._asgi_task = False  # an ASGI app is told of a lost client, not cancelled
        self._idle: asyncio.TimerHandle | None = None
        self._idle_deadline = 0.0  # loop time at which an idle connection closes; 0: not idle
        self._paused = 0
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._closing = False
        self._upgrade_ex: _Exchange | None = None

    # --- asyncio callbacks ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence a cast and not an isinstance check.
        self._transport = cast(asyncio.Transport, transport)
        self._client = _address(transport.get_extra_info("peername"))
        self._server = _address(transport.get_extra_info("sockname"))
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
        self._write_paused = True
        self._pause(_PAUSE_WRITE)

    def resume_writing(self) -> None:
        self._write_paused = False
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
            return
        if self._in_head:
            self._head_bytes += len(data)
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            ex = self._upgrade_ex
            if ex is not None:
                ex.upgrade_tail = data[exc.args[0] :]
            self._pause(_PAUSE_HOLD)
            self._advance()
            return
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _HeadTooLarge):
                logger.debug("request head too large from %s", self._client)
                self._fail(431)
            elif isinstance(cause, _BadRequest):
                logger.debug("bad request target from %s", self._client)
                self._fail(400)
            else:
                logger.error("error while parsing a request from %s", self._client, exc_info=cause)
                self._fail(400)
            return
        except httptools.HttpParserError as exc:
            logger.debug("bad HTTP request from %s: %s", self._client, exc)
            self._fail(400)
            return
        if self._in_head and self._head_bytes > self._state.limits.max_header_size:
            # One huge header line is buffered inside the parser before any callback sees it.
            logger.debug("request head too large from %s", self._client)
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
        ex = _Exchange(
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
        self._idle_deadline = 0.0  # _disarm_idle(), inline
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

    def _start(self, ex: _Exchange) -> None:
        self._active = ex
        self._task = None
        self._asgi_task = False
        if ex.error:
            self._respond(ex, _plain(ex.error, HTTPStatus(ex.error).phrase))
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
            problem = _websocket_problem(ex)
            if problem is None:
                if app is None:
                    self._respond(ex, _NOT_FOUND)
                else:
                    self._task = self._state.start_task(self._run_websocket(app, ex))
                return
            if problem.status != 0:
                self._respond(ex, problem)
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
                    response = _SERVER_ERROR
                if isinstance(response, HeldAnswer):
                    # A long-polling GET that waits: no task; cancelled like one when the client leaves.
                    response.bind(partial(self._respond, ex))
                    self._task = response
                    return
                if response is not None:
                    self._respond(ex, response)
                    return
            self._serve_http(app, ex)
        elif self._state.other_app is not None:
            self._asgi_task = True
            self._task = self._state.start_task(_AsgiCycle(self, ex, self._state.other_app).run())
        else:
            self._respond(ex, _NOT_FOUND)

    def _serve_http(self, app: WebApp, ex: _Exchange) -> None:
        """Run the app's handler now, up to its first suspension; only a handler that suspends gets a task.

        Most requests are answered without waiting for anything (a long-polling POST, a GET that finds
        packets waiting, a refused request), so this saves a task, two loop turns and the task bookkeeping per
        request. The handler may answer, and so complete ``ex`` and even start the next pipelined exchange,
        before ``send`` returns: the task is recorded only if ``ex`` is still the one being answered. Like
        Socket.IO event handlers, the first step runs inside ``data_received``, where
        ``asyncio.current_task()`` is None.
        """
        client = self._client
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
            self._respond(ex, done.value)
            return
        except Exception:
            logger.exception("error in %r while answering %s %s", app, ex.method, ex.path)
            self._respond(ex, _SERVER_ERROR)
            return
        task = self._state.start_task(self._finish_http(app, ex, rest))
        if self._active is ex and not ex.answered:
            self._task = task
            if ex.disconnected:  # the client left during the first step: nobody cancelled the handler yet
                task.cancel()

    async def _finish_http(self, app: WebApp, ex: _Exchange, rest: Awaitable[Response]) -> None:
        """The rest of a handler that suspended (see :meth:`_serve_http`), in a task."""
        try:
            response = await rest
        except Exception:
            logger.exception("error in %r while answering %s %s", app, ex.method, ex.path)
            response = _SERVER_ERROR
        self._respond(ex, response)

    def _complete(self, ex: _Exchange, keep_alive: bool) -> None:
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
                loop = self._loop
                self._idle_deadline = deadline = loop.time() + self._state.limits.keep_alive_timeout
                if self._idle is None:
                    self._idle = loop.call_at(deadline, self._on_idle)

    def _keep_alive(self, ex: _Exchange) -> bool:
        # A body nobody finished reading leaves the parser mid-message: the connection cannot be reused.
        return ex.keep_alive and ex.body_complete and not self._state.shutting_down and not self._closing

    def _respond(self, ex: _Exchange, response: Response) -> None:
        """Write a complete response to ``ex`` and move on."""
        transport = self._transport
        if transport is None or self._closing or ex.answered:
            return
        # What _keep_alive() says, inline (``_closing`` is known to be false here): one call less per request.
        keep_alive = ex.keep_alive and ex.body_complete and not self._state.shutting_down
        status = response.status
        headers = response.headers
        try:
            if type(headers) is FixedHeaders:
                head = headers.http1
                if head is None:
                    head = headers.http1 = b"".join(_encode_str_headers(headers))
                lines = [head]
            else:
                lines = _encode_str_headers(headers)
        except (ValueError, UnicodeEncodeError):
            logger.exception("invalid response headers for %s %s", ex.method, ex.path)
            status = 500
            response = _SERVER_ERROR
            lines = _encode_str_headers(response.headers)
        body = response.body
        parts = [_STATUS_OK if status == 200 else _status_line(status), _date_header(), *lines]
        if status >= 200 and status != 204 and status != 304:  # not _has_no_body(status)
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
        self._complete(ex, keep_alive)

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
            self._respond(ex, _plain(status, HTTPStatus(status).phrase))
            return
        if ex is not None and ex in self._queue:
            self._queue.remove(ex)
        error = _Exchange()
        error.error = status
        error.body_complete = True
        self._queue.append(error)
        self._advance()

    async def _run_websocket(self, app: WebApp, ex: _Exchange) -> None:
        handshake = _Handshake(self, ex)
        try:
            await app.handle_websocket(self._request(ex, None), handshake)
        except Exception:
            logger.exception("error in %r while handling a WebSocket request to %s", app, ex.path)
            if handshake.port is not None:
                handshake.port.close(wsframe.CLOSE_INTERNAL_ERROR)
            elif not ex.answered:
                await handshake.reject(_SERVER_ERROR)
            return
        if handshake.port is None and not ex.answered:
            logger.error("%r neither accepted nor rejected the WebSocket request to %s", app, ex.path)
            await handshake.reject(_SERVER_ERROR)

    def _request(self, ex: _Exchange, body_reader: Callable[[int], Awaitable[bytes]] | None) -> Request:
        return Request(
            ex.method,
            ex.path,
            ex.query.decode("latin-1"),
            Headers.from_raw(ex.headers),
            remote_address=self._client[0] if self._client else "",
            secure=self._state.secure,
            body_reader=body_reader,
        )

    def _body_reader(self, ex: _Exchange) -> Callable[[int], Awaitable[bytes]]:
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
                    self._send_continue(ex)
                    await ex.wait(self._loop)
            finally:
                ex.reading = False
            if ex.received > limit:
                raise BodyTooLarge(f"the request body is over {limit} bytes")
            body = b"".join(ex.chunks)
            ex.chunks = []
            ex.buffered = 0
            return body

        return read_body

    def _send_continue(self, ex: _Exchange) -> None:
        """``Expect: 100-continue`` (RFC 9110 §10.1.1): say "go on" once, when the body is first wanted."""
        if ex.continue_sent or ex.received or self._transport is None:
            return
        ex.continue_sent = True
        expect = ex.header(b"expect")
        if expect is not None and expect.lower() == b"100-continue":
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    # --- the WebSocket switch ---

    def _switch_to_websocket(
        self,
        ex: _Exchange,
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
            ws._lost_before_start()
            return ws
        transport.write(head)
        transport.set_protocol(ws)
        ws.connection_made(transport)
        self._state.forget(self)
        ws._write_paused = self._write_paused
        self._transport = None
        self._closing = True
        if not self._write_paused:
            transport.resume_reading()
        if ex.upgrade_tail:
            ws.data_received(ex.upgrade_tail)
        return ws

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

    async def _drain(self) -> None:
        """Wait while the peer is not reading (used by streamed ASGI bodies)."""
        if self._write_paused and self._transport is not None:
            waiter: asyncio.Future[None] = self._loop.create_future()
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
        deadline = self._loop.time() + self._state.limits.keep_alive_timeout
        self._idle_deadline = deadline
        if self._idle is None:
            self._idle = self._loop.call_at(deadline, self._on_idle)

    def _disarm_idle(self) -> None:
        self._idle_deadline = 0.0

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
        if deadline > self._loop.time():
            self._idle = self._loop.call_at(deadline, self._on_idle)
            return
        if self._active is None:
            logger.debug("closing idle connection from %s", self._client)
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
        self._idle = self._loop.call_later(min(self._state.limits.keep_alive_timeout, 2.0), transport.close)

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


# --- the WebSocket handshake (RFC 6455 §4.2) ---


def _websocket_problem(ex: _Exchange) -> Response | None:
    """None for a valid WebSocket upgrade request; a response with status 0 for another kind of upgrade;
    otherwise the error response the client gets (RFC 6455 §4.2.1, §4.4)."""
    upgrade = (ex.header(b"upgrade") or b"").lower()
    if b"websocket" not in upgrade:
        return Response(0)
    if ex.method != "GET":
        return _plain(405, "WebSocket upgrades use GET", [("allow", "GET")])
    if ex.header(b"sec-websocket-version") != b"13":
        return _plain(426, "Unsupported WebSocket version", [("sec-websocket-version", "13")])
    key = ex.header(b"sec-websocket-key")
    if key is None or len(key.strip()) != 24:  # base64 of 16 bytes (§4.1)
        return _plain(400, "Missing or invalid Sec-WebSocket-Key")
    return None


class _Handshake:
    """The :class:`~aiosocketio.web.WebSocketHandshake` of one upgrade request."""

    __slots__ = ("_ex", "_http", "port")

    def __init__(self, http: HttpProtocol, ex: _Exchange) -> None:
        self._http = http
        self._ex = ex
        self.port: WebSocketConnection | None = None

    async def accept(
        self,
        headers: HeaderPairs,
        *,
        max_message_size: int = wsframe.DEFAULT_MAX_MESSAGE_SIZE,
        compression: bool = False,
    ) -> WebSocketConnection:
        """Send 101 Switching Protocols and return the connection to send on (RFC 6455 §4.2.2)."""
        ex = self._ex
        if self.port is not None or ex.answered:
            raise RuntimeError("this WebSocket request was already answered")
        key = (ex.header(b"sec-websocket-key") or b"").decode("latin-1")
        lines = [
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n",
            b"sec-websocket-accept: " + wsframe.accept_key(key).encode("ascii") + b"\r\n",
        ]
        deflate: wsframe.DeflateParams | None = None
        if compression:
            offer = ex.header(b"sec-websocket-extensions")
            answer, deflate = wsframe.negotiate_permessage_deflate(offer.decode("latin-1") if offer else None)
            if answer is not None:
                lines.append(b"sec-websocket-extensions: " + answer.encode("ascii") + b"\r\n")
        lines.extend(_encode_str_headers(headers))
        lines.append(b"\r\n")
        parser = wsframe.FrameParser(
            max_message_size=max_message_size, deflate=deflate, frames_per_feed=FRAMES_PER_TURN
        )
        deflater = wsframe.MessageDeflater(deflate) if deflate is not None else None
        self.port = self._http._switch_to_websocket(ex, b"".join(lines), parser, deflater)
        return self.port

    async def reject(self, response: Response) -> None:
        """Answer with ``response`` instead of upgrading, then close the connection."""
        ex = self._ex
        if self.port is not None or ex.answered:
            raise RuntimeError("this WebSocket request was already answered")
        ex.keep_alive = False
        self._http._upgrade_ex = None
        self._http._respond(ex, response)


# --- an accepted WebSocket ---


class WebSocketConnection(asyncio.Protocol):
    """One accepted WebSocket: the transport's protocol after the 101, and the engine's ``WebSocketPort``.

    Incoming messages go straight to the receiver's ``on_ws_message``; those that arrive before
    :meth:`set_receiver` are held and delivered by it. ``on_ws_close`` is called exactly once: with the
    peer's code after a close frame, with 1002/1007/1009 after a protocol failure, with 1006 when the
    connection broke.
    """

    __slots__ = (
        "_backlog",
        "_close_sent",
        "_close_timer",
        "_deflater",
        "_dropped",
        "_loop",
        "_notified",
        "_out",
        "_parser",
        "_pending",
        "_pending_close",
        "_receiver",
        "_state",
        "_transport",
        "_write_paused",
    )

    def __init__(
        self,
        state: ServerState,
        parser: wsframe.FrameParser,
        deflater: wsframe.MessageDeflater | None = None,
    ) -> None:
        self._state = state
        self._loop = state.loop
        self._transport: asyncio.Transport | None = None
        self._parser = parser
        self._deflater = deflater
        self._receiver: WebSocketReceiver | None = None
        self._pending: list[str | bytes] | None = None  # messages that came before the receiver
        self._pending_close: tuple[int, str] | None = None
        self._out: list[bytes] = []
        self._close_sent = False
        self._notified = False
        self._dropped = False  # we gave up on a peer that does not read (reported as CLOSE_DROPPED)
        self._write_paused = False
        self._backlog = False  # frames of the last read wait for the next loop turn (_feed_backlog)
        self._close_timer: asyncio.TimerHandle | None = None

    # --- asyncio callbacks ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence a cast and not an isinstance check.
        self._transport = cast(asyncio.Transport, transport)
        self._state.connections.add(self)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        try:
            for event in parser.feed(data):
                if type(event) is str or type(event) is bytes:
                    receiver = self._receiver
                    if receiver is not None:
                        receiver.on_ws_message(event)
                    elif not self._notified:
                        if self._pending is None:
                            self._pending = []
                        self._pending.append(event)
                else:
                    self._on_control(event)
        except Exception:
            logger.exception("error while handling a WebSocket message")
            self._fail(wsframe.CLOSE_INTERNAL_ERROR, "internal error")
        if parser.more and not self._backlog and self._transport is not None:
            # The read held more frames than one turn may handle (FRAMES_PER_TURN): the rest waits for the
            # next turn of the loop, after the other connections' callbacks, and nothing more is read meanwhile.
            self._backlog = True
            self._transport.pause_reading()
            self._loop.call_soon(self._feed_backlog)

    def _feed_backlog(self) -> None:
        self._backlog = False
        transport = self._transport
        if transport is None:
            return
        self.data_received(b"")
        if not self._backlog and not self._write_paused and not transport.is_closing():
            transport.resume_reading()

    def eof_received(self) -> bool | None:
        return None  # a half-closed WebSocket is a closed one

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._out.clear()
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._state.forget(self)
        self._notify(CLOSE_DROPPED if self._dropped else wsframe.CLOSE_ABNORMAL, "")

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._transport is not None:
            # A peer that does not read our frames gets no more of its own read either.
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._transport is not None and not self._transport.is_closing() and not self._backlog:
            self._transport.resume_reading()

    # --- WebSocketPort ---

    def set_receiver(self, receiver: WebSocketReceiver) -> None:
        """Install the receiver; messages (and a close) that arrived before it are delivered now, in order."""
        self._receiver = receiver
        pending = self._pending
        if pending is not None:
            self._pending = None
            for message in pending:
                receiver.on_ws_message(message)
        if self._pending_close is not None:
            code, reason = self._pending_close
            self._pending_close = None
            receiver.on_ws_close(code, reason)

    def send_text(self, text: str) -> None:
        """Queue one text message; written with the rest of this loop turn's frames."""
        if self._close_sent:
            return
        deflater = self._deflater
        self._queue(deflater.text_frame(text) if deflater is not None else wsframe.text_frame(text))

    def send_bytes(self, data: bytes) -> None:
        """Queue one binary message; written with the rest of this loop turn's frames."""
        if self._close_sent:
            return
        deflater = self._deflater
        self._queue(deflater.binary_frame(data) if deflater is not None else wsframe.binary_frame(data))

    def send_frame(self, frame: bytes) -> None:
        """Queue a frame built beforehand (``wsframe.text_frame``...): a broadcast encodes once for everyone.

        An uncompressed frame is valid on every connection, with or without permessage-deflate (RFC 7692 §6).
        """
        if not self._close_sent:
            self._queue(frame)

    def close(self, code: int = wsframe.CLOSE_NORMAL) -> None:
        """Start the closing handshake (RFC 6455 §7.1.2); the connection is dropped if the peer does not answer."""
        if self._close_sent or self._notified:
            return
        self._close_sent = True
        self._queue(wsframe.close_frame(code))
        if self._transport is not None:
            timeout = self._state.limits.ws_close_timeout
            self._close_timer = self._loop.call_later(timeout, self._on_close_timeout)

    @property
    def writable(self) -> bool:
        """False once the peer stopped reading (the transport paused our writes) or the close has begun."""
        return not self._write_paused and not self._close_sent

    @property
    def compression(self) -> bool:
        """Whether permessage-deflate was negotiated on this connection."""
        return self._deflater is not None

    # --- internals ---

    def _queue(self, frame: bytes) -> None:
        out = self._out
        out.append(frame)
        if len(out) == 1 and self._transport is not None:
            if self._write_paused:
                # The peer is behind: coalescing saves nothing while the bytes wait in the transport anyway,
                # and frames held here until the end of the turn would escape ``max_write_buffer``. Each one
                # goes to the transport at once, so the limit is checked frame by frame.
                self._flush()
            else:
                # First frame of this loop turn: one write at the end of the turn carries them all. Also for
                # the answer to a read (an ack): writing it at once, between the reads of other connections,
                # measured 10-15 % more server CPU per echo ack than writing every answer after the reads
                # (more wake-ups of the peers, and less batching in the kernel).
                self._state.flush_later(self)

    def _flush(self) -> None:
        out = self._out
        if not out:
            return
        transport = self._transport
        if transport is None or transport.is_closing():
            out.clear()
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        transport.write(data)
        if self._write_paused:
            unsent = transport.get_write_buffer_size()
            if unsent > self._state.limits.max_write_buffer:
                # A slow consumer: drop it rather than hold its backlog. The engine sees CLOSE_DROPPED and closes
                # the session with "transport error" (README, "Slow consumers").
                logger.debug("dropping a WebSocket whose peer does not read (%d bytes unsent)", unsent)
                self._dropped = True
                transport.abort()

    def _on_control(self, event: wsframe.WsEvent) -> None:
        if isinstance(event, wsframe.PingFrame):
            if not self._close_sent:
                self._queue(wsframe.pong_frame(event.payload))
        elif isinstance(event, wsframe.CloseFrame):
            if not self._close_sent:
                # Echo the peer's code (§5.5.1); an empty close is answered with an empty one.
                self._close_sent = True
                self._queue(wsframe.close_frame(event.code))
            self._end()
            self._notify(event.code, event.reason)
        elif isinstance(event, wsframe.ProtocolFailure):
            logger.debug("WebSocket protocol failure (%d): %s", event.code, event.reason)
            self._fail(event.code, event.reason)

    def _fail(self, code: int, reason: str) -> None:
        if not self._close_sent:
            self._close_sent = True
            # The code alone, as Node's ws closes on a protocol failure: the reason stays in our log and in the
            # close notification, a client sees what it would see from the reference.
            self._queue(wsframe.close_frame(code))
        self._end()
        self._notify(code, reason)

    def _end(self) -> None:
        """Write what is queued and close the TCP connection (the server closes first, §7.1.1)."""
        self._flush()
        if self._transport is not None:
            self._transport.close()

    def _on_close_timeout(self) -> None:
        self._close_timer = None
        if self._transport is not None:
            logger.debug("no close frame from the peer in time; dropping the connection")
            self._transport.abort()

    def _notify(self, code: int, reason: str) -> None:
        if self._notified:
            return
        self._notified = True
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        receiver = self._receiver
        if receiver is None:
            self._pending_close = (code, reason)
        else:
            receiver.on_ws_close(code, reason)

    def _lost_before_start(self) -> None:
        """The client left before the 101 could be written: the port exists but is already closed."""
        self._close_sent = True
        self._notify(wsframe.CLOSE_ABNORMAL, "")

    @property
    def idle(self) -> bool:
        return False

    def begin_shutdown(self) -> None:
        """Server shutdown: "going away" (1001), unless the app closed it already."""
        self.close(wsframe.CLOSE_GOING_AWAY)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


# --- other_app: a minimal ASGI 3 bridge ---


class _AsgiCycle:
    """One request served by the ASGI ``other_app`` (ASGI HTTP spec 2.x: ``http.request``/``http.response.*``).

    The body is handed over as it arrives (``more_body``). A response without ``content-length`` is sent
    with its length when it comes in one piece, chunked when streamed to an HTTP/1.1 client, and delimited by
    closing the connection for HTTP/1.0. A client that goes away is reported as ``http.disconnect``.
    """

    __slots__ = (
        "_app",
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

    def __init__(self, http: HttpProtocol, ex: _Exchange, app: ASGIApp) -> None:
        self._http = http
        self._ex = ex
        self._app = app
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
        client = http._client
        server = http._server
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": ex.http_version,
            "method": ex.method,
            "scheme": "https" if http._state.secure else "http",
            "path": ex.path,
            "raw_path": ex.raw_path,
            "query_string": ex.query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in ex.headers],
            "client": list(client) if client else None,
            "server": list(server) if server else None,
        }
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
            self._http._respond(self._ex, _SERVER_ERROR)
        else:
            # Part of the response is out: the only honest signal left is closing the connection.
            self._complete = True
            self._http._complete(self._ex, keep_alive=False)

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
                http._resume(_PAUSE_BODY)
                return {"type": "http.request", "body": body, "more_body": more}
            if not self._body_done:
                http._resume(_PAUSE_BODY)
                http._send_continue(ex)
                ex.reading = True
            try:
                await ex.wait(http._loop)
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
                (_checked(bytes(name)), _checked(bytes(value))) for name, value in message.get("headers", ())
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
        transport = http._transport
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if ex.disconnected or transport is None or http._closing:
            self._complete = not more  # nobody to tell: drop it, as ASGI servers do after a disconnect
            return
        head_only = ex.method == "HEAD" or _has_no_body(self._status)
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
            http._complete(ex, self._keep_alive and http._keep_alive(ex))
        elif http._write_paused:
            await http._drain()

    def _start_response(self, body: bytes, more: bool) -> bytes:
        """The response head, once the first body message tells how the body will be delimited."""
        ex = self._ex
        headers = self._headers
        self._head_sent = True
        has_length = False
        lines = [_status_line(self._status), _date_header()]
        for name, value in headers:
            lower = name.lower()
            if lower == b"content-length":
                has_length = True
            elif lower in _OWN_HEADERS_B:
                continue
            lines.append(name + b": " + value + b"\r\n")
        if not _has_no_body(self._status) and not has_length:
            if not more:
                lines.append(b"content-length: %d\r\n" % len(body))
            elif ex.http_version == "1.1" and ex.method != "HEAD":
                self._chunked = True
                lines.append(b"transfer-encoding: chunked\r\n")
            else:
                self._keep_alive = False  # HTTP/1.0: the end of the body is the end of the connection
        keep_alive = self._keep_alive and self._http._keep_alive(ex)
        if not keep_alive:
            self._keep_alive = False
            lines.append(b"connection: close\r\n")
        elif ex.http_version == "1.0":
            lines.append(b"connection: keep-alive\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)
