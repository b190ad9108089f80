"""Engine.IO v4 HTTP long-polling payload codec (docs/protocol/engineio.md#payloads, docs/protocol/engineio.md#examples-payloads; reference: engine.io-parser 5.2.3).

What: a polling body (GET response or POST request) is one or more text-encoded packets (see
:mod:`aiosocketio.engineio.packet`) joined with the record separator ``\\x1e``. Binary messages always travel
as ``b<base64>`` inside payloads, in both directions.

Why it is its own module: it is pure (no asyncio, sockets or clocks) and checked case by case against
``tests/vectors/engineio_payloads.json``.

Decoding follows the reference ``decodePayload``: split on *every* separator and decode the pieces in order,
stopping at the first bad one. Packets before it are valid and must still be delivered; the caller then closes
the session with reason ``parse error``. Hence an empty body, a leading or trailing separator, or two adjacent
separators are errors (they make an empty piece), while garbage after ``b`` is not (base64 is lenient).

Encoding never escapes anything: a ``\\x1e`` inside text data splits the packet when decoded (the protocol
assumes it never occurs). Encoding no packets gives ``""``, which is not a valid payload (it decodes as an
error; the reference's ``encodePayload`` never even produces a body for that case): send at least one packet.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from aiosocketio.engineio.packet import Packet, decode, encode_text

__all__ = [
    "DEFAULT_MAX_PACKETS",
    "SEPARATOR",
    "decode_payload",
    "decode_payload_bytes",
    "encode_packets",
    "encode_payload",
]

SEPARATOR: Final = "\x1e"
"""The ASCII record separator that joins packets in a payload."""

DEFAULT_MAX_PACKETS: Final = 10_000
"""Default limit on the number of packets decoded from one payload (a guard against tiny-packet floods)."""


def encode_payload(packets: Iterable[str]) -> str:
    """Join already text-encoded packets (:func:`~aiosocketio.engineio.packet.encode_text`) into a payload."""
    return SEPARATOR.join(packets)


def encode_packets(packets: Iterable[Packet]) -> str:
    """Text-encode ``packets`` (:func:`~aiosocketio.engineio.packet.encode_text`) and join them."""
    return SEPARATOR.join(map(encode_text, packets))


def decode_payload(body: str, *, max_packets: int = DEFAULT_MAX_PACKETS) -> tuple[list[Packet], bool]:
    """Decode a polling payload.

    Returns ``(packets, error)``: the packets decoded in order up to the first bad piece, and whether a bad
    piece was met. A body with more than ``max_packets`` pieces is an error too: the first ``max_packets``
    packets are decoded (and stop early if one of them is bad), the rest is dropped and ``error`` is true. On
    error the caller delivers ``packets`` and then closes the session with reason ``parse error``.
    """
    if max_packets < 1:
        raise ValueError("max_packets must be at least 1")
    pieces = body.split(SEPARATOR, max_packets)
    too_many = len(pieces) > max_packets
    if too_many:
        del pieces[max_packets:]
    packets: list[Packet] = []
    append = packets.append
    for piece in pieces:
        packet = decode(piece)
        if packet is None:
            return packets, True
        append(packet)
    return packets, too_many


def decode_payload_bytes(
    body: bytes | bytearray | memoryview, *, max_packets: int = DEFAULT_MAX_PACKETS
) -> tuple[list[Packet], bool]:
    """Decode a polling payload received as bytes (a POST body), see :func:`decode_payload`.

    The body is decoded as UTF-8 with invalid sequences replaced by U+FFFD, as the reference does (it appends
    the body's Buffer chunks to a string, i.e. ``Buffer.toString("utf8")``), so invalid UTF-8 is not an error
    by itself; a replacement character at the start of a piece is (it is not a packet type).
    """
    return decode_payload(str(body, "utf-8", "replace"), max_packets=max_packets)
