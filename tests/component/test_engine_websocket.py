"""EngineServer's WebSocket paths through in-memory ports: WebSocket-only sessions, the upgrade, refusals (docs/protocol/engineio.md#websocket, docs/protocol/engineio.md#upgrade, docs/protocol/engineio.md#examples-upgrade).

The heartbeat and the upgrade timeout run on ``aiosocketio.testing.FakeClock``: realistic intervals, no sleeps.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from aiosocketio.engineio import EngineConnectionError, EngineServer, EngineSocket
from aiosocketio.testing import FakeClock
from aiosocketio.web import CLOSE_DROPPED, Headers, Request, Response, WebSocketPort, WebSocketReceiver

PATH = "/engine.io/"


class FakePort:
    """An accepted WebSocket in memory: records what the server sends, lets the test play the client."""

    def __init__(self) -> None:
        self.sent: list[str | bytes] = []
        self.closed_with: int | None = None
        self.writable = True
        self.receiver: WebSocketReceiver | None = None

    def set_receiver(self, receiver: WebSocketReceiver) -> None:
        self.receiver = receiver

    def send_text(self, text: str) -> None:
        assert self.closed_with is None, "sent after close"
        self.sent.append(text)

    def send_bytes(self, data: bytes) -> None:
        assert self.closed_with is None, "sent after close"
        self.sent.append(data)

    def close(self, code: int = 1000) -> None:
        if self.closed_with is None:
            self.closed_with = code
            if self.receiver is not None:
                self.receiver.on_ws_close(code, "")

    # the client side
    def client_sends(self, data: str | bytes) -> None:
        assert self.receiver is not None
        self.receiver.on_ws_message(data)

    def client_closes(self, code: int = 1000) -> None:
        assert self.receiver is not None
        self.closed_with = code
        self.receiver.on_ws_close(code, "")


class FakeHandshake:
    def __init__(self) -> None:
        self.port: FakePort | None = None
        self.accept_headers: list[tuple[str, str]] | None = None
        self.rejected: Response | None = None
        self.max_message_size: int | None = None

    async def accept(
        self, headers: list[tuple[str, str]], *, max_message_size: int, compression: bool
    ) -> WebSocketPort:
        self.accept_headers = headers
        self.max_message_size = max_message_size
        self.port = FakePort()
        return self.port

    async def reject(self, response: Response) -> None:
        self.rejected = response


def ws_request(query: str, headers: dict[str, str] | None = None) -> Request:
    return Request("GET", PATH, query, Headers((headers or {}).items()))


class World:
    def __init__(self, **options: Any) -> None:
        self.engine = EngineServer(PATH, **options)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.engine.asgi_app()), base_url="http://test"
        )
        self.sockets: list[EngineSocket] = []
        self.messages: list[str | bytes] = []
        self.closes: list[tuple[str, str | None]] = []
        self.upgrades: list[str] = []
        self.errors: list[EngineConnectionError] = []
        self.engine.on("connection", self._on_connection)
        self.engine.on("connection_error", self.errors.append)

    def _on_connection(self, socket: EngineSocket) -> None:
        self.sockets.append(socket)
        socket.on("message", self.messages.append)
        socket.on("close", lambda reason, description: self.closes.append((reason, description)))
        socket.on("upgrade", lambda transport: self.upgrades.append(transport.name))

    async def websocket(self, query: str, headers: dict[str, str] | None = None) -> FakeHandshake:
        handshake = FakeHandshake()
        await self.engine.handle_websocket(ws_request(query, headers), handshake)
        return handshake

    async def polling_handshake(self) -> str:
        response = await self.http.get(PATH, params={"EIO": "4", "transport": "polling"})
        return str(orjson.loads(response.text[1:])["sid"])

    async def get(self, sid: str) -> httpx.Response:
        return await self.http.get(PATH, params={"EIO": "4", "transport": "polling", "sid": sid})


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World()
    yield w
    await w.engine.shutdown()
    await w.http.aclose()


async def test_websocket_only_session(world: World) -> None:
    hs = await world.websocket("EIO=4&transport=websocket")
    port = hs.port
    assert port is not None
    assert hs.max_message_size == 1_000_000
    assert isinstance(port.sent[0], str)
    assert port.sent[0].startswith("0")
    opened = orjson.loads(port.sent[0][1:])
    assert opened["upgrades"] == []
    assert world.sockets[0].id == opened["sid"]
    assert world.sockets[0].transport.name == "websocket"
    port.client_sends("4hello")
    port.client_sends(b"\x01\x02")
    port.client_sends("bAQID")  # a "b" text frame is base64 binary even on WebSocket (E10)
    port.client_sends(b"42")  # a binary frame is binary, never the text "42" (E11)
    assert world.messages == ["hello", b"\x01\x02", b"\x01\x02\x03", b"42"]
    await world.sockets[0].send("back")
    await world.sockets[0].send(b"\x00\xff")
    assert port.sent[1:] == ["4back", b"\x00\xff"]


async def test_websocket_b64_sends_binary_as_text(world: World) -> None:
    hs = await world.websocket("EIO=4&transport=websocket&b64=1")
    assert hs.port is not None
    await world.sockets[0].send(b"\x01\x02\x03")
    assert hs.port.sent[-1] == "bAQID"


@pytest.mark.parametrize(
    ("frame", "reason"),
    [("", "parse error"), ("x", "parse error"), ("2", "transport error"), ("1", "transport close")],
)
async def test_websocket_bad_packets_close_the_session(world: World, frame: str, reason: str) -> None:
    hs = await world.websocket("EIO=4&transport=websocket")
    assert hs.port is not None
    hs.port.client_sends(frame)
    assert world.closes[0][0] == reason
    assert hs.port.closed_with == 1000
    assert world.engine.clients_count == 0


async def test_websocket_client_close_and_error(world: World) -> None:
    a = await world.websocket("EIO=4&transport=websocket")
    b = await world.websocket("EIO=4&transport=websocket")
    assert a.port is not None
    assert b.port is not None
    c = await world.websocket("EIO=4&transport=websocket")
    d = await world.websocket("EIO=4&transport=websocket")
    assert c.port is not None
    assert d.port is not None
    a.port.client_closes(1000)
    b.port.client_closes(1006)  # the connection broke: still a close for the reference, not an error
    c.port.client_closes(1009)  # a message over the limit: the transport failed
    d.port.client_closes(CLOSE_DROPPED)  # a peer that does not read, dropped by the front-end
    assert world.closes == []  # the session hears of a closed WebSocket one loop turn later
    await asyncio.sleep(0)
    assert [r for r, _ in world.closes] == [
        "transport close",
        "transport close",
        "transport error",
        "transport error",
    ]


async def test_websocket_heartbeat() -> None:
    """A ping every ``ping_interval`` (up to 1/500 of it early, never late), a ping timeout ``ping_timeout``
    after a ping that gets no pong: on the server's clock, which the test moves (``FakeClock``)."""
    clock = FakeClock()
    engine = EngineServer(PATH, ping_interval=25, ping_timeout=20, clock=clock)
    closes: list[str] = []
    engine.on("connection", lambda s: s.on("close", lambda r, d: closes.append(r)))
    hs = FakeHandshake()
    await engine.handle_websocket(ws_request("EIO=4&transport=websocket"), hs)
    assert hs.port is not None
    await clock.advance(24.9)
    assert hs.port.sent.count("2") == 0
    await clock.advance(0.1)
    assert hs.port.sent[-1] == "2"
    hs.port.client_sends("3")
    await clock.advance(24.9)
    assert hs.port.sent.count("2") == 1
    await clock.advance(0.1)
    assert hs.port.sent.count("2") == 2
    await clock.advance(19.9)  # no pong this time
    assert closes == []
    await clock.advance(0.1)
    assert closes == ["ping timeout"]


@pytest.mark.parametrize(
    ("query", "message", "code"),
    [
        ("EIO=4&transport=flash", "Transport unknown", 0),
        ("EIO=4&transport=websocket&sid=nope", "Session ID unknown", 1),
        ("EIO=3&transport=websocket", "Unsupported protocol version", 5),
        ("transport=websocket", "Unsupported protocol version", 5),
    ],
)
async def test_websocket_refusals_are_raw_400(world: World, query: str, message: str, code: int) -> None:
    hs = await world.websocket(query)
    assert hs.port is None
    assert hs.rejected is not None
    assert hs.rejected.status == 400
    assert hs.rejected.body == message.encode()
    assert ("Content-Type", "text/html") in hs.rejected.headers
    assert [(e.code, e.message) for e in world.errors] == [(code, message)]


async def test_websocket_allow_request_refusal_is_400_too() -> None:
    engine = EngineServer(PATH, allow_request=lambda req: False)
    hs = FakeHandshake()
    await engine.handle_websocket(ws_request("EIO=4&transport=websocket"), hs)
    assert hs.rejected is not None
    assert hs.rejected.status == 400
    assert hs.rejected.body == b"Forbidden"


async def test_upgrade_d5(world: World) -> None:
    sid = await world.polling_handshake()
    socket = world.sockets[0]
    hs = await world.websocket(f"EIO=4&transport=websocket&sid={sid}")
    port = hs.port
    assert port is not None
    assert port.sent == []  # no open packet on an upgrade
    poll = asyncio.ensure_future(world.get(sid))
    await asyncio.sleep(0.05)
    port.client_sends("2probe")
    assert port.sent == ["3probe"]
    released = await asyncio.wait_for(poll, 2)
    assert released.text == "6"  # the pending GET is released with a noop
    assert socket.upgrading
    socket.write("buffered")  # still on polling: buffered until the upgrade completes
    port.client_sends("5")
    assert world.upgrades == ["websocket"]
    assert socket.transport.name == "websocket"
    assert socket.upgraded
    assert port.sent == ["3probe", "4buffered"]
    port.client_sends("4over-ws")
    assert world.messages == ["over-ws"]
    # no extra "6" over the WebSocket; a GET after the upgrade is refused with code 3
    response = await world.get(sid)
    assert response.status_code == 400
    assert response.json() == {"code": 3, "message": "Bad request"}
    assert "6" not in port.sent
    # a second WebSocket for the upgraded session is accepted and closed at once
    second = await world.websocket(f"EIO=4&transport=websocket&sid={sid}")
    assert second.port is not None
    assert second.port.closed_with == 1005  # no status code, as the reference
    assert world.closes == []


async def test_get_arriving_during_the_probe_gets_a_noop(world: World) -> None:
    sid = await world.polling_handshake()
    hs = await world.websocket(f"EIO=4&transport=websocket&sid={sid}")
    assert hs.port is not None
    hs.port.client_sends("2probe")
    response = await asyncio.wait_for(world.get(sid), 2)
    assert response.text == "6"


async def test_polling_flows_during_the_probe_and_noops_come_every_100_ms(world: World) -> None:
    sid = await world.polling_handshake()
    socket = world.sockets[0]
    hs = await world.websocket(f"EIO=4&transport=websocket&sid={sid}")
    assert hs.port is not None
    poll = asyncio.ensure_future(world.get(sid))
    await asyncio.sleep(0.02)
    loop = asyncio.get_running_loop()
    probed_at = loop.time()
    hs.port.client_sends("2probe")
    assert hs.port.sent == ["3probe"]
    await asyncio.sleep(0.03)
    assert not poll.done()  # no noop at once
    socket.write("during")  # polling still carries what the application sends
    assert (await asyncio.wait_for(poll, 2)).text == "4during"
    # A GET with nothing to carry gets the interval's noop, 100 ms after the probe and then every 100 ms.
    assert (await asyncio.wait_for(world.get(sid), 2)).text == "6"
    first = loop.time() - probed_at
    assert 0.095 <= first < 0.19, first
    assert (await asyncio.wait_for(world.get(sid), 2)).text == "6"
    second = loop.time() - probed_at
    assert 0.195 <= second < 0.29, second
    hs.port.client_sends("5")
    assert socket.transport.name == "websocket"
    socket.write("after")
    assert hs.port.sent == ["3probe", "4after"]
    assert socket._probe_timer is None


async def test_upgrade_timeout_stops_the_noops() -> None:
    w = World(upgrade_timeout=0.15)
    try:
        sid = await w.polling_handshake()
        hs = await w.websocket(f"EIO=4&transport=websocket&sid={sid}")
        assert hs.port is not None
        hs.port.client_sends("2probe")
        assert (await asyncio.wait_for(w.get(sid), 2)).text == "6"
        await asyncio.sleep(0.2)
        assert hs.port.closed_with == 1000  # the candidate was given up
        poll = asyncio.ensure_future(w.get(sid))
        await asyncio.sleep(0.25)
        assert not poll.done()  # back to plain polling: no more noops
        w.sockets[0].write("plain")
        assert (await asyncio.wait_for(poll, 2)).text == "4plain"
    finally:
        await w.engine.shutdown()
        await w.http.aclose()


async def test_candidate_lost_after_the_probe_stops_the_noops(world: World) -> None:
    sid = await world.polling_handshake()
    hs = await world.websocket(f"EIO=4&transport=websocket&sid={sid}")
    assert hs.port is not None
    hs.port.client_sends("2probe")
    hs.port.client_closes(1006)
    poll = asyncio.ensure_future(world.get(sid))
    await asyncio.sleep(0.25)
    assert not poll.done()
    world.sockets[0].write("still polling")
    assert (await asyncio.wait_for(poll, 2)).text == "4still polling"


@pytest.mark.parametrize("bad", ["4hello", "2", "5", "x"])
async def test_upgrade_aborted_by_unexpected_packet(world: World, bad: str) -> None:
    sid = await world.polling_handshake()
    hs = await world.websocket(f"EIO=4&transport=websocket&sid={sid}")
    assert hs.port is not None
    hs.port.client_sends(bad)
    assert hs.port.closed_with == 1000
    socket = world.sockets[0]
    assert socket.transport.name == "polling"
    assert world.closes == []
    # the session carries on over polling, and may try again
    socket.write("still")
    assert (await world.get(sid)).text == "4still"
    again = await world.websocket(f"EIO=4&transport=websocket&sid={sid}")
    assert again.port is not None
    again.port.client_sends("2probe")
    assert again.port.sent == ["3probe"]


async def test_upgrade_timeout_closes_the_candidate() -> None:
    clock = FakeClock()
    engine = EngineServer(PATH, upgrade_timeout=10, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=engine.asgi_app()), base_url="http://t"
    ) as http:
        response = await http.get(PATH, params={"EIO": "4", "transport": "polling"})
        sid = orjson.loads(response.text[1:])["sid"]
        hs = FakeHandshake()
        await engine.handle_websocket(ws_request(f"EIO=4&transport=websocket&sid={sid}"), hs)
        assert hs.port is not None
        hs.port.client_sends("2probe")
        await clock.advance(9.9)
        assert hs.port.closed_with is None
        await clock.advance(0.1)
        assert hs.port.closed_with == 1000
        assert engine.clients[sid].transport.name == "polling"
    await engine.shutdown()


async def test_candidate_closing_leaves_the_session_alone(world: World) -> None:
    sid = await world.polling_handshake()
    hs = await world.websocket(f"EIO=4&transport=websocket&sid={sid}")
    assert hs.port is not None
    hs.port.client_sends("2probe")
    hs.port.client_closes(1006)
    await asyncio.sleep(0)  # the session hears of it one loop turn later
    assert world.closes == []
    assert world.engine.clients_count == 1
    assert world.sockets[0].session.can_upgrade()


async def test_upgrade_refused_when_upgrades_are_off() -> None:
    engine = EngineServer(PATH, allow_upgrades=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=engine.asgi_app()), base_url="http://t"
    ) as http:
        response = await http.get(PATH, params={"EIO": "4", "transport": "polling"})
        body = orjson.loads(response.text[1:])
        assert body["upgrades"] == []
        hs = FakeHandshake()
        await engine.handle_websocket(ws_request(f"EIO=4&transport=websocket&sid={body['sid']}"), hs)
        assert hs.port is not None
        assert hs.port.closed_with == 1005  # a close frame without a status code
    await engine.shutdown()


async def test_header_hooks_on_the_101(world: World) -> None:
    calls: list[str] = []
    world.engine.on("initial_headers", lambda h, req: (calls.append("initial"), h.__setitem__("X-A", "1")))
    world.engine.on("headers", lambda h, req: (calls.append("headers"), h.__setitem__("X-B", "2")))
    hs = await world.websocket("EIO=4&transport=websocket")
    assert calls == ["initial", "headers"]
    assert hs.accept_headers == [("X-A", "1"), ("X-B", "2")]
    sid = await world.polling_handshake()
    calls.clear()
    upgrade = await world.websocket(f"EIO=4&transport=websocket&sid={sid}")
    assert calls == ["headers"]  # not a handshake: no initial_headers
    assert upgrade.accept_headers == [("X-B", "2")]


async def test_cookie_is_not_set_on_a_websocket_handshake() -> None:
    engine = EngineServer(PATH, cookie=True)
    hs = FakeHandshake()
    await engine.handle_websocket(ws_request("EIO=4&transport=websocket"), hs)
    assert hs.accept_headers is not None
    assert not any(name.lower() == "set-cookie" for name, _ in hs.accept_headers)
    await engine.shutdown()


async def test_sessions_closed_by_bad_input_are_released(world: World) -> None:
    refs: list[weakref.ref[Any]] = []
    for _ in range(20):
        hs = await world.websocket("EIO=4&transport=websocket")
        assert hs.port is not None
        refs.append(weakref.ref(world.sockets[-1]))
        hs.port.client_sends("garbage")
    del hs  # the test's own reference to the last connection
    for _ in range(20):
        sid = await world.polling_handshake()
        refs.append(weakref.ref(world.sockets[-1]))
        await world.http.post(
            PATH, params={"EIO": "4", "transport": "polling", "sid": sid}, content=b"\x1e\x1e"
        )
    assert world.engine.clients_count == 0
    world.sockets.clear()
    await asyncio.sleep(0)
    gc.collect()
    alive = [r for r in refs if r() is not None]
    assert alive == []


async def test_volatile_checks_whether_the_peer_keeps_up(world: World) -> None:
    hs = await world.websocket("EIO=4&transport=websocket")
    assert hs.port is not None
    socket = world.sockets[0]
    assert socket.writable
    hs.port.writable = False  # the peer stopped reading: its buffer is backed up
    assert not socket.writable
    hs.port.writable = True
    assert socket.writable


async def test_asgi_websocket_outbox_is_bounded() -> None:
    # Under ASGI our sends wait in an outbox until the server's ``send`` returns; a client that stops reading
    # makes it wait forever. Past max_write_buffer the queue is dropped and the engine is told CLOSE_DROPPED.
    from aiosocketio.asgi import _ASGIWebSocket

    stuck: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    sends: list[Any] = []

    async def send(message: Any) -> None:
        sends.append(message)
        await stuck  # the ASGI server's buffer is full and stays full

    closes: list[int] = []

    class Receiver:
        def on_ws_message(self, data: str | bytes) -> None:
            pass

        def on_ws_close(self, code: int, reason: str) -> None:
            closes.append(code)

    port = _ASGIWebSocket(send, 1_000_000, 10_000)
    port.set_receiver(Receiver())
    port.send_text("x" * 4000)
    await asyncio.sleep(0)  # the writer takes the first message and blocks in send
    assert len(sends) == 1
    port.send_text("y" * 4000)
    assert not port.writable
    port.send_bytes(bytes(5000))
    assert closes == []  # 9000 waiting: under the limit
    port.send_text("z" * 2000)
    assert closes == [CLOSE_DROPPED]
    port.send_text("after")  # ignored: the port is closed
    await asyncio.sleep(0)
    assert len(sends) == 1
