"""The official JavaScript client's retry scenario during the upgrade, on both front-ends.

socket.io-client's own suite has "retry: should not emit a packet twice in the 'connect' handler": a client with
``retries: 3`` emits in its "connect" handler, which runs while the WebSocket probe is under way, and within
100 ms it must have sent that packet once and received exactly the open packet, the CONNECT and the
acknowledgement. The reference keeps sending over polling until the upgrade completes and forces a noop through a
waiting GET only 100 ms after the probe; a server that answered the GET with a noop at once and held the
acknowledgement back gave the client an extra packet, and with ``ackTimeout: 50`` made it send the event again.

``js/sio_retry_client.mjs`` runs the scenario a few rounds against ``tests/servers/client_suite_sio.py`` (our port
of the suite's server, which prints ``ECHO <socket id>`` for each "echo" it receives). Whether a round crosses the
probe at the wrong moment depends on timing, so a server that got it wrong fails here only now and then; the
exact server behaviour is checked deterministically by
``test_engineio_protocol.py::test_packet_queued_during_the_probe_goes_out_over_the_waiting_get`` and
``tests/component/test_engine_websocket.py``, and the suite's own test runs with ``scripts/run_client_suites.py``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from conftest import CORE_FRONTENDS, SERVERS_DIR, scaled
from jsclient import run_js_scenario

SERVER = SERVERS_DIR / "client_suite_sio.py"
ROUNDS = 3
ECHO = '20["echo",null]'


async def echoes_received(server: Any, socket_id: str) -> int:
    """How many "echo" events the server received from ``socket_id`` (its stdout may lag a little)."""
    deadline = time.monotonic() + scaled(2.0)
    while True:
        count = sum(1 for words in server.lines("ECHO") if words[1:] == [socket_id])
        if count or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.05)


@pytest.mark.node
@pytest.mark.parametrize("frontend", CORE_FRONTENDS)
@pytest.mark.parametrize("ack_timeout", [None, 50], ids=["retries", "retries-ackTimeout50"])
async def test_emit_in_connect_handler_goes_out_once(
    server_factory: Any, frontend: str, ack_timeout: int | None
) -> None:
    server = server_factory(SERVER, frontend=frontend)
    args = [server.url, str(ROUNDS)] + ([] if ack_timeout is None else [str(ack_timeout)])
    reports = await run_js_scenario("sio_retry_client.mjs", *args, timeout=60)
    assert [r for r in reports if r["event"] in ("error", "timeout")] == []
    rounds = [r for r in reports if r["event"] == "round"]
    assert len(rounds) == ROUNDS
    for r in rounds:
        # What the suite's test checks 100 ms after the connection started: the event sent once, and no packet
        # received besides open, CONNECT and the acknowledgement (in particular no early noop).
        assert r["sentAt100"] == ["0", ECHO], r
        assert len(r["receivedAt100"]) <= 3, r
        assert [p.split(":", 1)[0] for p in r["receivedAt100"]] == ["open", "message", "message"][
            : len(r["receivedAt100"])
        ], r
        if len(r["receivedAt100"]) == 3:
            assert r["receivedAt100"][2] == "message:30[null]", r
        # And once everything settled: one echo each way, answered, and the upgrade done.
        assert r["sent"].count(ECHO) == 1, r
        assert r["received"].count("message:30[null]") == 1, r
        # The queue's callback gets (null, null) with a timeout, the bare acknowledgement (null) without one.
        assert r["ack"] == ([None] if ack_timeout is None else [None, None]), r
        assert r["transport"] == "websocket", r
        assert await echoes_received(server, r["id"]) == 1, server.stdout()
