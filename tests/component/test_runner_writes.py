"""How many writes (system calls, TCP segments) the built-in runner spends on a handshake.

The runner's connections sit on a transport that records each ``write`` instead of making it, so the test sees
the writes themselves, which no client can tell apart once they arrive. A WebSocket handshake writes the 101
answer and the Engine.IO open packet together: one write, one TCP segment, where writing the 101 alone first
cost one more of each per connection (about 12 µs of server CPU per handshake on loopback,
``benchmarks/README.md``, "Handshakes").
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosocketio
from aiosocketio.runner.http import HttpProtocol
from aiosocketio.runner.state import ServerState

UPGRADE = (
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
#: The client's Socket.IO CONNECT to "/", a masked text frame (RFC 6455 §5.3).
CONNECT = bytes((0x81, 0x82, 1, 2, 3, 4, ord("4") ^ 1, ord("0") ^ 2))


class RecordingTransport:
    """The part of a transport the runner uses; every write is kept."""

    def __init__(self) -> None:
        self.protocol: Any = None
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    abort = close

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_protocol(self) -> Any:
        return self.protocol

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 3000)}.get(name, default)


async def turns(count: int = 5) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_the_101_and_the_open_packet_leave_in_one_write() -> None:
    io = aiosocketio.Server()
    state = ServerState([io])
    await io.startup()
    try:
        transport = RecordingTransport()
        http = HttpProtocol(state)
        transport.protocol = http
        http.connection_made(transport)  # type: ignore[arg-type]
        http.data_received(UPGRADE)
        await turns()
        assert len(transport.writes) == 1, transport.writes
        (first,) = transport.writes
        head, _, frames = first.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), first
        assert b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, first  # RFC 6455's own example
        # The Engine.IO open packet: a text frame (0x81), its length, then ``0{"sid"...``.
        assert frames[:1] == b"\x81", first
        assert frames[2:4] == b"0{", first

        transport.protocol.data_received(CONNECT)
        await turns()
        assert len(transport.writes) == 2, transport.writes
        assert transport.writes[1][2:9] == b'40{"sid', transport.writes[1]
        transport.protocol.connection_lost(None)
        await turns()
        assert io.engine.clients_count == 0
    finally:
        await io.shutdown()
