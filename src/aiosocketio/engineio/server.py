"""``EngineServer``: the sid table, request verification and dispatch (docs/protocol/engineio.md#handshake, docs/protocol/engineio.md#polling, docs/protocol/engineio.md#websocket, docs/protocol/engineio.md#verification, docs/protocol/engineio.md#cors-cookie-hooks).

It is a :class:`aiosocketio.web.WebApp`: the built-in runner and the ASGI app hand it plain HTTP requests and
WebSocket upgrade requests for its path. Each request is checked in the reference's order; a refused one gets
the reference's answer and fires ``connection_error`` once. Accepted handshakes create an
:class:`~aiosocketio.engineio.socket.EngineSocket` and fire ``connection``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiosocketio._checks import TIMER_LIMIT, seconds
from aiosocketio._emitter import EventEmitter, is_awaitable
from aiosocketio.clock import Clock
from aiosocketio.engineio import headers as hdr
from aiosocketio.engineio.handshake import (
    MESSAGES,
    EngineError,
    ErrorCode,
    SidGenerator,
    check_protocol,
    error_response_body,
    open_packet,
    origin_is_invalid,
    protocol_revision,
    status_for,
    verify,
)
from aiosocketio.engineio.interfaces import PollContext
from aiosocketio.engineio.payload_v3 import encode_payload_v3
from aiosocketio.engineio.socket import EngineSocket
from aiosocketio.engineio.timers import SessionTimers, resolution_for
from aiosocketio.engineio.transports.polling import (
    OCTET_STREAM,
    TEXT_PLAIN,
    PollingTransport,
    encode_items,
    jsonp_index,
    wrap_jsonp,
)
from aiosocketio.engineio.transports.websocket import WebSocketTransport
from aiosocketio.web import (
    CLOSE_NO_STATUS,
    FixedHeaders,
    HeaderPairs,
    Headers,
    HeldAnswer,
    Request,
    Response,
    WebSocketHandshake,
    parse_query,
)

__all__ = ["EngineConnectionError", "EngineServer"]

logger = logging.getLogger("aiosocketio.engine")

KNOWN_TRANSPORTS = ("polling", "websocket")
"""The transports an engine can offer (``transports=`` picks among them)."""

DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024
"""Default of ``max_queued_bytes``: what one session may hold for a long-polling client that does not fetch it."""


@dataclass(slots=True)
class EngineConnectionError:
    """What ``connection_error`` listeners receive: the refused request and the reference's code and message."""

    req: Request
    """The refused request."""
    code: int
    """The reference's error code: 0 unknown transport, 1 unknown session id, 2 bad handshake method, 3 bad
    request, 4 forbidden, 5 unsupported protocol version."""
    message: str
    """The reference's message for ``code`` (``"Forbidden"``...), or the text of an exception ``allow_request`` raised."""
    context: dict[str, Any] = field(default_factory=dict)
    """Details, as the reference gives them: a ``name`` (such as ``"TRANSPORT_MISMATCH"``) or the value refused
    (``transport``, ``sid``, ``method``, ``protocol``...)."""


#: The headers of a long-polling GET's answer (and of a POST's), as the reference sends them.
_POLL_HEADERS: HeaderPairs = [("Content-Type", TEXT_PLAIN), ("cache-control", "no-store")]
_POST_HEADERS: HeaderPairs = [("Content-Type", "text/html"), ("cache-control", "no-store")]
# a protocol 3 binary payload (docs/protocol/engineio-v3.md)
_BINARY_POLL_HEADERS = ("Content-Type", OCTET_STREAM)
_OK = b"ok"
#: The request headers answer_at_once reads; one of them sent twice sends the request the long way.
_QUICK_HEADERS = frozenset({b"origin", b"content-type", b"user-agent", b"accept-encoding"})


async def _maybe_await(value: Any) -> Any:
    if is_awaitable(value):
        return await value
    return value


class EngineServer(EventEmitter):
    """An Engine.IO v4 server, usable on its own (docs/api-contract.md#engineio) or under a Socket.IO server.

    ``max_queued_bytes`` bounds the packets one session may hold for a transport that does not take them: a
    long-polling client that stops fetching (the reference lets that buffer grow until the ping timeout). Past
    it the session is closed with ``transport error``, like a broken transport. Text counts one per character.

    Durations are in seconds. ``allow_request(request)`` may be sync or async and returns a bool; raising an
    exception also refuses, with the exception's text as the message. ``generate_id(request)`` may be
    replaced by any sync or async callable returning a unique string. ``clock`` (an
    :class:`aiosocketio.clock.Clock`) replaces the event loop's time for every deadline, as tests do with
    :class:`aiosocketio.testing.FakeClock`.

    Under a Socket.IO server it is ``io.engine``, and ``Server(...)`` passes its engine options on. Its events:
    ``connection`` (an :class:`~aiosocketio.engineio.socket.EngineSocket`), ``connection_error`` (an
    ``EngineConnectionError``), ``initial_headers`` and ``headers`` (``fn(headers, request)``, to change response
    headers).

    Args:
        path: Where the engine answers; requests for other paths are not its own.
        ping_interval: Seconds between two heartbeats (Node.js: ``pingInterval``, in milliseconds there).
        ping_timeout: Seconds the client has to answer a heartbeat before its session is closed.
        upgrade_timeout: Seconds a transport upgrade (long-polling to WebSocket) may take before it is abandoned.
        max_http_buffer_size: The largest message or long-polling POST body accepted, in bytes.
        max_queued_bytes: The most one session may hold for a transport that does not take it (see above).
        transports: The transports clients may use, among ``"polling"`` and ``"websocket"``.
        allow_upgrades: Let long-polling clients upgrade to WebSocket.
        allow_request: Called with each new connection's first request; a false answer refuses it (HTTP 403).
        per_message_deflate: Offer WebSocket permessage-deflate compression.
        http_compression: Compress long-polling answers (gzip or deflate, as the client accepts): ``True``
            (from 1024 bytes), ``False``, or ``{"threshold": bytes}``.
        cors: CORS for cross-origin clients: ``None``/``False`` (no CORS headers), ``True`` (any origin), or a
            dict of the Node.js ``cors`` package's options (``origin``, ``credentials``, ``methods``...).
        cookie: Set a cookie holding the session id: ``False``, ``True`` (named ``io``), or a dict of cookie
            attributes (``name``, ``path``, ``http_only``, ``same_site``...).
        allow_eio3: Also accept Engine.IO protocol 3 clients (Socket.IO v2 clients).
        initial_packet: A message sent to each client right after the handshake.
        add_trailing_slash: Answer ``path`` with a trailing slash (``/engine.io/``), as the reference does.
        clock: Where every deadline is timed; ``None``: the running event loop.

    Raises:
        ValueError: A duration, size, path or transport list is invalid (the message says which).
        TypeError: ``transports`` is a single string.
    """

    __slots__ = (
        "_clients",
        "_compression",
        "_cookie",
        "_cors",
        "_cors_fixed",
        "_default_id",
        "_get_headers",
        "_path",
        "_post_headers",
        "_timers",
        "allow_eio3",
        "allow_request",
        "allow_upgrades",
        "clock",
        "generate_id",
        "initial_packet",
        "max_http_buffer_size",
        "max_queued_bytes",
        "per_message_deflate",
        "ping_interval",
        "ping_timeout",
        "transports",
        "upgrade_timeout",
    )

    def __init__(
        self,
        path: str = "/engine.io/",
        *,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        upgrade_timeout: float = 10.0,
        max_http_buffer_size: int = 1_000_000,
        max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
        transports: Sequence[str] = ("polling", "websocket"),
        allow_upgrades: bool = True,
        allow_request: Callable[[Request], Any] | None = None,
        per_message_deflate: bool = False,
        http_compression: bool | dict[str, Any] | None = True,
        cors: Any = None,
        cookie: Any = False,
        allow_eio3: bool = False,
        initial_packet: str | bytes | None = None,
        add_trailing_slash: bool = True,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        ping_interval = seconds("ping_interval", ping_interval, limit=TIMER_LIMIT)
        ping_timeout = seconds("ping_timeout", ping_timeout, limit=TIMER_LIMIT)
        upgrade_timeout = seconds("upgrade_timeout", upgrade_timeout, limit=TIMER_LIMIT)
        if not isinstance(max_http_buffer_size, int) or max_http_buffer_size <= 0:
            raise ValueError(
                f"max_http_buffer_size must be a positive int of bytes, got {max_http_buffer_size!r}"
            )
        if type(max_queued_bytes) is not int or max_queued_bytes <= 0:
            raise ValueError(f"max_queued_bytes must be a positive int of bytes, got {max_queued_bytes!r}")
        if isinstance(transports, str):
            raise TypeError('transports is a sequence of names, e.g. ("polling", "websocket"), not a string')
        unknown = [t for t in transports if t not in KNOWN_TRANSPORTS]
        if unknown or not transports:
            raise ValueError(
                f"transports must be a non-empty subset of {KNOWN_TRANSPORTS}, got {tuple(transports)}"
            )
        self._path = self._normalize_path(path, add_trailing_slash)
        self.ping_interval = float(ping_interval)
        """Seconds between two heartbeats; sent to each client in the handshake, so a change affects new sessions."""
        self.ping_timeout = float(ping_timeout)
        """Seconds a client has to answer a heartbeat; sent in the handshake too."""
        self.upgrade_timeout = float(upgrade_timeout)
        """Seconds an upgrade to WebSocket may take before the candidate connection is closed."""
        self.max_http_buffer_size = max_http_buffer_size
        """The largest message or long-polling POST body accepted, in bytes."""
        self.max_queued_bytes = max_queued_bytes
        """The most one session may hold for a transport that does not take it; past it: ``transport error``."""
        self.transports = tuple(transports)
        """The transports clients may use."""
        self.allow_upgrades = allow_upgrades
        """Whether long-polling clients are offered the upgrade to WebSocket."""
        self.allow_request = allow_request
        """The check run on each new connection's first request (``None``: every request is allowed)."""
        self.per_message_deflate = per_message_deflate
        """Whether WebSocket connections offer permessage-deflate compression."""
        self.allow_eio3 = allow_eio3
        """Whether Engine.IO protocol 3 clients (Socket.IO v2) are accepted."""
        self.initial_packet = initial_packet
        """A message sent to each new session right after the handshake, or ``None``."""
        self._compression = hdr.CompressionOptions.from_user(http_compression)
        self._cors = hdr.CorsOptions.from_user(cors)
        self._cors_fixed = self._fixed_cors_headers(self._cors)
        # The headers of every long-polling answer that answer_at_once gives (CORS included, when fixed).
        cors_fixed = self._cors_fixed or []
        self._get_headers = FixedHeaders([*_POLL_HEADERS, *cors_fixed])
        self._post_headers = FixedHeaders([*_POST_HEADERS, *cors_fixed])
        self._cookie = hdr.CookieOptions.from_user(cookie)
        self._clients: dict[str, EngineSocket] = {}
        self._default_id = SidGenerator()
        self._timers: SessionTimers | None = None
        self.generate_id: Callable[[Request], Any] = self._generate_default_id
        """Makes each new session's id from its first request (Node.js: ``generateId``).

        Replace it with any sync or async callable returning a string unique in the whole cluster; the default
        gives random ids of the reference's form.
        """
        self.clock = clock
        """Where the sessions read the time and file their deadlines; ``None``: the running loop."""

    @staticmethod
    def _normalize_path(path: str, add_trailing_slash: bool) -> str:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f'path must be a string starting with "/", got {path!r}')
        if path.endswith("/"):
            path = path[:-1]
        return path + "/" if add_trailing_slash else path

    @staticmethod
    def _fixed_cors_headers(cors: hdr.CorsOptions | None) -> HeaderPairs | None:
        """The CORS headers of every request but a preflight, when they do not depend on the request.

        That is the case for a static origin that is ``"*"`` or one fixed origin (the default ``cors={"origin":
        "*"}`` among them): computed once here instead of per request.
        """
        if cors is None or callable(cors.origin):
            return None
        allowed = hdr.resolve_origin(cors.origin)
        if not isinstance(allowed, str):
            return None  # reflected from the request's Origin, or nothing at all
        headers, _ = hdr.cors_headers(
            cors, method="GET", request_origin=None, request_headers=None, allowed_origin=allowed
        )
        return headers

    def _generate_default_id(self, request: Request) -> str:
        return self._default_id()

    # -- public ------------------------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The path the engine answers, normalized (with its trailing slash unless ``add_trailing_slash=False``)."""
        return self._path

    @property
    def clients(self) -> dict[str, EngineSocket]:
        """The live sessions by id (a read-only view in spirit: do not mutate)."""
        return self._clients

    @property
    def clients_count(self) -> int:
        """How many sessions are open (Node.js: ``clientsCount``)."""
        return len(self._clients)

    def handles(self, path: str) -> bool:
        """For front-ends: whether a request for ``path`` is the engine's (it starts with :attr:`path`).

        Args:
            path: The request's path, without the query string.

        Returns:
            ``True`` when the request should be given to :meth:`handle_http` or :meth:`handle_websocket`.
        """
        return path.startswith(self._path)

    def asgi_app(self, other_app: Any = None, **options: Any) -> Any:
        """This engine as an ASGI 3 application (requests for other paths go to ``other_app``). ``options``: the
        front-end's limits (``max_write_buffer``), see :class:`aiosocketio.asgi.ASGIApp`."""
        from aiosocketio.asgi import ASGIApp

        return ASGIApp(self, other_app=other_app, **options)

    async def startup(self) -> None:
        """Nothing to prepare: an engine is ready as soon as it exists."""

    async def shutdown(self) -> None:
        """Close every session at once, dropping what is buffered (reason "forced close")."""
        for socket in list(self._clients.values()):
            socket.discard()

    async def close(self) -> None:
        """Close every session at once, as :meth:`shutdown` does (Node.js: ``close``)."""
        await self.shutdown()

    # -- plain HTTP --------------------------------------------------------------------------------------

    def answer_at_once(
        self, method: str, path: str, query: bytes, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> Response | HeldAnswer | None:
        """For front-ends. The hot path of long-polling (``QuickWebApp``): a GET or POST of a live polling
        session, answered from the request's raw parts when it needs no waiting.

        It gives exactly what :meth:`handle_http` would, or None before changing anything: a ``headers``
        listener (it wants a Request), CORS that depends on the request, one of the headers read here sent twice
        (Headers would join them), a protocol 3 or JSONP session, an overlapping GET, and every request that
        :meth:`_polling_transport` (the checks handle_http makes too) does not pass. A GET with nothing to send
        yet is held: the :class:`HeldAnswer` gets its answer when packets come.
        """
        if method == "GET":
            posting = False
        elif method == "POST":
            posting = True
        else:
            return None
        if (self._cors is not None and self._cors_fixed is None) or "headers" in self._listeners:
            return None
        found: dict[bytes, bytes] = {}
        for key, value in headers:
            if key in _QUICK_HEADERS:
                if key in found:
                    return None
                found[key] = value
        origin = found.get(b"origin")
        parsed = parse_query(query.decode("latin-1"))  # as Request.query parses it for handle_http
        transport = self._polling_transport(parsed, None if origin is None else origin.decode("latin-1"))
        # Protocol 3 (the revision matches the session's) and JSONP sessions take the long way.
        if transport is None or parsed.get("EIO") != "4" or transport.jsonp is not None:
            return None
        content_type = found.get(b"content-type")
        user_agent = found.get(b"user-agent")
        accept_encoding = found.get(b"accept-encoding")
        if posting:
            accepted = transport.receive_now(body, content_type)
            if accepted is None:
                return None
            if accepted:
                return Response(200, self._post_headers, _OK)
            return Response(400, list(self._cors_fixed or ()))
        agent = user_agent.decode("latin-1") if user_agent is not None else None
        encodings = accept_encoding.decode("latin-1") if accept_encoding is not None else None
        payload = transport.answer_now((agent, encodings, path, query, headers))
        if isinstance(payload, bytes):
            return self._quick_poll_response(payload, agent, encodings)
        return payload  # a HeldAnswer (see held_poll_response), or None for an overlapping GET

    def _quick_poll_response(
        self, payload: bytes, user_agent: str | None, accept_encoding: str | None
    ) -> Response:
        """What handle_http answers a poll with when no ``headers`` listener is there (CORS fixed, if any)."""
        extra, payload = self._poll_extras(payload, user_agent, accept_encoding)
        if extra:  # in handle_http's order: the poll's own headers, then CORS
            return Response(200, [*_POLL_HEADERS, *extra, *(self._cors_fixed or ())], payload)
        return Response(200, self._get_headers, payload)

    def held_poll_response(self, payload: bytes, context: PollContext, remote_address: str) -> Response:
        """For the sessions. The answer to a GET held by answer_at_once, as handle_http would give it now. A ``headers``
        listener added while it waited gets a Request built from the raw parts (``remote_address``: the
        session's)."""
        user_agent, accept_encoding, path, query, headers = context
        if "headers" not in self._listeners:
            return self._quick_poll_response(payload, user_agent, accept_encoding)
        request = Request(
            "GET",
            path,
            query.decode("latin-1"),
            Headers.from_raw(headers),
            remote_address=remote_address,
        )
        response = self.poll_response(request, payload)
        if self._cors_fixed:
            response.headers = [*response.headers, *self._cors_fixed]
        return response

    async def handle_http(self, request: Request) -> Response:
        """For front-ends: answer a plain HTTP request for the engine's path (handshake, poll, POST, preflight).

        Applications do not call it: the built-in runner and the ASGI app do. A refused request gets the
        reference's status and JSON error and fires ``connection_error``; it never raises for bad input.

        Args:
            request: The request, its body read.

        Returns:
            The response to send. A long-polling GET may wait here until there is something to send.
        """
        cors_headers = self._cors_fixed
        if self._cors is None or (cors_headers is not None and request.method != "OPTIONS"):
            transport = self._polling_transport(request.query, request.headers.get("origin"))
            if transport is not None:
                # The hot path: a GET or POST of a live polling session calls no application hook that may
                # wait (only the synchronous "headers" listeners).
                response = await self._to_transport(transport, request)
                if cors_headers:
                    response.headers = [*response.headers, *cors_headers]
                return response
        # Everything else may run the application's hooks (a CORS origin function, allow_request, generate_id,
        # the headers listeners). The built-in runner starts a handler outside any task, and only moves it into
        # one when it first waits; code such as asyncio.timeout() or an aiohttp request needs a current task
        # from the start, so these requests get their own.
        if asyncio.current_task() is None:
            return await asyncio.ensure_future(self._handle_http_hooked(request))
        return await self._handle_http_hooked(request)

    async def _handle_http_hooked(self, request: Request) -> Response:
        cors_headers = self._cors_fixed
        if self._cors is not None and (cors_headers is None or request.method == "OPTIONS"):
            setting = self._cors.origin
            if callable(setting):
                outcome = await self._run_cors(request)
            else:
                outcome = self._cors_outcome(request, setting)
            if isinstance(outcome, EngineError):
                return self._refuse(request, outcome, [])
            cors_headers, preflight = outcome
            if preflight:
                return Response(self._cors.options_success_status, cors_headers)
        transport = self._polling_transport(request.query, request.headers.get("origin"))
        if transport is not None:
            response = await self._to_transport(transport, request)
        else:
            response = await self._handle_http(request)
        if cors_headers:
            response.headers = [*response.headers, *cors_headers]
        return response

    def _to_transport(self, transport: PollingTransport, request: Request) -> Awaitable[Response]:
        """The live session's transport answers its GET and POST (the coroutine, not awaited here: no extra
        frame on the hot path); other methods get the reference's refusal."""
        method = request.method
        if method == "GET":
            return transport.handle_get(request)
        if method == "POST":
            return transport.handle_post(request)
        return self._handle_http(request)

    def _verify(self, request: Request, is_upgrade: bool) -> tuple[EngineSocket | None, EngineError | None]:
        """The session the request names (if live) and the outcome of the reference's checks (docs/protocol/engineio.md#verification)."""
        query = request.query
        sid = query.get("sid")
        socket = self._clients.get(sid) if sid else None
        error = verify(
            method=request.method,
            query=query,
            origin=request.headers.get("origin"),
            is_upgrade=is_upgrade,
            transports=self.transports,
            session_transport=socket.transport.name if socket is not None else None,
            session_protocol=socket.protocol if socket is not None else 4,
        )
        return socket, error

    def _polling_transport(self, query: dict[str, str], origin: str | None) -> PollingTransport | None:
        """The transport of the live polling session a request names (by its ``query`` and ``origin``), when
        every check of verify() passes; None sends the request the long way (_handle_http), which answers errors
        too. The one implementation of these checks for handle_http and answer_at_once.

        The common case, checked without building verify()'s arguments: the transport the request names is
        the session's, so it is allowed and matches; only the origin is left to check (docs/protocol/engineio.md#verification: what the reference
        checks on such a request is the sid, the transport and the origin).
        """
        sid = query.get("sid")
        if not sid:
            return None
        socket = self._clients.get(sid)
        if socket is None:
            return None
        transport = socket.transport
        if (
            type(transport) is PollingTransport
            and query.get("transport") == "polling"
            and "polling" in self.transports
            and (4 if query.get("EIO") == "4" else 3) == socket.protocol  # protocol_revision(), inline
            and (origin is None or not origin_is_invalid(origin))
        ):
            return transport
        return None

    async def _handle_http(self, request: Request) -> Response:
        socket, error = self._verify(request, is_upgrade=False)
        if error is not None:
            return self._refuse(request, error)
        if socket is not None:
            transport = socket.transport
            if not isinstance(transport, PollingTransport):  # verify() checked the names; this is for mypy
                return self._refuse(
                    request, EngineError.of(ErrorCode.BAD_REQUEST, {"name": "TRANSPORT_MISMATCH"})
                )
            if request.method == "GET":
                return await transport.handle_get(request)
            if request.method == "POST":
                return await transport.handle_post(request)
            # The reference answers 500 here; a client's mistake deserves a 4xx.
            return Response(405, [("Allow", "GET, POST")])
        # A handshake over polling.
        outcome = await self._accept_handshake(request)
        if isinstance(outcome, EngineError):
            return self._refuse(request, outcome)
        sid = outcome
        protocol = protocol_revision(request.query)
        socket = EngineSocket(self, sid, request, protocol=protocol)
        self._clients[sid] = socket
        jsonp = jsonp_index(request.query)
        body, binary = self._open_payload(
            sid, protocol=protocol, supports_binary="b64" not in request.query and jsonp is None
        )
        if jsonp is not None:
            body = wrap_jsonp(jsonp, body)
        headers: HeaderPairs = [
            ("Content-Type", OCTET_STREAM if binary else TEXT_PLAIN),
            ("cache-control", "no-store"),
        ]
        if self._cookie is not None:
            headers.append(("Set-Cookie", hdr.set_cookie_header(self._cookie, sid)))
        headers = await self._hooked(headers, request, initial=True)
        socket.start()
        logger.debug(
            "session %s: handshake over polling from %s (protocol %d)", sid, socket.remote_address, protocol
        )
        self.emit_event("connection", socket)
        return Response(200, headers, body)

    def _open_payload(self, sid: str, *, protocol: int, supports_binary: bool) -> tuple[bytes, bool]:
        """The polling handshake's answer (the open packet, then ``initial_packet``) and whether it is a protocol
        3 binary payload (``application/octet-stream``)."""
        upgrades = ["websocket"] if self.allow_upgrades and "websocket" in self.transports else []
        text = open_packet(sid, upgrades, self.ping_interval, self.ping_timeout, self.max_http_buffer_size)
        items: list[str | bytes] = [text]
        if self.initial_packet is not None:
            initial = self.initial_packet
            items.append("4" + initial if isinstance(initial, str) else initial)
        if protocol == 3:
            return encode_payload_v3(items, supports_binary)
        return encode_items(items), False

    async def _accept_handshake(self, request: Request) -> str | EngineError:
        """``allow_request``, the protocol check and id generation (docs/protocol/engineio.md#verification step 5)."""
        if self.allow_request is not None:
            try:
                allowed = await _maybe_await(self.allow_request(request))
                message = None
            except Exception as exc:
                allowed, message = False, str(exc) or None
            if not allowed:
                return EngineError.of(ErrorCode.FORBIDDEN, {"message": message}, message)
        error = check_protocol(request.query, self.allow_eio3)
        if error is not None:
            return error
        try:
            sid = self.generate_id(request)
            if is_awaitable(sid):  # no coroutine to await for the common, plain generator
                sid = await sid
        except Exception as exc:
            logger.exception("generate_id failed")
            return EngineError.of(ErrorCode.BAD_REQUEST, {"name": "ID_GENERATION_ERROR", "error": exc})
        if not isinstance(sid, str) or not sid:
            logger.error("generate_id must return a non-empty str, got %r", sid)
            return EngineError.of(ErrorCode.BAD_REQUEST, {"name": "ID_GENERATION_ERROR", "error": sid})
        if sid in self._clients:
            logger.error("generate_id returned an id already in use: %r", sid)
            return EngineError.of(
                ErrorCode.BAD_REQUEST, {"name": "ID_GENERATION_ERROR", "error": "duplicate"}
            )
        return sid

    def _refuse(self, request: Request, error: EngineError, extra: HeaderPairs | None = None) -> Response:
        logger.debug("refused %s %s: %s %s", request.method, request.url, int(error.code), error.message)
        self._report(request, error)
        headers: HeaderPairs = [("Content-Type", "application/json")]
        if extra:
            headers.extend(extra)
        return Response(status_for(error.code), headers, error_response_body(error))

    def _report(self, request: Request, error: EngineError) -> None:
        """``connection_error`` with the code's own message, as the reference reports it; a refusal's own text
        (what ``allow_request`` raised) is in the context and in the answer's body."""
        if self.has_listeners("connection_error"):
            self.emit_event(
                "connection_error",
                EngineConnectionError(request, int(error.code), MESSAGES[error.code], error.context),
            )

    async def _hooked(self, headers: HeaderPairs, request: Request, *, initial: bool) -> HeaderPairs:
        """Run the ``initial_headers`` (handshake only) then ``headers`` hooks, which may mutate a dict; a list
        value becomes one header line per item (several ``Set-Cookie`` headers, say)."""
        hooks = self.listeners("initial_headers") if initial else []
        hooks += self.listeners("headers")
        if not hooks:
            return headers
        mapping = dict(headers)
        for hook in hooks:
            try:
                await _maybe_await(hook(mapping, request))
            except Exception:
                logger.exception("error in a headers hook")
        return hdr.hook_header_pairs(mapping)

    def poll_response(self, request: Request, body: bytes, *, binary: bool = False) -> Response:
        """For the sessions. The answer to a long-polling GET that carries ``body``, the ``headers`` hook applied (CORS is
        the caller's)."""
        request_headers = request.headers
        extra, body = self._poll_extras(
            body, request_headers.get("user-agent"), request_headers.get("accept-encoding")
        )
        headers = [_BINARY_POLL_HEADERS if binary else _POLL_HEADERS[0], _POLL_HEADERS[1], *extra]
        return Response(200, self._sync_hooked(headers, request), body)

    def _poll_extras(
        self, body: bytes, user_agent: str | None, accept_encoding: str | None
    ) -> tuple[HeaderPairs, bytes]:
        """The headers a poll's answer needs beyond the fixed ones, and its body, compressed if it should be:
        old Internet Explorer gets ``X-XSS-Protection: 0``, as the reference sends it."""
        extra: HeaderPairs = []
        if user_agent and (";MSIE" in user_agent or "Trident/" in user_agent):
            extra.append(("X-XSS-Protection", "0"))
        compression = self._compression
        if compression is not None and len(body) >= compression.threshold:
            encoding = hdr.choose_encoding(accept_encoding)
            if encoding is not None:
                body = hdr.compress(body, encoding)
                extra.append(("Content-Encoding", encoding))
        return extra, body

    def post_response(self, request: Request) -> Response:
        """For the sessions. The answer to a long-polling POST whose packets were taken (CORS is the caller's)."""
        return Response(200, self._sync_hooked(list(_POST_HEADERS), request), _OK)

    def _sync_hooked(self, headers: HeaderPairs, request: Request) -> HeaderPairs:
        """The ``headers`` hook on a per-request response; async hooks are not awaited here (documented)."""
        if not self.has_listeners("headers"):
            return headers
        hooks = self.listeners("headers")
        mapping = dict(headers)
        for hook in hooks:
            try:
                result = hook(mapping, request)
                if inspect.isawaitable(result):
                    raise TypeError("headers hooks of polling responses must be plain functions")
            except Exception:
                logger.exception("error in a headers hook")
        return hdr.hook_header_pairs(mapping)

    # -- CORS --------------------------------------------------------------------------------------------

    def _cors_outcome(self, request: Request, setting: Any) -> tuple[HeaderPairs, bool] | EngineError:
        """The CORS headers for ``request`` once the ``origin`` setting is known (``setting``: the option, or
        what its function answered)."""
        cors = self._cors
        assert cors is not None
        headers = request.headers
        try:
            return hdr.cors_headers(
                cors,
                method=request.method,
                request_origin=headers.get("origin"),
                request_headers=headers.get("access-control-request-headers"),
                allowed_origin=hdr.resolve_origin(setting),
            )
        except Exception as exc:  # the request's headers cannot be echoed
            logger.debug("CORS failed: %r", exc)
            return EngineError.of(ErrorCode.BAD_REQUEST, {"name": "MIDDLEWARE_FAILURE"})

    async def _run_cors(self, request: Request) -> tuple[HeaderPairs, bool] | EngineError:
        """CORS with an ``origin`` function (which may be async); a fixed setting needs no coroutine
        (:meth:`_cors_outcome` directly)."""
        function = self._cors.origin  # type: ignore[union-attr]
        assert callable(function)
        try:
            setting = await _maybe_await(function(request.headers.get("origin")))
        except Exception as exc:
            logger.debug("CORS failed: %r", exc)
            return EngineError.of(ErrorCode.BAD_REQUEST, {"name": "MIDDLEWARE_FAILURE"})
        return self._cors_outcome(request, setting)

    # -- WebSocket ---------------------------------------------------------------------------------------

    async def handle_websocket(self, request: Request, handshake: WebSocketHandshake) -> None:
        """For front-ends: take a WebSocket upgrade request for the engine's path.

        Accepts it (a new session, or the upgrade of a long-polling one) or rejects it with the reference's
        answer; returns once the connection is handed to its session, which then runs on its own.

        Args:
            request: The upgrade request.
            handshake: The front-end's way to accept or reject the upgrade.
        """
        if self._runs_app_hooks() and asyncio.current_task() is None:
            # As for HTTP requests (see handle_http): the built-in runner starts this outside any task, and
            # application hooks that may wait (``asyncio.timeout()``, an aiohttp call) need one from the start.
            await asyncio.ensure_future(self._handle_websocket(request, handshake))
            return
        await self._handle_websocket(request, handshake)

    def _runs_app_hooks(self) -> bool:
        """Whether a WebSocket handshake calls application code that may wait: ``allow_request``, a CORS origin
        function, a ``generate_id`` of the application's, header hooks."""
        cors = self._cors
        return (
            self.allow_request is not None
            or (cors is not None and callable(cors.origin))
            or self.generate_id != self._generate_default_id
            or "headers" in self._listeners
            or "initial_headers" in self._listeners
        )

    async def _handle_websocket(self, request: Request, handshake: WebSocketHandshake) -> None:
        # A fixed CORS setting's headers are the same for every upgrade (a GET): computed once, at construction.
        cors_headers = self._cors_fixed
        if cors_headers is None:
            cors_headers = []
            if self._cors is not None:
                setting = self._cors.origin
                if callable(setting):
                    outcome = await self._run_cors(request)
                else:  # no coroutine for a fixed setting: one per handshake less
                    outcome = self._cors_outcome(request, setting)
                if isinstance(outcome, EngineError):
                    await self._refuse_websocket(request, handshake, outcome)
                    return
                cors_headers = outcome[0]
        query = request.query
        sid = query.get("sid")
        socket, error = self._verify(request, is_upgrade=True)
        if error is None and query.get("transport") != "websocket":
            error = EngineError.of(ErrorCode.BAD_REQUEST, {"name": "TRANSPORT_MISMATCH"})
        if error is None and socket is None:
            accepted = await self._accept_handshake(request)
            if isinstance(accepted, EngineError):
                error = accepted
            else:
                sid = accepted
        if error is not None:
            await self._refuse_websocket(request, handshake, error)
            return
        assert sid is not None
        listeners = self._listeners
        if "headers" in listeners or (socket is None and "initial_headers" in listeners):
            headers = await self._hooked(list(cors_headers), request, initial=socket is None)
        else:
            headers = list(cors_headers)
        port = await handshake.accept(
            headers, max_message_size=self.max_http_buffer_size, compression=self.per_message_deflate
        )
        b64 = "b64" in query
        if socket is not None:
            # An upgrade candidate for a polling session, or an extra WebSocket to close at once (docs/protocol/engineio.md#websocket).
            if (
                not self.allow_upgrades
                or not socket.session.can_upgrade()
                or not isinstance(socket.transport, PollingTransport)
                or self._clients.get(sid) is not socket
            ):
                # As the reference: a close frame without a status code (the client sees 1005).
                logger.debug("session %s: extra WebSocket refused (no upgrade possible now)", sid)
                port.close(CLOSE_NO_STATUS)
                return
            socket.start_upgrade(WebSocketTransport(socket, port, b64=b64, v3=socket.protocol == 3))
            return
        socket = EngineSocket(
            self,
            sid,
            request,
            protocol=protocol_revision(query),
            transport=lambda owner: WebSocketTransport(owner, port, b64=b64, v3=owner.protocol == 3),
        )
        transport: WebSocketTransport = socket.transport  # type: ignore[assignment]  # no cast() call
        self._clients[sid] = socket
        transport.send(open_packet(sid, [], self.ping_interval, self.ping_timeout, self.max_http_buffer_size))
        if self.initial_packet is not None:
            initial = self.initial_packet
            transport.send("4" + initial if isinstance(initial, str) else initial)
        socket.start()
        if logger.isEnabledFor(logging.DEBUG):  # the arguments are not even gathered otherwise
            logger.debug(
                "session %s: handshake over websocket from %s (protocol %d)",
                sid,
                socket.remote_address,
                socket.protocol,
            )
        self.emit_event("connection", socket)

    async def _refuse_websocket(
        self, request: Request, handshake: WebSocketHandshake, error: EngineError
    ) -> None:
        """WebSocket refusals are a raw 400 with the message as text, whatever the code (docs/protocol/engineio.md#verification)."""
        logger.debug("refused WebSocket %s: %s %s", request.url, int(error.code), error.message)
        self._report(request, error)
        await handshake.reject(
            Response(400, [("Connection", "close"), ("Content-Type", "text/html")], error.message.encode())
        )

    # -- bookkeeping -------------------------------------------------------------------------------------

    def session_timers(self, loop: asyncio.AbstractEventLoop) -> SessionTimers:
        """For the sessions. The one timer of this server's sessions on ``loop`` (made with the first session, anew if the
        server is reused on another loop); its resolution follows the configured intervals."""
        timers = self._timers
        if timers is None or timers.loop is not loop:
            resolution = resolution_for(self.ping_interval, self.ping_timeout, self.upgrade_timeout)
            timers = self._timers = SessionTimers(loop, resolution, self.clock)
        return timers

    def holds_session(self, socket: object, sid: str) -> bool:
        """For the sessions. Whether ``socket`` is the live session ``sid``."""
        return self._clients.get(sid) is socket

    def discard_session(self, socket: object, sid: str) -> None:
        """For the sessions. ``socket`` closed: out of the table, unless another session took its id meanwhile."""
        if self._clients.get(sid) is socket:
            del self._clients[sid]
