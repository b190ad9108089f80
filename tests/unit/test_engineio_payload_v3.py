"""Unit tests of the Engine.IO protocol 3 codec (docs/protocol/engineio-v3.md, docs/protocol/engineio-v3.md#examples).

Every case of ``data/engineio_v3_vectors.json`` was computed by the reference's own parser-v3 (regenerate with
``node unit/data/gen_engineio_v3.mjs`` from ``tests/``): encoded polling payloads in both formats, decoded
polling bodies (well-formed and malformed), and WebSocket frames in both directions. Round-trip properties and
the ``max_packets`` guard are checked with hypothesis and by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosocketio.engineio.packet import Packet, PacketType
from aiosocketio.engineio.payload_v3 import (
    BINARY_CONTENT_TYPE,
    EMPTY_PAYLOAD,
    TEXT_CONTENT_TYPE,
    decode_packet_v3,
    decode_payload_v3,
    decode_ws_v3,
    encode_payload_v3,
    encode_ws_v3,
    utf16_length,
)

VECTOR_FILE = Path(__file__).resolve().parent / "data" / "engineio_v3_vectors.json"
CASES: list[dict[str, Any]] = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))["cases"]


def _cases(kind: str) -> list[Any]:
    return [pytest.param(case, id=case["id"]) for case in CASES if case["kind"] == kind]


def _item(obj: str | dict[str, str]) -> str | bytes:
    return obj if isinstance(obj, str) else bytes.fromhex(obj["hex"])


def _on_the_wire(item: str | bytes) -> str | bytes:
    if isinstance(item, bytes):
        return item
    return item.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _packet(obj: dict[str, Any]) -> Packet:
    """Our packet for what the reference yields: an unknown type acts as ``noop``; only messages keep bytes."""
    if obj["type"] is None:
        return Packet(PacketType.NOOP)
    ptype = PacketType[obj["type"].upper()]
    data = obj["data"]
    if isinstance(data, dict):
        return Packet(ptype, bytes.fromhex(data["hex"]) if ptype is PacketType.MESSAGE else None)
    return Packet(ptype, data)


def _expected(seen: list[dict[str, Any]]) -> tuple[list[Packet], bool]:
    """The reference's packets up to its first parser error (after which the session is closed)."""
    packets: list[Packet] = []
    for obj in seen:
        if obj["type"] == "error":
            assert obj["data"] == "parser error"
            return packets, True
        packets.append(_packet(obj))
    return packets, False


def test_vector_file_covers_every_kind() -> None:
    kinds = {case["kind"] for case in CASES}
    assert kinds == {"encode_payload", "decode_payload", "encode_ws", "decode_ws"}
    assert len(CASES) >= 60
    malformed = [c for c in CASES if c["kind"] == "decode_payload" and _expected(c["packets"])[1]]
    assert len(malformed) >= 20


@pytest.mark.parametrize("case", _cases("encode_payload"))
def test_encode_payload_matches_reference(case: dict[str, Any]) -> None:
    items = [_item(obj) for obj in case["items"]]
    body, binary = encode_payload_v3(items, case["supports_binary"])
    assert binary is case["binary"]
    assert body.hex() == case["body_hex"]


@pytest.mark.parametrize("case", _cases("encode_payload"))
def test_reference_payloads_decode_to_their_items(case: dict[str, Any]) -> None:
    # What the reference sends, read back by our decoder (a v2 client's POST uses the same formats).
    body = bytes.fromhex(case["body_hex"])
    packets, error = decode_payload_v3(body, case["binary"])
    assert not error
    # Lone surrogates reach the wire as U+FFFD (one UTF-16 unit either way, so the lengths still hold).
    assert packets == _as_packets([_on_the_wire(_item(obj)) for obj in case["items"]])


@pytest.mark.parametrize("case", _cases("decode_payload"))
def test_decode_payload_matches_reference(case: dict[str, Any]) -> None:
    body = bytes.fromhex(case["body_hex"])
    assert decode_payload_v3(body, case["binary"]) == _expected(case["packets"])


@pytest.mark.parametrize("case", _cases("encode_ws"))
def test_encode_ws_matches_reference(case: dict[str, Any]) -> None:
    frame = encode_ws_v3(_item(case["item"]), case["supports_binary"])
    expected = case["frame"]
    if case["binary"]:
        assert frame == bytes.fromhex(expected["hex"])
    else:
        assert frame == expected


@pytest.mark.parametrize("case", _cases("decode_ws"))
def test_decode_ws_matches_reference(case: dict[str, Any]) -> None:
    packet = decode_ws_v3(_item(case["frame"]))
    if case["packet"]["type"] == "error":
        assert packet is None
    else:
        assert packet == _packet(case["packet"])


# --- hand-written checks ---------------------------------------------------------------------------------------


def test_protocol_md_d9_examples() -> None:
    assert encode_payload_v3(["4hello", "4€"], True) == ("6:4hello2:4€".encode(), False)
    assert encode_payload_v3([b"\x01\x02\x03"], False) == (b"6:b4AQID", False)
    assert encode_payload_v3([], True) == (EMPTY_PAYLOAD, False)
    assert TEXT_CONTENT_TYPE == "text/plain; charset=UTF-8"
    assert BINARY_CONTENT_TYPE == "application/octet-stream"


def test_decode_accepts_bytearray_and_memoryview() -> None:
    expected = ([Packet(PacketType.MESSAGE, "a")], False)
    assert decode_payload_v3(bytearray(b"2:4a"), False) == expected
    assert decode_payload_v3(memoryview(b"\x00\x02\xff4a"), True) == expected
    assert decode_ws_v3(bytearray(b"\x04a")) == Packet(PacketType.MESSAGE, b"a")


@pytest.mark.parametrize("binary", [False, True])
def test_max_packets_guard_keeps_the_first_packets(binary: bool) -> None:
    body, is_binary = encode_payload_v3(["4a", "4b", b"c", "4d"], binary)
    assert is_binary is binary
    all_packets, error = decode_payload_v3(body, binary)
    assert not error
    assert len(all_packets) == 4
    assert decode_payload_v3(body, binary, max_packets=4) == (all_packets, False)
    assert decode_payload_v3(body, binary, max_packets=3) == (all_packets[:3], True)
    assert decode_payload_v3(body, binary, max_packets=1) == (all_packets[:1], True)
    with pytest.raises(ValueError, match="max_packets"):
        decode_payload_v3(body, binary, max_packets=0)


def test_zero_length_entries_do_not_count_as_packets() -> None:
    assert decode_payload_v3(b"0:" * 5 + b"1:6", False, max_packets=1) == ([Packet(PacketType.NOOP)], False)


def test_split_surrogate_pair_leaves_lone_surrogates() -> None:
    # "1:4" then the high half of an emoji: the reference keeps the lone surrogate, then fails on the rest.
    packets, error = decode_payload_v3("2:4😀".encode(), False)
    assert packets == [Packet(PacketType.MESSAGE, "\ud83d")]
    assert error


# --- properties ------------------------------------------------------------------------------------------------

_text_items = st.builds(lambda digit, data: digit + data, st.sampled_from("0123456"), st.text(max_size=20))
_items = st.lists(st.one_of(_text_items, st.binary(max_size=20)), max_size=8)


def _as_packets(items: list[str | bytes]) -> list[Packet]:
    out: list[Packet] = []
    for item in items:
        if isinstance(item, str):
            packet = decode_packet_v3(item)
            assert packet is not None
            out.append(packet)
        else:
            out.append(Packet(PacketType.MESSAGE, item))
    return out


@given(_items, st.booleans())
def test_payload_round_trip(items: list[str | bytes], supports_binary: bool) -> None:
    body, binary = encode_payload_v3(items, supports_binary)
    assert binary is (supports_binary and any(isinstance(item, bytes) for item in items))
    assert decode_payload_v3(body, binary) == (_as_packets(items), False)


@given(st.one_of(_text_items, st.binary(max_size=30)), st.booleans())
def test_ws_round_trip(item: str | bytes, supports_binary: bool) -> None:
    assert decode_ws_v3(encode_ws_v3(item, supports_binary)) == _as_packets([item])[0]


@given(st.text())
def test_utf16_length_is_javascript_length(text: str) -> None:
    assert utf16_length(text) == len(text.encode("utf-16-le", "surrogatepass")) // 2


@given(st.binary(max_size=64), st.booleans(), st.integers(min_value=1, max_value=4))
def test_decoding_garbage_never_raises(body: bytes, binary: bool, max_packets: int) -> None:
    packets, error = decode_payload_v3(body, binary, max_packets=max_packets)
    assert len(packets) <= max_packets
    assert all(isinstance(p, Packet) for p in packets)
    if not body:
        assert error is not binary  # an empty text body is an error, an empty binary body holds nothing
