"""Socket.IO v2 clients (EIO=3) against a server with EIO=3 compatibility: what a user of such a client sees.

The client is the official socket.io-client 2.5.0 (npm alias ``socket.io-client-v2``), driven by
``tests/integration/js/sio_v2_client.mjs`` over HTTP long-polling, WebSocket, and polling upgraded to WebSocket.
Each test runs against three servers with the same handlers:

- ``node``: the reference, Node.js socket.io 4.8.4 with ``allowEIO3: true``
  (``tests/integration/js/node_eio3_server.mjs``). The assertions below are what it was observed to give.
- ``ours-runner`` and ``ours-uvicorn``: aiosocketio with ``allow_eio3=True`` (``tests/servers/eio3.py``), on its
  built-in server and under uvicorn.

All of them print ``CONNECT <nsp> <id>`` and ``DISCONNECT <nsp> <id> <reason>``, so both ends of each socket
are checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SERVERS_DIR, NodeServer, ServerProcess, _failed, free_port, scaled, start_server
from jsclient import run_js_scenario

# No module-wide ``node`` marker: pytest's ``-k`` also matches marker names, and ``-k node`` must select the
# reference server's variants only (``-k ours`` selects aiosocketio's).

NODE_SERVER = Path(__file__).resolve().parent / "js" / "node_eio3_server.mjs"
OUR_SERVER = SERVERS_DIR / "eio3.py"
CLIENT = "sio_v2_client.mjs"
TRANSPORTS = ("polling", "websocket", "upgrade")
PROMPTLY = scaled(5.0)


@contextlib.contextmanager
def node_server() -> Iterator[ServerProcess]:
    """The reference server on a free port, always stopped at the end."""
    server = NodeServer(NODE_SERVER, (), "node", "127.0.0.1", free_port())
    try:
        server.start(scaled(15.0))
        yield server
    finally:
        server.stop(scaled(5.0))
        server.close()


@pytest.fixture(scope="module", params=("node", "ours-runner", "ours-uvicorn"))
def eio3_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """The server under test, shared by the module's tests; its output is printed when a test fails."""
    if request.param == "node":
        with node_server() as server:
            yield server
    else:
        with start_server(OUR_SERVER, frontend=request.param.removeprefix("ours-")) as server:
            yield server


@pytest.fixture(autouse=True)
def _server_output_on_failure(request: pytest.FixtureRequest, eio3_server: ServerProcess) -> Iterator[None]:
    since = eio3_server.log_sizes()
    yield
    if _failed(request.node):
        time.sleep(0.2)  # let the server write what the failure provoked
        print(eio3_server.logs(since))


async def run(server: ServerProcess, scenario: str, transport: str) -> list[dict[str, Any]]:
    """Run one scenario of the v2 client against ``server``; every report but the final ``done``."""
    reports = await run_js_scenario(CLIENT, server.url, scenario, transport, timeout=30.0)
    return reports[:-1]


def only(reports: list[dict[str, Any]], event: str) -> dict[str, Any]:
    """The single report of kind ``event``."""
    found = [report for report in reports if report["event"] == event]
    assert len(found) == 1, reports
    return found[0]


async def server_says(server: ServerProcess, *words: str) -> None:
    """Wait (a few seconds at most) until the server prints the line ``words``."""
    line = " ".join(words)
    deadline = time.monotonic() + PROMPTLY
    while line not in [" ".join(printed) for printed in server.lines(words[0])]:
        assert time.monotonic() < deadline, f"the server never printed {line!r}"
        await asyncio.sleep(0.05)


def opened_with(transport: str) -> str:
    return "websocket" if transport == "websocket" else "polling"


def ends_on(transport: str) -> str:
    return "polling" if transport == "polling" else "websocket"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_root_namespace(eio3_server: ServerProcess, transport: str) -> None:
    """``/``: the socket id is the Engine.IO id; binary crosses both ways; the ack carries every argument."""
    reports = await run(eio3_server, "root", transport)
    upgrade = ["upgrade"] if transport == "upgrade" else []
    assert [r["event"] for r in reports] == ["connect", "welcome", *upgrade, "ack", "disconnect"], reports

    connect = only(reports, "connect")
    engine_id = connect["engineId"]
    assert engine_id
    assert connect == {
        "event": "connect",
        "nsp": "/",
        "id": engine_id,
        "engineId": engine_id,
        "connected": True,
        "openedWith": opened_with(transport),
    }
    assert only(reports, "welcome")["args"] == [{"id": engine_id, "binary": {"$bytes": "010203"}}]
    if upgrade:
        assert only(reports, "upgrade")["transport"] == "websocket"
    assert only(reports, "ack") == {
        "event": "ack",
        "nsp": "/",
        "args": ["hello", 42, {"a": [1, "b"], "n": None}, {"$bytes": "010203"}],
        "transport": ends_on(transport),
    }
    assert only(reports, "disconnect") == {
        "event": "disconnect",
        "nsp": "/",
        "reason": "io client disconnect",
        "connected": False,
    }
    await server_says(eio3_server, "CONNECT", "/", engine_id)
    await server_says(eio3_server, "DISCONNECT", "/", engine_id, "client namespace disconnect")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_admin_namespace_with_query(eio3_server: ServerProcess, transport: str) -> None:
    """``/admin?token=abc``: id ``/admin#<engine id>``, the query is both the handshake query and the auth;
    refusals reach the v2 client as an ``error`` event carrying ``err.data``, else ``err.message``."""
    reports = await run(eio3_server, "admin", transport)
    upgrade = ["upgrade"] if transport == "upgrade" else []
    expected = ["connect", "seen", *upgrade, "ack", "refused", "refused", "disconnect"]
    assert [r["event"] for r in reports] == expected, reports

    connect = only(reports, "connect")
    engine_id = connect["engineId"]
    assert engine_id
    assert connect == {
        "event": "connect",
        "nsp": "/admin",
        "id": f"/admin#{engine_id}",
        "engineId": engine_id,
        "connected": True,
        "openedWith": opened_with(transport),
    }

    [seen] = only(reports, "seen")["args"]
    query = dict(seen["query"])
    if opened_with(transport) == "polling":
        # The v2 client adds a cache-busting timestamp to polling requests and, under Node.js (no binary XHR),
        # asks for base64 payloads.
        assert isinstance(query.pop("t"), str)
        assert query == {"token": "abc", "EIO": "3", "transport": "polling", "b64": "1"}
    else:
        assert query == {"token": "abc", "EIO": "3", "transport": "websocket"}
    assert seen["auth"] == {"token": "abc"}
    assert seen["id"] == f"/admin#{engine_id}"
    assert seen["protocol"] == 3

    assert only(reports, "ack") == {
        "event": "ack",
        "nsp": "/admin",
        "args": ["admin", {"$bytes": "0405"}],
        "transport": ends_on(transport),
    }
    refused = [r for r in reports if r["event"] == "refused"]
    assert refused == [
        {"event": "refused", "token": None, "error": "no token", "connected": False},
        {"event": "refused", "token": "wrong", "error": {"token": "wrong"}, "connected": False},
    ]
    assert only(reports, "disconnect")["reason"] == "io client disconnect"

    # The server connects every v2 client to "/" by itself; closing the client ends that socket too.
    await server_says(eio3_server, "CONNECT", "/", engine_id)
    await server_says(eio3_server, "CONNECT", "/admin", f"/admin#{engine_id}")
    await server_says(
        eio3_server, "DISCONNECT", "/admin", f"/admin#{engine_id}", "client namespace disconnect"
    )
    await server_says(eio3_server, "DISCONNECT", "/", engine_id, "transport close")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_client_heartbeat_keeps_the_connection(eio3_server: ServerProcess, transport: str) -> None:
    """With pings every 300 ms from the client, the connection lives on for 2 s and the server sees them all."""
    reports = await run(eio3_server, "heartbeat", transport)
    upgrade = ["upgrade"] if transport == "upgrade" else []
    assert [r["event"] for r in reports] == ["connect", *upgrade, "heartbeat", "disconnect"], reports

    engine_id = only(reports, "connect")["engineId"]
    beat = only(reports, "heartbeat")
    assert (beat["pingInterval"], beat["pingTimeout"]) == (300, 200)
    assert beat["connected"] is True
    assert beat["sameEngine"] is True
    assert beat["transport"] == ends_on(transport)
    # 2 s at one ping every 300 ms: 6 in practice; each answered by a pong, each a heartbeat on the server.
    assert beat["pings"] >= 4, beat
    assert beat["pongs"] >= beat["pings"] - 1, beat
    assert abs(beat["serverHeartbeats"] - beat["pings"]) <= 1, beat

    assert only(reports, "disconnect")["reason"] == "io client disconnect"
    await server_says(eio3_server, "DISCONNECT", "/", engine_id, "client namespace disconnect")


def _jsonp_payload(body: str, index: str) -> str:
    """The payload inside a JSONP answer ``___eio[<index>]("...");``."""
    head, tail = f"___eio[{index}](", ");"
    assert body.startswith(head), body
    assert body.endswith(tail), body
    payload = json.loads(body[len(head) : -len(tail)])
    assert isinstance(payload, str)
    return payload


async def test_jsonp_polling(eio3_server: ServerProcess) -> None:
    # JSONP polling (a ``j`` parameter), what socket.io-client 2.x falls back to in browsers without cross-origin
    # XMLHttpRequest; driven by hand, as a browser's script tags and form posts would.
    base = f"{eio3_server.url}/socket.io/?EIO=3&transport=polling&j=2"
    async with httpx.AsyncClient(timeout=PROMPTLY) as http:
        opened = await http.get(base + "&b64=1&t=a")
        assert opened.status_code == 200
        assert opened.headers["content-type"] == "text/plain; charset=UTF-8"
        length, _, packet = _jsonp_payload(opened.text, "2").partition(":")
        assert packet.startswith('0{"sid":"')
        assert int(length) == len(packet)
        sid = json.loads(packet[1:])["sid"]
        query = f"{base}&sid={sid}"
        polled = _jsonp_payload((await http.get(query + "&t=b")).text, "2")
        assert polled == (
            '2:4084:451-["welcome",{"id":"' + sid + '","binary":{"_placeholder":true,"num":0}}]6:b4AQID'
        )
        # Each POST starts with a ping ("1:2"): the v2 client pings, and the server's ping timeout is short here.
        posted = await http.post(query, data={"d": '1:218:420["echo","hi",1]'})
        assert (posted.status_code, posted.text) == (200, "ok")
        assert _jsonp_payload((await http.get(query + "&t=c")).text, "2") == '1:311:430["hi",1]'
        # The client escapes the payload's newlines for the form: the JSON escape backslash-n it sends as two
        # backslashes and "n", which the server turns back into backslash-n (the length counts the original).
        escaped = r'1:218:420["echo","a\\nb"]'
        posted = await http.post(query, data={"d": escaped})
        assert posted.status_code == 200
        assert _jsonp_payload((await http.get(query + "&t=d")).text, "2") == r'1:311:430["a\nb"]'
        assert (await http.post(query, data={"d": "1:1"})).status_code == 200  # the client closes
    await server_says(eio3_server, "DISCONNECT", "/", sid, "transport close")
