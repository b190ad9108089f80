"""Fuzz clients for ``test_wire_fuzz.py``: many concurrent raw TCP clients sending malformed input.

Run as a program (in a process of its own, so that the fuzz load does not slow down the witnesses the test
measures):

    python tests/integration/wirefuzz.py --host 127.0.0.1 --port 3000 --seed 1 --seconds 8 --clients 48 \
        [--kinds ws_frames,sio_ws] [--reference-safe]

Every client draws its inputs from ``random.Random(f"{seed}/{client}")``, so a seed names the same inputs
again (their interleaving, set by the scheduler, does not repeat). Each action opens a fresh TCP connection,
sends one malformed exchange of one *kind* (below), reads what comes back for a short while and closes
(sometimes abruptly, sometimes in the middle of what it was sending). At the end one JSON line goes to
stdout: the actions run per kind, the HTTP statuses seen per kind, every 5xx with the input that provoked it,
and any failure of the fuzz code itself (a bug here, not in the server).

Kinds:

- ``http``: garbage at the HTTP level: bad methods, request lines and versions, huge or many headers, bad
  ``Content-Length`` values, truncated and chunked bodies, pipelined garbage, random bytes, early closes;
- ``eio_query``: Engine.IO requests with bad ``EIO``, ``transport`` and ``sid`` values, odd methods;
- ``eio_polling``: a real polling session, then bad payload framing, bad packet types, oversize bodies,
  binary where text is expected, overlapping polls, bad ``Content-Type``;
- ``eio_ws``: a real WebSocket session, then bad Engine.IO packets (types, probes, upgrades, binary);
- ``upgrade``: upgrades in bad states: unknown sids, probes twice, ``5`` without a probe, polling during
  the upgrade, a second upgrade of the same session, EIO mismatches;
- ``sio_ws`` / ``sio_polling``: Socket.IO garbage on a real session: bad packet types, namespaces, JSON, ack
  ids, binary attachment counts and placeholders, deep nesting, huge numbers, unknown events, big messages;
- ``ws_handshake``: bad WebSocket handshakes (missing or bad keys, versions, headers, methods);
- ``ws_frames``: bad frames on an open WebSocket: reserved opcodes and bits, unmasked frames, oversize and
  odd lengths, control frames too long or fragmented, thousands of fragments, continuation without a start,
  invalid UTF-8 (in text and close reasons), bad close codes, frames cut short.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import re
import struct
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

PATH = "/socket.io/"
KEY = base64.b64encode(b"0123456789abcdef").decode()
STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})")


class Stats:
    """What the clients of one process saw."""

    def __init__(self) -> None:
        self.actions: Counter[str] = Counter()
        self.statuses: dict[str, Counter[str]] = defaultdict(Counter)
        self.server_errors: list[dict[str, str]] = []
        self.fuzz_failures: list[str] = []
        self.slow: Counter[str] = Counter()  # actions that hit their overall time bound

    def summary(self, seed: int) -> dict[str, Any]:
        return {
            "seed": seed,
            "actions": dict(self.actions),
            "statuses": {kind: dict(codes) for kind, codes in self.statuses.items()},
            "server_errors": self.server_errors[:50],
            "server_error_count": len(self.server_errors),
            "fuzz_failures": self.fuzz_failures[:20],
            "slow": dict(self.slow),
        }


class Conn:
    """One TCP connection: what was sent (for the report) and everything received."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.sent = bytearray()
        self.received = bytearray()
        self.eof = False

    async def send(self, data: bytes, *, drain: bool = True) -> None:
        if len(self.sent) < 4096:
            self.sent += data[: 4096 - len(self.sent)]
        if self.writer.transport.is_closing():
            # The server hung up on us, a fair answer to garbage. A write now would raise RuntimeError on uvloop
            # (asyncio only logs it), which the clients' loop would report as a bug of this module.
            raise ConnectionResetError("the server closed the connection")
        self.writer.write(data)
        if drain:
            await self.writer.drain()

    async def read_for(self, seconds: float, *, until: bytes | None = None, limit: int = 1 << 20) -> bytes:
        """Read for up to ``seconds`` (less at EOF, once ``until`` was seen or ``limit`` bytes came)."""
        start = len(self.received)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self.eof and len(self.received) - start < limit:
            if until is not None and until in self.received[start:]:
                break
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                async with asyncio.timeout(left):
                    data = await self.reader.read(65536)
            except TimeoutError:
                break
            if not data:
                self.eof = True
                break
            self.received += data
        return bytes(self.received[start:])

    def abort(self) -> None:
        transport = self.writer.transport
        transport.abort()

    def close(self) -> None:
        self.writer.close()


# --- helpers to build requests and frames ------------------------------------------------------------------


def request(
    method: str, target: str, headers: list[tuple[str, str]] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    for name, value in headers or []:
        lines.append(f"{name}: {value}")
    if body and not any(name.lower() in ("content-length", "transfer-encoding") for name, _ in headers or []):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def query(**values: str) -> str:
    return PATH + "?" + "&".join(f"{name}={value}" for name, value in values.items())


def upgrade_headers(key: str = KEY, version: str = "13") -> list[tuple[str, str]]:
    return [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", version),
    ]


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    length: int | None = None,
) -> bytes:
    """A client frame (RFC 6455 §5.2); ``length`` overrides the announced length."""
    size = len(payload) if length is None else length
    head = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    bit = 0x80 if mask else 0
    if size < 126:
        head.append(bit | size)
    elif size < 1 << 16:
        head.append(bit | 126)
        head += struct.pack("!H", size)
    else:
        head.append(bit | 127)
        head += struct.pack("!Q", size & ((1 << 64) - 1))
    if not mask:
        return bytes(head) + payload
    key = os.urandom(4)
    return bytes(head) + key + _xor(payload, key)


def _xor(data: bytes, key: bytes) -> bytes:
    if not data:
        return b""
    repeated = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(data), "big")


def text(data: str | bytes, **options: Any) -> bytes:
    return frame(0x1, data.encode() if isinstance(data, str) else data, **options)


def binary(data: bytes, **options: Any) -> bytes:
    return frame(0x2, data, **options)


def read_frames(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Complete server frames at the start of ``buffer`` (consumed); the server never masks."""
    frames = []
    while len(buffer) >= 2:
        size = buffer[1] & 0x7F
        offset = 2
        if size == 126:
            if len(buffer) < 4:
                break
            size, offset = struct.unpack("!H", buffer[2:4])[0], 4
        elif size == 127:
            if len(buffer) < 10:
                break
            size, offset = struct.unpack("!Q", buffer[2:10])[0], 10
        if len(buffer) < offset + size:
            break
        frames.append((buffer[0] & 0x0F, bytes(buffer[offset : offset + size])))
        del buffer[: offset + size]
    return frames


def rand_text(rng: random.Random, size: int) -> str:
    alphabet = 'abcxyz0123456789 "\\[]{}:,-/é😀\x1e\x00\n'
    return "".join(rng.choice(alphabet) for _ in range(size))


def rand_bytes(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def pick(rng: random.Random, *options: Any) -> Any:
    return rng.choice(options)


# --- Socket.IO garbage -------------------------------------------------------------------------------------


#: The most arguments an event gets; ``--reference-safe`` lowers it: the Node.js reference's process dies
#: ("Maximum call stack size exceeded", uncaught, when socket.io spreads them into ``emit``) on an event with
#: 100 000 arguments, so a comparison of latencies with it leaves that input out.
MAX_ARGS = 100_000


def deep(rng: random.Random) -> str:
    depth = pick(rng, 50, 500, 5_000, 50_000, 200_000)
    opener, closer = pick(rng, ("[", "]"), ('{"a":', "}"))
    return opener * depth + "1" + closer * depth


def sio_data(rng: random.Random) -> str:
    """The JSON part of a packet: sometimes valid, mostly not."""
    choice = rng.randrange(22)
    event = pick(rng, '"echo"', '"message"', '"nope"', '"connect"', '"disconnect"', "1", "null", "{}", '""')
    if choice == 0:
        return f"[{event},{json.dumps(rand_text(rng, rng.randrange(50)))}]"
    if choice == 1:
        return f'["echo",{deep(rng)}]'
    if choice == 2:
        return deep(rng)
    if choice == 3:
        return f'["echo",{"9" * pick(rng, 20, 400, 4300, 5000, 100_000)}]'
    if choice == 4:
        return f'["echo",-{"9" * pick(rng, 400, 5000)}.5e99999]'
    if choice == 5:
        return f'["echo","{"x" * pick(rng, 10_000, 500_000, 999_000)}"]'
    if choice == 6:
        return '["echo",' + ",".join(["1"] * min(MAX_ARGS, pick(rng, 1000, 100_000))) + "]"
    if choice == 7:
        return '["echo",{' + ",".join(f'"k{i}":{i}' for i in range(pick(rng, 1000, 50_000))) + "}]"
    if choice == 8:
        return pick(
            rng, "[", '["a"', '["a",]', "[NaN]", '["a",Infinity]', '["\\ud800"]', '["a"]]', "[]", "{}"
        )
    if choice == 9:
        return pick(rng, '"str"', "1", "null", "true", "[null]", "[1]", '[["echo"]]', '{"_placeholder":true}')
    if choice == 10:
        num = pick(rng, "0", "1", "-1", "99", "1e9", "1.5", '"0"', "null")
        return f'[{event},{{"_placeholder":true,"num":{num}}}]'
    if choice == 11:
        return json.dumps(["echo", rand_text(rng, 200)])[: rng.randrange(1, 60)]
    if choice == 12:
        return rand_text(rng, rng.randrange(1, 300))
    if choice == 13:
        return f'["echo",{"1" * 400}]'
    if choice == 14:
        return '["echo","' + "\\u0000" * pick(rng, 10, 100_000) + '"]'
    if choice == 15:
        return '["' + "e" * pick(rng, 1000, 200_000) + '",1]'
    if choice == 16:
        return '["echo",' + '{"a":' * 30 + "[" * 30 + "1" + "]" * 30 + "}" * 30 + "]"  # 61 deep
    if choice == 17:
        return '["echo",1e308,-1e308,5e-324,-0,123456789012345678901234567890]'
    if choice == 18:
        return '["echo",' + '"\\' + pick(rng, "x", "u12", "ud800\\u0041", "") + '"]'
    return f'["{pick(rng, "echo", "message", "nope", "éè😀")}",{json.dumps({"n": rng.random()})}]'


def sio_packet(rng: random.Random) -> tuple[str, list[bytes]]:
    """A Socket.IO packet (the Engine.IO message's text) and the binary frames sent after it."""
    if rng.random() < 0.5:
        # Well framed, with odd contents: an event or ack that reaches the handlers.
        nsp = pick(rng, "", "/chat,")
        ack = pick(rng, "", str(rng.randrange(1, 1 << 31)))
        return pick(rng, "2", "2", "3") + nsp + ack + sio_data(rng), []
    kind = pick(rng, "0", "1", "2", "3", "4", "5", "6", "7", "9", "a", "", "22", "-", " ", "2" * 30)
    attachments: list[bytes] = []
    head = kind
    if kind in ("5", "6") or rng.random() < 0.1:
        count = pick(rng, "0", "1", "2", "-1", "999999999", "99999999999999999999", "1e3", "", "x", "01", "3")
        head += count + pick(rng, "-", "-", "", "--")
        attachments = [rand_bytes(rng, rng.randrange(0, 64)) for _ in range(pick(rng, 0, 1, 2, 3, 1000))]
    nsp = pick(
        rng, "", "", "", "/", "/chat,", "/chat", "/nope,", "/" + "x" * pick(rng, 10, 10_000) + ",", ",", "/é,"
    )
    ack = pick(rng, "", "", "1", "0", "-1", "007", "99999999999999999999999", "9" * 400, "1e3", "12abc", " 5")
    body = sio_data(rng) if rng.random() < 0.9 else ""
    if kind in ("0", "1") and rng.random() < 0.5:
        body = pick(rng, "", "{}", '{"token":1}', "[]", '"x"', "1", "null", deep(rng), "{" + "a" * 100)
    return head + nsp + ack + body, attachments


# --- the actions -------------------------------------------------------------------------------------------


class Fuzzer:
    """Runs actions against one server; each action is one connection (or a few) with one bad exchange."""

    def __init__(self, host: str, port: int, stats: Stats) -> None:
        self.host = host
        self.port = port
        self.stats = stats

    async def connect(self) -> Conn:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 22)
        return Conn(reader, writer)

    def check(self, kind: str, conn: Conn, received: bytes | None = None) -> None:
        """Record the HTTP statuses in what came back (up to a 101: after it come WebSocket frames)."""
        data = conn.received if received is None else received
        for match in STATUS.finditer(data):
            code = match.group(1).decode()
            self.stats.statuses[kind][code] += 1
            if code.startswith("5"):
                self.stats.server_errors.append(
                    {
                        "kind": kind,
                        "status": data[match.start() : match.start() + 200].decode(errors="replace"),
                        "sent": bytes(conn.sent[:600]).decode(errors="replace"),
                    }
                )
            if code == "101":
                break

    # -- sessions ------------------------------------------------------------------------------------------

    async def open_polling(self, kind: str) -> str | None:
        """A fresh polling session's sid (None if the server refused, which a fuzz run should not see)."""
        conn = await self.connect()
        try:
            await conn.send(request("GET", query(EIO="4", transport="polling")))
            data = await conn.read_for(2.0, until=b'"maxPayload"')
            self.check(kind, conn)
            match = re.search(rb'"sid":"([^"]+)"', data)
            return match.group(1).decode() if match else None
        finally:
            conn.close()

    async def open_ws(self, conn: Conn, kind: str, target: str | None = None) -> bytearray | None:
        """Upgrade ``conn`` to a WebSocket; returns the bytes after the 101 head (None when refused)."""
        await conn.send(request("GET", target or query(EIO="4", transport="websocket"), upgrade_headers()))
        data = await conn.read_for(2.0, until=b"\r\n\r\n")
        self.check(kind, conn)
        if not data.startswith(b"HTTP/1.1 101"):
            return None
        return bytearray(data.partition(b"\r\n\r\n")[2])

    async def ws_session(self, conn: Conn, kind: str, rng: random.Random) -> bytearray | None:
        """An open Engine.IO WebSocket session, joined to a namespace half of the time."""
        rest = await self.open_ws(conn, kind)
        if rest is None:
            return None
        if rng.random() < 0.5:
            await conn.send(text(pick(rng, "40", "40/chat,", '40{"token":"x"}')))
            rest += await conn.read_for(0.3, until=b"40")
        return rest

    async def finish(self, conn: Conn, rng: random.Random, seconds: float = 0.3) -> None:
        """Read for a while, then leave in one of several ways."""
        await conn.read_for(seconds)
        how = rng.randrange(3)
        if how == 0:
            conn.abort()
        else:
            conn.close()

    # -- kinds ---------------------------------------------------------------------------------------------

    async def http(self, rng: random.Random) -> None:
        conn = await self.connect()
        target = pick(
            rng, query(EIO="4", transport="polling"), "/", "/socket.io", "*", "/%zz", "/" + "a" * 9000
        )
        choice = rng.randrange(16)
        if choice == 0:
            method = pick(rng, "GETT", "get", "G E T", "BREW", "PRI", "\x00", "CONNECT", "TRACE", "DELETE")
            data = f"{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        elif choice == 1:
            data = pick(
                rng,
                b"GET\r\n\r\n",
                b"GET / HTTP/9.9\r\n\r\n",
                b"GET / HTTP/1.1 extra\r\n\r\n",
                b"\r\n\r\n\r\n",
                b"GET / HTTP/1.0\r\n\r\n",
                b"GET  HTTP/1.1\r\n\r\n",
                b"GET /\x00 HTTP/1.1\r\n\r\n",
            )
        elif choice == 2:
            data = request("GET", target, [("X-Big", "v" * pick(rng, 8_000, 17_000, 100_000, 1_000_000))])
        elif choice == 3:
            data = request("GET", target, [(f"X-H{i}", "v") for i in range(pick(rng, 99, 101, 1000, 10_000))])
        elif choice == 4:
            data = request(
                "GET",
                target,
                [
                    pick(
                        rng,
                        ("Bad Name", "v"),
                        ("X", "a\x00b"),
                        ("X", "a\rb"),
                        ("", "v"),
                        ("Host", "x"),
                        ("Content-Length", "1"),
                    )
                ],
            )
        elif choice == 5:
            length = pick(rng, "-1", "abc", "1e3", "99999999999999999999", "0x10", " 5", "5, 6", "+5", "")
            data = request("POST", target, [("Content-Length", length)], b"hello")
        elif choice == 6:
            data = request("POST", target, [("Content-Length", "5"), ("Content-Length", "6")], b"hello!")
        elif choice == 7:
            data = request("POST", target, [("Content-Length", "1000")], b"4" * rng.randrange(0, 999))
        elif choice == 8:
            chunks = pick(
                rng,
                b"5\r\nhello\r\n0\r\n\r\n",
                b"zz\r\nhello\r\n0\r\n\r\n",
                b"fffffffffffffffff\r\n",
                b"5\r\nhel",
                b"-1\r\n\r\n",
                b"3\r\nhello\r\n",
                b"1;ext=1\r\n4\r\n0\r\nTrailer: x\r\n\r\n",
            )
            data = request(
                "POST",
                target,
                [
                    (
                        "Transfer-Encoding",
                        pick(rng, "chunked", "gzip, chunked", "chunked, chunked", "identity"),
                    )
                ],
                chunks,
            )
        elif choice == 9:
            data = request(
                "POST",
                target,
                [("Transfer-Encoding", "chunked"), ("Content-Length", "3")],
                b"3\r\nabc\r\n0\r\n\r\n",
            )
        elif choice == 10:
            data = request("GET", target) + rand_bytes(rng, rng.randrange(1, 500))
        elif choice == 11:
            data = request("GET", target) * rng.randrange(2, 20) + b"GARBAGE / HTTP/1.1\r\n\r\n"
        elif choice == 12:
            data = rand_bytes(rng, rng.randrange(1, 5000))
        elif choice == 13:
            data = request("GET", target)[: rng.randrange(1, 40)]
        elif choice == 14:
            data = request("POST", target, [("Content-Length", "20000000")], b"4" * 100_000)
        else:
            data = request(
                pick(rng, "OPTIONS", "PUT", "HEAD", "PATCH"),
                target,
                [("Origin", "http://x"), ("Access-Control-Request-Method", "POST")],
            )
        try:
            if rng.random() < 0.2:
                cut = rng.randrange(0, len(data))
                await conn.send(data[:cut])
                conn.abort()
                return
            for start in range(0, len(data), 65536):
                await conn.send(data[start : start + 65536])
            await conn.read_for(0.5)
            self.check("http", conn)
        finally:
            conn.close()

    async def eio_query(self, rng: random.Random) -> None:
        conn = await self.connect()
        values = {
            "EIO": pick(rng, "4", "3", "5", "0", "", "abc", "4.0", "-4", "9" * 50, "4&EIO=3"),
            "transport": pick(
                rng, "polling", "websocket", "webtransport", "", "foo", "POLLING", "polling%00"
            ),
        }
        if rng.random() < 0.6:
            values["sid"] = pick(
                rng, "", "abc", "x" * 20, "x" * 5000, "%00", "%ff%fe", "AAAAAAAAAAAAAAAAAAAA"
            )
        if rng.random() < 0.3:
            values["b64"] = pick(rng, "1", "true", "")
        if rng.random() < 0.2:
            values["j"] = pick(rng, "0", "x", "-1")
        method = pick(rng, "GET", "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS")
        headers = upgrade_headers() if rng.random() < 0.3 else []
        body = rand_bytes(rng, rng.randrange(0, 100)) if method != "GET" else b""
        try:
            await conn.send(request(method, query(**values), headers, body))
            await conn.read_for(0.4)
            self.check("eio_query", conn)
        finally:
            conn.close()

    def eio_payload(self, rng: random.Random) -> tuple[bytes, list[tuple[str, str]]]:
        choice = rng.randrange(14)
        ctype = [("Content-Type", "text/plain;charset=UTF-8")]
        if choice == 0:
            packets = [
                pick(
                    rng,
                    "4hi",
                    "2",
                    "3",
                    "6",
                    "1",
                    "0",
                    "5",
                    "9",
                    "x",
                    "",
                    "b" + rand_text(rng, 10),
                    "bAAAA",
                    "b!!!",
                    "4" + "\x00" * 10,
                )
                for _ in range(rng.randrange(1, 20))
            ]
            return "\x1e".join(packets).encode(), ctype
        if choice == 1:
            return b"\x1e" * rng.randrange(1, 10_000), ctype
        if choice == 2:
            return b"4" + b"x" * pick(rng, 999_998, 1_000_000, 1_500_000), ctype
        if choice == 3:
            return rand_bytes(rng, rng.randrange(1, 2000)), pick(
                rng, ctype, [("Content-Type", "application/octet-stream")], []
            )
        if choice == 4:
            return b"4\xff\xfe\xc3\x28 invalid utf-8", ctype
        if choice == 5:
            return "\x1e".join(["4x"] * pick(rng, 1000, 100_000)).encode(), ctype
        if choice == 6:
            return b"b" + base64.b64encode(rand_bytes(rng, 100))[:-1], ctype
        if choice == 7:
            return b"4" + sio_packet(rng)[0].encode("utf-8", "surrogatepass"), ctype
        if choice == 8:
            return pick(rng, b"99999999:4hello", b"5:4hel", b"0:", b"\x00\x01\xff4hello"), ctype
        if choice == 9:
            return b"", ctype
        if choice == 10:
            return b"1", ctype
        if choice == 11:
            return "\x1e".join(["4" + sio_packet(rng)[0] for _ in range(rng.randrange(1, 10))]).encode(
                "utf-8", "surrogatepass"
            ), ctype
        if choice == 12:
            return b"40\x1e42" + json.dumps(["echo", "x" * 1000]).encode() * 10, ctype
        return b"2probe", ctype

    async def eio_polling(self, rng: random.Random) -> None:
        sid = await self.open_polling("eio_polling")
        if sid is None:
            return
        target = query(EIO="4", transport="polling", sid=sid)
        conns = []
        try:
            if rng.random() < 0.3:
                # Two long polls at once: the reference answers the second with 400 and closes the session.
                for _ in range(2):
                    conn = await self.connect()
                    conns.append(conn)
                    await conn.send(request("GET", target))
            for _ in range(rng.randrange(1, 4)):
                conn = await self.connect()
                conns.append(conn)
                body, headers = self.eio_payload(rng)
                if rng.random() < 0.15:
                    headers = [*headers, ("Content-Length", str(len(body) + pick(rng, 1, 100, -1)))]
                data = request("POST", target, headers, body)
                if rng.random() < 0.1:
                    await conn.send(data[: rng.randrange(1, len(data))])
                    conn.abort()
                    continue
                for start in range(0, len(data), 65536):
                    await conn.send(data[start : start + 65536])
            for conn in conns:
                if not conn.writer.is_closing():
                    await conn.read_for(0.3)
                    self.check("eio_polling", conn)
            if rng.random() < 0.5:
                conn = await self.connect()
                conns.append(conn)
                await conn.send(request("GET", target))
                await conn.read_for(0.3)
                self.check("eio_polling", conn)
        finally:
            for conn in conns:
                conn.close()

    async def eio_ws(self, rng: random.Random) -> None:
        conn = await self.connect()
        try:
            rest = await self.ws_session(conn, "eio_ws", rng)
            if rest is None:
                return
            for _ in range(rng.randrange(1, 6)):
                choice = rng.randrange(8)
                if choice == 0:
                    await conn.send(
                        text(pick(rng, "1", "2", "3", "5", "6", "9", "", "x", "2probe", "3probe", "0", "0{}"))
                    )
                elif choice == 1:
                    await conn.send(binary(rand_bytes(rng, rng.randrange(0, 100))))
                elif choice == 2:
                    await conn.send(text("4" + rand_text(rng, rng.randrange(0, 1000))))
                elif choice == 3:
                    await conn.send(text(b"4" + b"x" * pick(rng, 999_999, 1_000_000, 1_000_001, 2_000_000)))
                elif choice == 4:
                    await conn.send(text(b"b" + base64.b64encode(rand_bytes(rng, 50))))
                elif choice == 5:
                    await conn.send(text("4hello\x1e4world"))
                elif choice == 6:
                    await conn.send(binary(b"\x04" + rand_bytes(rng, 10)))
                else:
                    await conn.send(text(b"4\xed\xa0\x80"))
            await self.finish(conn, rng)
        finally:
            conn.close()

    async def upgrade(self, rng: random.Random) -> None:
        sid = await self.open_polling("upgrade")
        if sid is None:
            return
        choice = rng.randrange(8)
        conns: list[Conn] = []
        try:
            conn = await self.connect()
            conns.append(conn)
            eio = pick(rng, "4", "4", "4", "3", "5")
            rest = await self.open_ws(conn, "upgrade", query(EIO=eio, transport="websocket", sid=sid))
            if rest is None:
                return
            if choice == 0:
                await conn.send(text("5"))
            elif choice == 1:
                await conn.send(text("2probe") + text("2probe") + text("5") + text("5"))
            elif choice == 2:
                await conn.send(text("2probe"))
                poll = await self.connect()
                conns.append(poll)
                await poll.send(
                    request(
                        pick(rng, "GET", "POST"), query(EIO="4", transport="polling", sid=sid), [], b"4hi"
                    )
                )
                await conn.read_for(0.1)
                await conn.send(text("5"))
                await poll.read_for(0.3)
                self.check("upgrade", poll)
            elif choice == 3:
                await conn.send(text("2probe"))
                other = await self.connect()
                conns.append(other)
                await self.open_ws(other, "upgrade", query(EIO="4", transport="websocket", sid=sid))
                await other.send(text("2probe") + text("5"))
                await other.read_for(0.2)
            elif choice == 4:
                await conn.send(text("2probe") + text("5") + text("40") + text('42["echo",1]'))
                poll = await self.connect()
                conns.append(poll)
                await poll.send(request("GET", query(EIO="4", transport="polling", sid=sid)))
                await poll.read_for(0.3)
                self.check("upgrade", poll)
            elif choice == 5:
                await conn.send(text(pick(rng, "3probe", "2prob", "2probe2probe", "6", "4x")) + text("5"))
            elif choice == 6:
                await conn.send(text("2probe"))
                await conn.read_for(0.1)
                conn.abort()
                return
            else:
                await conn.send(binary(b"2probe") + text("5"))
            await self.finish(conn, rng)
        finally:
            for conn in conns:
                conn.close()

    async def sio(self, rng: random.Random, kind: str, over_ws: bool) -> None:
        if over_ws:
            conn = await self.connect()
            try:
                rest = await self.ws_session(conn, kind, rng)
                if rest is None:
                    return
                for _ in range(rng.randrange(1, 5)):
                    packet, attachments = sio_packet(rng)
                    await conn.send(text(("4" + packet).encode("utf-8", "surrogatepass")))
                    for attachment in attachments:
                        await conn.send(binary(attachment), drain=False)
                    await conn.writer.drain()
                    # Answer pings so that the session lives on while we keep sending.
                    rest += await conn.read_for(0.05)
                    for opcode, payload in read_frames(rest):
                        if opcode == 1 and payload == b"2":
                            await conn.send(text("3"))
                await self.finish(conn, rng, 0.2)
            finally:
                conn.close()
            return
        sid = await self.open_polling(kind)
        if sid is None:
            return
        target = query(EIO="4", transport="polling", sid=sid)
        packets = ["40"] if rng.random() < 0.5 else []
        for _ in range(rng.randrange(1, 4)):
            packet, attachments = sio_packet(rng)
            packets.append("4" + packet)
            packets += ["b" + base64.b64encode(a).decode() for a in attachments[:50]]
        body = "\x1e".join(packets).encode("utf-8", "surrogatepass")
        conn = await self.connect()
        try:
            data = request("POST", target, [("Content-Type", "text/plain;charset=UTF-8")], body)
            for start in range(0, len(data), 65536):
                await conn.send(data[start : start + 65536])
            await conn.read_for(0.3)
            self.check(kind, conn)
            if rng.random() < 0.7:
                await conn.send(request("GET", target))
                await conn.read_for(0.3)
                self.check(kind, conn)
        finally:
            conn.close()

    async def sio_ws(self, rng: random.Random) -> None:
        await self.sio(rng, "sio_ws", over_ws=True)

    async def sio_polling(self, rng: random.Random) -> None:
        await self.sio(rng, "sio_polling", over_ws=False)

    async def ws_handshake(self, rng: random.Random) -> None:
        conn = await self.connect()
        target = query(EIO="4", transport=pick(rng, "websocket", "polling"))
        choice = rng.randrange(10)
        headers = upgrade_headers()
        method = "GET"
        if choice == 0:
            headers = [h for h in headers if h[0] != "Sec-WebSocket-Key"]
        elif choice == 1:
            headers = upgrade_headers(
                key=pick(rng, "short", "", "!!!!", "x" * 5000, base64.b64encode(b"x" * 17).decode())
            )
        elif choice == 2:
            headers = upgrade_headers(version=pick(rng, "8", "", "13, 8", "99999999999999", "abc"))
        elif choice == 3:
            headers = [h for h in headers if h[0] != rng.choice(["Upgrade", "Connection"])]
        elif choice == 4:
            headers = [
                ("Upgrade", pick(rng, "h2c", "WebSocket, foo", "")),
                ("Connection", pick(rng, "keep-alive", "upgrade, close", "Upgrade")),
                *headers[2:],
            ]
        elif choice == 5:
            method = pick(rng, "POST", "PUT", "HEAD")
        elif choice == 6:
            headers += [
                (
                    "Sec-WebSocket-Extensions",
                    pick(
                        rng,
                        "permessage-deflate; server_max_window_bits=3",
                        "permessage-deflate; client_max_window_bits=99",
                        "x" * 10_000,
                        "permessage-deflate;;;",
                    ),
                )
            ]
        elif choice == 7:
            headers += [("Sec-WebSocket-Protocol", pick(rng, "", ",,,", "a" * 5000))]
        elif choice == 8:
            headers = headers + headers
        try:
            data = request(method, target, headers)
            if choice == 9:
                await conn.send(data[: rng.randrange(1, len(data))])
                conn.abort()
                return
            await conn.send(data)
            await conn.read_for(0.4, until=b"\r\n\r\n")
            self.check("ws_handshake", conn)
            await self.finish(conn, rng, 0.1)
        finally:
            conn.close()

    async def ws_frames(self, rng: random.Random) -> None:
        conn = await self.connect()
        try:
            rest = await self.ws_session(conn, "ws_frames", rng)
            if rest is None:
                return
            choice = rng.randrange(18)
            if choice == 0:
                data = frame(pick(rng, 3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF), b"x")
            elif choice == 1:
                data = text("4hi", rsv=pick(rng, 1, 2, 4, 7))
            elif choice == 2:
                data = text("4hi", mask=False)
            elif choice == 3:
                data = text(b"4", length=pick(rng, (1 << 63) - 1, 1 << 63, 10_000_000, 1_000_001))
            elif choice == 4:
                data = frame(pick(rng, 0x8, 0x9, 0xA), b"x" * pick(rng, 126, 1000, 70_000))
            elif choice == 5:
                data = frame(0x9, b"x", fin=False)
            elif choice == 6:
                count = pick(rng, 100, 5_000, 50_000)
                size = pick(rng, 0, 1, 10)
                data = (
                    text(b"4", fin=False)
                    + b"".join(frame(0, b"x" * size, fin=False) for _ in range(count))
                    + frame(0, b"", fin=True)
                )
            elif choice == 7:
                data = frame(0, b"4hi")
            elif choice == 8:
                data = text(b"4a", fin=False) + text(b"4b")
            elif choice == 9:
                data = text(
                    pick(rng, b"4\xff", b"4\xc3", b"4\xed\xa0\x80", b"4\xf4\x90\x80\x80", b"4\xc0\xaf")
                )
            elif choice == 10:
                # Invalid UTF-8 split across fragments.
                data = text(b"4\xe2\x82", fin=False) + frame(0, b"\x28", fin=True)
            elif choice == 11:
                data = frame(
                    0x8,
                    struct.pack("!H", pick(rng, 0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535)) + b"bye",
                )
            elif choice == 12:
                data = frame(0x8, struct.pack("!H", 1000) + b"\xff\xfe")
            elif choice == 13:
                data = frame(0x8, b"\x03")
            elif choice == 14:
                full = text("4" + "x" * 1000)
                data = full[: rng.randrange(1, len(full))]
            elif choice == 15:
                data = b"".join(frame(0x9, rand_bytes(rng, 10)) for _ in range(pick(rng, 10, 1000, 10_000)))
            elif choice == 16:
                # A 1 MB message in many medium fragments.
                part = b"x" * 10_000
                data = (
                    text(b"4", fin=False)
                    + b"".join(frame(0, part, fin=False) for _ in range(99))
                    + frame(0, part[:9_990], fin=True)
                )
            else:
                data = text("4hi", rsv=4)
                data = data[:1] + bytes([data[1] & 0x7F]) + data[6:]  # says unmasked, but the bytes are
            for start in range(0, len(data), 65536):
                await conn.send(data[start : start + 65536])
            await self.finish(conn, rng)
        finally:
            conn.close()


KINDS = (
    "http",
    "eio_query",
    "eio_polling",
    "eio_ws",
    "upgrade",
    "sio_ws",
    "sio_polling",
    "ws_handshake",
    "ws_frames",
)


async def client(
    fuzzer: Fuzzer, rng: random.Random, kinds: tuple[str, ...], deadline: float, stats: Stats
) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        kind = rng.choice(kinds)
        action: Callable[[random.Random], Awaitable[None]] = getattr(fuzzer, kind)
        stats.actions[kind] += 1
        try:
            # At the deadline, whatever is in flight is cut short (one more early close).
            async with asyncio.timeout_at(min(deadline, loop.time() + 10.0)):
                await action(rng)
        except TimeoutError:
            if loop.time() < deadline:
                stats.slow[kind] += 1
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass  # the server hung up on us: a fair answer to garbage
        except Exception as exc:  # a bug in this module
            stats.fuzz_failures.append(f"{kind}: {type(exc).__name__}: {exc}")


async def fuzz(
    host: str, port: int, seed: int, seconds: float, clients: int, kinds: tuple[str, ...]
) -> Stats:
    stats = Stats()
    fuzzer = Fuzzer(host, port, stats)
    deadline = asyncio.get_running_loop().time() + seconds
    await asyncio.gather(
        *(client(fuzzer, random.Random(f"{seed}/{i}"), kinds, deadline, stats) for i in range(clients))
    )
    return stats


def main() -> None:
    global MAX_ARGS
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=48)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--reference-safe", action="store_true", help="no input that kills Node.js")
    args = parser.parse_args()
    if args.reference_safe:
        MAX_ARGS = 1000
    kinds = tuple(kind for kind in args.kinds.split(",") if kind)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    started = time.monotonic()
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    stats = run(fuzz(args.host, args.port, args.seed, args.seconds, args.clients, kinds))
    summary = stats.summary(args.seed)
    summary["elapsed"] = round(time.monotonic() - started, 2)
    print(json.dumps(summary), flush=True)
    with contextlib.suppress(BrokenPipeError):
        sys.stdout.flush()


if __name__ == "__main__":
    main()
