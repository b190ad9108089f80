"""Response heads for HTTP/1.1: status lines, the ``date`` header, encoded and checked header lines (cached), and
the runner's own canned answers."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, Final

from ..web import HeaderPairs, Response

__all__ = [
    "NOT_FOUND",
    "OWN_HEADERS_B",
    "SERVER_ERROR",
    "STATUS_OK",
    "checked",
    "date_header",
    "encode_headers",
    "has_no_body",
    "plain",
    "status_line",
]

_date_cache: list[Any] = [0, b""]


def date_header() -> bytes:
    """``date: ...\\r\\n`` (RFC 9110 §6.6.1), formatted at most once a second."""
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0] = now
        _date_cache[1] = f"date: {email.utils.formatdate(now, usegmt=True)}\r\n".encode("ascii")
    value: bytes = _date_cache[1]
    return value


status_lines: dict[int, bytes] = {}
STATUS_OK: Final = b"HTTP/1.1 200 OK\r\n"


def status_line(status: int) -> bytes:
    line = status_lines.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        line = f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")
        if len(status_lines) < 256:
            status_lines[status] = line
    return line


# Headers the runner owns: an app's value would contradict the framing or the connection handling.
_OWN_HEADERS: Final = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})
OWN_HEADERS_B: Final = frozenset(name.encode("ascii") for name in _OWN_HEADERS)


def checked(value: bytes) -> bytes:
    """A header name or value as given, refusing CR/LF so no one can smuggle a header or a response."""
    if b"\r" in value or b"\n" in value:
        raise ValueError(f"CR or LF in a response header: {value!r}")
    return value


def _encode_header(name: str, value: str) -> bytes:
    """``name: value\r\n``, or nothing for a header the runner owns."""
    if name.lower() in _OWN_HEADERS:
        return b""
    return checked(name.encode("latin-1")) + b": " + checked(value.encode("latin-1")) + b"\r\n"


#: Encoded lines of the header pairs seen so far. Engine responses repeat the same few pairs on every request
#: (content type, cache control, CORS), and encoding and checking them was a tenth of a polling round trip.
#: Bounded: unique values (a session cookie) stop being remembered once it is full.
_header_lines: dict[tuple[str, str], bytes] = {}
_MAX_CACHED_LINES: Final = 512


def encode_headers(headers: Sequence[tuple[str, str]]) -> list[bytes]:
    out: list[bytes] = []
    cache = _header_lines
    for pair in headers:
        line = cache.get(pair) if type(pair) is tuple else None
        if line is None:
            name, value = pair
            line = _encode_header(name, value)
            if type(pair) is tuple and len(cache) < _MAX_CACHED_LINES:
                cache[pair] = line
        if line:
            out.append(line)
    return out


def has_no_body(status: int) -> bool:
    return status < 200 or status in (204, 304)


NOT_FOUND: Final = Response(404, [("content-type", "text/plain; charset=utf-8")], b"Not Found")
SERVER_ERROR: Final = Response(500, [("content-type", "text/plain; charset=utf-8")], b"Internal Server Error")


def plain(status: int, text: str, headers: HeaderPairs | None = None) -> Response:
    return Response(status, [("content-type", "text/plain; charset=utf-8"), *(headers or [])], text.encode())
