"""The I/O-neutral request: query parsing (same answers as urllib's parse_qsl), headers, cookies."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from aiosocketio.web import Headers, Request, parse_query


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
