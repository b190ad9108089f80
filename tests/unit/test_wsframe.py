"""The pure WebSocket codec against RFC 6455 and RFC 7692: their examples, every failure code, limits, fuzz."""

from __future__ import annotations

import os
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.runner.wsframe import (
    CLOSE_INVALID_PAYLOAD,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_PROTOCOL_ERROR,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    CloseFrame,
    DeflateParams,
    FrameParser,
    MessageDeflater,
    PingFrame,
    PongFrame,
    ProtocolFailure,
    WsEvent,
    accept_key,
    binary_frame,
    build_frame,
    close_frame,
    negotiate_permessage_deflate,
    ping_frame,
    pong_frame,
    text_frame,
)

MASK = bytes.fromhex("37fa213d")  # the key of the RFC 6455 §5.7 examples


def masked(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes = MASK,
    length: int | None = None,
) -> bytes:
    """A client frame, built the slow and obvious way (independent of the code under test)."""
    n = len(payload) if length is None else length
    head = bytearray([(0x80 if fin else 0) | rsv | opcode])
    if n < 126:
        head.append(0x80 | n)
    elif n < 0x10000:
        head.append(0x80 | 126)
        head += n.to_bytes(2, "big")
    else:
        head.append(0x80 | 127)
        head += n.to_bytes(8, "big")
    return bytes(head) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def feed_all(parser: FrameParser, data: bytes, step: int | None = None) -> list[WsEvent]:
    if step is None:
        return parser.feed(data)
    events: list[WsEvent] = []
    for i in range(0, len(data), step):
        events.extend(parser.feed(data[i : i + step]))
    return events


DEFLATE = DeflateParams()

# --- RFC 6455 examples ---


def test_accept_key_rfc_example() -> None:
    # RFC 6455 §1.3
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_rfc_single_frame_unmasked_hello_is_what_the_server_builds() -> None:
    # RFC 6455 §5.7: a single-frame unmasked text message
    assert text_frame("Hello") == bytes.fromhex("810548656c6c6f")


def test_rfc_unmasked_frame_from_a_client_is_a_protocol_error() -> None:
    events = FrameParser().feed(bytes.fromhex("810548656c6c6f"))
    assert events == [ProtocolFailure(1002, "client frame is not masked")]


def test_rfc_single_frame_masked_hello() -> None:
    assert FrameParser().feed(bytes.fromhex("818537fa213d7f9f4d5158")) == ["Hello"]


def test_rfc_fragmented_unmasked_text_message_built_by_server() -> None:
    assert build_frame(OP_TEXT, b"Hel", fin=False) == bytes.fromhex("010348656c")
    assert build_frame(OP_CONTINUATION, b"lo") == bytes.fromhex("80026c6f")


def test_rfc_fragmented_masked_text_message() -> None:
    data = masked(OP_TEXT, b"Hel", fin=False) + masked(OP_CONTINUATION, b"lo")
    assert FrameParser().feed(data) == ["Hello"]


def test_rfc_ping_and_masked_pong() -> None:
    assert ping_frame(b"Hello") == bytes.fromhex("890548656c6c6f")
    assert pong_frame(b"Hello") == bytes.fromhex("8a0548656c6c6f")
    assert FrameParser().feed(bytes.fromhex("8a8537fa213d7f9f4d5158")) == [PongFrame(b"Hello")]


def test_rfc_256_byte_and_64_kib_binary_frames() -> None:
    assert binary_frame(bytes(256)) == bytes.fromhex("827e0100") + bytes(256)
    assert binary_frame(bytes(65536)) == bytes.fromhex("827f0000000000010000") + bytes(65536)


def test_rfc_length_encodings_round_trip() -> None:
    for size in (0, 125, 126, 127, 65535, 65536, 70000):
        payload = os.urandom(size)
        assert FrameParser(max_message_size=1 << 20).feed(masked(OP_BINARY, payload)) == [payload]


# --- parsing in pieces, masking ---


@pytest.mark.parametrize("step", [1, 2, 3, 5, 7, 64, None])
def test_any_split_gives_the_same_events(step: int | None) -> None:
    data = (
        masked(OP_TEXT, b"one")
        + masked(OP_PING, b"p")
        + masked(OP_BINARY, os.urandom(300))
        + masked(OP_TEXT, b"caf", fin=False)
        + masked(OP_PING, b"")
        + masked(OP_CONTINUATION, "é!".encode())
        + masked(OP_CLOSE, b"\x03\xe8bye")
    )
    whole = FrameParser().feed(data)
    assert len(whole) == 6
    assert whole[0] == "one"
    assert whole[1] == PingFrame(b"p")
    assert whole[3:] == [PingFrame(b""), "café!", CloseFrame(1000, "bye")]
    assert feed_all(FrameParser(), data, step) == whole


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 4095, 4096, 4097, 70001])
def test_unmasking_sizes(size: int) -> None:
    payload = os.urandom(size)
    mask = os.urandom(4)
    assert FrameParser(max_message_size=1 << 20).feed(masked(OP_BINARY, payload, mask=mask)) == [payload]


def test_large_message_in_many_chunks() -> None:
    payload = os.urandom(3_000_000)
    parser = FrameParser(max_message_size=4_000_000)
    assert feed_all(parser, masked(OP_BINARY, payload), 65536) == [payload]


def test_nothing_is_returned_until_a_frame_is_complete() -> None:
    parser = FrameParser()
    data = masked(OP_TEXT, b"hello")
    assert parser.feed(data[:1]) == []
    assert parser.feed(data[1:6]) == []
    assert parser.feed(data[6:]) == ["hello"]


# --- fragmentation and control frames ---


def test_ping_between_fragments_is_returned_before_the_message() -> None:
    data = (
        masked(OP_BINARY, b"ab", fin=False)
        + masked(OP_PING, b"x")
        + masked(OP_CONTINUATION, b"cd", fin=False)
        + masked(OP_PONG, b"y")
        + masked(OP_CONTINUATION, b"ef")
    )
    assert FrameParser().feed(data) == [PingFrame(b"x"), PongFrame(b"y"), b"abcdef"]


def test_empty_fragments() -> None:
    data = (
        masked(OP_TEXT, b"", fin=False)
        + masked(OP_CONTINUATION, b"", fin=False)
        + masked(OP_CONTINUATION, b"")
    )
    assert FrameParser().feed(data) == [""]


def test_utf8_character_split_across_fragments() -> None:
    raw = "€".encode()  # 3 bytes
    data = (
        masked(OP_TEXT, raw[:1], fin=False)
        + masked(OP_CONTINUATION, raw[1:2], fin=False)
        + masked(OP_CONTINUATION, raw[2:])
    )
    assert FrameParser().feed(data) == ["€"]


def test_invalid_utf8_fails_fast_in_a_fragment() -> None:
    parser = FrameParser()
    assert parser.feed(masked(OP_TEXT, b"ok\xff", fin=False)) == [
        ProtocolFailure(1007, "text message is not UTF-8")
    ]


def test_text_ending_mid_character_is_invalid() -> None:
    raw = "€".encode()
    data = masked(OP_TEXT, b"a" + raw[:1], fin=False) + masked(OP_CONTINUATION, raw[1:2])
    assert FrameParser().feed(data) == [ProtocolFailure(1007, "text message is not UTF-8")]


@pytest.mark.parametrize(
    "payload",
    [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"],
    ids=["ff", "overlong", "surrogate", "above-max", "truncated"],
)
def test_invalid_utf8_single_frame(payload: bytes) -> None:
    assert FrameParser().feed(masked(OP_TEXT, payload)) == [
        ProtocolFailure(1007, "text message is not UTF-8")
    ]


def test_binary_is_not_checked_for_utf8() -> None:
    assert FrameParser().feed(masked(OP_BINARY, b"\xff\xfe")) == [b"\xff\xfe"]


# --- close frames ---


def test_empty_close_reports_1005() -> None:
    assert FrameParser().feed(masked(OP_CLOSE, b"")) == [CloseFrame(1005, "")]


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
)
def test_valid_close_codes(code: int) -> None:
    payload = code.to_bytes(2, "big") + "né".encode()
    assert FrameParser().feed(masked(OP_CLOSE, payload)) == [CloseFrame(code, "né")]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_invalid_close_codes(code: int) -> None:
    events = FrameParser().feed(masked(OP_CLOSE, code.to_bytes(2, "big")))
    assert events == [ProtocolFailure(1002, f"invalid close code {code}")]


def test_close_with_one_byte_payload() -> None:
    assert FrameParser().feed(masked(OP_CLOSE, b"\x03")) == [
        ProtocolFailure(1002, "close frame with a 1-byte payload")
    ]


def test_close_reason_must_be_utf8() -> None:
    events = FrameParser().feed(masked(OP_CLOSE, b"\x03\xe8\xff"))
    assert events == [ProtocolFailure(1007, "close reason is not UTF-8")]


def test_nothing_is_read_after_close() -> None:
    parser = FrameParser()
    assert parser.feed(masked(OP_CLOSE, b"\x03\xe8") + masked(OP_TEXT, b"late")) == [CloseFrame(1000, "")]
    assert parser.closed
    assert parser.feed(masked(OP_TEXT, b"later")) == []


def test_close_frame_builder() -> None:
    assert close_frame() == bytes.fromhex("880203e8")
    assert close_frame(1005) == bytes.fromhex("8800")
    assert close_frame(4000, "bye") == bytes.fromhex("8805") + b"\x0f\xa0bye"
    long = close_frame(1000, "é" * 100)
    assert len(long) - 2 <= 125
    parsed = FrameParser().feed(masked(OP_CLOSE, long[2:]))
    assert isinstance(parsed[0], CloseFrame)
    assert parsed[0].reason == "é" * 61


def test_ping_payload_limit_on_build() -> None:
    with pytest.raises(ValueError, match="125"):
        ping_frame(bytes(126))


# --- every protocol failure ---

_PROTOCOL_ERRORS: list[tuple[str, bytes, DeflateParams | None, int]] = [
    ("rsv2", masked(OP_TEXT, b"x", rsv=0x20), None, 1002),
    ("rsv3", masked(OP_TEXT, b"x", rsv=0x10), None, 1002),
    ("rsv2-with-deflate", masked(OP_TEXT, b"x", rsv=0x20), DEFLATE, 1002),
    ("rsv1-without-deflate", masked(OP_TEXT, b"x", rsv=0x40), None, 1002),
    ("rsv1-on-control", masked(OP_PING, b"x", rsv=0x40), DEFLATE, 1002),
    (
        "rsv1-on-continuation",
        masked(OP_TEXT, b"", fin=False) + masked(OP_CONTINUATION, b"", rsv=0x40),
        DEFLATE,
        1002,
    ),
    ("opcode-3", masked(3, b""), None, 1002),
    ("opcode-7", masked(7, b""), None, 1002),
    ("opcode-11", masked(0xB, b""), None, 1002),
    ("opcode-15", masked(0xF, b""), None, 1002),
    ("fragmented-ping", masked(OP_PING, b"", fin=False), None, 1002),
    ("fragmented-close", masked(OP_CLOSE, b"", fin=False), None, 1002),
    ("ping-126", masked(OP_PING, bytes(126)), None, 1002),
    ("continuation-first", masked(OP_CONTINUATION, b"x"), None, 1002),
    ("text-inside-fragments", masked(OP_TEXT, b"a", fin=False) + masked(OP_TEXT, b"b"), None, 1002),
    ("binary-inside-fragments", masked(OP_BINARY, b"a", fin=False) + masked(OP_BINARY, b"b"), None, 1002),
    ("unmasked", bytes.fromhex("820100"), None, 1002),
    ("64-bit-top-bit", bytes.fromhex("82ff8000000000000000") + MASK, None, 1002),
    ("bad-utf8", masked(OP_TEXT, b"\xff"), None, 1007),
    ("bad-close-utf8", masked(OP_CLOSE, b"\x03\xe8\xc3"), None, 1007),
    ("bad-deflate", masked(OP_BINARY, b"\xff\xff\xff\xff", rsv=0x40), DEFLATE, 1007),
    ("too-big", masked(OP_BINARY, bytes(101)), None, 1009),
]


@pytest.mark.parametrize(
    ("data", "deflate", "code"), [c[1:] for c in _PROTOCOL_ERRORS], ids=[c[0] for c in _PROTOCOL_ERRORS]
)
def test_protocol_failures(data: bytes, deflate: DeflateParams | None, code: int) -> None:
    parser = FrameParser(max_message_size=100, deflate=deflate)
    events = parser.feed(data)
    assert isinstance(events[-1], ProtocolFailure)
    assert events[-1].code == code
    assert parser.closed
    assert parser.feed(masked(OP_TEXT, b"after")) == []


def test_messages_before_a_failure_are_kept() -> None:
    events = FrameParser().feed(masked(OP_TEXT, b"a") + masked(OP_BINARY, b"b") + masked(3, b""))
    assert events[:2] == ["a", b"b"]
    assert isinstance(events[2], ProtocolFailure)


# --- size limits ---


def test_size_limit_is_checked_on_the_header_before_the_payload_arrives() -> None:
    parser = FrameParser(max_message_size=1000)
    header_only = masked(OP_BINARY, b"", length=10_000_000)  # claims 10 MB, carries none
    assert parser.feed(header_only) == [ProtocolFailure(1009, "message too big")]


def test_size_limit_on_64_bit_header() -> None:
    parser = FrameParser(max_message_size=1 << 20)
    header = bytes.fromhex("82ff") + (1 << 40).to_bytes(8, "big") + MASK
    assert parser.feed(header) == [ProtocolFailure(1009, "message too big")]


def test_exact_limit_passes() -> None:
    assert FrameParser(max_message_size=100).feed(masked(OP_BINARY, bytes(100))) == [bytes(100)]


def test_size_limit_on_the_running_total_of_fragments() -> None:
    parser = FrameParser(max_message_size=100)
    assert parser.feed(masked(OP_BINARY, bytes(60), fin=False)) == []
    # The second fragment fails on its header alone: 60 + 41 > 100.
    assert parser.feed(masked(OP_CONTINUATION, b"", length=41)) == [ProtocolFailure(1009, "message too big")]


def test_fragments_up_to_the_limit_pass() -> None:
    parser = FrameParser(max_message_size=100)
    data = masked(OP_TEXT, b"a" * 60, fin=False) + masked(OP_CONTINUATION, b"b" * 40)
    assert parser.feed(data) == ["a" * 60 + "b" * 40]


def test_limit_resets_between_messages() -> None:
    parser = FrameParser(max_message_size=100)
    data = masked(OP_BINARY, bytes(60), fin=False) + masked(OP_CONTINUATION, bytes(40))
    assert parser.feed(data + data) == [bytes(100), bytes(100)]


# --- permessage-deflate (RFC 7692) ---

RFC7692_HELLO = bytes.fromhex("f248cdc9c90700")


def test_rfc7692_hello_compressed_by_the_server() -> None:
    # RFC 7692 §7.2.3.1 and §7.2.3.2 (the second message shares the LZ77 window)
    deflater = MessageDeflater(DEFLATE, threshold=0)
    assert deflater.text_frame("Hello") == bytes.fromhex("c107") + RFC7692_HELLO
    assert deflater.text_frame("Hello") == bytes.fromhex("c105f200110000")


def test_rfc7692_no_context_takeover_repeats_the_first_form() -> None:
    deflater = MessageDeflater(DeflateParams(server_no_context_takeover=True), threshold=0)
    assert deflater.text_frame("Hello") == bytes.fromhex("c107") + RFC7692_HELLO
    assert deflater.text_frame("Hello") == bytes.fromhex("c107") + RFC7692_HELLO


def test_rfc7692_hello_from_a_client() -> None:
    parser = FrameParser(deflate=DEFLATE)
    assert parser.feed(masked(OP_TEXT, RFC7692_HELLO, rsv=0x40)) == ["Hello"]
    # §7.2.3.2: the same message again, referring back to the first
    assert parser.feed(masked(OP_TEXT, bytes.fromhex("f200110000"), rsv=0x40)) == ["Hello"]


def test_rfc7692_fragmented_compressed_hello() -> None:
    # §7.2.3.1, second example: the compressed bytes split over two frames, RSV1 on the first only
    data = masked(OP_TEXT, RFC7692_HELLO[:3], fin=False, rsv=0x40) + masked(
        OP_CONTINUATION, RFC7692_HELLO[3:]
    )
    assert FrameParser(deflate=DEFLATE).feed(data) == ["Hello"]


def test_rfc7692_stored_block() -> None:
    # §7.2.3.3: a DEFLATE block with no compression
    payload = bytes.fromhex("0005 00fa ff48 656c 6c6f 00".replace(" ", ""))
    assert FrameParser(deflate=DEFLATE).feed(masked(OP_TEXT, payload, rsv=0x40)) == ["Hello"]


def test_rfc7692_bfinal_block_then_next_message() -> None:
    # §7.2.3.4: a block with BFINAL set ends the stream; the next message starts a new one
    payload = bytes.fromhex("f348cdc9c90700 00".replace(" ", ""))
    parser = FrameParser(deflate=DEFLATE)
    assert parser.feed(masked(OP_TEXT, payload, rsv=0x40)) == ["Hello"]
    assert parser.feed(masked(OP_TEXT, payload, rsv=0x40)) == ["Hello"]


def test_rfc7692_empty_message() -> None:
    # §7.2.3.6: a single 0x00 byte
    assert FrameParser(deflate=DEFLATE).feed(masked(OP_BINARY, b"\x00", rsv=0x40)) == [b""]
    assert MessageDeflater(DEFLATE, threshold=0).binary_frame(b"") == bytes.fromhex("c20100")


def test_uncompressed_frames_still_allowed_with_deflate() -> None:
    assert FrameParser(deflate=DEFLATE).feed(masked(OP_TEXT, b"plain")) == ["plain"]


@pytest.mark.parametrize(
    "params",
    [
        DeflateParams(),
        DeflateParams(server_no_context_takeover=True),
        DeflateParams(server_max_window_bits=9),
        DeflateParams(server_max_window_bits=12, server_no_context_takeover=True),
    ],
)
def test_deflate_round_trip(params: DeflateParams) -> None:
    """Server-built compressed frames, masked as a client would, read back by a parser."""
    deflater = MessageDeflater(params, threshold=0)
    parser = FrameParser(max_message_size=1 << 20, deflate=params)
    messages: list[str | bytes] = ["x" * 5000, "hello", os.urandom(3000), "", "é" * 2000, b"\x00" * 100_000]
    for message in messages:
        frame = deflater.text_frame(message) if isinstance(message, str) else deflater.binary_frame(message)
        assert frame[0] & 0x40
        body = frame[2:] if frame[1] < 126 else frame[4:] if frame[1] == 126 else frame[10:]
        opcode = OP_TEXT if isinstance(message, str) else OP_BINARY
        assert parser.feed(masked(opcode, body, rsv=0x40)) == [message]


def test_deflate_window_bits_are_respected() -> None:
    deflater = MessageDeflater(DeflateParams(server_max_window_bits=9), threshold=0)
    data = os.urandom(400) * 10
    inflater = zlib.decompressobj(-9)  # fails on distances beyond 512 bytes
    frame = deflater.binary_frame(data)
    assert inflater.decompress(frame[4:] + b"\x00\x00\xff\xff") == data


def test_threshold_sends_small_messages_plain() -> None:
    deflater = MessageDeflater(DEFLATE)
    assert deflater.text_frame("tiny") == text_frame("tiny")
    assert deflater.binary_frame(bytes(2000))[0] == 0xC2


def test_client_no_context_takeover_inflates_each_message_alone() -> None:
    params = DeflateParams(client_no_context_takeover=True)
    parser = FrameParser(deflate=params)
    for _ in range(3):
        assert parser.feed(masked(OP_TEXT, RFC7692_HELLO, rsv=0x40)) == ["Hello"]


def test_zip_bomb_stops_at_the_limit() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = compressor.compress(bytes(50_000_000)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert len(bomb) < 100_000
    parser = FrameParser(max_message_size=1_000_000, deflate=DEFLATE)
    assert parser.feed(masked(OP_BINARY, bomb[:-4], rsv=0x40)) == [
        ProtocolFailure(1009, "message too big once inflated")
    ]


def test_inflated_limit_exact_and_one_over() -> None:
    def compressed(size: int) -> bytes:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return (c.compress(bytes(size)) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]

    assert FrameParser(max_message_size=5000, deflate=DEFLATE).feed(
        masked(OP_BINARY, compressed(5000), rsv=0x40)
    ) == [bytes(5000)]
    events = FrameParser(max_message_size=5000, deflate=DEFLATE).feed(
        masked(OP_BINARY, compressed(5001), rsv=0x40)
    )
    assert events == [ProtocolFailure(1009, "message too big once inflated")]


def test_zip_bomb_in_fragments_stops_at_the_limit() -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    part = c.compress(bytes(600_000)) + c.flush(zlib.Z_SYNC_FLUSH)
    data = masked(OP_TEXT, part, fin=False, rsv=0x40) + masked(OP_CONTINUATION, part, fin=False)
    events = FrameParser(max_message_size=1_000_000, deflate=DEFLATE).feed(data)
    assert events == [ProtocolFailure(1009, "message too big once inflated")]


# --- negotiation (RFC 7692 §5, §7.1) ---


@pytest.mark.parametrize(
    ("offer", "answer", "params"),
    [
        (None, None, None),
        ("", None, None),
        ("x-webkit-deflate-frame", None, None),
        ("permessage-deflate", "permessage-deflate", DeflateParams()),
        ("Permessage-Deflate", "permessage-deflate", DeflateParams()),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate", DeflateParams()),
        ("permessage-deflate; client_max_window_bits=10", "permessage-deflate", DeflateParams()),
        (
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover",
            DeflateParams(server_no_context_takeover=True),
        ),
        (
            "permessage-deflate; client_no_context_takeover",
            "permessage-deflate; client_no_context_takeover",
            DeflateParams(client_no_context_takeover=True),
        ),
        (
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=10",
            DeflateParams(server_max_window_bits=10),
        ),
        (
            'permessage-deflate; server_max_window_bits="12"',
            "permessage-deflate; server_max_window_bits=12",
            DeflateParams(server_max_window_bits=12),
        ),
        (
            "permessage-deflate;server_no_context_takeover;client_no_context_takeover;server_max_window_bits=15",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15",
            DeflateParams(True, True, 15, 15),
        ),
        ("x-webkit-deflate-frame, permessage-deflate", "permessage-deflate", DeflateParams()),
        # Declined offers: invalid or unknown parameters, duplicates, windows zlib cannot honour.
        ("permessage-deflate; server_max_window_bits=8", None, None),
        ("permessage-deflate; server_max_window_bits=16", None, None),
        ("permessage-deflate; server_max_window_bits=7", None, None),
        ("permessage-deflate; server_max_window_bits=010", None, None),
        ("permessage-deflate; server_max_window_bits=abc", None, None),
        ("permessage-deflate; server_max_window_bits=\u00b2", None, None),  # '²'.isdigit() is true
        ("permessage-deflate; client_max_window_bits=\u00b9\u00b2", None, None),
        ("permessage-deflate; server_max_window_bits", None, None),
        ("permessage-deflate; client_max_window_bits=16", None, None),
        ("permessage-deflate; server_no_context_takeover=1", None, None),
        ("permessage-deflate; client_no_context_takeover=x", None, None),
        ("permessage-deflate; unknown_param", None, None),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None, None),
        # The first acceptable offer wins.
        (
            "permessage-deflate; server_max_window_bits=8, permessage-deflate; client_no_context_takeover",
            "permessage-deflate; client_no_context_takeover",
            DeflateParams(client_no_context_takeover=True),
        ),
        (
            "permessage-deflate; server_max_window_bits=11, permessage-deflate",
            "permessage-deflate; server_max_window_bits=11",
            DeflateParams(server_max_window_bits=11),
        ),
    ],
)
def test_negotiation(offer: str | None, answer: str | None, params: DeflateParams | None) -> None:
    assert negotiate_permessage_deflate(offer) == (answer, params)


# --- fuzz ---


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512), st.booleans())
def test_fuzz_random_bytes_never_raise(data: bytes, deflate: bool) -> None:
    parser = FrameParser(max_message_size=1000, deflate=DEFLATE if deflate else None)
    for event in parser.feed(data):
        assert isinstance(event, str | bytes | PingFrame | PongFrame | CloseFrame | ProtocolFailure)


_message = st.one_of(st.text(max_size=300), st.binary(max_size=300))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_message, max_size=8),
    st.integers(min_value=1, max_value=64),
    st.integers(min_value=1, max_value=4),
)
def test_fuzz_messages_survive_fragmenting_and_splitting(
    messages: list[str | bytes], step: int, parts: int
) -> None:
    stream = b""
    for message in messages:
        raw = message.encode() if isinstance(message, str) else message
        opcode = OP_TEXT if isinstance(message, str) else OP_BINARY
        cuts = [len(raw) * i // parts for i in range(parts + 1)]
        for i in range(parts):
            stream += masked(
                opcode if i == 0 else OP_CONTINUATION, raw[cuts[i] : cuts[i + 1]], fin=i == parts - 1
            )
    assert feed_all(FrameParser(), stream, step) == messages


# --- a read that is exactly one short text frame (the parser's request/response shortcut) ---


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 50, 124, 125, 126])
def test_one_whole_text_frame_per_read(size: int) -> None:
    parser = FrameParser()
    for _ in range(3):
        text = os.urandom(size).hex()[:size]
        assert parser.feed(masked(OP_TEXT, text.encode(), mask=os.urandom(4))) == [text]


def test_one_whole_text_frame_with_bad_utf8_is_1007() -> None:
    events = FrameParser().feed(masked(OP_TEXT, b"ok \xff"))
    assert len(events) == 1
    assert isinstance(events[0], ProtocolFailure)
    assert events[0].code == CLOSE_INVALID_PAYLOAD


def test_one_whole_text_frame_over_the_limit_is_1009() -> None:
    events = FrameParser(max_message_size=10).feed(masked(OP_TEXT, b"x" * 11))
    assert len(events) == 1
    assert isinstance(events[0], ProtocolFailure)
    assert events[0].code == CLOSE_MESSAGE_TOO_BIG


def test_one_whole_text_frame_during_a_fragmented_message_is_1002() -> None:
    parser = FrameParser()
    assert parser.feed(masked(OP_TEXT, b"first", fin=False)) == []
    events = parser.feed(masked(OP_TEXT, b"second"))
    assert len(events) == 1
    assert isinstance(events[0], ProtocolFailure)
    assert events[0].code == CLOSE_PROTOCOL_ERROR


def test_one_whole_text_frame_after_a_close_is_ignored() -> None:
    parser = FrameParser()
    assert parser.feed(masked(OP_CLOSE, b"\x03\xe8")) == [CloseFrame(1000, "")]
    assert parser.feed(masked(OP_TEXT, b"late")) == []


def test_one_whole_text_frame_completing_a_cut_frame() -> None:
    parser = FrameParser()
    first = masked(OP_TEXT, b"hello")
    assert parser.feed(first[:3]) == []
    assert parser.feed(first[3:]) == ["hello"]
    assert parser.feed(masked(OP_TEXT, b"world")) == ["world"]


def _burst() -> bytes:
    """Thousands of frames of every kind in one read: messages, pings, and a message in 3000 fragments."""
    frames = [masked(OP_TEXT, f"m{i}".encode()) for i in range(1000)]
    frames += [masked(OP_PING, str(i).encode()) for i in range(1000)]
    frames.append(masked(OP_TEXT, b"f", fin=False))
    frames += [masked(OP_CONTINUATION, b"x", fin=False) for _ in range(3000)]
    frames.append(masked(OP_CONTINUATION, b"!"))
    frames.append(masked(OP_BINARY, b"last"))
    return b"".join(frames)


@pytest.mark.parametrize("budget", [1, 7, 256])
def test_a_frame_budget_splits_a_read_into_turns_with_the_same_events(budget: int) -> None:
    data = _burst()
    whole = FrameParser().feed(data)
    assert len(whole) == 2002  # the fragments make one message
    parser = FrameParser(frames_per_feed=budget)
    events = parser.feed(data[:-3])  # the last frame arrives later
    turns = 1
    while parser.more:
        events += parser.feed(b"")
        turns += 1
    assert turns >= 5002 // budget  # every whole frame (all but the last) counts, a fragment or a ping too
    assert not parser.feed(b"")  # nothing left but part of a frame
    events += parser.feed(data[-3:])
    assert events == whole
    assert not parser.more


def test_a_frame_budget_counts_frames() -> None:
    parser = FrameParser(frames_per_feed=10)
    events = parser.feed(_burst())
    assert events == [f"m{i}" for i in range(10)]
    assert parser.more
    assert parser.feed(b"") == [f"m{i}" for i in range(10, 20)]
    with pytest.raises(ValueError, match="frames_per_feed"):
        FrameParser(frames_per_feed=0)


def test_frames_that_came_after_a_stop_at_the_budget_wait_their_turn() -> None:
    parser = FrameParser(frames_per_feed=2)
    data = b"".join(masked(OP_TEXT, str(i).encode()) for i in range(5))
    assert parser.feed(data) == ["0", "1"]
    # New bytes while a backlog remains (the runner stops reading then, but the parser does not rely on it).
    assert parser.feed(masked(OP_TEXT, b"5")) == ["2", "3"]
    assert parser.feed(b"") == ["4", "5"]
    assert not parser.more
