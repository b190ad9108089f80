"""I/O-neutral HTTP and WebSocket ports: the only thing the engine knows about the web.

Both front-ends (the built-in runner and the ASGI app) translate what their server gives them into these types,
and the Engine.IO server answers through them. Nothing here does I/O by itself: the front-ends supply the
callables that read a body or write a frame.

Theory of operation:

* A plain HTTP request becomes a :class:`Request` whose body is read with ``await request.read_body(limit)``;
  the engine returns a :class:`Response`. If the client goes away while the engine is still working on the
  request (a held long-polling GET), the front-end cancels the task running the handler.
* A WebSocket upgrade request becomes a :class:`Request` plus a :class:`WebSocketHandshake`. The engine either
  rejects it (``reject``) or accepts it (``accept``), which gives a :class:`WebSocketPort` to send on. Incoming
  messages are pushed into the :class:`WebSocketReceiver` that the engine installs with
  :meth:`WebSocketPort.set_receiver`, by direct calls, never through a queue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Protocol
from urllib.parse import unquote_plus

__all__ = [
    "CLOSE_DROPPED",
    "CLOSE_NO_STATUS",
    "BodyTooLarge",
    "FixedHeaders",
    "Headers",
    "HeldAnswer",
    "QuickWebApp",
    "Request",
    "Response",
    "WebApp",
    "WebSocketHandshake",
    "WebSocketPort",
    "WebSocketReceiver",
]

HeaderPairs = list[tuple[str, str]]
"""Response headers as ``(name, value)`` pairs, in order; a name may repeat."""


class BodyTooLarge(Exception):
    """Raised by :meth:`Request.read_body` when the body grows past the limit it was given."""


#: Header values that tend to be the same from one client to the next (the names always are).
_REPEATING_VALUES = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "connection",
        "host",
        "origin",
        "pragma",
        "sec-fetch-dest",
        "sec-fetch-mode",
        "sec-fetch-site",
        "sec-websocket-extensions",
        "sec-websocket-version",
        "upgrade",
        "user-agent",
    }
)
#: Query parameters whose values repeat from one client to the next (``sid`` and the ``t`` cache-buster do not).
_REPEATING_PARAMS = frozenset({"EIO", "transport"})
_shared_strings: dict[str, str] = {}
_SHARED_STRINGS_LIMIT = 1024


def _shared(text: str) -> str:
    """One string object for every equal ``text`` passed here; the table is bounded (emptied when full), so
    what clients send cannot grow it without limit."""
    found = _shared_strings.get(text)
    if found is None:
        if len(_shared_strings) >= _SHARED_STRINGS_LIMIT:
            _shared_strings.clear()
        _shared_strings[text] = found = text
    return found


_header_names: dict[bytes, str] = {}
_header_values: dict[bytes, str] = {}


def _header_name(raw: bytes) -> str:
    """The shared lower-case ``str`` of a raw header name, remembered by its bytes (a bounded table, emptied
    when full like :func:`_shared`'s): a request's names cost a lookup each instead of a lower() and a
    decode, and are shared with every other request's at once."""
    name = _header_names.get(raw)
    if name is None:
        if len(_header_names) >= _SHARED_STRINGS_LIMIT:
            _header_names.clear()
        name = _header_names[raw] = _shared(raw.lower().decode("latin-1"))
    return name


def _header_value(raw: bytes) -> str:
    """The shared ``str`` of a raw value of a header in ``_REPEATING_VALUES``, remembered by its bytes (bounded
    like the names' table)."""
    if len(_header_values) >= _SHARED_STRINGS_LIMIT:
        _header_values.clear()
    value = _header_values[raw] = _shared(raw.decode("latin-1"))
    return value


class Headers(Mapping[str, str]):
    """Request headers, looked up without regard to case; iterated with lower-case names.

    A header sent several times keeps its values joined with ``", "``, as Node.js does for most headers.
    """

    __slots__ = ("_map", "_values_shared")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        merged: dict[str, str] = {}
        for name, value in pairs:
            key = _shared(name.lower())
            if key in merged:
                merged[key] = f"{merged[key]}, {value}"
            else:
                merged[key] = value
        self._map = merged
        self._values_shared = False  # see share_strings()

    @classmethod
    def from_raw(cls, pairs: Sequence[tuple[bytes, bytes]]) -> Headers:
        """Headers from the bytes pairs a server parsed (Latin-1, as HTTP/1.1 allows), built in one pass.

        Every request builds one, so the common case (no name repeated) is one plain loop (a comprehension
        costs a function call more on Python 3.11); the general constructor runs only when a name repeats.
        The values that repeat from client to client (``_REPEATING_VALUES``) are looked up by their bytes in a
        shared table, as the names are, so that a session keeping its request has nothing left to share.
        """
        merged: dict[str, str] = {}
        names = _header_names
        values = _header_values
        for name, value in pairs:
            key = names.get(name)
            if key is None:
                key = _header_name(name)
            if key in _REPEATING_VALUES:
                text = values.get(value)
                merged[key] = _header_value(value) if text is None else text
            else:
                merged[key] = value.decode("latin-1")
        if len(merged) != len(pairs):
            return cls((name.decode("latin-1"), value.decode("latin-1")) for name, value in pairs)
        headers = object.__new__(cls)
        headers._map = merged
        headers._values_shared = True
        return headers

    def __getitem__(self, key: str) -> str:
        return self._map[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._map

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """The value of the header ``key``, whatever its case; a repeated header's values joined by ``", "``.

        Args:
            key: The header's name, in any case.
            default: What to return when the request has no such header.

        Returns:
            The value, or ``default``.
        """
        return self._map.get(key.lower(), default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __repr__(self) -> str:
        return f"Headers({self._map!r})"

    def to_dict(self) -> dict[str, str]:
        """A plain dict copy with lower-case keys."""
        return dict(self._map)

    def share_strings(self) -> None:
        """Use one string object for names and common values seen in other requests' headers too.

        Part of :meth:`Request.share_strings`: names and values such as ``host``, ``upgrade: websocket`` or
        the user agent are then stored once for all connections.
        """
        # The names are shared already (every constructor takes them from the shared tables), and so are the
        # values of headers from_raw() made; the others' repeating values are replaced in place (same keys: the
        # dict does not change size while iterated).
        if self._values_shared:
            return
        self._values_shared = True
        headers = self._map
        for name, value in headers.items():
            if name in _REPEATING_VALUES:
                headers[name] = _shared(value)

    def shared_dict(self) -> dict[str, str]:
        """The plain dict with lower-case keys behind this mapping, not a copy: ``socket.handshake.headers``
        is this very dict (as Node's ``handshake.headers`` is the request's), so a connection keeps its headers
        once, not twice. Changing it changes what these headers answer."""
        return self._map


def parse_query(query_string: str) -> dict[str, str]:
    """``a=1&b=&c`` -> ``{"a": "1", "b": "", "c": ""}``; the first value of a repeated name wins.

    Every Engine.IO request parses its query (``EIO``, ``transport``, ``sid``), so the common case (nothing
    percent-encoded) is a couple of splits; ``urllib``'s ``parse_qsl`` took a third of a polling round trip.
    """
    parsed: dict[str, str] = {}
    if not query_string:
        return parsed
    if "%" not in query_string and "+" not in query_string:  # nothing to unquote: the common case
        for part in query_string.split("&"):
            key, _, value = part.partition("=")
            if key not in parsed and part:
                parsed[key] = value
        return parsed
    for part in query_string.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if "%" in part or "+" in part:
            key = unquote_plus(key)
            value = unquote_plus(value)
        if key not in parsed:
            parsed[key] = value
    return parsed


async def _no_body(limit: int) -> bytes:
    return b""


class Request:
    """One HTTP request (or WebSocket upgrade request) as the engine and the application see it.

    Public attributes follow docs/api-contract.md: ``method``, ``path``, ``url`` (path and query string), ``query`` (first
    value wins), ``headers``, ``cookies``, ``remote_address``, ``secure``.

    Front-ends build it; applications read it (in ``allow_request``, the engine's header hooks, and as
    ``socket.request`` or ``socket.handshake``).

    Args:
        method: The HTTP method (stored upper-case).
        path: The path, without the query string.
        query_string: The raw query string, without the ``?``.
        headers: The request headers.
        remote_address: The client's IP address (``""`` when the front-end does not know it).
        secure: Whether the request came over TLS.
        body_reader: Reads the body, refusing more than the given number of bytes (front-ends only).
        body: The whole body, when the front-end already has it (front-ends only).
    """

    __slots__ = (
        "_body",
        "_body_reader",
        "_cookies",
        "_query",
        "_url",
        "headers",
        "method",
        "path",
        "query_string",
        "remote_address",
        "scheme",
        "secure",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: Headers,
        *,
        remote_address: str = "",
        secure: bool = False,
        body_reader: Callable[[int], Awaitable[bytes]] | None = None,
        body: bytes | None = None,
    ) -> None:
        self.method = method.upper()
        """The HTTP method, upper-case (``"GET"``, ``"POST"``...)."""
        self.path = path
        """The path, without the query string."""
        self.query_string = query_string
        """The raw query string, without the ``?`` (``""`` when there is none); :attr:`query` parses it."""
        self.headers = headers
        """The request headers, looked up whatever the case of the name."""
        self.remote_address = remote_address
        """The client's IP address as the front-end reports it (behind a proxy, the proxy's unless the front-end
        reads the forwarding headers); ``""`` when unknown."""
        self.secure = secure
        """Whether the request came over TLS (HTTPS or WSS)."""
        self.scheme = "https" if secure else "http"
        """``"https"`` when :attr:`secure`, else ``"http"``."""
        self._body_reader = body_reader or _no_body
        # The whole body, when the front-end had all of it before the request started (a small POST usually
        # arrives with its head): read_body() then needs no reader.
        self._body = body
        self._query: dict[str, str] | None = None
        self._cookies: dict[str, str] | None = None
        self._url: str | None = None  # set by share_strings() only

    @property
    def url(self) -> str:
        """The request target as the client sent it: path plus ``?query`` when there is one."""
        if self._url is not None:
            return self._url
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    def share_strings(self) -> None:
        """Store the strings this request has in common with other clients' requests once for all of them.

        For a request kept as long as its connection (an Engine.IO session's handshake request): the method,
        the path, the header names and common header values (:meth:`Headers.share_strings`), the query's names
        and its ``EIO`` and ``transport`` values, and the whole query string and URL when nothing else is in
        the query (every WebSocket client of a server sends the same). About 800 bytes less per idle
        connection; short-lived requests skip it (the lookups would only cost time).
        """
        self.method = _shared(self.method)
        self.path = _shared(self.path)
        self.headers.share_strings()
        query = self.query
        if query:
            self._query = {
                _shared(name): _shared(value) if name in _REPEATING_PARAMS else value
                for name, value in query.items()
            }
            if query.keys() <= _REPEATING_PARAMS:
                self.query_string = _shared(self.query_string)
                self._url = _shared(self.url)

    @property
    def query(self) -> dict[str, str]:
        """Query parameters; when a name repeats, the first value wins."""
        if self._query is None:
            self._query = parse_query(self.query_string)
        return self._query

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies of the ``Cookie`` header; an unparsable header gives what could be read."""
        if self._cookies is None:
            jar: SimpleCookie = SimpleCookie()
            raw = self.headers.get("cookie")
            if raw:
                try:
                    jar.load(raw)
                except Exception:  # a malformed Cookie header is the client's problem, not ours
                    pass
            self._cookies = {name: morsel.value for name, morsel in jar.items()}
        return self._cookies

    async def read_body(self, limit: int) -> bytes:
        """The whole request body; raises :class:`BodyTooLarge` as soon as it passes ``limit`` bytes."""
        body = self._body
        if body is None:
            return await self._body_reader(limit)
        if len(body) > limit:
            raise BodyTooLarge(f"the request body is over {limit} bytes")
        return body

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


class FixedHeaders(tuple[tuple[str, str], ...]):
    """Response headers that never change, built once (an engine's long-polling answers): a front-end encodes
    them on first use and keeps its encoding here, so answering costs no header work at all.

    It is a tuple: nobody can change the pairs after a front-end has encoded them. (A tuple subclass cannot
    have ``__slots__``; there is one of these per engine and kind of answer.)
    """

    asgi: list[tuple[bytes, bytes]] | None
    """The ASGI front-end's encoding of the pairs, once it made it (``None`` before)."""
    http1: bytes | None
    """The built-in runner's header lines for the pairs, once it made them (``None`` before)."""

    def __new__(cls, pairs: Iterable[tuple[str, str]]) -> FixedHeaders:
        fixed = super().__new__(cls, pairs)
        fixed.asgi = None
        fixed.http1 = None
        return fixed


@dataclass(slots=True)
class Response:
    """A complete HTTP response. ``headers`` never holds Content-Length: the front-end sets it."""

    status: int
    """The HTTP status code."""
    headers: HeaderPairs | FixedHeaders = field(default_factory=list)
    """The headers as ``(name, value)`` pairs, in the order they are sent; a name may repeat (``Set-Cookie``)."""
    body: bytes = b""
    """The whole body."""


CLOSE_DROPPED = 4999
"""The code a front-end reports to ``on_ws_close`` when it gave up on a connection itself, for a peer that does
not read what it is sent (a slow consumer); never sent on the wire. The engine reports it as a transport error,
where a connection the peer closed or lost is a transport close."""

CLOSE_NO_STATUS = 1005
"""The close code ``WebSocketPort.close`` takes for a close frame that carries no status code at all (RFC 6455
section 7.1.5: the peer reports 1005). The reference closes this way when it turns a WebSocket away after accepting
it."""


class WebSocketReceiver(Protocol):
    """What the front-end calls when something arrives on an accepted WebSocket."""

    def on_ws_message(self, data: str | bytes) -> None:
        """One complete message: ``str`` for a text message, ``bytes`` for a binary one."""

    def on_ws_close(self, code: int, reason: str) -> None:
        """The connection is gone. ``code`` 1006 means it broke without a close frame; 1009 message too big."""


class WebSocketPort(Protocol):
    """An accepted WebSocket, as the engine sends on it. Sends never block: they go to the write buffer."""

    def set_receiver(self, receiver: WebSocketReceiver) -> None:
        """Install the receiver that gets every later message and the close."""

    @property
    def writable(self) -> bool:
        """False while the peer does not read what we send (its buffer is backed up): volatile packets are dropped
        then. A front-end that cannot tell says True."""
        ...

    def send_text(self, text: str) -> None:
        """Queue one text message."""

    def send_bytes(self, data: bytes) -> None:
        """Queue one binary message."""

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake (or drop the connection); ``on_ws_close`` follows. ``CLOSE_NO_STATUS``
        sends a close frame without a code."""


class WebSocketHandshake(Protocol):
    """A WebSocket upgrade request that the engine has not answered yet."""

    async def accept(
        self, headers: HeaderPairs, *, max_message_size: int, compression: bool
    ) -> WebSocketPort:
        """Send 101 with ``headers`` added; ``compression`` allows permessage-deflate if the client offers it."""
        ...

    async def reject(self, response: Response) -> None:
        """Answer with a plain HTTP response instead of the upgrade, then drop the connection."""


class WebApp(Protocol):
    """Something the front-ends can serve at its own path: an ``EngineServer`` or a Socket.IO ``Server``.

    The runner and the ASGI app ask ``handles(path)`` for every request and route it to the first app that
    says yes; other requests go to ``other_app`` (an ASGI app) or get 404. An app may also be a
    :class:`QuickWebApp`.
    """

    def handles(self, path: str) -> bool:
        """Whether this request path belongs to the app (the reference matches the path by prefix)."""
        ...

    async def handle_http(self, request: Request) -> Response:
        """Answer one plain HTTP request."""
        ...

    async def handle_websocket(self, request: Request, handshake: WebSocketHandshake) -> None:
        """Accept or reject one WebSocket upgrade; after accepting, messages flow through the receiver."""
        ...

    async def startup(self) -> None:
        """Called once by the front-end before it serves (ASGI: at lifespan startup, else the first request)."""
        ...

    async def shutdown(self) -> None:
        """Close every session at once (server shutdown); called once by the front-end when it stops."""
        ...


class HeldAnswer:
    """An answer an app gives later without a task or a future of its own: a long-polling GET that waits for
    packets, returned by ``answer_at_once`` in place of a Response.

    The front-end says where the answer goes (:meth:`bind`, before it next yields to the loop) and calls
    :meth:`cancel` when it gives up on the request first (the client left, the connection failed, shutdown ran
    out of time), which tells the app. The app calls :meth:`respond` at most once. Whichever of ``respond`` and
    ``cancel`` comes first wins; the other does nothing.
    """

    __slots__ = ("_deliver", "_on_cancel", "done")

    def __init__(self, on_cancel: Callable[[], object]) -> None:
        self._deliver: Callable[[Response], object] | None = None
        self._on_cancel: Callable[[], object] | None = on_cancel
        self.done = False
        """Whether the answer was given or the request cancelled: after that, both calls do nothing."""

    def bind(self, deliver: Callable[[Response], object]) -> None:
        """(Front-end) ``deliver(response)`` is called with the answer."""
        self._deliver = deliver

    def respond(self, response: Response) -> None:
        """(App) The answer is ready."""
        deliver = self._deliver
        if self.done or deliver is None:
            return
        self.done = True
        self._deliver = self._on_cancel = None
        deliver(response)

    def cancel(self) -> bool:
        """(Front-end) Nobody will take the answer; False when it was given already."""
        on_cancel = self._on_cancel
        if self.done or on_cancel is None:
            return False
        self.done = True
        self._deliver = self._on_cancel = None
        on_cancel()
        return True


class QuickWebApp(WebApp, Protocol):
    """A ``WebApp`` that can answer some requests at once, from the request's raw parts.

    The front-ends offer every plain HTTP request whose whole body they already hold to ``answer_at_once``
    before they build a :class:`Request`: a long-polling GET or POST of a live session is answered there,
    without the request object, the coroutine or the header work (they were half of a polling round trip),
    and a GET that must wait is held without a task (:class:`HeldAnswer`).
    """

    def answer_at_once(
        self, method: str, path: str, query: bytes, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> Response | HeldAnswer | None:
        """The response; a :class:`HeldAnswer` when it comes later; or None to have the request go the usual
        way (``handle_http``), which must then give the same answer. Nothing may have changed when None is
        returned. ``headers`` are the raw pairs with lower-case names."""
        ...


QuickAnswer = Callable[[str, str, bytes, Sequence[tuple[bytes, bytes]], bytes], Response | HeldAnswer | None]
"""An app's ``answer_at_once``: ``(method, path, query, headers, body)`` to an answer, or None for the long way."""


def quick_answerer(app: WebApp) -> QuickAnswer | None:
    """``app.answer_at_once`` when the app has one (see :class:`QuickWebApp`), else None."""
    answer = getattr(app, "answer_at_once", None)
    return answer if callable(answer) else None
