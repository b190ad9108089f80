"""How ``workers=N`` finds a request's session: the ``sid`` of the request line, read exactly as the engine reads
the query (docs/deployment.md#workers), whatever the id looks like and however the client encoded it."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from aiosocketio.runner.workers import request_sid
from aiosocketio.web import parse_query

CUSTOM_IDS = [
    "aNJn0iJ-mKpS3TXZsti8",  # the engine's shape
    "user:42@7",
    "a b&c=d?e/f",
    "é✓ unicode",
    "100%",
    "plus+sign",
    "x" * 300,
]


@pytest.mark.parametrize("sid", CUSTOM_IDS)
@pytest.mark.parametrize(
    "encode", [lambda s: quote(s, safe=""), lambda s: quote(s, safe=":@/")], ids=["all", "js"]
)
def test_a_percent_encoded_id_is_found_as_the_engine_finds_it(sid: str, encode: object) -> None:
    assert callable(encode)
    target = f"/socket.io/?EIO=4&transport=polling&t=PaB1x&sid={encode(sid)}"
    for request in (f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n", f"POST {target} HTTP/1.1\r\n"):
        assert request_sid(request.encode()) == sid


@pytest.mark.parametrize(
    "query",
    [
        "EIO=4&transport=polling&sid=abc",
        "sid=abc&EIO=4",
        "sid=abc",
        "sid=abc&sid=other",  # the first one wins, as for the engine
        "sid&sid=abc",  # a name without a value comes first: it wins, empty
        "sid=&EIO=4",
        "EIO=4&transport=polling",
        "EIO=4&xsid=abc",
        "t=sid=1&sid=abc",
        "sid=a+b",
        "%73id=abc",  # the name percent-encoded
        "sid=abc#fragment",
        "",
    ],
)
def test_the_answer_is_the_engines(query: str) -> None:
    expected = parse_query(query.partition("#")[0]).get("sid") or None
    assert request_sid(f"GET /socket.io/?{query} HTTP/1.1\r\n\r\n".encode()) == expected


def test_no_sid_where_there_is_no_query_or_no_request_line() -> None:
    assert request_sid(b"GET /socket.io/ HTTP/1.1\r\n") is None
    assert request_sid(b"GET / HTTP/1.1\r\n") is None
    assert request_sid(b"") is None
    assert request_sid(b"garbage") is None
    # A request line cut short still gives what it has (the parent waits for the line end first).
    assert request_sid(b"GET /socket.io/?sid=abc") == "abc"
    # Only the request line counts, not a header that looks like a query.
    assert request_sid(b"GET /x HTTP/1.1\r\nReferer: /?sid=abc\r\n") is None
    # The absolute form, as sent to proxies.
    assert request_sid(b"GET http://host:3000/socket.io/?EIO=4&sid=abc HTTP/1.1\r\n") == "abc"
