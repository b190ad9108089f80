"""The server side of the WebSocket wire format (RFC 6455) and permessage-deflate (RFC 7692), with no I/O.

This module only turns bytes into events and values into bytes; the connection code in ``websocket.py`` carries
them. It imports no asyncio, socket or clock, so it is tested with the RFC's vectors and fuzzed on its own.

Reading (:class:`FrameParser`): ``feed(data)`` returns the events that the bytes completed, in order:

* a ``str`` (text message) or ``bytes`` (binary message): a whole message, fragments already joined
  (RFC 6455 §5.4), inflated when the message was compressed (RFC 7692 §6.2), text checked to be UTF-8 (§8.1);
* :class:`PingFrame` (the caller answers with :func:`pong_frame`, §5.5.2), :class:`PongFrame`;
* :class:`CloseFrame`: the peer's close (§5.5.1); the parser reads nothing after it;
* :class:`ProtocolFailure`: the peer broke the protocol; the caller sends :func:`close_frame` with its
  ``code`` and drops the connection (§7.1.7). The parser reads nothing after it either.

Messages are plain ``str``/``bytes`` rather than wrapper objects because they are the hot path: one
allocation per message is the message itself.

Writing: :func:`build_frame` and its helpers build unmasked server frames (§5.1: servers never mask), so the
same bytes can go to every recipient of a broadcast. :class:`MessageDeflater` builds compressed frames once
permessage-deflate was agreed by :func:`negotiate_permessage_deflate`.

Whose fault: every :class:`ProtocolFailure` is the peer's (a bad frame, bad UTF-8, a message over the limit);
nothing here raises on network input.
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import struct
import zlib
from dataclasses import dataclass
from typing import Final, TypeAlias

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_INVALID_PAYLOAD",
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_NORMAL",
    "CLOSE_NO_STATUS",
    "CLOSE_PROTOCOL_ERROR",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONTINUATION",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "CloseFrame",
    "DeflateParams",
    "FrameParser",
    "MessageDeflater",
    "PingFrame",
    "PongFrame",
    "ProtocolFailure",
    "WsEvent",
    "accept_key",
    "binary_frame",
    "build_frame",
    "close_frame",
    "negotiate_permessage_deflate",
    "ping_frame",
    "pong_frame",
    "text_frame",
]

# Opcodes (RFC 6455 §5.2).
OP_CONTINUATION: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA

# Close codes (RFC 6455 §7.4.1) that this module produces or that callers commonly need.
CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001
CLOSE_PROTOCOL_ERROR: Final = 1002
CLOSE_NO_STATUS: Final = 1005  # never sent: stands for "the close frame had no code"
CLOSE_ABNORMAL: Final = 1006  # never sent: stands for "the connection broke without a close frame"
CLOSE_INVALID_PAYLOAD: Final = 1007
CLOSE_MESSAGE_TOO_BIG: Final = 1009
CLOSE_INTERNAL_ERROR: Final = 1011

#: Socket.IO's default ``maxHttpBufferSize`` (1e6 bytes) is the reference's limit for one message.
DEFAULT_MAX_MESSAGE_SIZE: Final = 1_000_000

_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_DEFLATE_TAIL: Final = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.1 / §7.2.2
_LEN16: Final = struct.Struct("!H")
_LEN64: Final = struct.Struct("!Q")
_HEAD16: Final = struct.Struct("!BBH")
_HEAD64: Final = struct.Struct("!BBQ")
_KEY32: Final = struct.Struct("<I")  # a masking key read as a little-endian integer, without slicing it out


# --- handshake ---


def accept_key(sec_websocket_key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2, step 5.4)."""
    digest = hashlib.sha1(sec_websocket_key.strip().encode("ascii") + _GUID).digest()
    return binascii.b2a_base64(digest, newline=False).decode("ascii")


# --- events ---


@dataclass(frozen=True, slots=True)
class PingFrame:
    """The peer sent a ping; answer with ``pong_frame(payload)`` (RFC 6455 §5.5.2)."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class PongFrame:
    """The peer sent a pong (solicited or not, §5.5.3); nothing has to be done."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class CloseFrame:
    """The peer started or answered the closing handshake (§5.5.1).

    ``code`` is :data:`CLOSE_NO_STATUS` (1005) when the frame carried no code, as §7.1.5 says to report it.
    """

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class ProtocolFailure:
    """The peer broke the protocol: send ``close_frame(code)`` and drop the connection (§7.1.7).

    ``code`` is 1002 (protocol error), 1007 (invalid payload data) or 1009 (message too big); ``reason``
    says what went wrong, for the log (the reference puts no reason in such a close frame).
    """

    code: int
    reason: str


#: What :meth:`FrameParser.feed` yields: a message as ``str``/``bytes``, or one of the frame events.
WsEvent: TypeAlias = str | bytes | PingFrame | PongFrame | CloseFrame | ProtocolFailure


# --- masking ---

# One translation table per key byte: ``table[k][b] == b ^ k``. Strided ``bytes.translate`` unmasks large
# payloads at C speed; 64 KiB built once at import.
_IDENTITY: Final = bytes(range(256))
_XOR_TABLES: Final = tuple(
    (int.from_bytes(_IDENTITY, "big") ^ int.from_bytes(bytes((k,)) * 256, "big")).to_bytes(256, "big")
    for k in range(256)
)
# Measured: XOR through one big integer wins below ~4 KiB, the four strided translates above.
_TRANSLATE_FROM: Final = 4096
# Payloads under 126 bytes (every small Socket.IO message): the key repeated over ``n`` bytes is the 4-byte key
# as an integer times ``_KEY_REPEAT[n]`` (a 1 every 32 bits), and ``_LOW_BYTES[n]`` cuts the product to ``n``
# bytes. Two table lookups instead of repeating and slicing the key as bytes: 30 % less per small frame.
_KEY_REPEAT: Final = tuple(sum(1 << (32 * i) for i in range((n + 3) >> 2)) for n in range(126))
_LOW_BYTES: Final = tuple((1 << (8 * n)) - 1 for n in range(126))


def _unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR ``payload`` with the repeating 4-byte ``mask`` (RFC 6455 §5.3), in bulk, not byte by byte."""
    n = len(payload)
    if n < _TRANSLATE_FROM:
        if n == 0:
            return b""
        key = (mask * ((n >> 2) + 1))[:n]
        return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")
    out = bytearray(payload)
    tables = _XOR_TABLES
    out[0::4] = payload[0::4].translate(tables[mask[0]])
    out[1::4] = payload[1::4].translate(tables[mask[1]])
    out[2::4] = payload[2::4].translate(tables[mask[2]])
    out[3::4] = payload[3::4].translate(tables[mask[3]])
    return bytes(out)


# --- close payloads ---


def _close_code_is_valid(code: int) -> bool:
    """Whether a peer may send ``code`` (RFC 6455 §7.4.1/§7.4.2 and the IANA registry, 1012–1014 included).

    1004, 1005, 1006 and 1015 are reserved for reporting and must never appear on the wire.
    """
    if 1000 <= code <= 1014:
        return code not in (1004, 1005, 1006)
    return 3000 <= code <= 4999


def _parse_close(payload: bytes) -> CloseFrame | ProtocolFailure:
    if not payload:
        return CloseFrame(CLOSE_NO_STATUS, "")
    if len(payload) == 1:
        return ProtocolFailure(CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload")
    code = _LEN16.unpack_from(payload)[0]
    if not _close_code_is_valid(code):
        return ProtocolFailure(CLOSE_PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        return ProtocolFailure(CLOSE_INVALID_PAYLOAD, "close reason is not UTF-8")
    return CloseFrame(code, reason)


# --- parser ---

_utf8_decoder = codecs.getincrementaldecoder("utf-8")


class FrameParser:
    """Turns the bytes a client sends into messages and control events (RFC 6455 §5, RFC 7692 §6).

    ``max_message_size`` bounds one message after joining fragments and after inflating. It is checked on
    each frame header, before the payload is waited for, so a peer cannot make us buffer more than the limit
    by announcing a huge frame. ``deflate`` is the result of :func:`negotiate_permessage_deflate`; without it
    a frame with RSV1 set is a protocol error.

    Theory of operation: ``feed`` walks the complete frames in the bytes it has; when a frame is cut short it
    keeps the rest as a list of chunks plus the number of bytes that the next step needs, and joins them only
    when that many have arrived, so a large message is copied a bounded number of times, not once per chunk.
    A fragmented message collects its pieces in ``_parts``; control frames may arrive between them (§5.4).

    ``frames_per_feed`` bounds the frames one ``feed`` walks: one read may hold tens of thousands of tiny
    frames (empty fragments, pings, small messages), each costing a little parsing and whatever its event
    costs downstream. When the budget runs out, ``feed`` keeps the rest, sets :attr:`more`, and the caller
    calls ``feed(b"")`` again later (in another turn of the event loop, so that other connections are served
    in between); the events are the same, in the same order, as without a bound.
    """

    __slots__ = (
        "_closed",
        "_decoder",
        "_deflate",
        "_frag_compressed",
        "_frag_inflated",
        "_frag_opcode",
        "_frag_size",
        "_frames_per_feed",
        "_inflater",
        "_max_size",
        "_more",
        "_need",
        "_parts",
        "_skip",
        "_tail",
        "_tail_len",
        "_text_parts",
        "_wire_limit",
    )

    def __init__(
        self,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        deflate: DeflateParams | None = None,
        frames_per_feed: int | None = None,
    ):
        if max_message_size < 0:
            raise ValueError("max_message_size must be >= 0")
        if frames_per_feed is not None and frames_per_feed < 1:
            raise ValueError("frames_per_feed must be >= 1")
        self._frames_per_feed = frames_per_feed if frames_per_feed is not None else -1
        self._more = False
        self._max_size = max_message_size
        # A compressed message may be slightly larger than its inflated form when the data does not compress
        # (stored blocks cost 5 bytes per 64 KiB): allow that on the wire; the inflated size is the real cap.
        self._wire_limit = max_message_size + (max_message_size >> 10) + 64 if deflate else max_message_size
        self._deflate = deflate
        self._inflater: zlib._Decompress | None = None
        # The three lists exist only while in use (a frame cut between reads, a fragmented message): an idle
        # connection's parser holds none of them (168 bytes less per connection).
        self._tail: list[bytes] | None = None
        self._tail_len = 0
        self._skip = 0  # where the frames in ``_tail[0]`` start, after a feed that stopped at its budget
        self._need = 0
        self._closed = False
        self._frag_opcode = 0  # opcode of the fragmented message in progress, 0 when none
        self._frag_size = 0  # wire bytes of that message so far
        self._frag_compressed = False
        self._frag_inflated = 0  # bytes that message inflated to so far
        self._parts: list[bytes] | None = None
        self._text_parts: list[str] | None = None
        self._decoder: codecs.IncrementalDecoder | None = None

    @property
    def more(self) -> bool:
        """True when the last ``feed`` stopped at its frame budget with whole frames left: ``feed(b"")``."""
        return self._more

    @property
    def closed(self) -> bool:
        """True once a close frame or a protocol failure was returned: later bytes are ignored."""
        return self._closed

    def feed(self, data: bytes) -> list[WsEvent]:
        """Take the next bytes from the connection; return the events they complete, in order."""
        if self._tail is None and not self._frag_opcode and not self._closed:
            # The request/response case (an emit, an ack): the read is exactly one whole, short, masked text
            # frame. Anything unusual about it, bad UTF-8 included, is left to the general path below.
            end = len(data)
            if end > 6 and data[0] == 0x81:
                length = data[1] - 0x80  # negative when the frame is not masked
                if length == end - 6 and length < 126 and length <= self._max_size:
                    try:
                        return [
                            (
                                (
                                    int.from_bytes(data[6:], "little")
                                    ^ _KEY32.unpack_from(data, 2)[0] * _KEY_REPEAT[length]
                                )
                                & _LOW_BYTES[length]
                            )
                            .to_bytes(length, "little")
                            .decode("utf-8")
                        ]
                    except UnicodeDecodeError:
                        pass
        events: list[WsEvent] = []
        self._more = False
        if self._closed:
            return events
        pos = 0
        tail = self._tail
        if tail:
            if data:
                tail.append(data)
                self._tail_len += len(data)
                if self._tail_len < self._need:
                    return events
            if len(tail) == 1:
                # Where the last feed stopped at its budget: carry on in the same bytes, without a copy.
                data = tail[0]
                pos = self._skip
            else:
                if self._skip:
                    tail[0] = tail[0][self._skip :]
                data = b"".join(tail)
            self._tail = None
            self._skip = 0
        end = len(data)
        need = 0
        budget = self._frames_per_feed  # negative: no bound
        while True:
            avail = end - pos
            if avail < 2:
                need = 2
                break
            if not budget:
                self._more = True
                break
            budget -= 1
            b0 = data[pos]
            b1 = data[pos + 1]
            if not b1 & 0x80:
                return self._fail(events, CLOSE_PROTOCOL_ERROR, "client frame is not masked")
            length = b1 & 0x7F
            if length < 126:
                head = 6
            elif length == 126:
                head = 8
                if avail < head:
                    need = head
                    break
                length = _LEN16.unpack_from(data, pos + 2)[0]
            else:
                head = 14
                if avail < head:
                    need = head
                    break
                length = _LEN64.unpack_from(data, pos + 2)[0]
                if length >> 63:
                    return self._fail(events, CLOSE_PROTOCOL_ERROR, "frame length has the top bit set")
            if (b0 == 0x81 or b0 == 0x82) and not self._frag_opcode:
                # The hot path: a whole, uncompressed text or binary message in one frame.
                if length > self._max_size:
                    return self._fail(events, CLOSE_MESSAGE_TOO_BIG, "message too big")
                if avail < head + length:
                    need = head + length
                    break
                start = pos + head
                pos = start + length
                if length < 126:
                    payload = (
                        (
                            int.from_bytes(data[start:pos], "little")
                            ^ _KEY32.unpack_from(data, start - 4)[0] * _KEY_REPEAT[length]
                        )
                        & _LOW_BYTES[length]
                    ).to_bytes(length, "little")
                elif length < _TRANSLATE_FROM:
                    payload = (
                        int.from_bytes(data[start:pos], "little")
                        ^ int.from_bytes((data[start - 4 : start] * ((length >> 2) + 1))[:length], "little")
                    ).to_bytes(length, "little")
                else:
                    payload = _unmask(data[start:pos], data[start - 4 : start])
                if b0 == 0x81:
                    try:
                        events.append(payload.decode("utf-8"))
                    except UnicodeDecodeError:
                        return self._fail(events, CLOSE_INVALID_PAYLOAD, "text message is not UTF-8")
                else:
                    events.append(payload)
                continue
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            if opcode >= 8:
                if opcode > OP_PONG:
                    return self._fail(events, CLOSE_PROTOCOL_ERROR, f"reserved opcode {opcode}")
                if b0 & 0x70:
                    return self._fail(events, CLOSE_PROTOCOL_ERROR, "reserved bits set on a control frame")
                if not fin:
                    return self._fail(events, CLOSE_PROTOCOL_ERROR, "fragmented control frame")
                if length > 125:
                    return self._fail(events, CLOSE_PROTOCOL_ERROR, "control frame payload over 125 bytes")
            else:
                failure = self._check_data_header(b0, opcode, length)
                if failure is not None:
                    self._closed = True
                    events.append(failure)
                    return events
            if avail < head + length:
                need = head + length
                break
            start = pos + head
            pos = start + length
            payload = _unmask(data[start:pos], data[start - 4 : start])
            if opcode >= 8:
                if opcode == OP_PING:
                    events.append(PingFrame(payload))
                elif opcode == OP_PONG:
                    events.append(PongFrame(payload))
                else:
                    closing = _parse_close(payload)
                    self._closed = True
                    events.append(closing)
                    return events
                continue
            event = self._data_frame(opcode, fin, b0 & 0x40, payload)
            if event is not None:
                events.append(event)
                if type(event) is ProtocolFailure:
                    self._closed = True
                    return events
        if pos < end:
            if self._more:
                self._tail = [data]
                self._skip = pos
            else:
                self._tail = [data[pos:] if pos else data]
            self._tail_len = end - pos
            self._need = need
        return events

    def _fail(self, events: list[WsEvent], code: int, reason: str) -> list[WsEvent]:
        self._closed = True
        self._tail = None
        events.append(ProtocolFailure(code, reason))
        return events

    def _check_data_header(self, b0: int, opcode: int, length: int) -> ProtocolFailure | None:
        """Validate a data frame's header before its payload is buffered (§5.2, §5.4, RFC 7692 §6)."""
        if opcode > OP_BINARY:
            return ProtocolFailure(CLOSE_PROTOCOL_ERROR, f"reserved opcode {opcode}")
        if b0 & 0x30:
            return ProtocolFailure(CLOSE_PROTOCOL_ERROR, "RSV2/RSV3 set without a negotiated extension")
        if opcode == OP_CONTINUATION:
            if not self._frag_opcode:
                return ProtocolFailure(
                    CLOSE_PROTOCOL_ERROR, "continuation frame without a message to continue"
                )
            if b0 & 0x40:
                return ProtocolFailure(CLOSE_PROTOCOL_ERROR, "RSV1 set on a continuation frame")
        else:
            if self._frag_opcode:
                return ProtocolFailure(CLOSE_PROTOCOL_ERROR, "new message before the fragmented one ended")
            if b0 & 0x40 and self._deflate is None:
                return ProtocolFailure(CLOSE_PROTOCOL_ERROR, "RSV1 set without permessage-deflate")
        compressed = b0 & 0x40 if opcode else self._frag_compressed
        if self._frag_size + length > (self._wire_limit if compressed else self._max_size):
            return ProtocolFailure(CLOSE_MESSAGE_TOO_BIG, "message too big")
        return None

    def _data_frame(self, opcode: int, fin: int, rsv1: int, payload: bytes) -> WsEvent | None:
        """One data frame whose header passed :meth:`_check_data_header`; a message when it is the last."""
        if opcode and fin:
            # The common case: a whole message in one frame.
            if rsv1:
                inflated = self._inflate(payload, True, 0)
                if isinstance(inflated, ProtocolFailure):
                    return inflated
                payload = inflated
            if opcode == OP_TEXT:
                try:
                    return payload.decode("utf-8")
                except UnicodeDecodeError:
                    return ProtocolFailure(CLOSE_INVALID_PAYLOAD, "text message is not UTF-8")
            return payload
        if opcode:  # the first fragment
            self._frag_opcode = opcode
            self._frag_compressed = bool(rsv1)
            self._frag_size = 0
            self._frag_inflated = 0
            if opcode == OP_TEXT:
                self._decoder = _utf8_decoder()
        self._frag_size += len(payload)
        last = bool(fin)
        if self._frag_compressed:
            inflated = self._inflate(payload, last, self._frag_inflated)
            if isinstance(inflated, ProtocolFailure):
                return inflated
            payload = inflated
            self._frag_inflated += len(payload)
        decoder = self._decoder
        if decoder is not None:
            # Decoding each fragment as it comes fails fast on bad UTF-8 and copes with a character cut in 2.
            try:
                if self._text_parts is None:
                    self._text_parts = []
                self._text_parts.append(decoder.decode(payload, last))
            except UnicodeDecodeError:
                return ProtocolFailure(CLOSE_INVALID_PAYLOAD, "text message is not UTF-8")
        else:
            if self._parts is None:
                self._parts = []
            self._parts.append(payload)
        if not last:
            return None
        self._frag_opcode = 0
        self._frag_size = 0
        if decoder is not None:
            self._decoder = None
            text = "".join(self._text_parts or ())
            self._text_parts = None
            return text
        data = b"".join(self._parts or ())
        self._parts = None
        return data

    def _inflate(self, data: bytes, last: bool, already: int) -> bytes | ProtocolFailure:
        """Inflate one frame of a compressed message, never producing more than the limit allows.

        RFC 7692 §7.2.2: the sender removed the trailing ``00 00 FF FF`` of a sync flush; append it at the
        end of the message. ``max_length`` stops zlib one byte past the limit, so a small "zip bomb" frame
        costs at most the limit in memory. ``already`` is what the message's earlier fragments inflated to.
        """
        inflater = self._inflater
        if inflater is None:
            inflater = self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        room = self._max_size - already
        try:
            out = inflater.decompress(data + _DEFLATE_TAIL if last else data, room + 1)
        except zlib.error:
            return ProtocolFailure(CLOSE_INVALID_PAYLOAD, "invalid compressed data")
        if len(out) > room:
            return ProtocolFailure(CLOSE_MESSAGE_TOO_BIG, "message too big once inflated")
        if inflater.eof or (last and self._deflate is not None and self._deflate.client_no_context_takeover):
            # A block with BFINAL set ended the stream (§7.2.3.4), or the client starts each message afresh:
            # either way the next message needs a fresh inflater, and the window need not be kept.
            self._inflater = None
        return out


# --- building ---


def build_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    """One unmasked server frame (RFC 6455 §5.2): the same bytes fit every recipient."""
    b0 = opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    n = len(payload)
    if n < 126:
        return bytes((b0, n)) + payload
    if n < 0x10000:
        return _HEAD16.pack(b0, 126, n) + payload
    return _HEAD64.pack(b0, 127, n) + payload


# The 2-byte heads of short final text and binary frames, indexed by payload length: a lookup instead of
# building ``bytes((b0, n))`` from a tuple on every message sent.
_TEXT_HEADS: Final = tuple(bytes((0x81, n)) for n in range(126))
_BINARY_HEADS: Final = tuple(bytes((0x82, n)) for n in range(126))


def text_frame(text: str) -> bytes:
    """A text message in one frame (``build_frame`` inlined for short messages: this is the send hot path)."""
    payload = text.encode("utf-8")
    n = len(payload)
    if n < 126:
        return _TEXT_HEADS[n] + payload
    return build_frame(OP_TEXT, payload)


def binary_frame(data: bytes) -> bytes:
    """A binary message in one frame."""
    n = len(data)
    if n < 126:
        return _BINARY_HEADS[n] + data
    return build_frame(OP_BINARY, data)


def close_frame(code: int = CLOSE_NORMAL, reason: str = "") -> bytes:
    """A close frame (§5.5.1). 1005 means "no code": the frame is then empty, as §7.4.1 forbids sending 1005.

    The reason is cut to fit the 125-byte control payload, on a character boundary.
    """
    if code == CLOSE_NO_STATUS:
        return build_frame(OP_CLOSE, b"")
    raw = reason.encode("utf-8")
    if len(raw) > 123:
        raw = raw[:123].decode("utf-8", "ignore").encode("utf-8")
    return build_frame(OP_CLOSE, _LEN16.pack(code) + raw)


def ping_frame(payload: bytes = b"") -> bytes:
    """A ping (§5.5.2); the payload must fit in 125 bytes."""
    if len(payload) > 125:
        raise ValueError("a ping payload is at most 125 bytes")
    return build_frame(OP_PING, payload)


def pong_frame(payload: bytes = b"") -> bytes:
    """The answer to a ping, echoing its payload (§5.5.3)."""
    return build_frame(OP_PONG, payload)


# --- permessage-deflate ---


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """The permessage-deflate parameters agreed with one client (RFC 7692 §7.1).

    ``server_*`` govern what we compress, ``client_*`` what the client compresses.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    """Split on ``separator`` except inside double-quoted strings (RFC 7230 §3.2.6 quoted-string)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _parse_extension_offers(header_value: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """``Sec-WebSocket-Extensions`` as a list of ``(name, [(param, value or None)])`` (RFC 6455 §9.1)."""
    offers: list[tuple[str, list[tuple[str, str | None]]]] = []
    for offer in _split_outside_quotes(header_value, ","):
        pieces = _split_outside_quotes(offer, ";")
        name = pieces[0].strip().lower()
        if not name:
            continue
        params: list[tuple[str, str | None]] = []
        for piece in pieces[1:]:
            key, eq, value = piece.partition("=")
            key = key.strip().lower()
            if not key:
                continue
            if eq:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1].replace("\\", "")
                params.append((key, value))
            else:
                params.append((key, None))
        offers.append((name, params))
    return offers


def _window_bits(value: str | None) -> int | None:
    """A ``*_max_window_bits`` value (1*DIGIT in 8..15, §7.1.2), or None when invalid."""
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 2 or value.startswith("0"):
        return None
    bits = int(value)
    return bits if 8 <= bits <= 15 else None


def _accept_offer(params: list[tuple[str, str | None]]) -> tuple[str, DeflateParams] | None:
    """Our answer to one permessage-deflate offer, or None to decline it (RFC 7692 §7.1)."""
    seen: set[str] = set()
    server_no_context = client_no_context = False
    server_bits = 15
    answer = ["permessage-deflate"]
    for key, value in params:
        if key in seen:
            return None  # §7: a parameter may appear only once
        seen.add(key)
        if key == "server_no_context_takeover":
            if value is not None:
                return None
            server_no_context = True
            answer.append("server_no_context_takeover")
        elif key == "client_no_context_takeover":
            if value is not None:
                return None
            client_no_context = True
            answer.append("client_no_context_takeover")
        elif key == "server_max_window_bits":
            bits = _window_bits(value)
            if bits is None:
                return None
            if bits == 8:
                # zlib cannot deflate with a 256-byte window (it would silently use 512), so we cannot keep
                # the promise: decline this offer (§7.1.2.1 lets the server do so).
                return None
            server_bits = bits
            answer.append(f"server_max_window_bits={bits}")
        elif key == "client_max_window_bits":
            # Without a value the client only says it could honour a limit; with one it already limits
            # itself. Our inflater uses the largest window, which reads any smaller one, so we ask nothing.
            if value is not None and _window_bits(value) is None:
                return None
        else:
            return None  # §7.1: unknown parameter, decline
    params_out = DeflateParams(
        server_no_context_takeover=server_no_context,
        client_no_context_takeover=client_no_context,
        server_max_window_bits=server_bits,
        client_max_window_bits=15,
    )
    return "; ".join(answer), params_out


def negotiate_permessage_deflate(header_value: str | None) -> tuple[str | None, DeflateParams | None]:
    """Pick the first permessage-deflate offer in ``Sec-WebSocket-Extensions`` we can honour (RFC 7692 §5).

    Returns the ``Sec-WebSocket-Extensions`` value to answer with and the agreed parameters, or
    ``(None, None)`` when the client offered nothing acceptable (the connection then runs uncompressed).
    """
    if not header_value:
        return None, None
    for name, params in _parse_extension_offers(header_value):
        if name != "permessage-deflate":
            continue
        accepted = _accept_offer(params)
        if accepted is not None:
            return accepted
    return None, None


#: Messages shorter than this go uncompressed (RSV1 clear), like the reference's
#: ``perMessageDeflate.threshold``: deflating a few bytes costs more CPU than it saves on the wire.
DEFAULT_COMPRESS_THRESHOLD: Final = 1024


class MessageDeflater:
    """Builds the compressed frames of one connection (RFC 7692 §7.2.1).

    With ``server_no_context_takeover`` every message ends with a full flush, which resets the compressor's
    history, so the client may drop its window between messages; otherwise a sync flush keeps the history and
    later messages compress better. Messages under ``threshold`` bytes are sent as plain frames, which the
    extension allows (§6: RSV1 clear means "not compressed").
    """

    __slots__ = ("_compressor", "_flush_mode", "threshold")

    def __init__(self, params: DeflateParams, *, threshold: int = DEFAULT_COMPRESS_THRESHOLD) -> None:
        self._compressor = zlib.compressobj(
            zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -params.server_max_window_bits
        )
        self._flush_mode = zlib.Z_FULL_FLUSH if params.server_no_context_takeover else zlib.Z_SYNC_FLUSH
        self.threshold = threshold

    def compress(self, payload: bytes) -> bytes:
        """The deflated form of one message payload, without the ``00 00 FF FF`` tail (§7.2.1)."""
        compressor = self._compressor
        out = compressor.compress(payload) + compressor.flush(self._flush_mode)
        if out.endswith(_DEFLATE_TAIL):
            out = out[:-4]
        return out

    def text_frame(self, text: str) -> bytes:
        """A text message, compressed when it is at least ``threshold`` bytes."""
        return self.frame(OP_TEXT, text.encode("utf-8"))

    def binary_frame(self, data: bytes) -> bytes:
        """A binary message, compressed when it is at least ``threshold`` bytes."""
        return self.frame(OP_BINARY, data)

    def frame(self, opcode: int, payload: bytes) -> bytes:
        """A data frame for ``opcode``, compressed with RSV1 set when worth it."""
        if len(payload) < self.threshold:
            return build_frame(opcode, payload)
        return build_frame(opcode, self.compress(payload), rsv1=True)
