"""Connection state recovery (docs/protocol/socketio.md#recovery) with the official socket.io-client 4.8, whose WebSocket gets cut."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import aiosocketio

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
TESTS_DIR = Path(__file__).resolve().parent.parent
CLIENT = Path(__file__).resolve().parent / "js" / "sio_recovery_client.mjs"

pytestmark = pytest.mark.node


class RecoveryApp:
    """A server that, each time a socket is cut, broadcasts while it is away and reports what came back."""

    def __init__(self, window: float, skip_middlewares: bool = True) -> None:
        self.io = aiosocketio.Server(
            connection_state_recovery={
                "max_disconnection_duration": window,
                "skip_middlewares": skip_middlewares,
            }
        )
        self.middleware_runs = 0
        self.expired: list[tuple[str, str]] = []
        self.connections: list[aiosocketio.Socket] = []
        self.io.use(self._middleware)
        self.io.on("connection", self._on_connection)
        self.io.sockets.adapter.on("session-expired", lambda pid, sid: self.expired.append((pid, sid)))

    def _middleware(self, socket: aiosocketio.Socket) -> None:
        self.middleware_runs += 1

    async def _on_connection(self, socket: aiosocketio.Socket) -> None:
        self.connections.append(socket)
        socket.on("disconnect", lambda reason, description: asyncio.ensure_future(self._while_away(reason)))
        if socket.recovered:
            await socket.emit(
                "status",
                {"recovered": True, "rooms": sorted(socket.rooms), "data": socket.data, "id": socket.id},
            )
            await socket.emit("cut-me")
            await socket.emit("done")
            return
        await socket.join(["r", "s"])
        socket.data["user"] = "ada"
        await socket.emit("status", {"recovered": False, "rooms": sorted(socket.rooms), "id": socket.id})
        await socket.emit("cut-me")
        await socket.emit("done")

    async def _while_away(self, reason: str) -> None:
        await asyncio.sleep(0.05)
        await self.io.to("r").emit("missed", 1)
        await self.io.to("other").emit("not-for-you")
        await self.io.to("s").except_("r").emit("not-for-you")
        await self.io.emit("missed", 2)
        await self.io.to(["r", "s"]).emit("missed", 3)  # once, though in both rooms
        await self.io.volatile.emit("volatile-not-kept")


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    started: list[aiosocketio.Server] = []

    async def start(app: RecoveryApp) -> str:
        running = await app.io.listen(host="127.0.0.1", port=0)
        started.append(app.io)
        return f"http://127.0.0.1:{running.port}"

    yield start
    for io in started:
        await io.close()


async def run_client(url: str, cuts: int, delay_ms: int = 300) -> list[dict[str, Any]]:
    """The client's reconnection delay is well over the server's 50 ms wait in ``_while_away``, so the events
    sent while away are always sent before the client is back (a 50 ms delay raced it)."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/setup installs the clients)"
    process = await asyncio.create_subprocess_exec(
        node, str(CLIENT), url, str(cuts), str(delay_ms), cwd=TESTS_DIR, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 15 * FACTOR)
    lines = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert lines[-1] == {"kind": "end"}, lines
    return lines


def events(lines: list[dict[str, Any]]) -> list[tuple[str, list[Any]]]:
    """(event, args without the trailing offset) for every event; checks that each carries an offset."""
    found = []
    for line in lines:
        if line["kind"] != "event":
            continue
        args = line["args"]
        assert args, line
        assert isinstance(args[-1], str), f"no offset on {line}"
        found.append((line["event"], args[:-1]))
    return found


async def test_a_cut_client_recovers_everything_it_missed_in_order_once(serve: Any) -> None:
    app = RecoveryApp(window=5.0)
    url = await serve(app)
    lines = await run_client(url, cuts=1)
    connects = [line for line in lines if line["kind"] == "connect"]
    assert [c["recovered"] for c in connects] == [False, True]
    assert connects[0]["id"] == connects[1]["id"]
    # The missed events come before the CONNECT reply, as the reference sends them: the client emits them just
    # before its "connect" event.
    missed_at = [i for i, line in enumerate(lines) if line.get("event") == "missed"]
    assert missed_at
    assert max(missed_at) < lines.index(connects[1])
    got = events(lines)
    first_id = got[0][1][0]["id"]
    assert got == [
        ("status", [{"recovered": False, "rooms": sorted([first_id, "r", "s"]), "id": first_id}]),
        ("cut-me", []),
        ("done", []),
        ("missed", [1]),
        ("missed", [2]),
        ("missed", [3]),
        (
            "status",
            [
                {
                    "recovered": True,
                    "rooms": sorted([first_id, "r", "s"]),
                    "data": {"user": "ada"},
                    "id": first_id,
                }
            ],
        ),
        ("cut-me", []),
        ("done", []),
    ]
    assert app.middleware_runs == 1  # skipped on recovery
    assert app.connections[1].recovered
    assert app.connections[1].handshake.auth.get("pid") is not None


async def test_recovery_twice_in_a_row(serve: Any) -> None:
    app = RecoveryApp(window=5.0)
    url = await serve(app)
    lines = await run_client(url, cuts=2)
    assert [line["recovered"] for line in lines if line["kind"] == "connect"] == [False, True, True]
    names = [name for name, _ in events(lines)]
    assert names.count("missed") == 6
    assert names[-3:] == ["status", "cut-me", "done"]
    assert len({line["id"] for line in lines if line["kind"] == "connect"}) == 1


async def test_middlewares_run_when_not_skipped(serve: Any) -> None:
    app = RecoveryApp(window=5.0, skip_middlewares=False)
    url = await serve(app)
    lines = await run_client(url, cuts=1)
    assert [line["recovered"] for line in lines if line["kind"] == "connect"] == [False, True]
    assert app.middleware_runs == 2


async def test_after_the_window_the_client_connects_fresh_and_memory_is_released(serve: Any) -> None:
    app = RecoveryApp(window=0.3)
    url = await serve(app)
    lines = await run_client(url, cuts=1, delay_ms=700)
    connects = [line for line in lines if line["kind"] == "connect"]
    assert [c["recovered"] for c in connects] == [False, False]
    assert connects[0]["id"] != connects[1]["id"]
    assert "missed" not in [name for name, _ in events(lines)][3:]
    store = app.io.sockets.adapter.store  # type: ignore[attr-defined]
    for _ in range(int(60 * FACTOR)):  # the housekeeping runs every 0.3 s here; poll for up to 3 s
        if not (len(store) or store.logged):
            break
        await asyncio.sleep(0.05)
    # the second connection's own session is still live (not disconnected); everything kept for the first expired
    assert store.logged == 0
    assert len(store) == 0
    assert [sid for _, sid in app.expired] == [connects[0]["id"]]
