"""``aiosocketio.testing`` itself: what the in-process client, the fake clock and the in-memory cluster do.

The client must behave as socket.io-client does against the server's real code (binary attachments, both
parsers, namespaces, disconnect reasons, recovery), the clock must drive every deadline of the server, and the
cluster must run the real cluster logic, so that a user's test passing here means the same thing over a
network.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import aiosocketio
import aiosocketio.testing
from aiosocketio import AckTimeoutError, ConnectError, Server, Socket
from aiosocketio.parsers import msgpack as msgpack_parser
from aiosocketio.testing import FakeClock, InMemoryCluster, TestClient, settle

REPO = Path(__file__).resolve().parents[2]


def echo_server(**options: Any) -> Server:
    io = Server(**options)

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("echo", lambda *args: args[0] if len(args) == 1 else list(args))

        @socket.on("ask")
        async def ask(event: str, *args: Any) -> Any:
            return await socket.timeout(5).emit_with_ack(event, *args)

        @socket.on("kick")
        async def kick() -> None:
            await socket.disconnect()

    return io


# -- the client ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("parser", [None, msgpack_parser], ids=["default", "msgpack"])
async def test_binary_crosses_both_ways_with_the_servers_parser(parser: Any) -> None:
    io = echo_server(parser=parser)
    async with TestClient(io) as client:
        data = {"name": "blob", "bytes": b"\x00\xff" * 10, "nested": [b"\x01", 2]}
        assert await client.emit_with_ack("echo", data) == data
        client.on("file", lambda blob: bytes(reversed(blob)))
        assert await client.emit_with_ack("ask", "file", b"\x01\x02\x03") == b"\x03\x02\x01"


async def test_every_argument_of_an_ack_and_an_empty_ack() -> None:
    io = echo_server()
    async with TestClient(io) as client:
        assert await client.emit_with_ack_args("echo", 1, "two", [3]) == [[1, "two", [3]]]
        client.on("nothing", lambda: None)
        assert await client.emit_with_ack("ask", "nothing") is None
        client.on(
            "pair", lambda: (1, 2)
        )  # a tuple: several arguments, of which the server's ack keeps the first
        assert await client.emit_with_ack("ask", "pair") == 1


async def test_an_async_handler_answers_the_servers_ack() -> None:
    io = echo_server()
    async with TestClient(io) as client:

        @client.on("later")
        async def later(n: int) -> int:
            await asyncio.sleep(0)
            return n + 1

        assert await client.emit_with_ack("ask", "later", 41) == 42


async def test_events_that_came_before_the_call_are_received_in_order() -> None:
    io = Server()
    io.on("connection", lambda socket: None)
    async with TestClient(io) as client:
        for n in range(3):
            await io.emit("tick", n)
        await client.emit("nothing")  # gives the loop a few turns
        assert client.pending("tick") == [[0], [1], [2]]
        assert [await client.received("tick") for _ in range(3)] == [[0], [1], [2]]
        with pytest.raises(TimeoutError):
            await client.received("tick", timeout=0.01)


async def test_namespaces_static_and_dynamic() -> None:
    io = Server()
    io.of("/admin").on("connection", lambda socket: socket.on("who", lambda: socket.nsp.name))
    io.of(re.compile(r"^/room-\d+$")).on(
        "connection", lambda socket: socket.on("who", lambda: socket.nsp.name)
    )
    async with TestClient(io, "/admin") as admin, TestClient(io, "room-7") as room:
        assert await admin.emit_with_ack("who") == "/admin"
        assert await room.emit_with_ack("who") == "/room-7"
    with pytest.raises(ConnectError, match="Invalid namespace"):
        async with TestClient(io, "/nowhere"):
            pass


async def test_the_handshake_carries_auth_headers_and_query() -> None:
    io = Server()
    seen: list[Any] = []
    io.on("connection", lambda socket: seen.append(socket.handshake))
    async with TestClient(io, auth={"token": "t"}, headers={"X-Trace": "abc"}, query={"room": "5"}) as client:
        assert client.handshake["sid"] == client.sid
        assert client.handshake["pingInterval"] == 25000
    (handshake,) = seen
    assert handshake.auth == {"token": "t"}
    assert handshake.headers["x-trace"] == "abc"
    assert handshake.query["room"] == "5"
    assert handshake.query["EIO"] == "4"


async def test_a_refused_client_closes_its_connection() -> None:
    io = Server()

    @io.use
    def refuse(socket: Socket) -> None:
        raise ConnectError("no", {"why": "closed"})

    with pytest.raises(ConnectError, match="no") as refused:
        await TestClient(io).connect()
    assert refused.value.data == {"why": "closed"}
    await settle()
    assert io.engine.clients_count == 0


async def test_allow_request_refusing_raises_connect_error() -> None:
    def allow_request(request: aiosocketio.Request) -> bool:
        return request.headers.get("x-api-key") == "secret"

    io = Server(allow_request=allow_request)
    with pytest.raises(ConnectError) as refused:
        async with TestClient(io):
            pass
    assert refused.value.data == {"status": 400}
    async with TestClient(io, headers={"X-API-Key": "secret"}) as client:
        assert client.connected


async def test_disconnect_reasons_on_both_sides() -> None:
    io = echo_server()
    reasons: dict[str, str] = {}
    io.on(
        "connection",
        lambda socket: socket.on("disconnect", lambda reason, *_: reasons.update({socket.id: reason})),
    )
    async with TestClient(io) as leaving:
        pass
    assert reasons[leaving.id] == "client namespace disconnect"  # type: ignore[index]
    assert leaving.disconnect_reason == "io client disconnect"
    async with TestClient(io) as kicked:
        await kicked.emit("kick")
        assert await kicked.disconnected() == "io server disconnect"
    assert reasons[kicked.id] == "server namespace disconnect"  # type: ignore[index]
    async with TestClient(io) as lost:
        lost.transport_close()
        await settle()  # the loss reaches the server on the next loop turns
    assert reasons[lost.id] == "transport close"  # type: ignore[index]
    await io.close()


async def test_many_clients_at_once() -> None:
    io = Server()
    io.on("connection", lambda socket: socket.join("all"))
    clients = [TestClient(io) for _ in range(100)]
    await asyncio.gather(*(client.connect() for client in clients))
    assert len({client.id for client in clients}) == 100
    await io.to("all").emit("hello", "everyone")
    assert all([await client.received("hello") == ["everyone"] for client in clients])
    await asyncio.gather(*(client.disconnect() for client in clients))
    assert io.engine.clients_count == 0


# -- the clock ----------------------------------------------------------------------------------------------


async def test_the_clock_runs_timers_in_order_and_only_when_advanced() -> None:
    clock = FakeClock()
    fired: list[tuple[str, float]] = []
    clock.call_later(2, lambda: fired.append(("b", clock.time())))
    clock.call_at(1, lambda: fired.append(("a", clock.time())))
    cancelled = clock.call_later(1.5, lambda: fired.append(("never", clock.time())))
    cancelled.cancel()
    await asyncio.sleep(0.01)
    assert fired == []
    await clock.advance(1.9)
    assert fired == [("a", 1.0)]
    assert clock.time() == 1.9
    await clock.advance(0.1)
    assert fired == [("a", 1.0), ("b", 2.0)]
    assert clock.pending == []
    with pytest.raises(ValueError, match="does not go back"):
        await clock.advance(-1)


async def test_a_session_without_namespace_meets_the_connect_timeout_on_the_clock() -> None:
    clock = FakeClock()
    io = Server(clock=clock, connect_timeout=45)
    async with TestClient(io, namespace=None) as bare:
        await clock.advance(44.9)
        assert io.engine.clients_count == 1
        await clock.advance(0.1)
        assert await bare.disconnected() == "transport close"
        assert io.engine.clients_count == 0


async def test_heartbeats_follow_the_clock() -> None:
    clock = FakeClock()
    io = Server(clock=clock, ping_interval=25, ping_timeout=20)
    async with TestClient(io) as alive, TestClient(io, answer_pings=False) as silent:
        await clock.advance(25 + 19.9)
        assert silent.connected
        await clock.advance(0.1)
        assert await silent.disconnected() == "transport close"
        await clock.advance(3600)  # an hour of pings and pongs
        assert alive.connected


async def test_a_broadcast_ack_times_out_on_the_clock_with_the_answers_it_got() -> None:
    clock = FakeClock()
    io = Server(clock=clock)
    async with TestClient(io) as answers, TestClient(io) as silent:
        answers.on("vote", lambda: "yes")
        voting = asyncio.ensure_future(io.timeout(10).emit_with_ack("vote"))
        await clock.advance(9.9)
        assert not voting.done()
        await clock.advance(0.1)
        with pytest.raises(AckTimeoutError) as timed_out:
            await voting
        assert timed_out.value.responses == ["yes"]
        assert silent.connected


async def test_the_recovery_window_closes_on_the_clock() -> None:
    clock = FakeClock()
    io = Server(clock=clock, connection_state_recovery={"max_disconnection_duration": 30})
    io.on("connection", lambda socket: None)
    async with TestClient(io) as first:
        await io.emit("news", 1)
        assert await first.received("news") == [1]
        first.transport_close()
        async with first.reconnect() as soon:
            assert soon.recovered
            assert soon.id == first.id
            await io.emit("news", 2)
            assert await soon.received("news") == [2]
            soon.transport_close()
        await clock.advance(31)
        async with soon.reconnect() as late:
            assert not late.recovered
            assert late.id != first.id


# -- the cluster --------------------------------------------------------------------------------------------


async def test_the_cluster_runs_fetch_sockets_server_side_emit_and_broadcast_acks() -> None:
    cluster = InMemoryCluster()
    one, other = cluster.server(), cluster.server()
    other.on("question", lambda n: n * 2)
    async with TestClient(one) as a, TestClient(other) as b:
        await other.in_(b.id).sockets_join("joined-remotely")  # type: ignore[arg-type]
        remote = await one.in_("joined-remotely").fetch_sockets()
        assert [s.id for s in remote] == [b.id]
        assert await one.server_side_emit_with_ack("question", 21, timeout=1) == [42]
        a.on("vote", lambda: "a")
        b.on("vote", lambda: "b")
        assert sorted(await one.timeout(1).emit_with_ack("vote")) == ["a", "b"]
        await one.disconnect_sockets()
        assert await b.disconnected() == "io server disconnect"
    assert {type(m.body).__name__ for m in cluster.log} >= {"FetchSocketsMessage", "ServerSideEmitMessage"}
    await cluster.close()
    assert cluster.adapters == []


# -- the pytest plugin --------------------------------------------------------------------------------------


def test_the_kit_and_its_plugin_load_no_optional_dependency() -> None:
    code = (
        "import sys, aiosocketio.testing, aiosocketio.testing.pytest_plugin as plugin;"
        "[getattr(aiosocketio.testing, name) for name in aiosocketio.testing.__all__ if 'Cluster' not in name];"
        "print(sorted(m for m in ('msgpack', 'redis', 'uvicorn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    for name in aiosocketio.testing.__all__:  # the cluster among them (msgpack is installed here)
        assert getattr(aiosocketio.testing, name) is not None


def test_the_plugin_is_declared_as_a_pytest11_entry_point() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["entry-points"]["pytest11"] == {
        "aiosocketio.testing.pytest_plugin": "aiosocketio.testing.pytest_plugin"
    }


async def test_the_fixtures_give_a_clock_clients_and_a_cluster(
    aiosocketio_clock: FakeClock, aiosocketio_client: Any, aiosocketio_cluster: InMemoryCluster
) -> None:
    io = aiosocketio_cluster.server(clock=aiosocketio_clock)
    client = await aiosocketio_client(io, auth={"who": "me"})
    assert client.connected
    assert aiosocketio_clock.time() == 0
