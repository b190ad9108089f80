"""The I/O-neutral request: query parsing (same answers as urllib's parse_qsl), headers, cookies."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from aiosocketio.web import BodyTooLarge, Headers, Request, parse_query


@pytest.mark.parametrize(
    "query",
    [
        "",
        "EIO=4&transport=polling&t=abc",
        "a=1&a=2",
        "b=&c",
        "x=%C3%A9t%C3%A9&y=a+b&z=%2B",
        "&&k=v&",
        "weird=a=b",
        "sp%20ace=1",
    ],
)
def test_parse_query_agrees_with_urllib(query: str) -> None:
    expected: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        expected.setdefault(key, value)
    assert parse_query(query) == expected


def test_request_fields() -> None:
    request = Request(
        "get",
        "/socket.io/",
        "EIO=4&transport=polling",
        Headers([("Cookie", "io=abc; theme=dark"), ("X-A", "1"), ("x-a", "2")]),
        remote_address="10.0.0.1",
        secure=True,
    )
    assert request.method == "GET"
    assert request.url == "/socket.io/?EIO=4&transport=polling"
    assert request.query == {"EIO": "4", "transport": "polling"}
    assert request.cookies == {"io": "abc", "theme": "dark"}
    assert request.headers["x-a"] == "1, 2"
    assert list(request.headers) == ["cookie", "x-a"]
    assert (request.remote_address, request.secure) == ("10.0.0.1", True)


def test_share_strings_keeps_the_headers_and_stores_common_strings_once() -> None:
    pairs = [("Host", "example.com:3000"), ("Upgrade", "websocket"), ("Sec-WebSocket-Key", "abc==")]
    first = Headers((name, "".join(value)) for name, value in pairs)
    second = Headers((name, "".join(value)) for name, value in pairs)
    before = dict(first)
    first.share_strings()
    second.share_strings()
    assert dict(first) == before
    assert first["HOST"] == "example.com:3000"
    names = {name: name for name in first}
    for name in second:
        assert name is names[name]  # one object for both requests
    assert first["upgrade"] is second["upgrade"]
    assert first["host"] is second["host"]
    assert first.shared_dict() is first.shared_dict()


def test_headers_from_raw_share_repeating_values_at_once() -> None:
    """The runner's headers share names and common values when made: share_strings() has nothing left to do."""
    raw = [(b"host", b"example.com:3000"), (b"upgrade", b"websocket"), (b"sec-websocket-key", b"abc==")]
    first = Headers.from_raw([(name, bytes(value)) for name, value in raw])
    second = Headers.from_raw([(name, bytes(value)) for name, value in raw])
    assert dict(first) == {"host": "example.com:3000", "upgrade": "websocket", "sec-websocket-key": "abc=="}
    assert first["upgrade"] is second["upgrade"]
    assert first["host"] is second["host"]
    # Unique per client: not in the table.
    assert first["sec-websocket-key"] is not second["sec-websocket-key"]
    before = dict(first)
    first.share_strings()
    assert dict(first) == before


def test_request_share_strings_keeps_what_the_request_says() -> None:
    def make(query: str) -> Request:
        return Request("get", "/socket.io/", query, Headers([("Host", "h:1")]))

    first = make("EIO=4&transport=websocket")
    second = make("EIO=4&transport=websocket")
    polling = make("EIO=4&transport=polling&t=abc")
    for request in (first, second, polling):
        before = (request.method, request.path, request.query_string, request.url, dict(request.query))
        request.share_strings()
        after = (request.method, request.path, request.query_string, request.url, dict(request.query))
        assert after == before
    assert first.url == "/socket.io/?EIO=4&transport=websocket"
    assert first.url is second.url
    assert first.query["transport"] is second.query["transport"]
    assert polling.url == "/socket.io/?EIO=4&transport=polling&t=abc"
    assert polling.query == {"EIO": "4", "transport": "polling", "t": "abc"}


@pytest.mark.parametrize(
    "raw",
    [
        [],
        [(b"Host", b"x"), (b"Content-Type", b"text/plain")],
        [(b"X-A", b"1"), (b"Host", b"x"), (b"x-a", b"2"), (b"X-A", b"3")],
        [(b"X-Latin", b"caf\xe9")],
    ],
)
def test_headers_from_raw_bytes_equal_headers_from_str(raw: list[tuple[bytes, bytes]]) -> None:
    from_raw = Headers.from_raw(raw)
    from_str = Headers((name.decode("latin-1"), value.decode("latin-1")) for name, value in raw)
    assert from_raw.to_dict() == from_str.to_dict()
    assert list(from_raw) == list(from_str)
    for name, _ in raw:
        assert from_raw[name.decode().upper()] == from_str[name.decode()]


async def test_read_body_given_whole() -> None:
    request = Request("POST", "/", "", Headers(), body=b"abcdef")
    assert await request.read_body(6) == b"abcdef"
    with pytest.raises(BodyTooLarge):
        await request.read_body(5)
    assert await Request("GET", "/", "", Headers()).read_body(10) == b""
