"""Raw Engine.IO over HTTP and WebSocket, for the protocol-conformance suites (test_engineio_protocol.py and
test_socketio_protocol.py): the suites' server settings, URL building, the ``open`` packet check and WebSocket
helpers that answer pings and fail the test (rather than hang) when the server is silent."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")

#: The settings the suites' servers run with.
PING_INTERVAL = 0.3
PING_TIMEOUT = 0.2
MAX_PAYLOAD = 1_000_000
RS = "\x1e"

#: Tolerance added to protocol deadlines before a check gives up.
SLACK = 0.3 * FACTOR
#: Upper bound for anything that should happen "at once" (a reply, a close).
PROMPTLY = 2.0 * FACTOR
#: How late a protocol timer (ping, ping timeout, connect timeout) may fire, as a client on loopback measures
#: it. The reference's are 1-5 ms late there; a typical measure (the median of several) beyond this bound is a
#: late timer, not noise. The timers' logic itself is checked on the pure session with a clock the test moves
#: (tests/unit/test_engineio_session.py); the end-to-end checks catch lateness in the real event loop.
TIMER_LATENESS = 0.015 * FACTOR
#: A timer measured at the client may look this much early: its clock started before the client's did.
TIMER_EARLINESS = 0.005

OPEN_KEYS = ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]

Frame = str | bytes


def check_open_packet(packet: Frame, upgrades: list[str]) -> str:
    """Check an Engine.IO ``open`` packet with the suites' settings; return the session id."""
    assert isinstance(packet, str), f"the open packet must be text, got {packet!r}"
    assert packet[:1] == "0", f"expected an open packet, got {packet!r}"
    value = json.loads(packet[1:])
    assert sorted(value) == OPEN_KEYS, value
    assert isinstance(value["sid"], str), value
    assert value["sid"], value
    assert value["upgrades"] == upgrades, value
    for key, expected in (
        ("pingInterval", int(PING_INTERVAL * 1000)),
        ("pingTimeout", int(PING_TIMEOUT * 1000)),
        ("maxPayload", MAX_PAYLOAD),
    ):
        # Milliseconds as JSON integers: a float such as 300.0 would not be what the reference sends.
        assert type(value[key]) is int, f"{key} must be an integer, got {value[key]!r}"
        assert value[key] == expected, f"{key}: expected {expected}, got {value[key]!r}"
    return str(value["sid"])


class RawEngine:
    """Builds the Engine.IO URLs of one server (at ``path``) and opens polling sessions on it."""

    path = "/engine.io/"

    def __init__(self, server: Any, http: httpx.AsyncClient) -> None:
        self.server = server
        self.http = http

    def polling_url(self, sid: str | None = None, query: str = "EIO=4&transport=polling") -> str:
        url = f"{self.server.url}{self.path}?{query}"
        return url if sid is None else f"{url}&sid={sid}"

    def websocket_url(self, sid: str | None = None, query: str = "EIO=4&transport=websocket") -> str:
        url = f"{self.server.ws_url}{self.path}?{query}"
        return url if sid is None else f"{url}&sid={sid}"

    async def open_polling_session(self) -> str:
        response = await self.http.get(self.polling_url())
        assert response.status_code == 200, response.text
        return check_open_packet(response.text, upgrades=["websocket"])


def ws_connect(url: str) -> connect:
    # No WebSocket-level keepalive and no compression: the tests look at Engine.IO frames only.
    return connect(
        url,
        open_timeout=PROMPTLY,
        close_timeout=PROMPTLY,
        ping_interval=None,
        compression=None,
        max_size=None,
        proxy=None,
    )


async def recv(ws: ClientConnection, within: float = PROMPTLY) -> Frame:
    try:
        async with asyncio.timeout(within):
            return await ws.recv()
    except TimeoutError:
        pytest.fail(f"no WebSocket message within {within:.2f} s")


async def recv_skipping_pings(ws: ClientConnection, within: float = PROMPTLY) -> Frame:
    """The next frame that is not an Engine.IO ping; pings are answered with a pong."""
    try:
        async with asyncio.timeout(within):
            while True:
                message = await ws.recv()
                if message != "2":
                    return message
                await ws.send("3")
    except TimeoutError:
        pytest.fail(f"no WebSocket message (other than pings) within {within:.2f} s")


async def expect_server_close(
    ws: ClientConnection, within: float = PROMPTLY, *, answer_pings: bool = True
) -> list[Frame]:
    """Wait until the server closes ``ws``; return the frames received meanwhile.

    Pings are answered (unless ``answer_pings`` is false) so that a close cannot come from a ping timeout.
    """
    received: list[Frame] = []
    try:
        async with asyncio.timeout(within):
            while True:
                message = await ws.recv()
                received.append(message)
                if answer_pings and message == "2":
                    await ws.send("3")
    except ConnectionClosed:
        return received
    except TimeoutError:
        pytest.fail(f"the server did not close the WebSocket within {within:.2f} s; received {received!r}")


async def expect_websocket_refused(url: str, *, status: int = 400, close_code: int | None = None) -> None:
    """The server must not open a session: by default it refuses the upgrade with HTTP ``status``; with
    ``close_code`` it accepts the upgrade, sends nothing and closes the WebSocket with that code at once
    (1005: a close frame without a code; 1006: the connection dropped without a close frame)."""
    received: list[Frame] = []
    refused_with: int | None = None
    accepted_then: int | None = None
    try:
        async with ws_connect(url) as ws:
            received = await expect_server_close(ws, answer_pings=False)
            accepted_then = ws.close_code
    except InvalidStatus as exc:
        refused_with = exc.response.status_code
    if close_code is None:
        assert refused_with == status, (
            f"refused with {refused_with}, closed with {accepted_then}; expected {status}"
        )
    else:
        assert accepted_then == close_code, f"refused with {refused_with}, closed with {accepted_then}"
        assert received == [], received


def is_reference(server: Any) -> bool:
    """Whether ``server`` is the Node.js reference (its expected answers differ in a few documented places)."""
    return getattr(server, "frontend", None) == "node"
