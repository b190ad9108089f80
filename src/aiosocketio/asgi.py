"""The ASGI 3 front-end: serves ``WebApp``s (an ``EngineServer``, a Socket.IO ``Server``) under any ASGI server.

This is the compatibility path (uvicorn, hypercorn, beside FastAPI/Starlette through ``other_app``); the built-in
runner is the fast path. Each request becomes a :class:`aiosocketio.web.Request`:

* HTTP: one task reads the ASGI messages for the whole request, feeding the body to ``read_body`` and watching
  for ``http.disconnect``; if the client leaves while the app still works on the request (a held long-polling
  GET), the handler is cancelled, which is how the engine learns that a poll was aborted.
* WebSocket: sends from the engine are synchronous; each is handed to the server's ``send`` at once by a drain
  coroutine started eagerly, which becomes a task only while ``send`` waits; received messages are pushed into
  the engine's receiver by direct calls. The outbox is bounded by
  ``max_write_buffer``: a client that stops reading makes the ASGI server's ``send`` wait, and past the limit the
  connection is given up (the session closes with ``transport error``, README "Slow consumers").
* Lifespan: forwarded to ``other_app`` when there is one; on shutdown every app closes its sessions first.
* Under a prefix (``root_path``: a framework's ``Mount``, uvicorn's ``--root-path``) the prefix is taken off the
  path before it is routed, so a Socket.IO server keeps its own ``path`` (:func:`route_path`).
* Stopping: ASGI servers wait for the requests in flight before the lifespan ``shutdown``, and a held
  long-polling GET is one of them; the app therefore watches the server's stop signals and shuts down on them
  (:class:`ServerStopWatch`). It also says once when the server compresses WebSocket messages although the
  Socket.IO server does not want it (:func:`server_deflates`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from types import FrameType
from typing import Any

from aiosocketio._emitter import carry_on, step
from aiosocketio.web import (
    CLOSE_DROPPED,
    CLOSE_NO_STATUS,
    BodyTooLarge,
    FixedHeaders,
    Headers,
    HeldAnswer,
    Request,
    Response,
    WebApp,
    WebSocketPort,
    WebSocketReceiver,
    quick_answerer,
)

__all__ = ["ASGIApp", "ServerStopWatch", "route_path", "server_deflates"]

logger = logging.getLogger("aiosocketio.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGI3App = Callable[[Scope, Receive, Send], Awaitable[None]]


#: ASGI (lower-case bytes) forms of the header pairs seen so far: engine responses repeat the same few pairs
#: on every request. Bounded, so unique values (a session cookie) stop being remembered once it is full.
_asgi_headers: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def _asgi_header(pair: tuple[str, str]) -> tuple[bytes, bytes]:
    cached = _asgi_headers.get(pair) if type(pair) is tuple else None
    if cached is None:
        name, value = pair
        cached = (name.lower().encode("latin-1"), value.encode("latin-1"))
        if type(pair) is tuple and len(_asgi_headers) < 512:
            _asgi_headers[pair] = cached
    return cached


#: A request body that comes in several ASGI messages (hypercorn sends every body so, and an empty last one) is
#: gathered up to this size before the request is offered to ``answer_at_once``; a bigger one goes to the handler,
#: which reads the rest through the body pump.
_GATHER_LIMIT = 64 * 1024


async def _gather_body(first: Message, receive: Receive) -> tuple[Message | None, list[Message]]:
    """The whole body as one message when it ends within :data:`_GATHER_LIMIT` (else None), and every message
    read here (for the body pump, when the whole body is not here: a big body, or a client that left)."""
    received = [first]
    chunks = [first.get("body", b"")]
    size = len(chunks[0])
    while size <= _GATHER_LIMIT:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}, received
    return None, received


async def _until_disconnect(receive: Receive) -> None:
    """Return once the client has gone away (the body was read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def route_path(scope: Scope) -> str:
    """The path an app mounted at ``scope["root_path"]`` answers to: the request's path without that prefix.

    Under a prefix (a Starlette or FastAPI ``Mount``, uvicorn's ``--root-path``, hypercorn's ``root_path``) the
    ASGI server or framework keeps the whole path in ``path`` and names the prefix in ``root_path``, so the
    prefix comes off here and the Socket.IO server sees its own ``path`` option (``/socket.io/``) as it does
    unmounted. Some frameworks and proxies pass the path already stripped; a path that does not start with the
    prefix (followed by ``/`` or nothing) is taken as it is, as Starlette does.
    """
    path: str = scope.get("path", "/")
    root = scope.get("root_path")
    if not root or not path.startswith(root):
        return path
    rest = path[len(root) :]
    if not rest:
        return "/"
    return rest if rest[0] == "/" else path


def _request_from_scope(
    scope: Scope,
    path: str,
    body_reader: Callable[[int], Awaitable[bytes]] | None = None,
    body: bytes | None = None,
) -> Request:
    raw = scope.get("headers", ())
    headers = Headers.from_raw(raw if isinstance(raw, list | tuple) else list(raw))
    client = scope.get("client")
    method = scope.get("method", "GET")
    return Request(
        method,
        path,
        scope.get("query_string", b"").decode("latin-1"),
        headers,
        remote_address=client[0] if client else "",
        secure=scope.get("scheme") in ("https", "wss"),
        body_reader=body_reader,
        body=body,
    )


_SERVER_ERROR = Response(500, [("Content-Type", "text/plain; charset=utf-8")], b"Internal Server Error")

#: Characters/bytes the outbox of one WebSocket may hold while the ASGI server cannot send them (the same default
#: as the built-in runner's ``max_write_buffer``).
DEFAULT_MAX_WRITE_BUFFER = 16 * 1024 * 1024


class _BodyPump:
    """The only reader of an HTTP request's ASGI messages: collects the body and notices a disconnect."""

    __slots__ = ("_chunks", "_complete", "_limit", "_receive", "_size", "disconnected", "overflow")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._chunks: list[bytes] = []
        self._size = 0
        self._limit: int | None = None
        self._complete = asyncio.Event()
        self.disconnected = False
        self.overflow = False

    async def run(self, received: list[Message]) -> None:
        """Read until the body is complete, then wait for the disconnect (returns when the client is gone).

        ``received``: the messages the caller read already, in order."""
        pending = iter(received)
        while True:
            message = next(pending, None)
            if message is None:
                message = await self._receive()
            kind = message["type"]
            if kind == "http.request":
                chunk = message.get("body", b"")
                if chunk and not self.overflow:
                    self._size += len(chunk)
                    if self._limit is not None and self._size > self._limit:
                        self.overflow = True
                        self._chunks.clear()
                        self._complete.set()
                    else:
                        self._chunks.append(chunk)
                if not message.get("more_body", False):
                    self._complete.set()
            elif kind == "http.disconnect":
                self.disconnected = True
                self._complete.set()
                return

    async def read(self, limit: int) -> bytes:
        self._limit = limit
        if self._size > limit:
            self.overflow = True
            self._chunks.clear()
            self._complete.set()
        await self._complete.wait()
        if self.overflow:
            raise BodyTooLarge(f"request body larger than {limit} bytes")
        if self.disconnected:
            raise asyncio.CancelledError  # the client left in the middle of the body
        return b"".join(self._chunks)


class _ASGIWebSocket:
    """A ``WebSocketPort`` over ASGI: sends go to the server's ``send`` at once, received messages to the receiver.

    The engine's sends are synchronous and ``send`` is a coroutine that rarely suspends, so a drain coroutine is
    started eagerly (:func:`~aiosocketio._emitter.step`) when there is something to send: it usually finishes
    on the spot, and becomes a task only while ``send`` waits (the server's buffer is full); messages sent
    meanwhile wait in ``_outbox``, in order, and the same drain takes them. An idle connection therefore holds no
    writer task, event or queue (those cost about 2 KB per connection under uvicorn).
    """

    __slots__ = (
        "_closed",
        "_drain_task",
        "_draining",
        "_limit",
        "_max_size",
        "_outbox",
        "_pending",
        "_queued",
        "_receiver",
        "_send",
    )

    def __init__(self, send: Send, max_size: int, limit: int = DEFAULT_MAX_WRITE_BUFFER) -> None:
        self._send = send
        self._max_size = max_size
        self._limit = limit
        self._queued = 0  # characters/bytes of the messages not yet handed to ``send``
        self._outbox: list[Message] | None = None  # messages not yet handed to ``send``
        self._draining = False
        self._drain_task: asyncio.Task[Any] | None = None  # the drain, while suspended in ``send``
        self._receiver: WebSocketReceiver | None = None
        self._pending: list[str | bytes] | None = None  # messages that came before the receiver
        self._closed = False

    def set_receiver(self, receiver: WebSocketReceiver) -> None:
        self._receiver = receiver
        pending, self._pending = self._pending, None
        for data in pending or ():
            receiver.on_ws_message(data)

    @property
    def writable(self) -> bool:
        """Nothing waits to be sent by us (the ASGI server's own buffer cannot be seen from here)."""
        return not self._closed and not self._queued

    def send_text(self, text: str) -> None:
        if not self._closed:
            self._push({"type": "websocket.send", "text": text}, len(text))

    def send_bytes(self, data: bytes) -> None:
        if not self._closed:
            self._push({"type": "websocket.send", "bytes": data}, len(data))

    def _overflow(self) -> None:
        """The client stopped reading: drop what waits for it and report a broken transport (1006). The ASGI
        server keeps the connection until the client goes; ASGI has no way to abort it from here."""
        logger.debug("dropping a WebSocket whose peer does not read (%d queued)", self._queued)
        self._closed = True
        self._outbox = None
        self._queued = 0
        drain = self._drain_task
        if drain is not None:
            drain.cancel()
        self._notify_close(CLOSE_DROPPED)

    def close(self, code: int = 1000) -> None:
        if self._closed:
            return
        self._closed = True
        if code == CLOSE_NO_STATUS:
            # ASGI cannot ask for a close frame without a code (and servers refuse 1005 as one): the spec's
            # default code it is.
            self._push({"type": "websocket.close"}, 0)
        else:
            self._push({"type": "websocket.close", "code": code}, 0)
        self._notify_close(code)

    def _notify_close(self, code: int) -> None:
        receiver = self._receiver
        self._receiver = None
        if receiver is not None:
            receiver.on_ws_close(code, "")

    def _push(self, message: Message, size: int) -> None:
        if self._outbox is None:
            self._outbox = [message]
        else:
            self._outbox.append(message)
        self._queued += size
        if self._queued > self._limit:
            self._overflow()
            return
        if not self._draining:
            self._draining = True
            task = step(self._drain())
            if task is not None:
                self._drain_task = task

    async def _drain(self) -> None:
        try:
            while self._outbox:
                # Take the whole outbox: what is pushed meanwhile goes into a new list, sent after this one.
                batch, self._outbox = self._outbox, None
                for message in batch:
                    self._queued -= len(message.get("text") or message.get("bytes") or "")  # the server's now
                    await self._send(message)
                    if message["type"] == "websocket.close":
                        self._outbox = None
                        return
        except (OSError, RuntimeError) as exc:  # the peer is gone; the receive loop reports the close
            logger.debug("websocket send failed: %r", exc)
            self._outbox = None
        except Exception:  # servers raise their own "disconnected" exceptions
            logger.debug("websocket send failed", exc_info=True)
            self._outbox = None
        finally:
            self._draining = False
            self._drain_task = None

    def on_message(self, message: Message) -> bool:
        """One message from ``receive()``; False when the connection is over (the caller stops receiving)."""
        kind = message["type"]
        if kind == "websocket.receive":
            text = message.get("text")
            data: str | bytes = text if text is not None else message.get("bytes") or b""
            if len(data) > self._max_size:
                self.close(1009)
                return False
            receiver = self._receiver
            if receiver is not None:
                receiver.on_ws_message(data)
            elif not self._closed:
                if self._pending is None:
                    self._pending = []
                self._pending.append(data)
        elif kind == "websocket.disconnect":
            self._closed = True
            self._notify_close(int(message.get("code", 1005)))
            return False
        return True

    async def finish(self) -> None:
        """Receiving is over: report the close if nobody did, and let a waiting send finish, briefly."""
        if not self._closed:
            self._closed = True
            self._notify_close(1006)
        drain = self._drain_task
        if drain is not None and not drain.done():  # a send waits: let it (and our close) go out
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(drain), 1.0)
            drain.cancel()


class _ASGIHandshake:
    __slots__ = ("_max_write_buffer", "_receive", "_scope", "_send", "port", "responded")

    def __init__(self, scope: Scope, receive: Receive, send: Send, max_write_buffer: int) -> None:
        self._max_write_buffer = max_write_buffer
        self._scope = scope
        self._receive = receive
        self._send = send
        self.port: _ASGIWebSocket | None = None
        self.responded = False

    async def accept(
        self, headers: list[tuple[str, str]], *, max_message_size: int, compression: bool
    ) -> WebSocketPort:
        self.responded = True
        await self._send(
            {
                "type": "websocket.accept",
                "headers": [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers],
            }
        )
        self.port = _ASGIWebSocket(self._send, max_message_size, self._max_write_buffer)
        return self.port

    async def reject(self, response: Response) -> None:
        self.responded = True
        if "websocket.http.response" in self._scope.get("extensions", {}) or {}:
            await self._send(
                {
                    "type": "websocket.http.response.start",
                    "status": response.status,
                    "headers": [
                        (n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in response.headers
                    ],
                }
            )
            await self._send({"type": "websocket.http.response.body", "body": response.body})
        else:
            await self._send({"type": "websocket.close", "code": 1008})


async def _wait_held(held: HeldAnswer, receive: Receive) -> Response | None:
    """The answer of a held request, or None when the client leaves first (the app is told: ``held.cancel()``).

    One task watches for the disconnect (the ASGI server's ``receive`` must be awaited to see it); the answer
    itself comes through a future, without a task. The watcher cancels the held answer from its done callback,
    so an answer and a disconnect cannot both win."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Response | None] = loop.create_future()
    held.bind(answer.set_result)
    watcher = loop.create_task(_until_disconnect(receive))

    def client_left(_: object) -> None:
        if held.cancel():
            answer.set_result(None)

    watcher.add_done_callback(client_left)
    try:
        return await answer
    except asyncio.CancelledError:  # the ASGI server gave up on this request
        held.cancel()
        raise
    finally:
        watcher.remove_done_callback(client_left)
        watcher.cancel()


async def _unless_client_leaves(
    handler: asyncio.Future[Response], watcher: asyncio.Future[Any]
) -> Response | None:
    """The handler's response, or None when the watcher saw the client go first (the handler is then cancelled:
    that is how the engine learns a held poll was aborted)."""
    try:
        await asyncio.wait((handler, watcher), return_when=asyncio.FIRST_COMPLETED)
        if not handler.done() or handler.cancelled():
            handler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await handler
            return None
        return handler.result()
    except asyncio.CancelledError:
        handler.cancel()
        raise
    finally:
        watcher.cancel()


#: The signals with which ASGI servers stop: SIGQUIT is how gunicorn's master stops its uvicorn workers quickly
#: (on its own SIGINT), SIGBREAK is Windows' Ctrl+Break. A signal left to its default action is never wrapped.
_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGQUIT", "SIGBREAK") if hasattr(signal, name)
)


class ServerStopWatch:
    """Tells the app on its loop that the ASGI server was asked to stop (SIGINT, SIGTERM), while the server's own
    handler of the signal goes on as before.

    ASGI has no message for "the server is stopping" on a request: uvicorn stops accepting, then waits for every
    request in flight to end before it sends the lifespan ``shutdown``, and a long-polling GET held by the
    engine ends only when there is something to send (hypercorn waits for its ``graceful_timeout``, then
    cancels). So the stop is seen where the servers see it: their signal handlers. Each handler in place when
    :meth:`install` runs (uvicorn's, hypercorn's, that of gunicorn's uvicorn worker) is wrapped: ours schedules
    ``on_stop`` on the loop, then calls the server's. Only from the main thread (Python's rule for signal
    handlers), and only for a signal that somebody handles in Python already (a default or ignored signal is
    left alone).
    """

    __slots__ = ("_active", "_loop", "_on_stop", "_previous")

    def __init__(self, loop: asyncio.AbstractEventLoop, on_stop: Callable[[], None]) -> None:
        self._loop = loop
        self._on_stop = on_stop
        self._previous: dict[int, Callable[[int, FrameType | None], Any]] = {}
        self._active = False

    def install(self) -> bool:
        """Wrap the handlers of the stop signals; False when there is none to wrap (or not the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for sig in _STOP_SIGNALS:
            previous = signal.getsignal(sig)
            if callable(previous) and sig not in self._previous:
                self._previous[sig] = previous
                signal.signal(sig, self._handle)
        self._active = bool(self._previous)
        return self._active

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._active:
            self._active = False  # once: a second Ctrl+C is the server's "force quit", ours is under way
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing of ours is left to stop
                self._loop.call_soon_threadsafe(self._on_stop)
        previous = self._previous.get(signum)
        if previous is not None:
            previous(signum, frame)

    def uninstall(self) -> None:
        """Give the handlers back where ours is still the one in place (someone who wrapped ours keeps calling
        it, and it then only passes the signal on)."""
        self._active = False
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._previous.items():
            if signal.getsignal(sig) == self._handle:
                signal.signal(sig, previous)


def server_deflates(send: Send) -> str | None:
    """The name of the ASGI server behind ``send`` when it negotiates permessage-deflate with every WebSocket
    client that offers it ("uvicorn" with its default ``ws_per_message_deflate=True``; "hypercorn", which has
    no setting for it), else None (not so configured, or a server we cannot tell).

    ASGI gives the app no say in the WebSocket extensions (``websocket.accept`` has none), so the only way to
    know is the server's own configuration, reached through the bound method it passes as ``send``."""
    owner = getattr(send, "__self__", None)
    module = type(owner).__module__ if owner is not None else ""
    if module.startswith("uvicorn."):
        config = getattr(owner, "config", None)
        return "uvicorn" if getattr(config, "ws_per_message_deflate", False) is True else None
    if module.startswith("hypercorn."):
        return "hypercorn"
    return None


_DEFLATE_FIX = {
    "uvicorn": "run uvicorn with --ws-per-message-deflate false (ws_per_message_deflate=False in code), and "
    '--ws websockets-sansio (ws="websockets-sansio"), its fastest WebSocket protocol',
    "hypercorn": "hypercorn has no setting for it: serve with uvicorn --ws-per-message-deflate false, or with "
    "the built-in server, to avoid it",
}


class ASGIApp:
    """An ASGI 3 application serving ``apps`` at their paths, and ``other_app`` (or 404) elsewhere.

    ``max_write_buffer``: what one WebSocket may have waiting to be sent (characters of text, bytes of binary
    messages) while its client does not read; past it the session is closed with ``transport error``.

    ``stop_on_signal``: when the ASGI server is asked to stop (SIGINT, SIGTERM), shut the apps down at once
    (every client is disconnected, "server shutting down", and held long-polling requests are answered), so
    that the server, which waits for the requests in flight, stops promptly (see :class:`ServerStopWatch`).
    False leaves the shutdown to the lifespan ``shutdown`` alone.
    """

    def __init__(
        self,
        *apps: WebApp,
        other_app: ASGI3App | None = None,
        max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER,
        stop_on_signal: bool = True,
    ) -> None:
        if not apps:
            raise TypeError("ASGIApp needs at least one app (an EngineServer or a Server)")
        if type(max_write_buffer) is not int or max_write_buffer <= 0:
            raise ValueError(f"max_write_buffer must be a positive int, got {max_write_buffer!r}")
        self.apps = apps
        self.other_app = other_app
        self.max_write_buffer = max_write_buffer
        self.stop_on_signal = stop_on_signal
        #: Watches for the server's stop signals, once the app runs on a loop (None: not yet, or not wanted).
        self._stop_watch: ServerStopWatch | None = None
        #: The shutdown that a stop signal started (the lifespan ``shutdown`` then waits for it).
        self._early_stop: asyncio.Future[None] | None = None
        #: Whether the ASGI server's WebSocket compression was compared with the apps' (once per process).
        self._deflate_checked = False
        # Each app with its answer_at_once (None if it has none), looked up once here rather than per request.
        self._routes = tuple((app, quick_answerer(app)) for app in apps)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if self._stop_watch is None and self.stop_on_signal:
            # No lifespan reached us (mounted in Starlette or FastAPI, which keep it to themselves): watch from
            # the first request on.
            self._watch_stop_signals()
        path = scope.get("path", "/")
        if scope.get("root_path"):
            path = route_path(scope)
        app: WebApp | None = None
        quick = None
        for candidate, candidate_quick in self._routes:
            if candidate.handles(path):
                app = candidate
                quick = candidate_quick
                break
        if app is not None and kind == "http":
            # Plain HTTP, inline (each helper coroutine is a frame more per request): a request whose body came
            # in one message is offered to answer_at_once first (a long-polling GET or POST of a live session).
            first = await receive()
            received = None
            if quick is not None and first["type"] == "http.request" and first.get("more_body", False):
                whole, received = await _gather_body(first, receive)
                if whole is not None:
                    first = whole
            if first["type"] == "http.request" and not first.get("more_body", False):
                body = bytes(first.get("body", b""))
                if quick is not None:
                    try:
                        response = quick(
                            scope.get("method", "GET"),
                            path,
                            scope.get("query_string", b""),
                            scope.get("headers", ()),
                            body,
                        )
                    except Exception:
                        logger.exception("error in %r while answering %s %s", app, scope.get("method"), path)
                        response = _SERVER_ERROR
                    if isinstance(response, HeldAnswer):
                        answer = await _wait_held(response, receive)
                        if answer is not None:  # else the client left first
                            await self._send_response(send, answer)
                        return
                    if response is not None:
                        await self._send_response(send, response)
                        return
                await self._http_whole(app, scope, path, receive, send, body)
            else:
                await self._http(app, scope, path, receive, send, received or [first])
            return
        if app is None:
            if self.other_app is not None:
                await self.other_app(scope, receive, send)
            elif kind == "http":
                await self._send_response(send, Response(404, [("Content-Type", "text/plain")], b"Not Found"))
            elif kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        if kind != "websocket":
            return
        if not self._deflate_checked:
            self._check_deflate(send)
        # The WebSocket is served inline, not by helper coroutines: this frame lives as long as the connection,
        # and each nested coroutine would keep a frame of its own (about 250 bytes per idle connection).
        if (await receive())["type"] != "websocket.connect":
            return
        handshake = _ASGIHandshake(scope, receive, send, self.max_write_buffer)
        await app.handle_websocket(_request_from_scope(scope, path), handshake)
        port = handshake.port
        if port is None:
            if not handshake.responded:
                await send({"type": "websocket.close", "code": 1008})
            return
        del handshake
        try:
            while port.on_message(await receive()):
                pass
        finally:
            await port.finish()

    async def _http(
        self, app: WebApp, scope: Scope, path: str, receive: Receive, send: Send, received: list[Message]
    ) -> None:
        """A request whose body comes in several messages (``received``: those read already): the body pump
        reads the rest while the handler runs."""
        pump = _BodyPump(receive)
        request = _request_from_scope(scope, path, pump.read)
        outcome = await _unless_client_leaves(
            asyncio.ensure_future(app.handle_http(request)), asyncio.ensure_future(pump.run(received))
        )
        if outcome is not None:
            await self._send_response(send, outcome)

    async def _http_whole(
        self, app: WebApp, scope: Scope, path: str, receive: Receive, send: Send, body: bytes
    ) -> None:
        """A request whose body came in one message (every GET, most POSTs): the handler runs at once, in this
        task, and most handlers answer without waiting, so no other task is needed. One that waits (a held
        long-polling GET) goes on in a task, cancelled if the client goes away meanwhile."""
        coro = app.handle_http(_request_from_scope(scope, path, body=body))
        try:
            step = coro.send(None)
        except StopIteration as done:
            response: Response = done.value
        else:
            outcome = await _unless_client_leaves(
                asyncio.ensure_future(carry_on(coro, step)), asyncio.ensure_future(_until_disconnect(receive))
            )
            if outcome is None:
                return
            response = outcome
        await self._send_response(send, response)

    @staticmethod
    async def _send_response(send: Send, response: Response) -> None:
        pairs = response.headers
        if type(pairs) is FixedHeaders:
            fixed = pairs.asgi
            if fixed is None:
                fixed = pairs.asgi = [_asgi_header(pair) for pair in pairs]
            headers = [*fixed, (b"content-length", b"%d" % len(response.body))]
        else:
            headers = [_asgi_header(pair) for pair in pairs]
            headers.append((b"content-length", b"%d" % len(response.body)))
        try:
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            await send({"type": "http.response.body", "body": response.body})
        except (OSError, RuntimeError) as exc:
            # The client went away while the answer was being made, and the ASGI server says so only now: an
            # OSError as the ASGI spec asks, or (uvicorn on uvloop, a connection it closed itself after a bad
            # pipelined request) uvloop's RuntimeError about a closed handle. Nobody is left to answer. Any other
            # RuntimeError is a misuse of the ASGI protocol and must stay loud.
            if isinstance(exc, RuntimeError) and "closed" not in str(exc):
                raise
            logger.debug("the client left before its answer could be sent (%r)", exc)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Start and stop our servers with the ASGI server's lifespan, passing it on to ``other_app``.

        An ``other_app`` that does not speak lifespan (Django raises on the scope, some apps just return) must not
        cost our own startup and shutdown: then we answer the lifespan messages ourselves, from wherever the other
        app left the conversation.
        """
        if not self._deflate_checked:
            self._check_deflate(send)
        if self.other_app is not None:
            seen_startup = seen_shutdown = answered = False

            async def wrapped_receive() -> Message:
                nonlocal seen_startup, seen_shutdown
                message = await receive()
                if message["type"] == "lifespan.startup":
                    seen_startup = True
                    await self._startup_apps()
                elif message["type"] == "lifespan.shutdown":
                    seen_shutdown = True
                    await self._stop_apps()
                return message

            async def wrapped_send(message: Message) -> None:
                nonlocal answered
                answered = True
                await send(message)

            try:
                await self.other_app(scope, wrapped_receive, wrapped_send)
            except Exception as exc:
                if answered:
                    raise
                logger.info("other_app does not handle lifespan (%r); aiosocketio answers it alone", exc)
            if answered:
                return
            if seen_startup:
                await send({"type": "lifespan.startup.complete"})
            if seen_shutdown:
                await send({"type": "lifespan.shutdown.complete"})
                return
        else:
            seen_startup = False
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup" and not seen_startup:
                seen_startup = True
                await self._startup_apps()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._stop_apps()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _check_deflate(self, send: Send) -> None:
        """Say once (a warning) when the ASGI server compresses WebSocket messages that the apps, by their
        ``per_message_deflate=False`` (the default, as the reference's), do not want compressed: every message
        then costs the deflate on both sides. Called with the lifespan's ``send`` (at startup), else the first
        WebSocket's."""
        self._deflate_checked = True
        server = server_deflates(send)
        if server is None:
            return
        for app in self.apps:
            engine = getattr(app, "engine", app)
            if getattr(engine, "per_message_deflate", None) is False:
                logger.warning(
                    "%s negotiates permessage-deflate with WebSocket clients that offer it, although the server's "
                    "per_message_deflate=False: %s",
                    server,
                    _DEFLATE_FIX[server],
                )
                return

    def _watch_stop_signals(self) -> None:
        watch = self._stop_watch = ServerStopWatch(asyncio.get_running_loop(), self._server_stopping)
        watch.install()

    def _server_stopping(self) -> None:
        """The ASGI server was asked to stop: shut the apps down now rather than after the requests in flight."""
        if self._early_stop is None:
            logger.info("the ASGI server is stopping: disconnecting the clients now (held polls end)")
            self._early_stop = asyncio.ensure_future(self._shutdown_apps())

    async def _startup_apps(self) -> None:
        self._early_stop = None
        if self.stop_on_signal:
            if self._stop_watch is not None:
                self._stop_watch.uninstall()
            self._watch_stop_signals()
        for app in self.apps:
            await app.startup()

    async def _stop_apps(self) -> None:
        """The lifespan ``shutdown``: shut the apps down, unless a stop signal did already. The watch stays (given
        back its handlers) so that no late request installs another; the next lifespan ``startup`` does."""
        if self._stop_watch is not None:
            self._stop_watch.uninstall()
        early = self._early_stop
        if early is not None:
            await early
        else:
            await self._shutdown_apps()

    async def _shutdown_apps(self) -> None:
        for app in self.apps:
            try:
                await app.shutdown()
            except Exception:
                logger.exception("error while shutting down %r", app)
