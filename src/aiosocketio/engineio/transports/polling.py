"""HTTP long-polling (docs/protocol/engineio.md#polling): one held GET to send, POSTs to receive.

The session's write buffer lives in its owner (a :class:`~aiosocketio.engineio.interfaces.TransportOwner`, the
``EngineSocket``); this transport only knows whether a GET is waiting (``writable``) and answers it with a payload. Several packets sent in one loop turn leave in one response: the
socket schedules a single flush with ``call_soon``.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import re
from collections.abc import Mapping
from functools import partial
from urllib.parse import parse_qsl

import orjson

from aiosocketio.engineio import payload as payload_codec
from aiosocketio.engineio.interfaces import PollContext, TransportOwner
from aiosocketio.engineio.packet import encode_utf8
from aiosocketio.engineio.payload_v3 import decode_payload_v3, encode_payload_v3
from aiosocketio.engineio.session import CloseReason
from aiosocketio.web import BodyTooLarge, HeldAnswer, Request, Response

__all__ = ["OCTET_STREAM", "TEXT_PLAIN", "PollContext", "PollingTransport", "encode_items"]

logger = logging.getLogger("aiosocketio.engine.transport")

TEXT_PLAIN = "text/plain; charset=UTF-8"
#: The content type of a protocol 3 binary payload (docs/protocol/engineio-v3.md), both ways.
OCTET_STREAM = "application/octet-stream"


def encode_items(items: list[str | bytes]) -> bytes:
    """The UTF-8 payload of buffered packets: text packets as they are, binary as ``b`` + base64 (docs/protocol/engineio.md#payloads)."""
    if len(items) == 1:
        item = items[0]
        if type(item) is str:  # one text packet, the usual answer to a poll: no list to build and join
            return encode_utf8(item)
    parts = [
        item if type(item) is str else "b" + binascii.b2a_base64(item, newline=False).decode("ascii")  # type: ignore[arg-type]
        for item in items
    ]
    return encode_utf8(payload_codec.SEPARATOR.join(parts))


def jsonp_index(query: Mapping[str, str]) -> str | None:
    """The callback index of a JSONP polling session (the digits of its ``j`` parameter), None without one."""
    index = query.get("j")
    return None if index is None else _NOT_DIGITS.sub("", index)


def wrap_jsonp(index: str, payload: bytes) -> bytes:
    """A polling answer as JSONP: ``___eio[<index>]("<payload as a JSON string>");``. The two line separators JSON
    allows in strings but JavaScript did not are escaped, so the answer is a valid script."""
    text = orjson.dumps(payload.decode("utf-8", "replace"))
    text = text.replace("\u2028".encode(), b"\\u2028")
    text = text.replace("\u2029".encode(), b"\\u2029")
    return b"___eio[" + index.encode("ascii") + b"](" + text + b");"


def jsonp_data(body: bytes) -> str | None:
    """The payload in a JSONP POST: the form field ``d`` (None unless there is exactly one), with the newlines the
    client escaped put back: a backslash and ``n`` becomes a newline, two backslashes and ``n`` a backslash and
    ``n``."""
    values = [
        value
        for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        if name == "d"
    ]
    if len(values) != 1:
        return None
    data = _ESCAPED_NEWLINE.sub(lambda match: match.group(0) if match.group(1) else "\n", values[0])
    return data.replace("\\\\n", "\\n")


_NOT_DIGITS = re.compile("[^0-9]")
_ESCAPED_NEWLINE = re.compile(r"(\\)?\\n")


class _PendingGet:
    """A GET waiting for packets. When some are buffered already it is answered while it registers, and
    ``body`` carries the payload back without a future; only a GET that really waits gets one, or a
    :class:`HeldAnswer` (from ``answer_at_once``) that ``context`` goes with."""

    __slots__ = ("binary", "body", "context", "future", "held")

    def __init__(self) -> None:
        self.body: bytes | None = None
        self.binary = False  # the body is a protocol 3 binary payload
        self.future: asyncio.Future[bytes] | None = None
        self.held: HeldAnswer | None = None
        self.context: PollContext | None = None


class PollingTransport:
    """The long-polling side of one session."""

    __slots__ = ("_binary", "_get", "_posting", "_socket", "_v3", "closed", "jsonp")

    name = "polling"

    def __init__(self, socket: TransportOwner) -> None:
        self._socket = socket
        self._get: _PendingGet | None = None
        self._posting = False
        self.closed = False
        # Protocol 3 (docs/protocol/engineio-v3.md): length-prefixed payloads; binary ones unless the handshake asked for base64 (b64).
        self._v3 = socket.protocol == 3
        query = socket.request.query
        # JSONP polling (docs/protocol/engineio-v3.md, a ``j`` query parameter at the handshake): answers are a script calling
        # ``___eio[<j>](...)``, POST bodies a form field ``d``; always text.
        self.jsonp = jsonp_index(query)
        self._binary = self._v3 and "b64" not in query and self.jsonp is None

    @property
    def writable(self) -> bool:
        """A GET is waiting for data."""
        return self._get is not None

    # -- GET ---------------------------------------------------------------------------------------------

    async def handle_get(self, request: Request) -> Response:
        socket = self._socket
        if self._get is not None:
            logger.debug("session %s: overlapping GET", socket.id)
            socket.on_transport_error(CloseReason.TRANSPORT_ERROR, "overlap from client")
            return Response(400)
        pending = _PendingGet()
        self._get = pending
        socket.on_poll_ready()
        body = pending.body
        if body is None:
            # Nothing to send yet: wait. The session's loop, not asyncio.get_running_loop(): on Python 3.11
            # that one makes a getpid() system call each time.
            waiter: asyncio.Future[bytes] = socket.loop.create_future()
            pending.future = waiter
            try:
                body = await waiter
            except asyncio.CancelledError:
                self._abandon(pending)
                raise
        return socket.poll_response(request, body, binary=pending.binary)

    def answer_now(self, context: PollContext) -> bytes | HeldAnswer | None:
        """A GET as :meth:`handle_get` takes it, without a coroutine: its payload when it can have one at once
        (packets are waiting, or the session closes or is being upgraded); else a :class:`HeldAnswer` that
        gets the answer when there is one (built from ``context``). None, with nothing changed, for a GET that
        overlaps another: handle_get answers that."""
        if self._get is not None:
            return None
        pending = _PendingGet()
        self._get = pending
        self._socket.on_poll_ready()
        body = pending.body
        if body is not None:
            return body
        held = pending.held = HeldAnswer(partial(self._abandon, pending))
        pending.context = context
        return held

    def _abandon(self, pending: _PendingGet) -> None:
        """The front-end gave up on a held GET (the client left): as when handle_get is cancelled."""
        if self._get is pending:
            self._get = None
            socket = self._socket
            logger.debug("session %s: poll request aborted", socket.id)
            socket.on_transport_error(CloseReason.TRANSPORT_ERROR, "poll connection closed prematurely")

    def send(self, items: list[str | bytes]) -> None:
        """Answer the waiting GET with these packets as one payload."""
        pending = self._get
        if pending is None:
            raise RuntimeError("no GET is waiting")  # the socket checks ``writable`` first
        self._get = None
        if self._v3:
            body, pending.binary = encode_payload_v3(items, self._binary)
        else:
            body = encode_items(items)
        if self.jsonp is not None:
            body = wrap_jsonp(self.jsonp, body)
        held = pending.held
        if held is not None:  # a protocol 4 GET without JSONP (answer_at_once declines the others)
            assert pending.context is not None
            held.respond(self._socket.held_poll_response(body, pending.context))
            return
        waiter = pending.future
        if waiter is None:
            pending.body = body  # answered while the GET registers
        elif not waiter.done():
            waiter.set_result(body)

    # -- POST --------------------------------------------------------------------------------------------

    def receive_now(self, body: bytes, content_type: bytes | None) -> bool | None:
        """Take in a POST whose whole body is here, as :meth:`handle_post` would: True when its packets were
        delivered, False for a bad payload (the session is closed; the answer is 400). None, with nothing
        changed, sends the request to handle_post: a binary content type, a body over the limit, or a POST
        overlapping one still being read."""
        socket = self._socket
        if self._posting or len(body) > socket.max_http_buffer_size:
            return None
        if content_type is not None and content_type.startswith(b"application/octet-stream"):
            return None
        if body[:1] == b"4" and b"\x1e" not in body:
            # One message, the usual POST: no payload decoding, no Packet.
            socket.on_message_text(str(body[1:], "utf-8", "replace") or None)
            return True
        packets, error = payload_codec.decode_payload_bytes(body)
        return socket.on_packets(packets, error)

    async def handle_post(self, request: Request) -> Response:
        socket = self._socket
        content_type = request.headers.get("content-type", "")
        binary = content_type is not None and content_type.startswith(OCTET_STREAM)
        if binary and not self._v3:  # protocol 4 payloads are always text
            socket.on_transport_error(CloseReason.TRANSPORT_ERROR, "invalid content")
            return Response(400)
        if self._posting:
            socket.on_transport_error(CloseReason.TRANSPORT_ERROR, "overlap from client")
            return Response(400)
        self._posting = True
        try:
            try:
                body = await request.read_body(socket.max_http_buffer_size)
            except BodyTooLarge:
                return Response(413)
            except asyncio.CancelledError:
                socket.on_transport_error(
                    CloseReason.TRANSPORT_ERROR, "data request connection closed prematurely"
                )
                raise
        finally:
            self._posting = False
        if self.jsonp is not None:
            text = jsonp_data(body)
            if text is None:  # no single ``d`` field: nothing to read, as the reference does
                return socket.post_response(request)
            if self._v3:
                packets, error = decode_payload_v3(encode_utf8(text), False)
            else:
                packets, error = payload_codec.decode_payload(text)
        elif self._v3:
            packets, error = decode_payload_v3(body, binary)
        else:
            packets, error = payload_codec.decode_payload_bytes(body)
        if not socket.on_packets(packets, error):
            return Response(400)
        return socket.post_response(request)

    # -- closing -----------------------------------------------------------------------------------------

    def close(self, final_packet: str) -> bool:
        """Release a waiting GET with ``final_packet`` (``1`` close, or ``6`` noop); False if none waits."""
        self.closed = True
        if self._get is None:
            return False
        self.send([final_packet])
        return True
