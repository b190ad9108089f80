"""``aiosocketio.admin.instrument()``: the Admin UI's protocol, driven by python-socketio clients over loopback.

An admin client connects to ``/admin`` as the UI does (``auth`` with the credentials, or a session id given at an
earlier login) and records what it receives; user clients connect to the main namespace. Each test serves the
instrumented server on the built-in runner and under uvicorn (an ASGI app, with its lifespan).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import bcrypt
import pytest
import socketio
import uvicorn

import aiosocketio
from aiosocketio.admin import instrument
from aiosocketio.exceptions import ConnectError

PROMPTLY = 5.0
PASSWORD = "changeit"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
AUTH = {"type": "basic", "username": "admin", "password": HASH}
ALL_ACTIONS = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["runner", "uvicorn"])
def frontend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.asynccontextmanager
async def serving(io: aiosocketio.Server, frontend: str) -> AsyncIterator[str]:
    """``io`` listening on a free loopback port until the block ends; yields its URL."""
    port = free_port()
    if frontend == "runner":
        await io.listen("127.0.0.1", port)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await io.close()
        return
    config = uvicorn.Config(io.asgi_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(PROMPTLY):
            while not server.started:
                assert not task.done(), "uvicorn stopped before serving"
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, PROMPTLY)


class Admin:
    """An Admin UI stand-in: a client of ``/admin`` that records every event it receives, in order."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[Any, ...]] = []
        self._changed = asyncio.Event()

        @self.client.on("*", namespace="/admin")
        def record(event: str, *args: Any) -> None:
            self.received.append((event, *args))
            self._changed.set()

        @self.client.on("connect_error", namespace="/admin")
        def refused(data: Any) -> None:
            self.received.append(("connect_error", data))

    async def connect(self, url: str, auth: dict[str, Any] | None = None) -> None:
        await self.client.connect(
            url, namespaces=["/admin"], auth=auth, transports=["websocket"], wait_timeout=PROMPTLY
        )

    def events(self, name: str) -> list[tuple[Any, ...]]:
        return [args for event, *args in self.received if event == name for args in [tuple(args)]]

    async def wait_for(
        self, name: str, check: Callable[[tuple[Any, ...]], bool] = lambda _: True
    ) -> tuple[Any, ...]:
        """The first ``name`` event (received so far or later) whose arguments pass ``check``."""
        async with asyncio.timeout(PROMPTLY):
            while True:
                for args in self.events(name):
                    if check(args):
                        return args
                self._changed.clear()
                await self._changed.wait()

    async def emit(self, event: str, *args: Any) -> None:
        await self.client.emit(event, args, namespace="/admin")

    async def close(self) -> None:
        await self.client.disconnect()


@contextlib.asynccontextmanager
async def admin_client(url: str, auth: dict[str, Any] | None = None) -> AsyncIterator[Admin]:
    admin = Admin()
    await admin.connect(url, auth)
    try:
        yield admin
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def user_client(url: str, transports: list[str] | None = None) -> AsyncIterator[socketio.AsyncClient]:
    client = socketio.AsyncClient(reconnection=False)
    client.received = []  # type: ignore[attr-defined]
    client.on("*", lambda event, *args: client.received.append((event, *args)))  # type: ignore[attr-defined]
    await client.connect(url, transports=transports or ["polling", "websocket"], wait_timeout=PROMPTLY)
    try:
        yield client
    finally:
        await client.disconnect()


def chat_server(**options: Any) -> aiosocketio.Server:
    """A server whose clients ``enter`` rooms and ``chat`` (answered with an ``echo``), instrumented."""
    io = aiosocketio.Server()
    instrument(io, **{"auth": AUTH, **options})

    @io.on("connection")
    async def on_connection(socket: aiosocketio.Socket) -> None:
        socket.data["nick"] = socket.handshake.query.get("nick", "anonymous")

        @socket.on("enter")
        async def on_enter(room: str) -> str:
            await socket.join(room)
            return "entered"

        @socket.on("chat")
        async def on_chat(text: str) -> str:
            await socket.emit("echo", text)
            return "ok"

    return io


async def refused(url: str, auth: dict[str, Any]) -> None:
    """The UI's connection with ``auth`` is refused as the npm package refuses it."""
    admin = Admin()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await admin.connect(url, auth)
    await admin.close()
    assert admin.received == [("connect_error", {"message": "invalid credentials"})]


async def until(check: Callable[[], bool], what: str) -> None:
    """Poll ``check`` (state that changes on the server's side, with no event to wait for)."""
    deadline = asyncio.get_running_loop().time() + PROMPTLY
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"{what} did not happen within {PROMPTLY} s"
        await asyncio.sleep(0.02)


# -- authentication -----------------------------------------------------------------------------------------------


async def test_a_bad_password_is_refused_and_the_right_one_opens_a_session(frontend: str) -> None:
    io = chat_server()
    async with serving(io, frontend) as url:
        for wrong in (
            {"username": "admin", "password": "wrong"},
            {"username": "root", "password": PASSWORD},
            {},
        ):
            await refused(url, wrong)

        async with admin_client(url, {"username": "admin", "password": PASSWORD}) as admin:
            (session_id,) = await admin.wait_for("session")
            assert isinstance(session_id, str)
            assert len(session_id) == 16
            (config,) = await admin.wait_for("config")
            assert config == {"supportedFeatures": [*ALL_ACTIONS, "AGGREGATED_EVENTS", "ALL_EVENTS"]}

        # The UI reconnects with the session id alone; an unknown one is refused.
        async with admin_client(url, {"sessionId": session_id}) as again:
            await again.wait_for("config")
            assert again.events("session") == []  # no new session for a known one
        await refused(url, {"sessionId": "0123456789abcdef"})


async def test_without_authentication_anyone_connects(frontend: str) -> None:
    io = chat_server(auth=False)
    async with serving(io, frontend) as url, admin_client(url) as admin:
        await admin.wait_for("config")
        assert admin.events("session") == []


def test_the_auth_option_is_checked_at_once() -> None:
    io = aiosocketio.Server()
    with pytest.raises(ValueError, match="must be a valid bcrypt hash"):
        instrument(io, auth={"type": "basic", "username": "admin", "password": "changeit"})
    with pytest.raises(ValueError, match="invalid auth option"):
        instrument(io, auth={"type": "digest"})  # type: ignore[typeddict-item]
    with pytest.raises(ValueError, match="invalid auth option"):
        instrument(io, auth=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode is 'development' or 'production'"):
        instrument(io, auth=False, mode="staging")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="auth"):
        instrument(io)  # type: ignore[call-arg]


async def test_a_hash_made_by_node_bcrypt_is_accepted() -> None:
    """``$2a$`` (bcryptjs) and ``$2y$`` hashes work as the ``$2b$`` ones Python's bcrypt makes."""
    io = aiosocketio.Server()
    prefix_less = HASH[4:]
    for variant in ("$2a$", "$2y$"):
        nsp = instrument(io, auth={"type": "basic", "username": "u", "password": variant + prefix_less})
        assert nsp is io.of("/admin")
    from aiosocketio.admin._instrument import _password_matches

    assert _password_matches(PASSWORD, ("$2a$" + prefix_less).encode())
    assert not _password_matches("nope", ("$2y$" + prefix_less).encode())
    # bcrypt reads 72 bytes of a password: longer ones are cut, not refused with an error
    long_hash = bcrypt.hashpw(b"x" * 72, bcrypt.gensalt(rounds=4))
    assert _password_matches("x" * 100, long_hash)


# -- what the UI shows --------------------------------------------------------------------------------------------


async def test_all_sockets_and_server_stats(frontend: str) -> None:
    io = chat_server(server_id="test-server")
    async with serving(io, frontend) as url, user_client(url + "?nick=alice") as alice:
        assert await alice.call("enter", "garden", timeout=PROMPTLY) == "entered"
        async with admin_client(url, {"username": "admin", "password": PASSWORD}) as admin:
            (sockets,) = await admin.wait_for("all_sockets")
            users = [s for s in sockets if s["nsp"] == "/"]
            assert len(users) == 1
            user = users[0]
            assert user["id"] == alice.get_sid("/")
            assert sorted(user["rooms"]) == sorted([user["id"], "garden"])
            assert user["data"] == {"nick": "alice"}  # the instrumentation's own _admin entry is not shown
            assert user["transport"] == "websocket"  # alice upgraded before the admin came
            assert isinstance(user["clientId"], str)
            assert len(user["clientId"]) == 12
            handshake = user["handshake"]
            assert handshake["address"] == "127.0.0.1"
            assert handshake["query"]["nick"] == "alice"
            assert handshake["url"].startswith("/socket.io/?")
            assert set(handshake) == {
                "address",
                "headers",
                "query",
                "issued",
                "secure",
                "time",
                "url",
                "xdomain",
            }
            # the admin client itself is listed in its namespace, as the npm package does
            assert [s["nsp"] for s in sockets].count("/admin") == 1

            (stats,) = await admin.wait_for("server_stats")
            assert stats["serverId"] == "test-server"
            assert stats["hostname"] == socket.gethostname()
            assert isinstance(stats["pid"], int)
            assert stats["uptime"] > 0
            assert stats["clientsCount"] == 2  # alice's connection and the admin's
            assert stats["pollingClientsCount"] == 0
            assert {"name": "/", "socketsCount": 1} in stats["namespaces"]
            assert {"name": "/admin", "socketsCount": 1} in stats["namespaces"]
            seen = {event["type"] for s in admin.events("server_stats") for event in s[0]["aggregatedEvents"]}
            assert {"rawConnection", "packetsIn", "packetsOut", "bytesIn", "bytesOut"} <= seen
            for event in stats["aggregatedEvents"]:
                assert event["timestamp"] % 1000 == 0
                assert event["count"] > 0


async def test_live_updates_of_sockets_rooms_data_and_events(frontend: str) -> None:
    io = chat_server()
    async with (
        serving(io, frontend) as url,
        admin_client(url, {"username": "admin", "password": PASSWORD}) as admin,
    ):
        await admin.wait_for("all_sockets")
        async with user_client(url + "?nick=bob", ["websocket"]) as bob:
            sid = bob.get_sid("/")
            socket_info, when = await admin.wait_for("socket_connected", lambda a: a[0]["id"] == sid)
            assert socket_info["nsp"] == "/"
            assert socket_info["rooms"] == [sid]
            assert socket_info["transport"] == "websocket"
            assert when.endswith("Z")
            assert len(when) == len("2026-12-07T07:01:02.345Z")
            # the data the connection handler set right after
            await admin.wait_for(
                "socket_updated", lambda a: a[0] == {"id": sid, "nsp": "/", "data": {"nick": "bob"}}
            )

            assert await bob.call("enter", "lobby", timeout=PROMPTLY) == "entered"
            await admin.wait_for("room_joined", lambda a: a[:3] == ("/", "lobby", sid))
            assert await bob.call("chat", "hello", timeout=PROMPTLY) == "ok"
            await admin.wait_for("event_received", lambda a: a[:3] == ("/", sid, ["chat", "hello"]))
            await admin.wait_for("event_sent", lambda a: a[:3] == ("/", sid, ["echo", "hello"]))
        # (python-socketio closes its connection right after its DISCONNECT packet: either reason may come)
        await admin.wait_for(
            "socket_disconnected",
            lambda a: a[:2] == ("/", sid) and a[2] in ("client namespace disconnect", "transport close"),
        )
        await admin.wait_for("room_left", lambda a: a[:3] == ("/", "lobby", sid))
        await admin.wait_for("room_left", lambda a: a[:3] == ("/", sid, sid))
        # The admin's own events are not reported as user events.
        assert all(a[0] != "/admin" for a in admin.events("event_received") + admin.events("event_sent"))


async def test_a_polling_client_is_shown_as_one(frontend: str) -> None:
    """(The upgrade to WebSocket, reported as ``socket_updated``, is seen in the browser test: python-socketio
    upgrades before it connects to a namespace.)"""
    io = chat_server(auth=False)
    async with serving(io, frontend) as url, admin_client(url) as admin:
        await admin.wait_for("all_sockets")
        async with user_client(url, ["polling"]) as carol:
            sid = carol.get_sid("/")
            socket_info, _ = await admin.wait_for("socket_connected", lambda a: a[0]["id"] == sid)
            assert socket_info["transport"] == "polling"
            await admin.wait_for("server_stats", lambda a: a[0]["pollingClientsCount"] == 1)
        await admin.wait_for("server_stats", lambda a: a[0]["pollingClientsCount"] == 0)


# -- the admin's actions ------------------------------------------------------------------------------------------


async def test_disconnect_join_leave_and_emit_act_on_the_user_sockets(
    frontend: str, caplog: pytest.LogCaptureFixture
) -> None:
    io = chat_server()
    async with (
        serving(io, frontend) as url,
        admin_client(url, {"username": "admin", "password": PASSWORD}) as admin,
        user_client(url) as dave,
        user_client(url) as erin,
    ):
        dave_id, erin_id = dave.get_sid("/"), erin.get_sid("/")
        main = io.of("/")
        await until(lambda: dave_id in main.sockets and erin_id in main.sockets, "both connected")

        await admin.emit("join", "/", "vip", dave_id)  # dave alone joins "vip"
        await until(lambda: "vip" in main.sockets[dave_id].rooms, "dave in vip")
        assert "vip" not in main.sockets[erin_id].rooms
        await admin.wait_for("room_joined", lambda a: a[:3] == ("/", "vip", dave_id))

        await admin.emit("emit", "/", "vip", "notice", "for vips", 1)  # to the room only
        await until(lambda: ("notice", "for vips", 1) in dave.received, "dave gets the notice")
        await admin.emit("emit", "/", None, "notice", "for all")  # no filter: everybody
        await until(lambda: ("notice", "for all") in erin.received, "erin gets the broadcast")
        assert ("notice", "for vips", 1) not in erin.received

        await admin.emit("join", "/", "everyone")  # no filter: every socket of the namespace
        await until(lambda: all("everyone" in s.rooms for s in main.sockets.values()), "all in everyone")
        await admin.emit("leave", "/", "vip", dave_id)
        await until(lambda: "vip" not in main.sockets[dave_id].rooms, "dave left vip")

        await admin.emit("_disconnect", "/", False, dave_id)  # the UI's disconnect button
        await until(lambda: not dave.connected, "dave disconnected")
        assert erin.connected
        await admin.wait_for(
            "socket_disconnected", lambda a: a[:3] == ("/", dave_id, "server namespace disconnect")
        )

        # What the network may send instead does no harm and is not logged as an error.
        for bad in (
            ("emit", 42, None, "x"),
            ("emit", "/", None, "connect"),
            ("join", "/", {"a": 1}),
            ("_disconnect",),
        ):
            await admin.emit(*bad)
        await admin.emit("_disconnect", "/", True, erin_id)  # close=True: the whole connection
        await until(lambda: not erin.connected, "erin disconnected")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_read_only_refuses_the_actions(frontend: str) -> None:
    io = chat_server(read_only=True)
    async with (
        serving(io, frontend) as url,
        admin_client(url, {"username": "admin", "password": PASSWORD}) as admin,
        user_client(url) as frank,
    ):
        (config,) = await admin.wait_for("config")
        assert config == {"supportedFeatures": ["AGGREGATED_EVENTS", "ALL_EVENTS"]}
        sid = frank.get_sid("/")
        await admin.emit("_disconnect", "/", False, sid)
        await admin.emit("join", "/", "vip", sid)
        await admin.emit("emit", "/", None, "notice", "hi")
        await asyncio.sleep(0.3)
        assert frank.connected
        assert io.of("/").sockets[sid].rooms == {sid}
        assert frank.received == []


async def test_production_mode_sends_only_the_stats(frontend: str) -> None:
    io = chat_server(mode="production")
    async with (
        serving(io, frontend) as url,
        admin_client(url, {"username": "admin", "password": PASSWORD}) as admin,
        user_client(url) as grace,
    ):
        (config,) = await admin.wait_for("config")
        assert config == {"supportedFeatures": [*ALL_ACTIONS, "AGGREGATED_EVENTS"]}
        assert await grace.call("chat", "hi", timeout=PROMPTLY) == "ok"
        # the sockets are left as they are: no _admin entry in their data
        assert io.of("/").sockets[grace.get_sid("/")].data == {"nick": "anonymous"}
        await admin.wait_for("server_stats", lambda a: {"name": "/", "socketsCount": 1} in a[0]["namespaces"])
        # the counts of the last seconds arrive with the stats that follow
        await admin.wait_for(
            "server_stats", lambda a: any(e["type"] == "rawConnection" for e in a[0]["aggregatedEvents"])
        )
        await admin.emit("_disconnect", "/", False)  # the actions still work
        await until(lambda: not grace.connected, "grace disconnected")
    names = {event for event, *_ in admin.received}
    assert names <= {"session", "config", "server_stats"}, names


async def test_a_connection_refused_by_a_namespace_middleware_shows_in_the_counts(frontend: str) -> None:
    io = chat_server(auth=False)

    @io.of("/private").use
    def refuse(socket: aiosocketio.Socket) -> None:
        raise ConnectError("not allowed")

    async with serving(io, frontend) as url, admin_client(url) as admin:
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(
                url, namespaces=["/private"], transports=["websocket"], wait_timeout=PROMPTLY
            )
        await client.disconnect()
        await admin.wait_for(
            "server_stats", lambda a: any(e["type"] == "rawDisconnection" for e in a[0]["aggregatedEvents"])
        )
        assert [a for a in admin.events("socket_connected") if a[0]["nsp"] != "/admin"] == []


# -- the stats timer follows the server's life ----------------------------------------------------------------------


async def test_the_stats_timer_starts_with_the_server_and_stops_with_it() -> None:
    io = aiosocketio.Server()
    started: list[str] = []
    io.on("startup", lambda: started.append("startup"))
    io.on("shutdown", lambda: started.append("shutdown"))
    nsp = instrument(io, auth=False)
    tasks_before = asyncio.all_tasks()
    await io.startup()
    assert started == ["startup"]
    stats_tasks = asyncio.all_tasks() - tasks_before
    assert len(stats_tasks) == 1
    await io.shutdown()
    assert started == ["startup", "shutdown"]
    await asyncio.sleep(0)
    assert all(task.done() for task in stats_tasks)
    assert nsp.name == "/admin"
    await io.startup()  # served again: the timer runs again
    assert len(asyncio.all_tasks() - tasks_before) == 1
    await io.close()


async def test_data_changes_are_reported_key_by_key() -> None:
    from aiosocketio.admin._instrument import TrackedData

    changes: list[dict[str, Any]] = []
    data = TrackedData({"a": 1}, lambda d: changes.append(dict(d)))
    data["b"] = 2
    data.update(c=3)
    del data["a"]
    data.setdefault("b", 9)  # present: no change
    data.setdefault("d", 4)
    data.pop("zz", None)  # absent: no change
    data.pop("d")
    data |= {"e": 5}
    assert changes == [
        {"a": 1, "b": 2},
        {"a": 1, "b": 2, "c": 3},
        {"b": 2, "c": 3},
        {"b": 2, "c": 3, "d": 4},
        {"b": 2, "c": 3},
        {"b": 2, "c": 3, "e": 5},
    ]
    assert isinstance(data, dict)


def test_a_remote_socket_is_listed_whatever_its_handshake() -> None:
    """A socket fetched from another server: its handshake is a ``Handshake`` or, when that server sent fields
    of its own, the dict it sent; its data may lack the ``_admin`` entry (a server in production mode)."""
    from types import SimpleNamespace

    from aiosocketio.admin._instrument import serialize_socket

    handshake = {
        "headers": {"x-forwarded-for": "10.0.0.7", "host": "example.com"},
        "address": "127.0.0.1",
        "query": {"EIO": "4"},
        "issued": 1,
        "secure": True,
        "time": "then",
        "url": "/socket.io/?EIO=4",
        "xdomain": False,
        "auth": {"token": "secret"},
        "extra": "from a newer server",
    }
    remote = SimpleNamespace(id="abc", handshake=handshake, rooms={"abc", "r"}, data={"nick": "zoe"})
    listed = serialize_socket(remote, "/chat")
    assert listed["handshake"]["address"] == "10.0.0.7"  # the proxy's header first, as the npm package does
    assert "auth" not in listed["handshake"]
    assert "extra" not in listed["handshake"]
    assert "clientId" not in listed
    assert "transport" not in listed
    assert listed["data"] == {"nick": "zoe"}
    assert sorted(listed["rooms"]) == ["abc", "r"]
    odd = SimpleNamespace(
        id="x", handshake=None, rooms=set(), data={"when": object(), "_admin": {"clientId": 1}}
    )
    assert serialize_socket(odd, "/")["data"]["when"].startswith("<object object")  # shown, not an error
