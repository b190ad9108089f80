"""The official JavaScript client (npm ``engine.io-client`` 6.6) against our Engine.IO echo server.

Each test runs ``tests/integration/js/eio_client.mjs`` with Node.js: it drives the client through one
scenario and prints what it observed as JSON lines; the server (``tests/servers/eio_echo.py``, and its reference
twin ``eio_echo.mjs`` under Node.js, so the same observations are checked on both) prints
``CONNECTION``/``UPGRADE``/``CLOSE`` lines, so both ends of the session are checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")

TESTS_DIR = Path(__file__).resolve().parent.parent
CLIENT_SCRIPT = Path(__file__).resolve().parent / "js" / "eio_client.mjs"
NODE = shutil.which("node")

PING_INTERVAL_MS = 300
#: What the client sends in the echo scenarios, and so what must come back, in order.
ECHOED = ["hello", "héllo wörld ✓ 😀", {"$bytes": "0102030400ff"}]

pytestmark = [
    pytest.mark.node,
]


async def run_client(server: Any, scenario: str, *args: str) -> list[dict[str, Any]]:
    """Run one scenario of the JavaScript client; return its observations (the trailing "done" included)."""
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(CLIENT_SCRIPT),
        server.url,
        scenario,
        *args,
        cwd=TESTS_DIR,
        env=dict(os.environ, EIO_PATH="/engine.io/", AIOSOCKETIO_TEST_TIMEOUT_FACTOR=str(FACTOR)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 30 * FACTOR)
    except TimeoutError:
        proc.kill()
        stdout, stderr = await proc.communicate()
        pytest.fail(f"the client did not finish\nstdout:\n{stdout.decode()}\nstderr:\n{stderr.decode()}")
    output = stdout.decode()
    print(f"client stdout:\n{output}\nclient stderr:\n{stderr.decode()}")
    events = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert proc.returncode == 0, f"client exited with {proc.returncode}"
    assert events, "the client reported nothing"
    assert events[-1] == {"event": "done"}, events[-1]
    return events


def of_kind(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["event"] == kind]


def single(events: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = of_kind(events, kind)
    assert len(found) == 1, (kind, events)
    return found[0]


async def server_lines(server: Any, prefix: str, sid: str, count: int = 1) -> list[list[str]]:
    """The server's stdout lines ``<prefix> <sid> ...``, waiting until ``count`` of them are there."""
    if server.frontend == "external":
        pytest.skip("the server's output is not captured")
    deadline = time.monotonic() + 5 * FACTOR
    while True:
        lines = [words for words in server.lines(prefix) if len(words) > 1 and words[1] == sid]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        await asyncio.sleep(0.05)


def check_handshake(events: list[dict[str, Any]], upgrades: list[str]) -> str:
    handshake = single(events, "handshake")["data"]
    assert sorted(handshake) == ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"], handshake
    assert handshake["upgrades"] == upgrades
    assert handshake["pingInterval"] == PING_INTERVAL_MS
    opened = single(events, "open")
    assert opened["sid"] == handshake["sid"]
    return str(opened["sid"])


def check_client_closed_itself(events: list[dict[str, Any]]) -> None:
    assert of_kind(events, "error") == [], events
    close = single(events, "close")
    assert close["reason"] == "forced close", close  # the client's word for "I closed it"


async def check_server_saw_transport_close(server: Any, sid: str) -> None:
    closes = await server_lines(server, "CLOSE", sid)
    assert len(closes) == 1, closes
    assert " ".join(closes[0][2:]) == "transport close", closes


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_echo(eio_server: Any, transport: str) -> None:
    events = await run_client(eio_server, f"{transport}-echo")
    sid = check_handshake(events, upgrades=["websocket"] if transport == "polling" else [])
    assert single(events, "open")["transport"] == transport
    messages = of_kind(events, "message")
    assert [m["data"] for m in messages] == ECHOED
    assert {m["transport"] for m in messages} == {transport}
    assert of_kind(events, "upgrade") == []
    check_client_closed_itself(events)
    connections = await server_lines(eio_server, "CONNECTION", sid)
    assert [words[2:] for words in connections] == [[transport]], connections
    await check_server_saw_transport_close(eio_server, sid)


async def test_upgrade_then_echo_over_websocket(eio_server: Any) -> None:
    events = await run_client(eio_server, "upgrade")
    sid = check_handshake(events, upgrades=["websocket"])
    assert single(events, "open")["transport"] == "polling"
    assert single(events, "upgrade")["transport"] == "websocket"
    kinds = [event["event"] for event in events]
    assert kinds.index("upgrade") < kinds.index("message"), kinds
    messages = of_kind(events, "message")
    assert [m["data"] for m in messages] == ECHOED
    assert {m["transport"] for m in messages} == {"websocket"}
    check_client_closed_itself(events)
    upgrades = await server_lines(eio_server, "UPGRADE", sid)
    assert [words[2:] for words in upgrades] == [["websocket"]], upgrades
    await check_server_saw_transport_close(eio_server, sid)


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_heartbeat_keeps_the_connection_open(eio_server: Any, transport: str) -> None:
    events = await run_client(eio_server, "heartbeat", transport)
    sid = check_handshake(events, upgrades=["websocket"] if transport == "polling" else [])
    alive = single(events, "alive")
    assert alive["readyState"] == "open", alive
    assert alive["transport"] == transport, alive
    # 4.5 ping intervals: the server pinged at least three times and the client answered every ping.
    assert alive["pings"] >= 3, alive
    kinds = [event["event"] for event in events]
    assert kinds.index("alive") < kinds.index("close"), kinds
    check_client_closed_itself(events)
    await check_server_saw_transport_close(eio_server, sid)


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_client_close_is_seen_by_the_server(eio_server: Any, transport: str) -> None:
    events = await run_client(eio_server, "close", transport)
    sid = check_handshake(events, upgrades=["websocket"] if transport == "polling" else [])
    assert single(events, "open")["transport"] == transport
    check_client_closed_itself(events)
    await check_server_saw_transport_close(eio_server, sid)
