"""CORS, cookie and HTTP compression headers (docs/protocol/engineio.md#polling-get, docs/protocol/engineio.md#cors-cookie-hooks, docs/protocol/engineio.md#examples-http H20-H22, docs/protocol/engineio.md#cookie, docs/protocol/engineio.md#cors).

Expected header lists follow the npm `cors` middleware, the npm `cookie` serializer and the `accepts`
negotiation used by the reference server; they were cross-checked against those packages.
"""

from __future__ import annotations

import ast
import dataclasses
import gzip
import inspect
import re
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from aiosocketio.engineio import headers as headers_module
from aiosocketio.engineio.headers import (
    AllowedOrigin,
    CompressionOptions,
    CookieOptions,
    CorsOptions,
    OriginResult,
    choose_encoding,
    compress,
    cors_headers,
    hook_header_pairs,
    origin_is_dynamic,
    resolve_origin,
    set_cookie_header,
)

H = list[tuple[str, str]]
METHODS = ("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
SID = "Qm3fZ2xY8kLp0aRtAAAB"


def run_cors(
    cors: object,
    method: str = "GET",
    origin: str | None = None,
    request_headers: str | None = None,
) -> tuple[H, bool]:
    """Drive the flow documented in the module: from_user, resolve the (static) origin, compute headers."""
    options = CorsOptions.from_user(cors)
    assert options is not None
    assert not origin_is_dynamic(options)
    return cors_headers(
        options,
        method=method,
        request_origin=origin,
        request_headers=request_headers,
        allowed_origin=resolve_origin(options.origin),
    )


async def run_dynamic_cors(options: CorsOptions, method: str, origin: str | None) -> tuple[H, bool]:
    """What the engine does for a callable origin: call it, await it if needed, resolve, compute."""
    assert origin_is_dynamic(options)
    callback: Callable[[str | None], OriginResult | Awaitable[OriginResult]] = options.origin  # type: ignore[assignment]
    value = callback(origin)
    if inspect.isawaitable(value):
        value = await value
    allowed: AllowedOrigin | None = resolve_origin(value)
    return cors_headers(
        options, method=method, request_origin=origin, request_headers=None, allowed_origin=allowed
    )


# ----------------------------------------------------------------------------------------- docs/protocol/engineio.md#examples-http vectors


def test_h20_preflight_allowed_origin_with_credentials() -> None:
    cors = {"origin": ["https://app.example"], "credentials": True}
    headers, answered = run_cors(cors, "OPTIONS", "https://app.example")
    assert headers == [
        ("Access-Control-Allow-Origin", "https://app.example"),
        ("Vary", "Origin, Access-Control-Request-Headers"),
        ("Access-Control-Allow-Credentials", "true"),
        METHODS,
    ]
    assert answered is True
    options = CorsOptions.from_user(cors)
    assert options is not None
    assert options.options_success_status == 204


def test_h21_preflight_disallowed_origin_still_answered_without_allow_origin() -> None:
    cors = {"origin": ["https://app.example"], "credentials": True}
    headers, answered = run_cors(cors, "OPTIONS", "https://evil.example")
    assert headers == [
        ("Vary", "Origin, Access-Control-Request-Headers"),
        ("Access-Control-Allow-Credentials", "true"),
        METHODS,
    ]
    assert answered is True


def test_h22_cookie_true() -> None:
    options = CookieOptions.from_user(True)
    assert options is not None
    assert set_cookie_header(options, SID) == f"io={SID}; Path=/; HttpOnly; SameSite=Lax"


# ----------------------------------------------------------------------------------------- origins

GOOD = re.compile(r"\.good\.com$")
MIXED = ["https://a.example", re.compile(r"^https://b\.")]
VARY = ("Vary", "Origin")


def allow(origin: str) -> tuple[str, str]:
    return ("Access-Control-Allow-Origin", origin)


@pytest.mark.parametrize(
    ("origin_option", "request_origin", "expected"),
    [
        ("*", "https://x.example", [allow("*")]),
        ("*", None, [allow("*")]),
        (True, "https://x.example", [allow("https://x.example"), VARY]),
        (True, None, [VARY]),
        (True, "", [VARY]),
        (False, "https://x.example", []),
        ("", "https://x.example", []),
        (None, "https://x.example", []),
        ("https://fixed.example", "https://other.example", [allow("https://fixed.example"), VARY]),
        ("https://fixed.example", None, [allow("https://fixed.example"), VARY]),
        (GOOD, "https://x.good.com", [allow("https://x.good.com"), VARY]),
        (GOOD, "https://x.good.com.evil.example", [VARY]),
        (GOOD, None, [VARY]),
        (MIXED, "https://a.example", [allow("https://a.example"), VARY]),
        (MIXED, "https://b.example", [allow("https://b.example"), VARY]),
        (MIXED, "https://a.example.evil", [VARY]),
        (MIXED, "https://c.example", [VARY]),
        ((re.compile("^https://"), "http://x"), "http://x", [allow("http://x"), VARY]),
        ([], "https://a.example", [VARY]),
    ],
)
def test_origin_forms_on_actual_request(origin_option: Any, request_origin: str | None, expected: H) -> None:
    headers, answered = run_cors({"origin": origin_option}, "GET", request_origin)
    assert headers == expected
    assert answered is False


def test_disabled_origin_leaves_preflight_unanswered() -> None:
    # origin False: the middleware does nothing at all; the request continues (and later fails with code 2).
    assert run_cors({"origin": False}, "OPTIONS", "https://x.example", "x-a") == ([], False)


def test_default_origin_is_star() -> None:
    assert run_cors(True, "GET", "https://x.example") == ([allow("*")], False)
    assert run_cors({}, "GET", "https://x.example") == ([allow("*")], False)


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("https://cb.example", [allow("https://cb.example"), VARY]),
        (True, [allow("https://x.example"), VARY]),
        ("*", [allow("*")]),
        (["https://x.example"], [allow("https://x.example"), VARY]),
        ([re.compile("nomatch")], [VARY]),
        (False, []),
        (None, []),
    ],
)
@pytest.mark.parametrize("is_async", [False, True])
async def test_callable_origin(result: OriginResult, expected: H, is_async: bool) -> None:
    seen: list[str | None] = []

    def sync_origin(origin: str | None) -> OriginResult:
        seen.append(origin)
        return result

    async def async_origin(origin: str | None) -> OriginResult:
        return sync_origin(origin)

    options = CorsOptions(origin=async_origin if is_async else sync_origin)
    assert await run_dynamic_cors(options, "GET", "https://x.example") == (expected, False)
    assert seen == ["https://x.example"]


async def test_callable_origin_falsy_result_does_not_answer_preflight() -> None:
    options = CorsOptions(origin=lambda origin: None)
    assert await run_dynamic_cors(options, "OPTIONS", "https://x.example") == ([], False)


@pytest.mark.parametrize("bad", [42, {"origin": "x"}, object(), [1], re.compile(b"bytes")])
def test_resolve_origin_rejects_invalid_values(bad: object) -> None:
    # The engine calls this on the callable's result inside its try: a TypeError becomes code 3.
    with pytest.raises(TypeError, match="origin"):
        resolve_origin(bad)


def test_resolve_origin_rejects_an_unresolved_callable() -> None:
    with pytest.raises(TypeError, match="call the CORS origin callable first"):
        resolve_origin(lambda origin: True)


def test_resolve_origin_normalises() -> None:
    assert resolve_origin("*") == "*"
    assert resolve_origin(True) is True
    assert resolve_origin(GOOD) == (GOOD,)
    assert resolve_origin(MIXED) == tuple(MIXED)
    assert resolve_origin([]) == ()
    assert resolve_origin(False) is None
    assert resolve_origin(None) is None
    assert resolve_origin("") is None


# ----------------------------------------------------------------------------------------- preflight


def test_preflight_reflects_request_headers_when_allowed_headers_unset() -> None:
    headers, answered = run_cors(True, "OPTIONS", "https://x.example", "content-type,x-custom")
    assert headers == [
        allow("*"),
        METHODS,
        ("Vary", "Access-Control-Request-Headers"),
        ("Access-Control-Allow-Headers", "content-type,x-custom"),
    ]
    assert answered is True


@pytest.mark.parametrize("request_headers", [None, ""])
def test_preflight_without_request_headers_still_varies(request_headers: str | None) -> None:
    headers, _ = run_cors({"origin": True}, "OPTIONS", "https://x.example", request_headers)
    assert headers == [
        allow("https://x.example"),
        ("Vary", "Origin, Access-Control-Request-Headers"),
        METHODS,
    ]


@pytest.mark.parametrize(
    ("cors", "expected_allow_headers"),
    [
        ({"allowed_headers": ["X-A", "X-B"]}, [("Access-Control-Allow-Headers", "X-A,X-B")]),
        ({"allowedHeaders": "X-C"}, [("Access-Control-Allow-Headers", "X-C")]),
        ({"headers": ("X-D",)}, [("Access-Control-Allow-Headers", "X-D")]),
        ({"allowed_headers": []}, []),
    ],
)
def test_preflight_with_configured_allowed_headers(cors: dict[str, Any], expected_allow_headers: H) -> None:
    headers, answered = run_cors(cors, "OPTIONS", "https://x.example", "x-requested")
    assert headers == [allow("*"), METHODS, *expected_allow_headers]
    assert answered is True


def test_preflight_empty_allowed_headers_string_means_reflect() -> None:
    headers, _ = run_cors({"allowed_headers": ""}, "OPTIONS", None, "x-requested")
    assert headers == [
        allow("*"),
        METHODS,
        ("Vary", "Access-Control-Request-Headers"),
        ("Access-Control-Allow-Headers", "x-requested"),
    ]


def test_preflight_all_options_in_reference_order() -> None:
    cors = {
        "origin": "https://fixed.example",
        "credentials": True,
        "methods": ["GET", "POST"],
        "max_age": 600,
        "exposed_headers": ["X-E", "X-F"],
        "options_success_status": 200,
    }
    headers, answered = run_cors(cors, "options", "https://x.example", "x-a")
    assert headers == [
        allow("https://fixed.example"),
        ("Vary", "Origin, Access-Control-Request-Headers"),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Allow-Methods", "GET,POST"),
        ("Access-Control-Allow-Headers", "x-a"),
        ("Access-Control-Max-Age", "600"),
        ("Access-Control-Expose-Headers", "X-E,X-F"),
    ]
    assert answered is True


def test_preflight_max_age_zero_is_sent_and_empty_methods_omitted() -> None:
    headers, _ = run_cors({"maxAge": 0, "methods": "", "allowed_headers": "X-A"}, "OPTIONS", None)
    assert headers == [allow("*"), ("Access-Control-Allow-Headers", "X-A"), ("Access-Control-Max-Age", "0")]


def test_preflight_continue_sets_headers_but_does_not_answer() -> None:
    headers, answered = run_cors({"preflightContinue": True}, "OPTIONS", None, "x-a")
    assert headers == [
        allow("*"),
        METHODS,
        ("Vary", "Access-Control-Request-Headers"),
        ("Access-Control-Allow-Headers", "x-a"),
    ]
    assert answered is False


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "HEAD", "get"])
def test_actual_requests_never_get_methods_or_allowed_headers(method: str) -> None:
    cors = {
        "origin": MIXED,
        "credentials": True,
        "allowed_headers": ["X-A"],
        "max_age": 60,
        "exposed_headers": "X-E",
    }
    headers, answered = run_cors(cors, method, "https://a.example", "x-a")
    assert headers == [
        allow("https://a.example"),
        VARY,
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Expose-Headers", "X-E"),
    ]
    assert answered is False


def test_credentials_header_only_when_true() -> None:
    assert run_cors({"credentials": False}, "GET", None) == ([allow("*")], False)


@pytest.mark.parametrize("bad_origin", ["https://x.example\r\nSet-Cookie: a=b", "https://x\x00"])
def test_reflecting_an_invalid_origin_raises(bad_origin: str) -> None:
    with pytest.raises(ValueError, match="not allowed in an HTTP header"):
        run_cors({"origin": True}, "GET", bad_origin)
    # Not reflected, so no error: the engine's own Origin check (docs/protocol/engineio.md#verification step 3) answers code 3 later.
    assert run_cors(True, "GET", bad_origin) == ([allow("*")], False)


def test_reflecting_invalid_request_headers_raises() -> None:
    with pytest.raises(ValueError, match="Access-Control-Request-Headers"):
        run_cors(True, "OPTIONS", None, "x-a\r\nx-b")


# ----------------------------------------------------------------------------------------- CORS options


def test_cors_from_user_basic_forms() -> None:
    assert CorsOptions.from_user(None) is None
    assert CorsOptions.from_user(False) is None
    assert CorsOptions.from_user(True) == CorsOptions()
    options = CorsOptions(credentials=True)
    assert CorsOptions.from_user(options) is options
    assert CorsOptions() == CorsOptions(
        origin="*",
        methods="GET,HEAD,PUT,PATCH,POST,DELETE",
        allowed_headers=None,
        exposed_headers=None,
        credentials=False,
        max_age=None,
        preflight_continue=False,
        options_success_status=204,
    )


def test_cors_from_user_camel_case_keys() -> None:
    options = CorsOptions.from_user(
        {
            "allowedHeaders": ["X-A"],
            "exposedHeaders": ["X-E"],
            "maxAge": 5,
            "optionsSuccessStatus": 200,
            "preflightContinue": True,
        }
    )
    assert options == CorsOptions(
        allowed_headers="X-A",
        exposed_headers="X-E",
        max_age=5,
        options_success_status=200,
        preflight_continue=True,
    )


def test_cors_options_are_frozen_and_sequences_are_normalised() -> None:
    options = CorsOptions(origin=["https://a.example"], methods=["GET", "POST"])
    assert options.origin == ("https://a.example",)
    assert options.methods == "GET,POST"
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.credentials = True  # type: ignore[misc]
    assert hash(options) == hash(CorsOptions(origin=("https://a.example",), methods="GET,POST"))


def test_cors_from_user_unknown_key_names_valid_keys() -> None:
    with pytest.raises(TypeError, match="unknown cors option 'origins'") as info:
        CorsOptions.from_user({"origins": "*"})
    for key in ("origin", "methods", "allowed_headers", "exposed_headers", "max_age", "maxAge"):
        assert key in str(info.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"max_age": 1, "maxAge": 2}, "given twice"),
        ("yes", "must be None, a bool, a dict"),
        ({"origin": 42}, "invalid CORS origin"),
        ({"origin": [42]}, "origin list items"),
        ({"max_age": "600"}, "max_age"),
        ({"max_age": True}, "max_age"),
        ({"credentials": "yes"}, "credentials"),
        ({"methods": ["GET", 1]}, "methods"),
        ({"options_success_status": "204"}, "options_success_status"),
    ],
)
def test_cors_from_user_type_errors(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        CorsOptions.from_user(value)


def test_cors_rejects_header_injection_in_configuration() -> None:
    with pytest.raises(ValueError, match="exposed_headers"):
        CorsOptions(exposed_headers="X-A\r\nX-B")


# ----------------------------------------------------------------------------------------- cookie


def cookie(value: object, sid: str = SID) -> str:
    options = CookieOptions.from_user(value)
    assert options is not None
    return set_cookie_header(options, sid)


def test_cookie_from_user_basic_forms() -> None:
    assert CookieOptions.from_user(None) is None
    assert CookieOptions.from_user(False) is None
    assert CookieOptions.from_user(True) == CookieOptions()
    assert CookieOptions.from_user({}) == CookieOptions()
    options = CookieOptions(name="srv")
    assert CookieOptions.from_user(options) is options


def test_cookie_every_attribute_in_serializer_order() -> None:
    value = {
        "name": "srv",
        "same_site": "none",
        "priority": "high",
        "partitioned": True,
        "secure": True,
        "expires": datetime(2030, 1, 5, 7, 8, 9, tzinfo=UTC),
        "path": "/app",
        "domain": "example.com",
        "max_age": 3600,
    }
    assert cookie(value) == (
        f"srv={SID}; Max-Age=3600; Domain=example.com; Path=/app; Expires=Sat, 05 Jan 2030 07:08:09 GMT; "
        "HttpOnly; Secure; Partitioned; Priority=High; SameSite=None"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"path": False}, f"io={SID}; SameSite=Lax"),  # reference: httpOnly defaults to path !== false
        ({"path": False, "http_only": True}, f"io={SID}; HttpOnly; SameSite=Lax"),
        ({"path": None}, f"io={SID}; HttpOnly; SameSite=Lax"),
        ({"same_site": True}, f"io={SID}; Path=/; HttpOnly; SameSite=Strict"),
        ({"same_site": "STRICT"}, f"io={SID}; Path=/; HttpOnly; SameSite=Strict"),
        ({"same_site": False}, f"io={SID}; Path=/; HttpOnly"),
        ({"same_site": None, "http_only": False}, f"io={SID}; Path=/"),
        ({"maxAge": 0, "httpOnly": False, "sameSite": "lax"}, f"io={SID}; Max-Age=0; Path=/; SameSite=Lax"),
        (
            {"priority": "Low", "secure": True},
            f"io={SID}; Path=/; HttpOnly; Secure; Priority=Low; SameSite=Lax",
        ),
        ({"domain": ".example.com"}, f"io={SID}; Domain=.example.com; Path=/; HttpOnly; SameSite=Lax"),
    ],
)
def test_cookie_option_combinations(value: dict[str, Any], expected: str) -> None:
    assert cookie(value) == expected


def test_cookie_expires_is_converted_to_gmt() -> None:
    plus_two = timezone(timedelta(hours=2))
    value = {"expires": datetime(2031, 12, 1, 1, 2, 3, tzinfo=plus_two), "path": None, "same_site": False}
    assert cookie(value) == f"io={SID}; Expires=Sun, 30 Nov 2031 23:02:03 GMT; HttpOnly"


def test_cookie_value_is_encoded_like_encode_uri_component() -> None:
    sid = "a b/c;d=é!*'()~-._"
    assert cookie({"path": None, "same_site": False, "http_only": False}, sid) == (
        "io=a%20b%2Fc%3Bd%3D%C3%A9!*'()~-._"
    )


def test_cookie_from_user_unknown_key_names_valid_keys() -> None:
    with pytest.raises(TypeError, match="unknown cookie option 'encode'") as info:
        CookieOptions.from_user({"encode": str})
    for key in ("name", "path", "domain", "expires", "max_age", "http_only", "same_site", "priority"):
        assert key in str(info.value)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ({"name": "a b"}, ValueError, "cookie name"),
        ({"name": ""}, ValueError, "cookie name"),
        ({"path": "/a;b"}, ValueError, "cookie path"),
        ({"domain": "exa mple.com"}, ValueError, "cookie domain"),
        ({"same_site": "sometimes"}, ValueError, "same_site"),
        ({"same_site": 1}, ValueError, "same_site"),
        ({"priority": "urgent"}, ValueError, "priority"),
        ({"max_age": "60"}, TypeError, "max_age"),
        ({"expires": datetime(2030, 1, 1)}, TypeError, "aware datetime"),
        ({"expires": "2030-01-01"}, TypeError, "aware datetime"),
        ({"secure": "yes"}, TypeError, "secure"),
        ({"maxAge": 1, "max_age": 1}, TypeError, "given twice"),
        (42, TypeError, "must be None, a bool, a dict"),
    ],
)
def test_cookie_invalid_options(value: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        CookieOptions.from_user(value)


# ----------------------------------------------------------------------------------------- compression


def test_compression_from_user() -> None:
    assert CompressionOptions.from_user(True) == CompressionOptions(threshold=1024)
    assert CompressionOptions.from_user(None) == CompressionOptions(threshold=1024)
    assert CompressionOptions.from_user(False) is None
    assert CompressionOptions.from_user({"threshold": 0}) == CompressionOptions(threshold=0)
    options = CompressionOptions(threshold=10)
    assert CompressionOptions.from_user(options) is options


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"level": 9}, "unknown http_compression option 'level'; valid keys are: threshold"),
        ({"threshold": -1}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ("fast", "must be None, a bool, a dict"),
    ],
)
def test_compression_from_user_errors(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        CompressionOptions.from_user(value)


@pytest.mark.parametrize(
    ("accept_encoding", "expected"),
    [
        (None, None),
        ("", None),
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("GZIP", "gzip"),
        ("gzip, deflate, br, zstd", "gzip"),
        ("gzip, deflate", "gzip"),
        ("deflate, gzip", "deflate"),  # equal q: the client's order decides, as in the reference
        ("*", "gzip"),
        ("br", None),
        ("identity", None),
        ("gzip;q=0, *", "deflate"),
        ("deflate;q=0.5, *", "gzip"),
        ("gzip;q=0.5, deflate;q=0.8", "deflate"),
        ("gzip;q=0.8, deflate;q=0.8", "gzip"),
        ("*;q=0.2, gzip;q=0.1", "deflate"),
        ("gzip;q=abc, deflate", "deflate"),
        ("*;q=0", None),
        ("gzip;q=0, deflate;q=0", None),
        ("identity;q=0, gzip;q=0", None),
        ("x, *, gzip;q=0.9", "deflate"),
        ("deflate;level=1;q=0.4, gzip;q=0.3", "deflate"),
        ("gzip;q=.5, deflate;q=0.4", "gzip"),
        (" , gzip", "gzip"),
        ("br;q=1, deflate;q=0.1", "deflate"),
    ],
)
def test_choose_encoding(accept_encoding: str | None, expected: str | None) -> None:
    assert choose_encoding(accept_encoding) == expected


BODY = ("4hello world " * 200).encode() + '42["é"]'.encode()


def test_gzip_round_trip_and_header() -> None:
    data = compress(BODY, "gzip")
    assert gzip.decompress(data) == BODY
    assert data[:4] == b"\x1f\x8b\x08\x00"  # gzip magic, deflate method, no flags
    assert data[4:8] == b"\x00\x00\x00\x00"  # mtime 0, as Node writes it: output is deterministic
    assert compress(BODY, "gzip") == data
    assert len(data) < len(BODY)


def test_deflate_is_zlib_wrapped() -> None:
    data = compress(BODY, "deflate")
    assert zlib.decompress(data) == BODY  # fails on raw deflate
    assert data[0] == 0x78
    assert int.from_bytes(data[:2], "big") % 31 == 0  # RFC 1950 header check
    with pytest.raises(zlib.error):
        zlib.decompress(data, -15)


def test_compress_empty_body_and_unknown_encoding() -> None:
    assert gzip.decompress(compress(b"", "gzip")) == b""
    assert zlib.decompress(compress(b"", "deflate")) == b""
    with pytest.raises(ValueError, match="unsupported content encoding 'br'"):
        compress(BODY, "br")


# ------------------------------------------------------------------------------------ header hooks


def test_hook_values_become_lines_as_node_writes_a_headers_object() -> None:
    # What Node 20's writeHead() puts on the wire for the same object, checked with a Node http server.
    hooked = {
        "Cookie": ["a=1", "b=2"],
        "set-cookie": ["1=1; Max-Age=86400", "2=2"],
        "X-None": [],
        "X-Bool": True,
        "X-One": ("only",),
        "X-Num": 3,
    }
    assert hook_header_pairs(hooked) == [
        ("Cookie", "a=1; b=2"),
        ("set-cookie", "1=1; Max-Age=86400"),
        ("set-cookie", "2=2"),
        ("X-Bool", "true"),
        ("X-One", "only"),
        ("X-Num", "3"),
    ]


# ----------------------------------------------------------------------------------------- purity


def test_module_is_pure() -> None:
    source = Path(headers_module.__file__).read_text(encoding="utf-8")
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"asyncio", "socket", "time", "os", "threading"}
