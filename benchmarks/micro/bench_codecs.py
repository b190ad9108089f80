"""Micro-benchmarks of the pure codecs, with pyperf (``.venv/bin/uv sync --locked --group bench``).

Why: the end-to-end benchmarks (``scripts/bench``) measure whole servers on a shared 2-core machine, where a
1 µs change in a codec drowns in loop and kernel noise. These time each codec alone, in a fresh process per
run (pyperf's workers), so a change to the hot path can be checked in isolation before the harness is run.
They are not tests: nothing here passes or fails, and pytest never collects this directory (``testpaths``).

Run from the repository root (``--fast`` keeps it to about two minutes; drop it for steadier numbers)::

    .venv/bin/python benchmarks/micro/bench_codecs.py --fast -o /tmp/micro.json
    .venv/bin/python benchmarks/micro/table.py /tmp/micro.json        # the Markdown table of the README

Compare two runs (before / after a change) with ``python -m pyperf compare_to /tmp/a.json /tmp/b.json``.
``--only WORD`` (repeatable) runs only the benchmarks whose name contains NAME.

Inputs are fixed and typical of the benchmark harness' traffic: short chat events, acks with an object, a
1 KiB binary attachment, 64 KiB frames. Client frames are masked here with an independent, slow helper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyperf  # type: ignore[import-untyped]

from aiosocketio.adapters import messages as cluster
from aiosocketio.adapters.options import BroadcastFlags, BroadcastOptions
from aiosocketio.engineio import packet as eio_packet
from aiosocketio.engineio import payload as eio_payload
from aiosocketio.parsers import default as sio_default
from aiosocketio.parsers import msgpack as sio_msgpack
from aiosocketio.parsers.packet import Packet, PacketType
from aiosocketio.runner import wsframe

# --- inputs ---------------------------------------------------------------------------------------------

CHAT_ARGS = ["hello, this is a short chat line", 42]
OBJECT = {"id": 1234, "user": "alice", "text": "a message of moderate length", "tags": ["a", "b"], "ok": True}
BLOB = bytes(range(256)) * 4  # 1 KiB attachment
_state = sio_default.encode_event("/", "state", [[OBJECT] * 12])[0]
assert isinstance(_state, str)
assert len(_state) > 1024  # above the deflate threshold
JSON_1K: str = _state
MASK = bytes.fromhex("37fa213d")


def client_frame(opcode: int, payload: bytes, *, rsv1: bool = False) -> bytes:
    """A masked client frame built byte by byte (RFC 6455 §5.2), independent of the code under test."""
    n = len(payload)
    head = bytearray([0x80 | (0x40 if rsv1 else 0) | opcode])
    if n < 126:
        head.append(0x80 | n)
    elif n < 0x10000:
        head.append(0x80 | 126)
        head += n.to_bytes(2, "big")
    else:
        head.append(0x80 | 127)
        head += n.to_bytes(8, "big")
    return bytes(head) + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


def client_deflate(payload: bytes) -> bytes:
    """What a client with a fresh compressor sends for ``payload`` (RFC 7692 §7.2.1: sync flush, tail cut)."""
    import zlib

    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    out = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


# --- the benchmarks: (name, function, args) ---------------------------------------------------------------

Case = tuple[str, Callable[..., Any], tuple[Any, ...]]


def engineio_cases() -> list[Case]:
    text_packet = eio_packet.Packet(
        eio_packet.PacketType.MESSAGE, '2["chat","hello, this is a short line",42]'
    )
    binary_packet = eio_packet.Packet(eio_packet.PacketType.MESSAGE, BLOB)
    ten = [eio_packet.encode_text(text_packet)] * 9 + [eio_packet.encode_text(binary_packet)]
    body = eio_payload.encode_payload(ten).encode()
    return [
        ("eio packet encode_text (message)", eio_packet.encode_text, (text_packet,)),
        ("eio packet encode_text (1 KiB binary, base64)", eio_packet.encode_text, (binary_packet,)),
        ("eio packet encode_ws (message)", eio_packet.encode_ws, (text_packet,)),
        ("eio packet decode (text message)", eio_packet.decode, ('42["chat","hello",42]',)),
        ("eio packet decode (binary frame)", eio_packet.decode, (BLOB,)),
        ("eio packet decode (ping)", eio_packet.decode, ("2",)),
        ("eio payload encode (10 packets)", eio_payload.encode_payload, (ten,)),
        ("eio payload decode_bytes (10 packets)", eio_payload.decode_payload_bytes, (body,)),
    ]


def socketio_cases() -> list[Case]:
    # One decoder per connection, as in the server: a complete packet leaves it ready for the next one.
    decoder = sio_default.Decoder()

    def decode_text(text: str) -> Any:
        return decoder.add(text)

    def decode_binary(header: str, attachment: bytes) -> Any:
        decoder.add(header)
        return decoder.add(attachment)

    event_obj = Packet(PacketType.EVENT, "/", ["update", OBJECT])
    event_nsp = Packet(PacketType.EVENT, "/admin", ["chat", *CHAT_ARGS], 12)
    binary = Packet(PacketType.EVENT, "/", ["upload", {"name": "f.bin", "data": BLOB}])
    binary_header, attachment = sio_default.encode(binary)
    assert isinstance(binary_header, str)
    assert isinstance(attachment, bytes)
    return [
        ("sio encode_event (str, int)", sio_default.encode_event, ("/", "chat", CHAT_ARGS)),
        ("sio encode_event (object arg)", sio_default.encode_event, ("/", "update", [OBJECT])),
        ("sio encode (event, object)", sio_default.encode, (event_obj,)),
        ("sio encode (event, /admin, ack id)", sio_default.encode, (event_nsp,)),
        ("sio encode_ack (str)", sio_default.encode_ack, ("/", 7, ["ok"])),
        ("sio encode (binary event, 1 KiB)", sio_default.encode, (binary,)),
        ("sio Decoder text (event)", decode_text, ('2["chat","hello, this is a short chat line",42]',)),
        (
            "sio Decoder text (event, ack id, object)",
            decode_text,
            ("217" + sio_default.to_json(["echo", OBJECT]),),
        ),
        ("sio Decoder text (event, /admin)", decode_text, ('2/admin,["chat","hello",42]',)),
        ("sio Decoder binary (header + 1 KiB)", decode_binary, (binary_header, attachment)),
    ]


def msgpack_cases() -> list[Case]:
    event = Packet(PacketType.EVENT, "/", ["update", OBJECT])
    binary = Packet(PacketType.EVENT, "/", ["upload", {"name": "f.bin", "data": BLOB}])
    (event_bytes,) = sio_msgpack.encode(event)
    (binary_bytes,) = sio_msgpack.encode(binary)
    assert isinstance(event_bytes, bytes)
    assert isinstance(binary_bytes, bytes)

    decode = sio_msgpack.Decoder().add  # one per connection, as in the server

    return [
        ("msgpack encode (event, object)", sio_msgpack.encode, (event,)),
        ("msgpack encode (event, 1 KiB bytes)", sio_msgpack.encode, (binary,)),
        ("msgpack Decoder (event, object)", decode, (event_bytes,)),
        ("msgpack Decoder (event, 1 KiB bytes)", decode, (binary_bytes,)),
    ]


def wsframe_cases() -> list[Case]:
    small_text = '42["chat","hello, this is a short chat line",42]'
    big = bytes(range(256)) * 256  # 64 KiB
    small_frame = client_frame(wsframe.OP_TEXT, small_text.encode())
    batch = small_frame * 16
    large_frame = client_frame(wsframe.OP_BINARY, big)
    json_1k = JSON_1K.encode()
    compressed_frame = client_frame(wsframe.OP_TEXT, client_deflate(json_1k), rsv1=True)
    plain = wsframe.FrameParser(max_message_size=1 << 20)
    inflating = wsframe.FrameParser(max_message_size=1 << 20, deflate=wsframe.DeflateParams())
    deflater = wsframe.MessageDeflater(wsframe.DeflateParams())
    # A connection keeps its parser: feeding whole frames leaves it ready for the next ones.
    assert plain.feed(batch) == [small_text] * 16
    assert plain.feed(large_frame) == [big]
    assert inflating.feed(compressed_frame) == [JSON_1K]
    return [
        ("ws text_frame (50 B)", wsframe.text_frame, (small_text,)),
        ("ws text_frame (1 KiB)", wsframe.text_frame, (JSON_1K,)),
        ("ws binary_frame (64 KiB)", wsframe.binary_frame, (big,)),
        ("ws parse masked frame (50 B)", plain.feed, (small_frame,)),
        ("ws parse 16 masked frames (50 B each, one read)", plain.feed, (batch,)),
        ("ws parse masked frame (64 KiB)", plain.feed, (large_frame,)),
        ("ws deflate text_frame (1 KiB JSON)", deflater.text_frame, (JSON_1K,)),
        ("ws parse + inflate masked frame (1 KiB JSON)", inflating.feed, (compressed_frame,)),
        ("ws accept_key", wsframe.accept_key, ("dGhlIHNhbXBsZSBub25jZQ==",)),
    ]


def cluster_cases() -> list[Case]:
    packet = Packet(PacketType.EVENT, "/", ["chat", *CHAT_ARGS])
    opts = BroadcastOptions(rooms=frozenset({"room1"}), except_rooms=frozenset(), flags=BroadcastFlags())
    message = cluster.ClusterMessage("a1b2c3d4e5f6", "/", cluster.BroadcastMessage(packet, opts))
    binary_message = cluster.ClusterMessage(
        "a1b2c3d4e5f6", "/", cluster.BroadcastMessage(Packet(PacketType.EVENT, "/", ["upload", BLOB]), opts)
    )
    as_msgpack = cluster.encode_cluster_msgpack(message)
    as_notepack = cluster.encode_cluster_msgpack(message, cluster.NOTEPACK)
    as_json = cluster.encode_cluster_json(message)
    classic = cluster.encode_classic_broadcast("a1b2c3", packet, opts)
    notepack_doc = cluster.NOTEPACK.decode(classic)
    return [
        ("cluster encode broadcast (msgpack)", cluster.encode_cluster_msgpack, (message,)),
        ("cluster encode broadcast (notepack)", cluster.encode_cluster_msgpack, (message, cluster.NOTEPACK)),
        ("cluster encode broadcast (JSON)", cluster.encode_cluster_json, (message,)),
        ("cluster encode broadcast (1 KiB binary, sharded)", cluster.encode_sharded, (binary_message,)),
        ("cluster decode broadcast (msgpack)", cluster.decode_cluster, (as_msgpack, cluster.MSGPACK)),
        ("cluster decode broadcast (notepack)", cluster.decode_cluster, (as_notepack,)),
        ("cluster decode broadcast (JSON)", cluster.decode_cluster, (as_json,)),
        ("classic encode broadcast (notepack)", cluster.encode_classic_broadcast, ("a1b2c3", packet, opts)),
        ("classic parse broadcast (notepack)", cluster.parse_classic_broadcast, (classic,)),
        ("notepack encode (classic broadcast array)", cluster.NOTEPACK.encode, (notepack_doc,)),
        ("notepack decode (classic broadcast array)", cluster.NOTEPACK.decode, (classic,)),
    ]


def all_cases() -> list[Case]:
    cases = engineio_cases() + socketio_cases() + msgpack_cases() + wsframe_cases() + cluster_cases()
    for _name, func, args in cases:
        func(*args)  # a bad input fails here, in the parent, not in the middle of a worker
    return cases


def _pass_filter(cmd: list[str], args: Any) -> None:
    """Workers number benchmarks by their order, so they must see the same ``--only`` as the parent."""
    for word in args.only:
        cmd.extend(("--only", word))


def main() -> None:
    runner = pyperf.Runner(add_cmdline_args=_pass_filter)
    runner.argparser.add_argument(
        "--only", action="append", default=[], help="run the benchmarks whose name contains this (repeatable)"
    )
    wanted: list[str] = runner.parse_args().only
    runner.metadata["description"] = "aiosocketio codec micro-benchmarks"
    for name, func, args in all_cases():
        if not wanted or any(word in name for word in wanted):
            runner.bench_func(name, func, *args)


if __name__ == "__main__":
    main()
