"""Protocol 3 sessions (``allow_eio3``, docs/protocol/engineio-v3.md) in process, request by request: the framing a Socket.IO v2
client gets over long-polling and WebSocket, the client-driven heartbeat, and what the real v2 client never
exercises on Node (it always asks for base64 polling): binary polling payloads both ways."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from aiosocketio.engineio import EngineServer, EngineSocket
from aiosocketio.engineio.packet import PacketType
from aiosocketio.engineio.payload_v3 import decode_payload_v3
from aiosocketio.engineio.transports.polling import jsonp_data, jsonp_index, wrap_jsonp
from aiosocketio.web import Headers, Request, Response

PATH = "/engine.io/"


class V3:
    """An engine with protocol 3 allowed, driven with hand-made requests; records what the application saw."""

    def __init__(self, **options: Any) -> None:
        self.engine = EngineServer(PATH, allow_eio3=True, **options)
        self.log: list[tuple[Any, ...]] = []
        self.socket: EngineSocket | None = None
        self.engine.on("connection", self._on_connection)

    def _on_connection(self, socket: EngineSocket) -> None:
        self.socket = socket
        socket.on("message", lambda data: self.log.append(("message", data)))
        socket.on("heartbeat", lambda: self.log.append(("heartbeat",)))
        socket.on("close", lambda reason, description: self.log.append(("close", reason, description)))

    async def request(
        self, method: str, query: str, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
    ) -> Response:
        request = Request(method, PATH, query, Headers.from_raw(headers or []), body=body)
        return await asyncio.wait_for(self.engine.handle_http(request), 2)

    async def open(self, query: str = "transport=polling") -> str:
        response = await self.request("GET", query)
        assert response.status == 200
        packets, error = decode_payload_v3(response.body, False)
        assert not error
        assert packets[0].type is PacketType.OPEN
        open_data = packets[0].data
        assert isinstance(open_data, str)
        assert self.socket is not None
        assert self.socket.protocol == 3
        return f"transport=polling&sid={orjson.loads(open_data)['sid']}"


def content_type(response: Response) -> str:
    return dict(response.headers)["Content-Type"]


@pytest.fixture
async def v3() -> Any:
    harness = V3()
    yield harness
    await harness.engine.shutdown()


async def test_the_handshake_is_a_length_prefixed_open_packet(v3: V3) -> None:
    response = await v3.request("GET", "EIO=3&transport=polling&t=N1")
    text = response.body.decode()
    length, _, packet = text.partition(":")
    assert int(length) == len(packet)
    assert packet.startswith('0{"sid":"')
    assert content_type(response) == "text/plain; charset=UTF-8"


async def test_text_messages_both_ways(v3: V3) -> None:
    query = await v3.open()
    posted = await v3.request("POST", query, "6:4hello2:4€3:4😀".encode())  # lengths in UTF-16 units
    assert (posted.status, posted.body) == (200, b"ok")
    assert v3.log == [("message", "hello"), ("message", "€"), ("message", "😀")]
    assert v3.socket is not None
    v3.socket.write("héllo")
    v3.socket.write("😀")
    polled = await v3.request("GET", query)
    assert polled.body == "6:4héllo3:4😀".encode()
    assert content_type(polled) == "text/plain; charset=UTF-8"


async def test_binary_goes_out_in_the_binary_payload_format(v3: V3) -> None:
    query = await v3.open()
    assert v3.socket is not None
    v3.socket.write("hi")
    v3.socket.write(b"\x01\x02")
    polled = await v3.request("GET", query)
    # flag 0 (string), length digits [3], 0xFF, "4hi"; flag 1 (binary), length [3], 0xFF, type 0x04, the bytes
    assert polled.body == b"\x00\x03\xff4hi\x01\x03\xff\x04\x01\x02"
    assert content_type(polled) == "application/octet-stream"


async def test_binary_as_base64_text_when_the_client_asked_for_b64(v3: V3) -> None:
    query = await v3.open("transport=polling&b64=1")
    assert v3.socket is not None
    v3.socket.write(b"\x01\x02\x03")
    polled = await v3.request("GET", query + "&b64=1")
    assert polled.body == b"6:b4AQID"
    assert content_type(polled) == "text/plain; charset=UTF-8"


async def test_binary_post_bodies_are_read(v3: V3) -> None:
    query = await v3.open()
    body = b"\x01\x04\xff\x04\x09\x08\x07\x00\x06\xff4hello"  # a binary message, then the string "4hello"
    posted = await v3.request("POST", query, body, [(b"content-type", b"application/octet-stream")])
    assert (posted.status, posted.body) == (200, b"ok")
    assert v3.log == [("message", b"\x09\x08\x07"), ("message", "hello")]
    based = await v3.request("POST", query, b"6:b4AQID")
    assert based.status == 200
    assert v3.log[-1] == ("message", b"\x01\x02\x03")


async def test_the_client_pings_and_gets_a_pong(v3: V3) -> None:
    query = await v3.open()
    assert v3.socket is not None
    v3.socket.on("packet_create", lambda item: v3.log.append(("packet_create", item)))
    assert (await v3.request("POST", query, b"1:2")).status == 200
    # As the reference: the pong is a created packet, then the ping counts as a heartbeat.
    assert v3.log == [("packet_create", "3"), ("heartbeat",)]
    assert (await v3.request("GET", query)).body == b"1:3"


async def test_a_session_without_pings_times_out() -> None:
    harness = V3(ping_interval=0.1, ping_timeout=0.1)
    query = await harness.open()
    await asyncio.sleep(0.1)
    assert (await harness.request("POST", query, b"1:2")).status == 200  # one ping: 0.2 s more
    await asyncio.sleep(0.12)
    assert harness.log == [("heartbeat",)]  # still open after the first 0.2 s
    for _ in range(100):
        if len(harness.log) > 1:
            break
        await asyncio.sleep(0.02)
    assert harness.log[1:] == [("close", "ping timeout", None)]
    await harness.engine.shutdown()


async def test_a_pong_from_the_client_is_a_transport_error(v3: V3) -> None:
    query = await v3.open()
    await v3.request("POST", query, b"1:3")
    assert v3.log == [("close", "transport error", "invalid heartbeat direction")]


async def test_a_bad_payload_is_a_parse_error(v3: V3) -> None:
    query = await v3.open()
    response = await v3.request("POST", query, b"6:4hello9:4x")  # the second length runs past the end
    assert response.status == 400
    assert v3.log == [("message", "hello"), ("close", "parse error", None)]


async def test_a_request_of_protocol_4_for_a_protocol_3_session_is_refused(v3: V3) -> None:
    query = await v3.open()
    response = await v3.request("GET", query + "&EIO=4")
    assert response.status == 400
    assert orjson.loads(response.body) == {"code": 3, "message": "Bad request"}
    assert v3.engine.answer_at_once("GET", PATH, (query + "&EIO=4").encode(), [], b"") is None


async def test_protocol_4_sessions_are_unchanged_beside_protocol_3(v3: V3) -> None:
    response = await v3.request("GET", "EIO=4&transport=polling")
    assert response.body.startswith(b'0{"sid":"')
    assert v3.socket is not None
    assert v3.socket.protocol == 4


def test_jsonp_answers_are_scripts() -> None:
    assert wrap_jsonp("7", b"3:4hi") == b'___eio[7]("3:4hi");'
    # JSON allows U+2028 and U+2029 in strings, old JavaScript did not: escaped, as the reference does
    assert wrap_jsonp("", '2:4\u2028\u2029"\\'.encode()) == b'___eio[]("2:4\\u2028\\u2029\\"\\\\");'
    assert jsonp_index({"j": "1a2; alert(1)"}) == "121"  # only its digits reach the script
    assert jsonp_index({"EIO": "3"}) is None


@pytest.mark.parametrize(
    ("body", "payload"),
    [
        (b"d=3%3A4hi", "3:4hi"),
        (b"d=3:4a+b", "3:4a b"),  # a form: "+" is a space
        (b"x=1&d=2:4%C3%A9", "2:4é"),
        (b"d=a%5Cnb", "a\nb"),  # backslash-n: the newline the client escaped
        (b"d=a%5C%5Cnb", "a\\nb"),  # two backslashes and n: a backslash-n the payload had
        (b"d=", ""),
        (b"x=1", None),  # no d: nothing to read
        (b"d=1&d=2", None),  # d twice: neither (the reference's form parser gives an array)
    ],
)
def test_jsonp_posts_are_forms(body: bytes, payload: str | None) -> None:
    assert jsonp_data(body) == payload


async def test_jsonp_sessions_take_the_long_way(v3: V3) -> None:
    response = await v3.request("GET", "EIO=4&transport=polling&j=0")  # JSONP exists for protocol 4 too
    assert response.body.startswith(b'___eio[0]("0{')
    assert v3.socket is not None
    query = f"EIO=4&transport=polling&j=0&sid={v3.socket.id}"
    v3.socket.write("x")
    assert v3.engine.answer_at_once("GET", PATH, query.encode(), [], b"") is None
    assert (await v3.request("GET", query)).body == b'___eio[0]("4x");'
