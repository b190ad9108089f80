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
