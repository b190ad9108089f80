"""``answer_at_once`` (the long-polling hot path both front-ends try first) answers exactly as ``handle_http``.

Two identical engines get the same requests: one only through ``handle_http`` (the long way, with a
:class:`Request`), the other through ``answer_at_once`` first, falling back to ``handle_http`` when it says
None. Every answer (status, headers in order, body) and everything the application saw (messages, packets,
closes) must be the same; each case also says which requests the quick lane must have answered, so a quick lane
that always declined would fail here.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosocketio.engineio import EngineServer, EngineSocket
from aiosocketio.web import FixedHeaders, Headers, HeldAnswer, Request, Response

PATH = "/engine.io/"
SID = "s1"
Q = b"EIO=4&transport=polling&sid=s1"
UA_MSIE = b"Mozilla/4.0 (compatible;MSIE 7.0; Windows NT 6.0)"


class Twin:
    """One engine and a log of what its application saw."""

    def __init__(self, **options: Any) -> None:
        self.engine = EngineServer(PATH, **options)
        self.engine.generate_id = lambda request: SID
        self.log: list[tuple[Any, ...]] = []
        self.socket: EngineSocket | None = None
        self.quick_lane = True
        self.engine.on("connection", self._on_connection)

    def _on_connection(self, socket: EngineSocket) -> None:
        self.socket = socket
        socket.on("message", lambda data: self.log.append(("message", data)))
        socket.on("close", lambda reason, description: self.log.append(("close", reason, description)))

    async def handshake(self) -> None:
        response = await self.slow("GET", b"EIO=4&transport=polling", [], b"")
        assert response.status == 200, response
        assert response.body.startswith(b'0{"sid":"s1"'), response

    async def slow(
        self, method: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Response:
        request = Request(method, PATH, query.decode("latin-1"), Headers.from_raw(headers), body=body)
        return await self.engine.handle_http(request)

    async def quick_first(
        self, method: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[Response, bool]:
        response = self.engine.answer_at_once(method, PATH, query, headers, body)
        if response is not None:
            return response, True
        return await self.slow(method, query, headers, body), False


def _answer(response: Response) -> tuple[int, list[tuple[str, str]], bytes]:
    return response.status, list(response.headers), response.body


async def _compare(steps: list[tuple[Any, ...]], **options: Any) -> tuple[Twin, Twin]:
    """Run ``steps`` on both twins: ``("write", data)`` makes the server send, ``("req", method, query, headers,
    body, quick)`` is a request whose answer must match and ``quick`` says whether the quick lane must answer."""
    slow, quick = Twin(**options), Twin(**options)
    await slow.handshake()
    await quick.handshake()
    for step in steps:
        if step[0] == "write":
            for twin in (slow, quick):
                assert twin.socket is not None
                twin.socket.write(step[1])
            continue
        _, method, query, headers, body, expect_quick = step
        expected = await slow.slow(method, query, headers, body)
        got, answered_quick = await quick.quick_first(method, query, headers, body)
        assert _answer(got) == _answer(expected), step
        assert answered_quick is expect_quick, step
    assert quick.log == slow.log
    assert quick.socket is not None
    assert slow.socket is not None
    assert quick.socket.ready_state == slow.socket.ready_state
    for twin in (slow, quick):
        await twin.engine.shutdown()
    return slow, quick


async def test_post_then_get() -> None:
    slow, _ = await _compare(
        [
            ("req", "POST", Q, [(b"content-type", b"text/plain;charset=UTF-8")], b"4hello", True),
            ("req", "POST", Q, [], "4é☃".encode(), True),
            ("req", "POST", Q, [], b"4a\x1e4b\x1ebAQID\x1e3", True),  # several packets, binary, a pong
            ("req", "POST", Q, [], b"4", True),  # a message without data
            ("write", "one"),
            ("write", b"\x01\x02"),
            ("req", "GET", Q + b"&t=Pq3x", [], b"", True),
        ]
    )
    assert ("message", "hello") in slow.log
    assert ("message", b"\x01\x02\x03") in slow.log


async def test_answers_with_fixed_headers_only_when_nothing_varies() -> None:
    twin = Twin(cors={"origin": "https://example.com", "credentials": True})
    await twin.handshake()
    assert twin.socket is not None
    twin.socket.write("x")
    response = twin.engine.answer_at_once("GET", PATH, Q, [], b"")
    assert response is not None
    assert type(response.headers) is FixedHeaders
    assert dict(response.headers)["Access-Control-Allow-Origin"] == "https://example.com"
    assert response.body == b"4x"
    await twin.engine.shutdown()


@pytest.mark.parametrize(
    "headers",
    [
        [(b"origin", b"https://example.com"), (b"user-agent", b"curl/8")],
        [(b"user-agent", UA_MSIE)],  # old Internet Explorer: X-XSS-Protection
        [(b"accept-encoding", b"gzip, deflate")],
        [(b"accept-encoding", b"deflate")],
    ],
)
async def test_get_headers_and_compression(headers: list[tuple[bytes, bytes]]) -> None:
    big = "y" * 5000  # past the default compression threshold (1024 bytes)
    await _compare([("write", big), ("req", "GET", Q, headers, b"", True)], cors={"origin": "*"})


async def test_get_compressed_body_is_gzip() -> None:
    twin = Twin()
    await twin.handshake()
    assert twin.socket is not None
    twin.socket.write("z" * 4000)
    response = twin.engine.answer_at_once("GET", PATH, Q, [(b"accept-encoding", b"gzip")], b"")
    assert response is not None
    assert ("Content-Encoding", "gzip") in list(response.headers)
    assert gzip.decompress(response.body) == b"4" + b"z" * 4000
    await twin.engine.shutdown()


@pytest.mark.parametrize(
    ("method", "query", "headers", "body"),
    [
        ("POST", Q, [(b"content-type", b"application/octet-stream")], b"4x"),  # 400, the session closes
        ("POST", Q, [], b"4" + b"x" * 2000),  # over max_http_buffer_size: 413
        ("POST", b"EIO=4&transport=polling&sid=nope", [], b"4x"),  # unknown sid: 400
        ("POST", b"EIO=4&transport=websocket&sid=s1", [], b"4x"),  # transport mismatch: 400
        ("POST", b"EIO=4&sid=s1", [], b"4x"),  # no transport
        ("POST", Q, [(b"origin", b"https://a"), (b"origin", b"https://b")], b"4x"),  # joined by Headers
        ("POST", Q, [(b"origin", b"https://bad\x01")], b"4x"),  # an invalid origin: 400
        ("PUT", Q, [], b"4x"),  # 405
        ("OPTIONS", Q, [], b""),
    ],
)
async def test_declines_what_it_does_not_answer(
    method: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await _compare(
        [("req", method, query, headers, body, False), ("req", "POST", Q, [], b"4after", False)]
        if method == "POST" and b"octet" in (headers[0][1] if headers else b"")
        else [("req", method, query, headers, body, False), ("req", "POST", Q, [], b"4after", True)],
        max_http_buffer_size=1000,
    )


@pytest.mark.parametrize("body", [b"x", b"4a\x1e", b"", b"4a\x1e\x1e4b", b"4ok\x1e9"])
async def test_bad_payloads_close_the_same_way(body: bytes) -> None:
    # Packets before the bad piece are delivered, then 400 and "parse error"; the next request finds no session.
    slow, _ = await _compare([("req", "POST", Q, [], body, True), ("req", "POST", Q, [], b"4late", False)])
    assert slow.log[-1][:2] == ("close", "parse error")


async def test_percent_encoded_queries_are_read_as_handle_http_reads_them() -> None:
    # Both parse the query with parse_query (as Request.query does): an escaped sid names the same session.
    await _compare(
        [
            ("req", "POST", b"EIO=4&transport=polling&sid=s%31", [], b"4a", True),
            ("req", "POST", b"EIO=4&transport=polli%6Eg&sid=s1", [], b"4b", True),
            ("req", "POST", b"EIO=4&transport=polling&sid=s%32", [], b"4c", False),  # unknown: 400
        ]
    )


async def test_first_value_of_a_repeated_query_name_wins() -> None:
    await _compare(
        [
            ("req", "POST", b"EIO=4&transport=polling&sid=s1&sid=other", [], b"4a", True),
            ("req", "POST", b"EIO=4&transport=polling&transport=websocket&sid=s1", [], b"4b", True),
            ("req", "POST", b"EIO=4&sid=other&transport=polling&sid=s1", [], b"4c", False),  # unknown: 400
        ]
    )


async def test_a_client_close_packet_closes_the_session() -> None:
    slow, _ = await _compare([("req", "POST", Q, [], b"4bye\x1e1", True), ("write", "late")])
    assert slow.log[-1][:2] == ("close", "transport close")


async def test_a_ping_from_the_client_closes_the_session() -> None:
    slow, _ = await _compare([("req", "POST", Q, [], b"2", True), ("req", "GET", Q, [], b"", False)])
    assert slow.log[-1] == ("close", "transport error", "invalid heartbeat direction")


async def test_declines_when_a_hook_needs_the_request() -> None:
    seen: list[Request] = []

    def hook(headers: dict[str, str], request: Request) -> None:
        seen.append(request)
        headers["X-Hook"] = "1"

    twin = Twin()
    await twin.handshake()
    twin.engine.on("headers", hook)
    assert twin.engine.answer_at_once("POST", PATH, Q, [], b"4x") is None
    assert twin.log == []  # declined before delivering anything
    response = await twin.slow("POST", Q, [], b"4x")
    assert dict(response.headers)["X-Hook"] == "1"
    assert len(seen) == 1
    await twin.engine.shutdown()


async def test_declines_when_cors_depends_on_the_request() -> None:
    twin = Twin(cors={"origin": lambda origin: origin == "https://ok"})
    await twin.handshake()
    assert twin.engine.answer_at_once("POST", PATH, Q, [(b"origin", b"https://ok")], b"4x") is None
    await twin.engine.shutdown()


def _hook(headers: dict[str, object], request: Request) -> None:
    headers["X-Hook"] = f"{request.method} {request.url} {request.headers.get('user-agent')}"
    headers["Set-Cookie"] = ["1=1; Max-Age=86400", "2=2"]  # one header line each


async def _held(twin: Twin, quick: bool, headers: list[tuple[bytes, bytes]]) -> asyncio.Future[Response]:
    """A GET that waits: held by the quick lane, or a handle_http task."""
    if not quick:
        return asyncio.ensure_future(twin.slow("GET", Q, headers, b""))
    held = twin.engine.answer_at_once("GET", PATH, Q, headers, b"")
    assert isinstance(held, HeldAnswer)
    answer: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
    held.bind(answer.set_result)
    return answer


async def _on_both(action: str, twin: Twin) -> None:
    socket = twin.socket
    assert socket is not None
    if action == "write":
        socket.write("later")
        socket.write(b"\x00")
    elif action == "write-big":
        socket.write("w" * 3000)
    elif action == "close":
        socket.close_nowait()
    elif action == "shutdown":
        await twin.engine.shutdown()
    elif action == "overlap":
        answer = (
            await twin.quick_first("GET", Q, [], b"")
            if twin.quick_lane
            else (await twin.slow("GET", Q, [], b""), 0)
        )
        twin.log.append(("overlap answer", _answer(answer[0])))
    elif action == "client-close":
        answer = await twin.quick_first("POST", Q, [], b"1")
        twin.log.append(("post answer", _answer(answer[0])))
    elif action == "hook-then-write":
        twin.engine.on("headers", _hook)
        socket.write("hooked")


@pytest.mark.parametrize(
    "action", ["write", "write-big", "close", "shutdown", "overlap", "client-close", "hook-then-write"]
)
@pytest.mark.parametrize(
    "headers", [[], [(b"user-agent", UA_MSIE), (b"accept-encoding", b"gzip")]], ids=["plain", "msie-gzip"]
)
async def test_a_held_get_gets_what_handle_http_gives(
    action: str, headers: list[tuple[bytes, bytes]]
) -> None:
    answers = []
    logs = []
    for quick in (False, True):
        twin = Twin(cors={"origin": "*"})
        twin.quick_lane = quick
        await twin.handshake()
        waiting = await _held(twin, quick, headers)
        await asyncio.sleep(0.01)
        assert not waiting.done()
        await _on_both(action, twin)
        answers.append(_answer(await asyncio.wait_for(waiting, 1)))
        logs.append(twin.log)
        await twin.engine.shutdown()
    assert answers[1] == answers[0]
    assert logs[1] == logs[0]
    if action == "hook-then-write":  # the hook saw the held GET as a Request
        assert (
            "X-Hook",
            f"GET {PATH}?{Q.decode()} {dict(headers).get(b'user-agent', b'').decode() or None}",
        ) in answers[0][1]
        assert [value for name, value in answers[0][1] if name == "Set-Cookie"] == [
            "1=1; Max-Age=86400",
            "2=2",
        ]


async def test_a_held_get_the_client_left_closes_the_session_as_an_aborted_poll() -> None:
    logs = []
    for quick in (False, True):
        twin = Twin()
        await twin.handshake()
        if quick:
            held = twin.engine.answer_at_once("GET", PATH, Q, [], b"")
            assert isinstance(held, HeldAnswer)
            held.bind(lambda response: pytest.fail("no answer after cancel"))
            assert held.cancel() is True
            assert held.cancel() is False
        else:
            task = asyncio.ensure_future(twin.slow("GET", Q, [], b""))
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        logs.append(twin.log)
        await twin.engine.shutdown()
    assert logs[1] == logs[0] == [("close", "transport error", "poll connection closed prematurely")]


async def test_a_held_answer_once_given_cannot_be_cancelled() -> None:
    twin = Twin()
    await twin.handshake()
    assert twin.socket is not None
    held = twin.engine.answer_at_once("GET", PATH, Q, [], b"")
    assert isinstance(held, HeldAnswer)
    got: list[Response] = []
    held.bind(got.append)
    twin.socket.write("x")
    await asyncio.sleep(0.01)  # the flush runs on the next loop turn
    assert [response.body for response in got] == [b"4x"]
    assert held.cancel() is False
    assert twin.log == []  # the session lives on
    await twin.engine.shutdown()


async def test_a_get_during_a_pending_one_goes_the_long_way() -> None:
    twin = Twin()
    await twin.handshake()
    held = asyncio.ensure_future(twin.slow("GET", Q, [], b""))
    await asyncio.sleep(0.01)
    assert twin.engine.answer_at_once("GET", PATH, Q, [], b"") is None
    overlapping = await twin.slow("GET", Q, [], b"")
    assert overlapping.status == 400  # overlap from client: the session closes
    assert (await asyncio.wait_for(held, 1)).status == 200
    await twin.engine.shutdown()


class CountingEngine(EngineServer):
    """Counts the requests that went the long way; ``fail`` makes the quick lane raise."""

    long_way = 0
    fail = False

    async def handle_http(self, request: Request) -> Response:
        CountingEngine.long_way += 1
        return await super().handle_http(request)

    def answer_at_once(
        self, method: str, path: str, query: bytes, headers: Any, body: bytes
    ) -> Response | None:
        if CountingEngine.fail:
            raise RuntimeError("quick boom (expected by the test)")
        return super().answer_at_once(method, path, query, headers, body)


async def asgi_request(
    app: Any,
    method: str,
    query: bytes,
    body: bytes = b"",
    *,
    chunks: list[bytes] | None = None,
    leave: bool = False,
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One request through an ASGI app with its whole body in one message, as uvicorn and hypercorn send a small
    one (httpx's ASGITransport always streams, so the quick lane would never be offered)."""
    if chunks is None:
        messages = [{"type": "http.request", "body": body, "more_body": False}]
    else:  # as hypercorn sends a body: one message per chunk, then an empty last one (or the client leaves)
        messages = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]
        messages.append({"type": "http.disconnect"} if leave else {"type": "http.request", "body": b""})
    messages.reverse()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client stays
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": PATH,
        "query_string": query,
        "headers": [(b"host", b"test"), (b"user-agent", b"test")],
        "client": ("127.0.0.1", 5000),
        "scheme": "http",
    }
    await asyncio.wait_for(app(scope, receive, send), 5)
    if leave:
        assert sent == []
        return 0, {}, b""
    start, content = sent
    return start["status"], dict(start["headers"]), content["body"]


async def test_the_asgi_front_end_answers_at_once(caplog: pytest.LogCaptureFixture) -> None:
    engine = CountingEngine(PATH, cors={"origin": "*"})
    sockets: list[EngineSocket] = []
    engine.on("connection", sockets.append)
    app = engine.asgi_app()
    status, _, body = await asgi_request(app, "GET", b"EIO=4&transport=polling")
    query = b"EIO=4&transport=polling&sid=" + orjson.loads(body[1:])["sid"].encode()
    assert CountingEngine.long_way == 1
    status, headers, body = await asgi_request(app, "POST", query, b"4hi")
    assert (status, body) == (200, b"ok")
    assert headers[b"access-control-allow-origin"] == b"*"
    sockets[0].write("back")
    for _ in range(2):  # the second answer reuses the encoding the first one kept in the FixedHeaders
        status, headers, body = await asgi_request(app, "GET", query)
        assert (status, body) == (200, b"4back")
        assert headers[b"content-type"] == b"text/plain; charset=UTF-8"
        assert headers[b"content-length"] == b"5"
        sockets[0].write("back")
    assert CountingEngine.long_way == 1  # all answered at once
    CountingEngine.fail = True
    with caplog.at_level(logging.CRITICAL, logger="aiosocketio.asgi"):
        status, _, _ = await asgi_request(app, "POST", query, b"4x")
    assert status == 500
    CountingEngine.fail = False
    await engine.shutdown()


# -- any request: property-based ----------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        b"4hi",
        b"4",
        "4é".encode(),
        b"bAQID",
        b"b",
        b"3",
        b"2",
        b"1",
        b"6",
        b"5",
        b"0",
        b"x",
        b"",
        b"4\xff\xfe",
        b"3probe",
    ]
)
_GOOD_PIECES = st.sampled_from([b"4hi", b"4", "4é".encode(), b"bAQID", b"3", b"6"])
_QUERY_PARTS = st.sampled_from(
    [
        b"EIO=4",
        b"transport=polling",
        b"transport=websocket",
        b"sid=s1",
        b"sid=s2",
        b"sid=",
        b"sid",
        b"t=N1x",
        b"",
        b"sid=s%31",
        b"transport=poll+ing",
        b"j=0",
        b"EIO=3",
    ]
)
_HEADER = st.tuples(
    st.sampled_from([b"origin", b"content-type", b"user-agent", b"accept-encoding", b"host", b"cookie"]),
    st.sampled_from(
        [
            b"https://a.example",
            b"bad\x01origin",
            b"text/plain;charset=UTF-8",
            b"application/octet-stream",
            b"Mozilla/5.0 Trident/7.0",
            b"gzip",
            b"deflate, gzip",
            b"",
            b"\t",
        ]
    ),
)
_REQUEST = st.tuples(
    st.sampled_from(["GET", "GET", "POST", "POST", "POST", "PUT", "OPTIONS"]),
    st.one_of(
        st.just(Q),  # the usual query, most of the time
        st.just(Q),
        st.lists(_QUERY_PARTS, max_size=3).map(lambda parts: b"&".join([Q, *parts])),
        st.lists(_QUERY_PARTS, max_size=3).map(lambda parts: b"&".join([*parts, Q])),
        st.lists(_QUERY_PARTS, max_size=5).map(b"&".join),
    ),
    st.lists(_HEADER, max_size=3),
    st.one_of(st.lists(_GOOD_PIECES, min_size=1, max_size=4), st.lists(_PIECES, min_size=1, max_size=4)).map(
        b"\x1e".join
    ),
)


#: Whether each request of the property test was answered by the quick lane (a check that it is exercised).
ANSWERED_AT_ONCE: list[bool] = []


@pytest.mark.parametrize("options", [{"cors": {"origin": "*"}}, {}], ids=["cors", "no-cors"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    requests=st.lists(_REQUEST, min_size=1, max_size=6),
    writes=st.lists(st.booleans(), min_size=6, max_size=6),
)
async def test_any_request_gets_what_handle_http_gives(
    options: dict[str, Any],
    requests: list[tuple[str, bytes, list[tuple[bytes, bytes]], bytes]],
    writes: list[bool],
) -> None:
    # Random requests, some after the server has written: a GET that would wait goes the long way on both
    # twins only when something is buffered (so neither ever blocks); a held one would need a flush to end.
    slow, quick = Twin(max_http_buffer_size=100, **options), Twin(max_http_buffer_size=100, **options)
    await slow.handshake()
    await quick.handshake()
    for (method, query, headers, body), write in zip(requests, writes, strict=False):
        if write:
            for twin in (slow, quick):
                assert twin.socket is not None
                twin.socket.write("w")
        assert slow.socket is not None
        if method == "GET" and not slow.socket._buffer and slow.socket.ready_state == "open":
            continue  # would wait for the next ping on the long way
        expected = await asyncio.wait_for(slow.slow(method, query, headers, body), 1)
        got = quick.engine.answer_at_once(method, PATH, query, headers, body)
        ANSWERED_AT_ONCE.append(got is not None)
        if got is None:
            got = await asyncio.wait_for(quick.slow(method, query, headers, body), 1)
        assert isinstance(got, Response), (method, query, headers, body)
        assert _answer(got) == _answer(expected), (method, query, headers, body)
        assert quick.log == slow.log
    for twin in (slow, quick):
        await twin.engine.shutdown()


def test_the_property_test_exercised_the_quick_lane() -> None:
    # Runs after the property test (file order): a third of its requests or so are answered at once.
    assert ANSWERED_AT_ONCE.count(True) > 50, ANSWERED_AT_ONCE.count(True)


async def test_a_body_in_several_asgi_messages_is_gathered(caplog: pytest.LogCaptureFixture) -> None:
    engine = CountingEngine(PATH, max_http_buffer_size=200_000)
    CountingEngine.long_way = 0
    messages: list[Any] = []
    sockets: list[EngineSocket] = []
    engine.on("connection", sockets.append)
    app = engine.asgi_app()
    _, _, body = await asgi_request(app, "GET", b"EIO=4&transport=polling")
    query = b"EIO=4&transport=polling&sid=" + orjson.loads(body[1:])["sid"].encode()
    sockets[0].on("message", messages.append)
    # hypercorn's way: the quick lane still answers
    assert await asgi_request(app, "POST", query, chunks=[b"4a", b"b", b"c"]) == (
        200,
        {b"content-type": b"text/html", b"cache-control": b"no-store", b"content-length": b"2"},
        b"ok",
    )
    assert CountingEngine.long_way == 1  # only the handshake went the long way
    # past the gathering limit: the handler reads the rest through the body pump
    big = [b"4" + b"x" * 40_000, b"y" * 40_000, b"z" * 100]
    status, _, body = await asgi_request(app, "POST", query, chunks=big)
    assert (status, body) == (200, b"ok")
    assert CountingEngine.long_way == 2
    # a client that leaves in the middle of a body: no answer, no message, the session closes as the reference's
    closes: list[Any] = []
    sockets[0].on("close", lambda *reason: closes.append(reason))
    await asgi_request(app, "POST", query, chunks=[b"4part"], leave=True)
    assert messages == ["abc", "x" * 40_000 + "y" * 40_000 + "z" * 100]
    assert closes == [("transport error", "data request connection closed prematurely")]
    await engine.shutdown()


@pytest.mark.parametrize("quick", [True, False], ids=["answered-at-once", "long-way"])
async def test_a_message_after_a_ping_gives_the_pong_its_time_again(quick: bool) -> None:
    # engine.io 6.6: while a pong is awaited, the first other packet restarts the pong's timeout.
    twin = Twin(ping_interval=0.2, ping_timeout=0.5)
    await twin.handshake()
    await asyncio.sleep(0.5)  # the ping went out at 0.2 and is buffered; its pong is due at 0.7
    if quick:
        assert twin.engine.answer_at_once("POST", PATH, Q, [], b"4busy") is not None
    else:
        assert (await twin.slow("POST", Q, [], b"4busy")).status == 200
    await asyncio.sleep(0.35)  # 0.85: past the first deadline, before the restarted one (1.0)
    assert twin.log == [("message", "busy")]
    for _ in range(100):
        if len(twin.log) > 1:
            break
        await asyncio.sleep(0.02)
    assert twin.log[1:] == [("close", "ping timeout", None)]
    await twin.engine.shutdown()
