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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
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

__all__ = ["ASGIApp"]

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


def _request_from_scope(
    scope: Scope, body_reader: Callable[[int], Awaitable[bytes]] | None = None, body: bytes | None = None
) -> Request:
    raw = scope.get("headers", ())
    headers = Headers.from_raw(raw if isinstance(raw, list | tuple) else list(raw))
    client = scope.get("client")
    method = scope.get("method", "GET")
    return Request(
        method,
        scope.get("path", "/"),
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


class ASGIApp:
    """An ASGI 3 application serving ``apps`` at their paths, and ``other_app`` (or 404) elsewhere.

    ``max_write_buffer``: what one WebSocket may have waiting to be sent (characters of text, bytes of binary
    messages) while its client does not read; past it the session is closed with ``transport error``.
    """

    def __init__(
        self,
        *apps: WebApp,
        other_app: ASGI3App | None = None,
        max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER,
    ) -> None:
        if not apps:
            raise TypeError("ASGIApp needs at least one app (an EngineServer or a Server)")
        if type(max_write_buffer) is not int or max_write_buffer <= 0:
            raise ValueError(f"max_write_buffer must be a positive int, got {max_write_buffer!r}")
        self.apps = apps
        self.other_app = other_app
        self.max_write_buffer = max_write_buffer
        # Each app with its answer_at_once (None if it has none), looked up once here rather than per request.
        self._routes = tuple((app, quick_answerer(app)) for app in apps)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        path = scope.get("path", "/")
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
                await self._http_whole(app, scope, receive, send, body)
            else:
                await self._http(app, scope, receive, send, received or [first])
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
        # The WebSocket is served inline, not by helper coroutines: this frame lives as long as the connection,
        # and each nested coroutine would keep a frame of its own (about 250 bytes per idle connection).
        if (await receive())["type"] != "websocket.connect":
            return
        handshake = _ASGIHandshake(scope, receive, send, self.max_write_buffer)
        await app.handle_websocket(_request_from_scope(scope), handshake)
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
        self, app: WebApp, scope: Scope, receive: Receive, send: Send, received: list[Message]
    ) -> None:
        """A request whose body comes in several messages (``received``: those read already): the body pump
        reads the rest while the handler runs."""
        pump = _BodyPump(receive)
        request = _request_from_scope(scope, pump.read)
        outcome = await _unless_client_leaves(
            asyncio.ensure_future(app.handle_http(request)), asyncio.ensure_future(pump.run(received))
        )
        if outcome is not None:
            await self._send_response(send, outcome)

    async def _http_whole(self, app: WebApp, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        """A request whose body came in one message (every GET, most POSTs): the handler runs at once, in this
        task, and most handlers answer without waiting, so no other task is needed. One that waits (a held
        long-polling GET) goes on in a task, cancelled if the client goes away meanwhile."""
        coro = app.handle_http(_request_from_scope(scope, body=body))
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
                    await self._shutdown_apps()
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
                await self._shutdown_apps()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _startup_apps(self) -> None:
        for app in self.apps:
            await app.startup()

    async def _shutdown_apps(self) -> None:
        for app in self.apps:
            try:
                await app.shutdown()
            except Exception:
                logger.exception("error while shutting down %r", app)
