"""EngineServer over its ASGI app, in-process with httpx: every error code, hook and polling exchange (docs/protocol/engineio.md#polling, docs/protocol/engineio.md#verification, docs/protocol/engineio.md#cors-cookie-hooks, docs/protocol/engineio.md#examples-http)."""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest

from aiosocketio.engineio import EngineConnectionError, EngineServer, EngineSocket
from aiosocketio.web import Request

BASE = "http://test"
PATH = "/engine.io/"


class Harness:
    """An engine, an httpx client on its ASGI app, and a record of what the engine told the application."""

    def __init__(self, **options: Any) -> None:
        self.engine = EngineServer(PATH, **options)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.engine.asgi_app()), base_url=BASE
        )
        self.errors: list[EngineConnectionError] = []
        self.messages: list[str | bytes] = []
        self.closes: list[tuple[str, str, str | None]] = []
        self.sockets: list[EngineSocket] = []
        self.engine.on("connection_error", self.errors.append)
        self.engine.on("connection", self._on_connection)

    def _on_connection(self, socket: EngineSocket) -> None:
        self.sockets.append(socket)
        socket.on("message", self.messages.append)
        socket.on("close", lambda reason, description: self.closes.append((socket.id, reason, description)))

    async def handshake(self) -> str:
        response = await self.client.get(PATH, params={"EIO": "4", "transport": "polling"})
        assert response.status_code == 200, response.text
        return str(orjson.loads(response.text[1:])["sid"])

    async def get(self, sid: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(PATH, params={"EIO": "4", "transport": "polling", "sid": sid}, **kwargs)

    async def post(self, sid: str, body: str | bytes, **kwargs: Any) -> httpx.Response:
        return await self.client.post(
            PATH, params={"EIO": "4", "transport": "polling", "sid": sid}, content=body, **kwargs
        )


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def factory(**options: Any) -> Harness:
        harness = Harness(**options)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        await harness.engine.shutdown()
        await harness.client.aclose()


async def test_polling_handshake_h1(make: Callable[..., Harness]) -> None:
    h = make()
    response = await h.client.get(PATH, params={"EIO": "4", "transport": "polling", "t": "abc123"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=UTF-8"
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    assert response.text[0] == "0"
    body = orjson.loads(response.text[1:])
    assert list(body) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
    assert body["upgrades"] == ["websocket"]
    assert (body["pingInterval"], body["pingTimeout"], body["maxPayload"]) == (25000, 20000, 1000000)
    assert h.engine.clients_count == 1
    assert h.sockets[0].id == body["sid"]
    assert h.sockets[0].transport.name == "polling"
    assert h.sockets[0].ready_state == "open"


@pytest.mark.parametrize(
    ("method", "query", "status", "code", "message", "context"),
    [
        ("GET", {"EIO": "4"}, 400, 0, "Transport unknown", {"transport": None}),
        ("GET", {"EIO": "4", "transport": "flash"}, 400, 0, "Transport unknown", {"transport": "flash"}),
        (
            "GET",
            {"EIO": "4", "transport": "polling", "sid": "nope"},
            400,
            1,
            "Session ID unknown",
            {"sid": "nope"},
        ),
        ("POST", {"EIO": "4", "transport": "polling"}, 400, 2, "Bad handshake method", {"method": "POST"}),
        ("PUT", {"EIO": "4", "transport": "polling"}, 400, 2, "Bad handshake method", {"method": "PUT"}),
        (
            "OPTIONS",
            {"EIO": "4", "transport": "polling"},
            400,
            2,
            "Bad handshake method",
            {"method": "OPTIONS"},
        ),
        (
            "GET",
            {"EIO": "4", "transport": "websocket"},
            400,
            3,
            "Bad request",
            {"name": "TRANSPORT_HANDSHAKE_ERROR"},
        ),
        ("GET", {"transport": "polling"}, 400, 5, "Unsupported protocol version", {"protocol": None}),
        (
            "GET",
            {"EIO": "abc", "transport": "polling"},
            400,
            5,
            "Unsupported protocol version",
            {"protocol": "abc"},
        ),
    ],
)
async def test_error_codes(
    make: Callable[..., Harness],
    method: str,
    query: dict[str, str],
    status: int,
    code: int,
    message: str,
    context: dict[str, Any],
) -> None:
    h = make()
    response = await h.client.request(method, PATH, params=query)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.content == orjson.dumps({"code": code, "message": message})
    assert len(h.errors) == 1
    error = h.errors[0]
    assert (error.code, error.message, error.context) == (code, message, context)
    assert isinstance(error.req, Request)
    assert error.req.method == method
    assert h.engine.clients_count == 0


@pytest.mark.parametrize(
    ("allow", "message"),
    [
        (lambda req: False, "Forbidden"),
        (lambda req: req.headers.get("origin") == "https://ok.example", "Forbidden"),
        (None, "origin not allowed"),
    ],
)
async def test_allow_request_refusal_is_403(make: Callable[..., Harness], allow: Any, message: str) -> None:
    if allow is None:

        async def allow(req: Request) -> bool:
            raise PermissionError("origin not allowed")

    h = make(allow_request=allow)
    response = await h.client.get(
        PATH, params={"EIO": "4", "transport": "polling"}, headers={"Origin": "https://bad.example"}
    )
    assert response.status_code == 403
    assert response.json() == {"code": 4, "message": message}
    # connection_error carries the code's own message, the refusal's text only in its context (as the reference)
    assert [(e.code, e.message) for e in h.errors] == [(4, "Forbidden")]
    assert h.errors[0].context == {"message": None if message == "Forbidden" else message}


async def test_allow_request_async_accepts_and_sees_the_request(make: Callable[..., Harness]) -> None:
    seen: list[Request] = []

    async def allow(req: Request) -> bool:
        seen.append(req)
        return True

    h = make(allow_request=allow)
    await h.handshake()
    assert seen[0].query["EIO"] == "4"
    assert seen[0].path == PATH
    # allow_request is only asked for handshakes
    await h.post(h.sockets[0].id, "4x")
    assert len(seen) == 1


async def test_origin_with_control_characters_is_code_3(make: Callable[..., Harness]) -> None:
    h = make()
    response = await h.client.get(
        PATH, params={"EIO": "4", "transport": "polling"}, headers={"Origin": "https://a.example\x01"}
    )
    assert response.status_code == 400
    assert response.json() == {"code": 3, "message": "Bad request"}
    assert h.errors[0].context["name"] == "INVALID_ORIGIN"


async def test_requests_of_a_live_session_are_checked_too(make: Callable[..., Harness]) -> None:
    h = make()
    sid = await h.handshake()
    bad_origin = await h.get(sid, headers={"Origin": "https://a.example\x01"})
    assert (bad_origin.status_code, bad_origin.json()) == (400, {"code": 3, "message": "Bad request"})
    mismatch = await h.client.get(PATH, params={"EIO": "4", "transport": "websocket", "sid": sid})
    assert (mismatch.status_code, mismatch.json()) == (400, {"code": 3, "message": "Bad request"})
    unknown = await h.client.get(PATH, params={"EIO": "4", "transport": "carrier-pigeon", "sid": sid})
    assert (unknown.status_code, unknown.json()) == (400, {"code": 0, "message": "Transport unknown"})
    contexts = [error.context for error in h.errors]
    assert contexts == [
        {"name": "INVALID_ORIGIN", "origin": "https://a.example\x01"},
        {"name": "TRANSPORT_MISMATCH", "transport": "websocket", "previousTransport": "polling"},
        {"transport": "carrier-pigeon"},
    ]
    # None of that touched the session.
    assert (await h.post(sid, "4ok", headers={"Origin": "https://a.example"})).text == "ok"
    assert h.messages == ["ok"]


@pytest.mark.parametrize("use_async", [False, True])
async def test_generate_id(make: Callable[..., Harness], use_async: bool) -> None:
    h = make()
    ids = iter(["custom-1", "custom-2"])
    if use_async:

        async def generate(req: Request) -> str:
            return next(ids)

        h.engine.generate_id = generate
    else:
        h.engine.generate_id = lambda req: next(ids)
    assert await h.handshake() == "custom-1"
    assert await h.handshake() == "custom-2"
    # exhausted iterator: generation fails → code 3
    response = await h.client.get(PATH, params={"EIO": "4", "transport": "polling"})
    assert response.status_code == 400
    assert response.json() == {"code": 3, "message": "Bad request"}
    assert h.errors[-1].context["name"] == "ID_GENERATION_ERROR"


async def test_post_answers_ok_and_delivers_in_order(make: Callable[..., Harness]) -> None:  # H13, P1
    h = make()
    sid = await h.handshake()
    response = await h.post(sid, "4test1\x1e4test2\x1ebAQIDBA==\x1e4test3")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html"
    assert response.headers["content-length"] == "2"
    assert response.headers["cache-control"] == "no-store"
    assert response.text == "ok"
    assert h.messages == ["test1", "test2", b"\x01\x02\x03\x04", "test3"]


async def test_get_returns_buffered_packets_joined(make: Callable[..., Harness]) -> None:  # P2, P4
    h = make()
    sid = await h.handshake()
    socket = h.sockets[0]
    await socket.send("é")
    await socket.send(b"\x01\x02\x03\x04")
    await socket.send("😀")
    response = await h.get(sid)
    assert response.content == "4é\x1ebAQIDBA==\x1e4😀".encode()
    assert response.headers["content-length"] == str(len("4é\x1ebAQIDBA==\x1e4😀".encode()))


async def test_held_get_is_answered_when_something_is_sent(make: Callable[..., Harness]) -> None:
    h = make()
    sid = await h.handshake()
    poll = asyncio.ensure_future(h.get(sid))
    await asyncio.sleep(0.05)
    assert not poll.done()
    h.sockets[0].write("one")
    h.sockets[0].write("two")  # same loop turn: one payload
    response = await asyncio.wait_for(poll, 2)
    assert response.text == "4one\x1e4two"


async def test_octet_stream_post_closes_the_session_h14(make: Callable[..., Harness]) -> None:
    h = make()
    sid = await h.handshake()
    response = await h.post(sid, b"\x01\x02\x03", headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 400
    assert response.content == b""
    assert h.closes == [(sid, "transport error", "invalid content")]
    assert (await h.get(sid)).json() == {"code": 1, "message": "Session ID unknown"}


async def test_overlapping_gets_close_the_session_h15(make: Callable[..., Harness]) -> None:
    h = make()
    sid = await h.handshake()
    first = asyncio.ensure_future(h.get(sid))
    await asyncio.sleep(0.05)
    second = await h.get(sid)
    assert second.status_code == 400
    assert second.content == b""
    first_response = await asyncio.wait_for(first, 2)
    assert (first_response.status_code, first_response.text) == (200, "1")
    assert h.closes == [(sid, "transport error", "overlap from client")]
    assert (await h.get(sid)).json()["code"] == 1


async def test_client_close_releases_the_get_with_noop_h16(make: Callable[..., Harness]) -> None:
    h = make()
    sid = await h.handshake()
    poll = asyncio.ensure_future(h.get(sid))
    await asyncio.sleep(0.05)
    response = await h.post(sid, "1")
    assert response.text == "ok"
    released = await asyncio.wait_for(poll, 2)
    assert (released.status_code, released.text) == (200, "6")
    assert h.closes == [(sid, "transport close", None)]
    assert (await h.get(sid)).json()["code"] == 1
    assert h.engine.clients_count == 0


async def test_oversized_post_is_413_h17(make: Callable[..., Harness]) -> None:
    h = make(max_http_buffer_size=1000)
    sid = await h.handshake()
    response = await h.post(sid, "4" + "x" * 1000)
    assert response.status_code == 413
    assert response.content == b""
    assert h.messages == []
    ok = await h.post(sid, "4" + "x" * 999)
    assert ok.text == "ok"
    assert h.messages == ["x" * 999]


async def test_invalid_payload_delivers_the_good_prefix_then_closes_p5(make: Callable[..., Harness]) -> None:
    h = make()
    sid = await h.handshake()
    response = await h.post(sid, "4a\x1eabc\x1e4b")
    assert response.status_code == 400
    assert h.messages == ["a"]
    assert h.closes == [(sid, "parse error", None)]
    assert (await h.get(sid)).json()["code"] == 1


@pytest.mark.parametrize("body", ["", "4a\x1e", "\x1e\x1e", "9"])
async def test_bad_payloads_close_with_parse_error(make: Callable[..., Harness], body: str) -> None:
    h = make()
    sid = await h.handshake()
    assert (await h.post(sid, body)).status_code == 400
    assert h.closes[0][1] == "parse error"


async def test_invalid_utf8_payload_does_not_break_the_server(make: Callable[..., Harness]) -> None:
    h = make()
    sid = await h.handshake()
    other = await h.handshake()
    response = await h.post(sid, b"4\xff\xfe")
    # As the reference reads a text body: each invalid UTF-8 sequence becomes U+FFFD, the POST is ok.
    assert (response.status_code, response.text) == (200, "ok")
    assert (await h.post(other, "4still-here")).text == "ok"
    assert h.messages == ["\ufffd\ufffd", "still-here"]


async def test_unknown_method_on_a_live_session_is_a_4xx_and_keeps_it(
    make: Callable[..., Harness],
) -> None:  # H19
    h = make()
    sid = await h.handshake()
    for method in ("DELETE", "PUT", "PATCH"):
        response = await h.client.request(
            method, PATH, params={"EIO": "4", "transport": "polling", "sid": sid}
        )
        assert response.status_code == 405
    assert (await h.post(sid, "4alive")).text == "ok"
    assert h.closes == []


async def test_heartbeat_over_polling_h23_h24(make: Callable[..., Harness]) -> None:
    h = make(ping_interval=0.2, ping_timeout=0.15)
    sid = await h.handshake()
    for _ in range(3):
        response = await asyncio.wait_for(h.get(sid), 2)
        assert response.text == "2"
        assert (await h.post(sid, "3")).text == "ok"
    # now stay silent past ping_interval + ping_timeout
    await asyncio.sleep(0.5)
    assert (await h.get(sid)).json() == {"code": 1, "message": "Session ID unknown"}
    assert h.closes == [(sid, "ping timeout", None)]


async def test_server_close_without_a_get_appends_close_to_the_next_get(make: Callable[..., Harness]) -> None:
    h = make()
    sid = await h.handshake()
    await h.sockets[0].close()
    assert h.closes == []  # waits for the client's next GET
    response = await h.get(sid)
    assert response.text == "6\x1e1"
    assert h.closes == [(sid, "forced close", None)]


async def test_server_close_flushes_buffered_packets_first(make: Callable[..., Harness]) -> None:
    h = make()
    sid = await h.handshake()
    h.sockets[0].write("bye")
    await h.sockets[0].close()
    assert (await h.get(sid)).text == "4bye\x1e1"


async def test_server_close_with_a_pending_get(make: Callable[..., Harness]) -> None:
    h = make()
    sid = await h.handshake()
    poll = asyncio.ensure_future(h.get(sid))
    await asyncio.sleep(0.05)
    await h.sockets[0].close()
    assert (await asyncio.wait_for(poll, 2)).text == "1"
    assert h.closes == [(sid, "forced close", None)]


async def test_cookie_h22(make: Callable[..., Harness]) -> None:
    h = make(cookie=True)
    sid = await h.handshake()
    response = await h.client.get(PATH, params={"EIO": "4", "transport": "polling"})
    other = orjson.loads(response.text[1:])["sid"]
    assert response.headers["set-cookie"] == f"io={other}; Path=/; HttpOnly; SameSite=Lax"
    # only the handshake sets it
    h.sockets[0].write("x")
    assert "set-cookie" not in (await h.get(sid)).headers


async def test_header_hooks(make: Callable[..., Harness]) -> None:
    h = make()
    calls: list[str] = []

    def initial(headers: dict[str, str], req: Request) -> None:
        calls.append("initial")
        headers["X-Initial"] = "1"
        headers["X-Both"] = "initial"

    def every(headers: dict[str, str], req: Request) -> None:
        calls.append("headers")
        headers["X-Both"] = "headers"  # runs after initial_headers, so it wins

    h.engine.on("initial_headers", initial)
    h.engine.on("headers", every)
    response = await h.client.get(PATH, params={"EIO": "4", "transport": "polling"})
    assert calls == ["initial", "headers"]
    assert response.headers["x-initial"] == "1"
    assert response.headers["x-both"] == "headers"
    sid = orjson.loads(response.text[1:])["sid"]
    post = await h.post(sid, "4x")
    assert calls == ["initial", "headers", "headers"]
    assert "x-initial" not in post.headers
    assert post.headers["x-both"] == "headers"


async def test_a_hook_replaces_cache_control_under_the_references_key(make: Callable[..., Harness]) -> None:
    # The reference gives hooks "cache-control" in lower case: setting that key replaces the value, once.
    h = make()
    h.engine.on("headers", lambda headers, req: headers.__setitem__("cache-control", "private"))
    response = await h.client.get(PATH, params={"EIO": "4", "transport": "polling"})
    assert response.headers.get_list("cache-control") == ["private"]
    sid = orjson.loads(response.text[1:])["sid"]
    post = await h.post(sid, "4x")
    assert post.headers.get_list("cache-control") == ["private"]
    h.sockets[0].write("y")
    poll = await h.get(sid)
    assert poll.headers.get_list("cache-control") == ["private"]


async def test_cors_preflight_h20_h21(make: Callable[..., Harness]) -> None:
    h = make(cors={"origin": ["https://app.example"], "credentials": True})
    response = await h.client.options(
        PATH, params={"EIO": "4", "transport": "polling"}, headers={"Origin": "https://app.example"}
    )
    assert response.status_code == 204
    assert response.headers["content-length"] == "0"
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert response.headers["vary"] == "Origin, Access-Control-Request-Headers"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-allow-methods"] == "GET,HEAD,PUT,PATCH,POST,DELETE"
    evil = await h.client.options(
        PATH, params={"EIO": "4", "transport": "polling"}, headers={"Origin": "https://evil.example"}
    )
    assert evil.status_code == 204
    assert "access-control-allow-origin" not in evil.headers
    assert evil.headers["access-control-allow-methods"] == "GET,HEAD,PUT,PATCH,POST,DELETE"
    assert h.errors == []


async def test_cors_headers_on_actual_and_error_responses(make: Callable[..., Harness]) -> None:
    h = make(cors={"origin": re.compile(r"^https://.*\.example$"), "credentials": True})
    origin = {"Origin": "https://app.example"}
    ok = await h.client.get(PATH, params={"EIO": "4", "transport": "polling"}, headers=origin)
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-methods" not in ok.headers
    error = await h.client.get(PATH, params={"EIO": "4", "transport": "polling", "sid": "x"}, headers=origin)
    assert error.status_code == 400
    assert error.headers["access-control-allow-origin"] == "https://app.example"
    assert error.headers["access-control-allow-credentials"] == "true"


@pytest.mark.parametrize(
    ("cors", "expected"),
    [
        ({"origin": "*"}, [("access-control-allow-origin", "*")]),
        (
            {"origin": "https://app.example", "credentials": True, "exposed_headers": ["x-a", "x-b"]},
            [
                ("access-control-allow-origin", "https://app.example"),
                ("vary", "Origin"),
                ("access-control-allow-credentials", "true"),
                ("access-control-expose-headers", "x-a,x-b"),
            ],
        ),
    ],
)
async def test_fixed_cors_headers_on_every_polling_response(
    make: Callable[..., Harness], cors: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    h = make(cors=cors)
    origin = {"Origin": "https://elsewhere.example"}  # a fixed origin is sent whatever the request's
    handshake = await h.client.get(PATH, params={"EIO": "4", "transport": "polling"}, headers=origin)
    sid = orjson.loads(handshake.text[1:])["sid"]
    post = await h.post(sid, "4x", headers=origin)
    await h.sockets[0].send("y")
    get = await h.get(sid, headers=origin)
    refused = await h.get("no-such-sid", headers=origin)
    preflight = await h.client.options(PATH, params={"EIO": "4", "transport": "polling"}, headers=origin)
    for response in (handshake, post, get, refused):
        cors_headers = [
            (k, v) for k, v in response.headers.items() if k.startswith(("access-control", "vary"))
        ]
        assert cors_headers == expected
    assert (post.text, get.text, refused.status_code) == ("ok", "4y", 400)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "GET,HEAD,PUT,PATCH,POST,DELETE"


async def test_cors_origin_callable_failure_is_code_3(make: Callable[..., Harness]) -> None:
    async def origin(value: str | None) -> str:
        raise RuntimeError("boom")

    h = make(cors={"origin": origin})
    response = await h.client.get(
        PATH, params={"EIO": "4", "transport": "polling"}, headers={"Origin": "https://x"}
    )
    assert response.status_code == 400
    assert response.json() == {"code": 3, "message": "Bad request"}
    assert h.errors[0].context["name"] == "MIDDLEWARE_FAILURE"


async def test_gzip_over_the_threshold(make: Callable[..., Harness]) -> None:
    h = make()
    sid = await h.handshake()
    h.sockets[0].write("y" * 2000)
    response = await h.get(sid, headers={"Accept-Encoding": "gzip, deflate"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == "4" + "y" * 2000  # httpx decompresses
    h.sockets[0].write("small")
    small = await h.get(sid, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
    assert gzip.compress(b"x")  # sanity: gzip available


async def test_compression_can_be_disabled(make: Callable[..., Harness]) -> None:
    h = make(http_compression=False)
    sid = await h.handshake()
    h.sockets[0].write("y" * 2000)
    response = await h.get(sid, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize(
    ("path", "request_path", "handled"),
    [
        ("/engine.io/", "/engine.io/", True),
        ("/engine.io", "/engine.io/", True),
        ("/engine.io/", "/engine.io/anything", True),  # prefix match (docs/protocol/engineio.md#endpoint)
        ("/engine.io/", "/engine.io", False),
        ("/custom", "/custom/", True),
        ("/engine.io/", "/other/", False),
    ],
)
async def test_path_matching(path: str, request_path: str, handled: bool) -> None:
    engine = EngineServer(path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=engine.asgi_app()), base_url=BASE
    ) as client:
        response = await client.get(request_path, params={"EIO": "4", "transport": "polling"})
    await engine.shutdown()
    assert (response.status_code == 200) is handled
    if not handled:
        assert response.status_code == 404


async def test_other_app_gets_every_other_path() -> None:
    async def other(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"other:" + scope["path"].encode()})

    engine = EngineServer()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=engine.asgi_app(other)), base_url=BASE
    ) as client:
        assert (await client.get("/hello")).text == "other:/hello"
        assert (await client.get("/engine.io/", params={"EIO": "4", "transport": "polling"})).text[0] == "0"
    await engine.shutdown()


async def test_a_client_that_stops_polling_is_dropped_past_max_queued_bytes(
    make: Callable[..., Harness],
) -> None:
    h = make(max_queued_bytes=10_000)
    sid = await h.handshake()
    socket = h.sockets[0]
    for _ in range(9):
        socket.write("x" * 1000)  # no GET waits: queued
    assert not socket.writable  # volatile packets are dropped meanwhile
    assert h.closes == []
    response = await h.get(sid)  # the client comes back in time: it gets all of it
    assert response.text == "\x1e".join(["4" + "x" * 1000] * 9)
    for _ in range(11):
        socket.write("x" * 1000)  # past the limit: the session goes, with its backlog
    assert h.closes == [(sid, "transport error", "write buffer full")]
    response = await h.get(sid)
    assert response.status_code == 400
    assert response.json() == {"code": 1, "message": "Session ID unknown"}


def test_programmer_mistakes_raise_at_once() -> None:
    with pytest.raises(ValueError, match="ping_interval"):
        EngineServer(ping_interval=0)
    with pytest.raises(TypeError, match="sequence of names"):
        EngineServer(transports="polling")
    with pytest.raises(ValueError, match="transports"):
        EngineServer(transports=("flash",))
    with pytest.raises(ValueError, match="path"):
        EngineServer("engine.io")
    with pytest.raises(ValueError, match="max_queued_bytes"):
        EngineServer(max_queued_bytes=0)
    with pytest.raises(TypeError):
        EngineServer(cors={"orign": "*"})


async def test_shutdown_closes_everything_with_forced_close(make: Callable[..., Harness]) -> None:
    h = make()
    sid = await h.handshake()
    poll = asyncio.ensure_future(h.get(sid))
    await asyncio.sleep(0.05)
    await h.engine.shutdown()
    assert (await asyncio.wait_for(poll, 2)).text == "1"
    assert h.closes == [(sid, "forced close", None)]
    assert h.engine.clients_count == 0
