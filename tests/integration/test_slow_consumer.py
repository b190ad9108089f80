"""A client that stops reading must not grow the server's memory without bound (docs/guide/limits.md).

The server (``tests/servers/slow_consumer.py``, on the built-in runner and under uvicorn) runs with a small
per-connection limit. A slow
client connects, joins the room and then never reads again: over WebSocket it stops reading its socket (with
a tiny receive buffer), over long-polling it never sends another GET. A normal client drives the server to
broadcast about 60 MB to the room in steps, waiting for each step's acknowledgement, and reads everything.

1. Volatile broadcasts first (20 MB): the slow client's packets are dropped, so it stays connected and the
   server holds nothing for it.
2. Then plain broadcasts (40 MB): the slow client's backlog passes the limit and the server drops it, with
   the reason ``transport error`` on the server side (a failed transport, docs/protocol/engineio.md#closing).

Throughout, the server's peak resident memory (``VmHWM`` after ``clear_refs``) stays within the limit plus a
fixed margin for the encoding of one step (measured: 0.4 to 1.9 MB of growth; 40+ MB without the limits),
while the reference servers (Node.js socket.io, python-socketio) hold the whole backlog (100+ MB) and keep
the client. The normal client gets every plain broadcast.
Assertions are on memory and on what each side sees, never on time.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import SERVERS_DIR, ServerProcess, scaled, start_server
from websockets.asyncio.client import connect

SLOW_CONSUMER = SERVERS_DIR / "slow_consumer.py"

LIMIT = 1024 * 1024  # per-connection limit given to the server (both transports)
MARGIN = 8 * 1024 * 1024  # one step encoded for two clients, allocator slack; without a limit: 40+ MB
CHUNK = 32 * 1024  # characters per broadcast event
STEP = 16  # events per blast (512 KiB)
VOLATILE_BYTES = 20 * 1024 * 1024
PLAIN_BYTES = 40 * 1024 * 1024


@pytest.fixture(scope="module", params=["runner", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    with start_server(SLOW_CONSUMER, "--limit", str(LIMIT), frontend=request.param) as process:
        yield process


# --- a normal client: raw Engine.IO/Socket.IO over WebSocket, reading everything -------------------------


class Driver:
    """A well-behaved client that asks for broadcasts and reads all of them (the acks come after them)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.sid = ""
        self.chunks: list[int] = []  # sequence numbers of the ``chunk`` events received
        self.chunk_chars = 0
        self._ack_id = 0

    @classmethod
    async def connect(cls, url: str) -> Driver:
        ws = await connect(f"{url}/socket.io/?EIO=4&transport=websocket", max_size=None)
        driver = cls(ws)
        opening = await ws.recv()
        assert isinstance(opening, str)
        assert opening.startswith("0{")
        await ws.send("40")
        reply = await ws.recv()
        assert isinstance(reply, str)
        assert reply.startswith("40{")
        driver.sid = json.loads(reply[2:])["sid"]
        return driver

    async def call(self, event: str, *args: Any) -> Any:
        self._ack_id += 1
        ack_id = self._ack_id
        await self.ws.send(f"42{ack_id}" + json.dumps([event, *args]))
        while True:
            message = await asyncio.wait_for(self.ws.recv(), scaled(30.0))
            assert isinstance(message, str)
            if message == "2":
                await self.ws.send("3")
            elif message.startswith('42["chunk",'):
                seq, text = json.loads(message[2:])[1:]
                self.chunks.append(seq)
                self.chunk_chars += len(text)
            elif message.startswith(f"43{ack_id}["):
                return json.loads(message[2 + len(str(ack_id)) :])[0]
            else:
                raise AssertionError(f"unexpected message {message[:80]!r}")

    async def blast(self, total: int, *, volatile: bool, first: int) -> tuple[int, dict[str, Any]]:
        """Broadcast ``total`` characters in steps; returns the events sent and the server's highest status."""
        sent = 0
        highest: dict[str, Any] = {}
        for start in range(first, first + total // CHUNK, STEP):
            count = min(STEP, first + total // CHUNK - start)
            status = await self.call("blast", count, CHUNK, volatile, start)
            sent += count
            if status["peak"] >= highest.get("peak", 0):
                highest = status
        return sent, highest


# --- the slow clients ---------------------------------------------------------------------------------------


def _read_frame(sock: socket.socket, buffered: bytearray) -> str:
    """Read one unmasked text frame from the server (RFC 6455 §5.2), the small ones of the handshake."""
    while True:
        if len(buffered) >= 2:
            length = buffered[1] & 0x7F
            offset = 2
            if length == 126:
                length, offset = struct.unpack("!H", buffered[2:4])[0], 4
            if len(buffered) >= offset + length:
                assert buffered[0] == 0x81, "a single text frame"
                text = bytes(buffered[offset : offset + length]).decode()
                del buffered[: offset + length]
                return text
        data = sock.recv(4096)
        assert data, "the server closed the connection during the handshake"
        buffered += data


def _masked_text(text: str) -> bytes:
    payload = text.encode()
    mask = b"\x01\x02\x03\x04"
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class SlowWebSocket:
    """Connects over WebSocket, joins "/", then never reads its socket again."""

    def __init__(self, host: str, port: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        sock.settimeout(scaled(10.0))
        sock.connect((host, port))
        sock.sendall(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            + f"Host: {host}:{port}\r\n".encode()
            + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        buffered = bytearray()
        while b"\r\n\r\n" not in buffered:
            data = sock.recv(4096)
            assert data, "no answer to the upgrade"
            buffered += data
        head, _, rest = bytes(buffered).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ")
        buffered = bytearray(rest)
        assert _read_frame(sock, buffered).startswith("0{")
        sock.sendall(_masked_text("40"))
        reply = _read_frame(sock, buffered)
        assert reply.startswith("40{")
        self.sid: str = json.loads(reply[2:])["sid"]
        self.sock = sock

    def ended(self) -> bool:
        """Read what is left: True when the server closed or reset the connection."""
        self.sock.settimeout(scaled(10.0))
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self.sock.close()


class SlowPolling:
    """Connects over long-polling, joins "/", then never polls again."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=scaled(10.0))
        opening = self.http.get("/socket.io/", params={"EIO": "4", "transport": "polling"}).text
        assert opening.startswith("0{")
        self.eio_sid = json.loads(opening[1:])["sid"]
        params = {"EIO": "4", "transport": "polling", "sid": self.eio_sid}
        assert self.http.post("/socket.io/", params=params, content="40").text == "ok"
        reply = self.http.get("/socket.io/", params=params).text
        assert reply.startswith("40{")
        self.sid: str = json.loads(reply[2:])["sid"]

    def ended(self) -> bool:
        """Poll once more: the session is gone (400, "Session ID unknown", the reference's answer)."""
        params = {"EIO": "4", "transport": "polling", "sid": self.eio_sid}
        response = self.http.get("/socket.io/", params=params)
        return response.status_code == 400 and response.json() == {"code": 1, "message": "Session ID unknown"}

    def close(self) -> None:
        self.http.close()


# --- the test ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_client_that_stops_reading_costs_at_most_the_limit(
    server: ServerProcess, transport: str
) -> None:
    driver = await Driver.connect(server.ws_url)
    slow: SlowWebSocket | SlowPolling = (
        SlowWebSocket(server.host, server.port) if transport == "websocket" else SlowPolling(server.url)
    )
    try:
        # Warm up the server's allocator with one step for everyone, read by the slow client too.
        await driver.blast(STEP * CHUNK, volatile=False, first=0)
        base = await driver.call("reset_peak")
        assert slow.sid in base["connected"]
        if isinstance(slow, SlowPolling):
            assert not slow.ended()  # the warm-up step is waiting for it: the session is alive

        # 1. Volatile: dropped for the client that does not read; it stays connected.
        first = 1_000_000
        _, after_volatile = await driver.blast(VOLATILE_BYTES, volatile=True, first=first)
        assert slow.sid in after_volatile["connected"], after_volatile["gone"]
        assert slow.sid not in after_volatile["gone"]
        assert after_volatile["peak"] * 1024 - base["rss"] * 1024 <= LIMIT + MARGIN, (base, after_volatile)
        assert any(seq >= first for seq in driver.chunks), "the normal client got volatile events"

        # 2. Plain: the backlog passes the limit and the slow client is dropped with "transport error".
        first = 2_000_000
        received_before = len(driver.chunks)
        sent, highest = await driver.blast(PLAIN_BYTES, volatile=False, first=first)
        final = await driver.call("status")
        growth = max(highest["peak"], final["peak"]) * 1024 - base["rss"] * 1024
        assert growth <= LIMIT + MARGIN, (base, highest, final)
        assert final["gone"].get(slow.sid) == "transport error", final["gone"]
        assert slow.sid not in final["connected"]
        assert driver.sid in final["connected"]
        assert driver.chunks[received_before:] == list(range(first, first + sent))
        assert driver.chunk_chars >= sent * CHUNK
        if isinstance(slow, SlowPolling) or server.frontend == "runner":
            # (Under ASGI nothing can abort a connection: uvicorn keeps the TCP connection of a dropped
            # WebSocket until the client leaves, holding no more than its own small write buffer.)
            assert slow.ended()
    finally:
        slow.close()
        await driver.ws.close()
