"""Programmer mistakes get an error that says what to write instead.

- durations that look like milliseconds (the Node.js server takes milliseconds, this package seconds);
- an optional dependency that is not installed: the extra to install (each case in a fresh interpreter where
  the import fails, as it does when the package is missing);
- a wrong type: the type expected;
- code written for python-socketio: the equivalent call here.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from typing import Any

import pytest

import aiosocketio
from aiosocketio.engineio.server import EngineServer

# -- durations in milliseconds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "seconds"),
    [
        ("ping_interval", 25000, "25"),
        ("ping_timeout", 20000, "20"),
        ("upgrade_timeout", 10000, "10"),
        ("connect_timeout", 45000, "45"),
    ],
)
def test_server_durations_in_milliseconds_are_refused(option: str, value: int, seconds: str) -> None:
    message = (
        f"{option}={value} looks like milliseconds, but aiosocketio takes seconds: write {option}={seconds} "
        f"for {value} ms (values of 1000 s and more are refused)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        aiosocketio.Server(**{option: value})
    if option != "connect_timeout":
        with pytest.raises(ValueError, match=re.escape(message)):
            EngineServer(**{option: value})


def test_sensible_durations_are_accepted() -> None:
    io = aiosocketio.Server(ping_interval=999, ping_timeout=0.5, upgrade_timeout=300, connect_timeout=600.0)
    assert (io.engine.ping_interval, io.engine.ping_timeout, io.engine.upgrade_timeout) == (999.0, 0.5, 300.0)
    assert io.connect_timeout == 600.0
    recovery = aiosocketio.Server(connection_state_recovery={"max_disconnection_duration": 86399})
    assert recovery.connection_state_recovery == {
        "max_disconnection_duration": 86399.0,
        "skip_middlewares": True,
    }


def test_a_recovery_window_in_milliseconds_is_refused() -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "max_disconnection_duration=120000 looks like milliseconds, but aiosocketio takes seconds: write "
            "max_disconnection_duration=120 for 120000 ms (values of 86400 s and more are refused)"
        ),
    ):
        aiosocketio.Server(connection_state_recovery={"max_disconnection_duration": 120000})


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("5", TypeError, "ping_interval is a number of seconds (int or float), not str"),
        (True, TypeError, "ping_interval is a number of seconds (int or float), not bool"),
        (0, ValueError, "ping_interval is a positive number of seconds, got 0"),
        (float("nan"), ValueError, "ping_interval is a positive number of seconds, got nan"),
    ],
)
def test_a_duration_of_the_wrong_kind_names_what_is_expected(value: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        aiosocketio.Server(ping_interval=value)


async def test_an_ack_timeout_in_milliseconds_is_refused() -> None:
    io = aiosocketio.Server()
    message = (
        "timeout=5000 looks like milliseconds, but aiosocketio takes seconds: write timeout=5 for 5000 ms "
        "(values of 1000 s and more are refused); to wait longer, await emit_with_ack() without timeout() "
        "inside asyncio.timeout()"
    )
    for make in (io.timeout, io.of("/chat").timeout, io.to("room").timeout, io.local.timeout):
        with pytest.raises(ValueError, match=re.escape(message)):
            make(5000)
    with pytest.raises(ValueError, match=re.escape("timeout=10000 looks like milliseconds")):
        await io.server_side_emit_with_ack("ask", timeout=10000)
    with pytest.raises(TypeError, match=re.escape("timeout is a number of seconds (int or float), not str")):
        io.timeout("5")
    assert io.timeout(0).options.flags.timeout == 0.0
    assert io.timeout(999.5).options.flags.timeout == 999.5


@pytest.mark.parametrize(
    ("make", "option", "value"),
    [
        ("redis.create_adapter(URL, requests_timeout=5000)", "requests_timeout", 5000),
        ("redis.create_sharded_adapter(URL, requests_timeout=5000)", "requests_timeout", 5000),
        ("redis_streams.create_adapter(URL, requests_timeout=5000)", "requests_timeout", 5000),
        ("redis_streams.create_adapter(URL, block_time=5000)", "block_time", 5000),
        ("postgres.create_adapter(PG, requests_timeout=5000)", "requests_timeout", 5000),
        ("postgres.create_adapter(PG, heartbeat_interval=5000)", "heartbeat_interval", 5000),
        ("postgres.create_adapter(PG, heartbeat_timeout=10000)", "heartbeat_timeout", 10000),
        ("postgres.create_adapter(PG, cleanup_interval=30000)", "cleanup_interval", 30000),
    ],
)
def test_adapter_durations_in_milliseconds_are_refused(make: str, option: str, value: int) -> None:
    """The npm adapters take these in milliseconds (``requestsTimeout: 5000``...): copied as they are, they
    would make a request wait hours; refused when the adapter is made, before any connection."""
    from aiosocketio.adapters import postgres, redis, redis_streams

    names = {
        "redis": redis,
        "redis_streams": redis_streams,
        "postgres": postgres,
        "URL": "redis://127.0.0.1:1/0",
        "PG": "postgresql://127.0.0.1:1/x",
    }
    message = f"{option}={value} looks like milliseconds, but aiosocketio takes seconds: write {option}={value / 1000:g}"
    with pytest.raises(ValueError, match=re.escape(message)):
        eval(make, names)
    with pytest.raises(ValueError, match=re.escape(f"{option} is a positive number of seconds, got 0")):
        eval(make.replace(str(value), "0"), names)


async def test_cluster_adapter_heartbeats_in_milliseconds_are_refused() -> None:
    from aiosocketio.adapters.cluster import ClusterAdapterWithHeartbeat

    class Bus(ClusterAdapterWithHeartbeat):
        """A bus of its own: the two methods every back-end implements."""

        async def _do_publish(self, message: Any) -> None:
            return None

        async def _do_publish_response(self, requester: str, message: Any) -> None:
            return None

    nsp = aiosocketio.Server().of("/")
    with pytest.raises(ValueError, match=re.escape("heartbeat_interval=5000 looks like milliseconds")):
        Bus(nsp, heartbeat_interval=5000)
    with pytest.raises(ValueError, match=re.escape("heartbeat_timeout=10000 looks like milliseconds")):
        Bus(nsp, heartbeat_timeout=10000)
    with pytest.raises(ValueError, match=re.escape("requests_timeout=5000 looks like milliseconds")):
        Bus(nsp, requests_timeout=5000)
    assert Bus(nsp, requests_timeout=2, heartbeat_interval=1, heartbeat_timeout=3).requests_timeout == 2.0


# -- optional dependencies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "code", "message"),
    [
        (
            "redis",
            "from aiosocketio.adapters.redis import create_adapter\n"
            "aiosocketio.Server(adapter=create_adapter('redis://127.0.0.1:1/0'))",
            "the Redis adapter needs the 'redis' package, which is not installed: pip install 'aiosocketio[redis]'",
        ),
        (
            "redis",
            "from aiosocketio.adapters.redis import create_sharded_adapter\n"
            "create_sharded_adapter('redis://127.0.0.1:1/0')",
            "the sharded Redis adapter needs the 'redis' package, which is not installed: "
            "pip install 'aiosocketio[redis]'",
        ),
        (
            "redis",
            "from aiosocketio.adapters import redis_streams\n"
            "aiosocketio.Server(adapter=redis_streams.create_adapter('redis://127.0.0.1:1/0'))",
            "the Redis adapter needs the 'redis' package, which is not installed: pip install 'aiosocketio[redis]'",
        ),
        (
            "redis",
            "from aiosocketio.emitter import RedisEmitter\nRedisEmitter('redis://127.0.0.1:1/0')",
            "RedisEmitter needs the 'redis' package, which is not installed: pip install 'aiosocketio[redis]'",
        ),
        (
            "redis",
            "from aiosocketio.emitter import SyncRedisEmitter\nSyncRedisEmitter('redis://127.0.0.1:1/0')",
            "SyncRedisEmitter needs the 'redis' package, which is not installed: pip install 'aiosocketio[redis]'",
        ),
        (
            "asyncpg",
            "from aiosocketio.adapters import postgres\npostgres.create_adapter('postgresql://127.0.0.1:1/x')",
            "the PostgreSQL adapter needs the 'asyncpg' package, which is not installed: "
            "pip install 'aiosocketio[postgres]'",
        ),
        (
            "msgpack",
            "from aiosocketio.parsers import msgpack",
            "the msgpack parser (aiosocketio.parsers.msgpack) needs the 'msgpack' package, which is not "
            "installed: pip install 'aiosocketio[msgpack]'",
        ),
        (
            "msgpack",
            "from aiosocketio.adapters.redis import create_adapter",
            "each cluster adapter (workers, Redis, PostgreSQL) and emitter needs the 'msgpack' package",
        ),
        (
            "msgpack",
            "from aiosocketio.adapters.workers import create_adapter",
            "each cluster adapter (workers, Redis, PostgreSQL) and emitter needs the 'msgpack' package, which is "
            "not installed: pip install 'aiosocketio[msgpack]'",
        ),
        (
            "bcrypt",
            "from aiosocketio.admin import instrument\n"
            "instrument(aiosocketio.Server(), auth={'type': 'basic', 'username': 'a', 'password': "
            "'$2b$10$vcnCZ8ARnzZJM4U4bWhnE.ug.PHR4V2tw1Qr.kbpVWeBLyxsjpHB6'})",
            "the Admin UI's basic authentication needs the 'bcrypt' package, which is not installed: "
            "pip install 'aiosocketio[admin]'",
        ),
        (
            "prometheus_client",
            "from aiosocketio.metrics import instrument\ninstrument(aiosocketio.Server())",
            "aiosocketio.metrics needs the 'prometheus_client' package, which is not installed: "
            "pip install 'aiosocketio[metrics]'",
        ),
        (
            "prometheus_client",
            "from aiosocketio.metrics import asgi_app\nasgi_app()",
            "aiosocketio.metrics needs the 'prometheus_client' package, which is not installed: "
            "pip install 'aiosocketio[metrics]'",
        ),
    ],
    ids=lambda value: value.splitlines()[0][:60] if isinstance(value, str) and "\n" in value else None,
)
def test_a_missing_optional_dependency_names_the_extra(missing: str, code: str, message: str) -> None:
    program = (
        "import sys\n"
        f"sys.modules[{missing!r}] = None  # what an uninstalled package looks like to import\n"
        "import aiosocketio\n"
        "try:\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + "except ModuleNotFoundError as exc:\n"
        "    print(exc.name, exc, sep='|')\n"
        "else:\n"
        "    print('no error')\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    name, _, text = result.stdout.strip().partition("|")
    assert name == missing
    assert text.startswith(message), text


def test_the_emitters_message_names_every_extra() -> None:
    program = (
        "import sys\nsys.modules['msgpack'] = None\n"
        "try:\n    import aiosocketio.emitter\nexcept ImportError as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == (
        "each cluster adapter (workers, Redis, PostgreSQL) and emitter needs the 'msgpack' package, which is not "
        "installed: pip install 'aiosocketio[msgpack]' or pip install 'aiosocketio[redis]' or "
        "pip install 'aiosocketio[postgres]'"
    )


# -- wrong types --------------------------------------------------------------------------------------------


def test_a_room_of_the_wrong_type_names_the_type() -> None:
    io = aiosocketio.Server()
    message = "a room is a str or an iterable of str, not int: write str(5) for a room named after it"
    for make in (io.to, io.in_, io.except_, io.of("/x").to, io.to("a").except_):
        with pytest.raises(TypeError, match=re.escape(message)):
            make(5)
    with pytest.raises(TypeError, match=re.escape("a room name is a str, not int (5 in ['a', 5])")):
        io.to(["a", 5])
    with pytest.raises(TypeError, match=re.escape("a room is a str, not bytes: decode it first")):
        io.to(b"room")
    assert io.to(["a", "b"]).to("c").options.rooms == {"a", "b", "c"}


async def test_socket_rooms_of_the_wrong_type_name_the_type() -> None:
    from aiosocketio.socket import Socket

    socket = object.__new__(Socket)  # join/leave check their argument before touching the socket
    with pytest.raises(TypeError, match=re.escape("a room is a str or an iterable of str, not int")):
        await socket.join(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape("leave() takes one room name, a str, not int")):
        await socket.leave(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape("leave() takes one room name, a str, not list")):
        await socket.leave(["a"])  # type: ignore[arg-type]


async def test_other_wrong_types_name_the_expected_type() -> None:
    io = aiosocketio.Server()
    with pytest.raises(
        TypeError,
        match=re.escape(
            "of() takes a namespace name (a str such as '/admin'), a compiled regex or a function "
            "(name, auth) -> bool, not int"
        ),
    ):
        io.of(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape("an event name is a str (or a number), not NoneType")):
        await io.emit(None)
    with pytest.raises(TypeError, match=re.escape("an event name to listen to is a str, not int")):
        io.of("/x").on(5, lambda: None)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=re.escape("a listener must be callable, got str")):
        io.on("connection", "handler")  # type: ignore[call-overload]
    # A number is a valid event name, as in the reference (its parser accepts numbers there).
    await io.emit(5, "data")


# -- python-socketio's API ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "hint"),
    [
        (
            "event",
            "handle a client's events on its socket: @io.on('connection') async def on_connection(socket)",
        ),
        ("enter_room", "join a room with await socket.join(room), or await io.in_(sid).sockets_join(room)"),
        (
            "leave_room",
            "leave a room with await socket.leave(room), or await io.in_(sid).sockets_leave(room)",
        ),
        ("save_session", "keep a client's data in socket.data (a dict)"),
        ("call", "await socket.timeout(5).emit_with_ack(event, ...)"),
        ("start_background_task", "asyncio.create_task(...)"),
    ],
)
def test_python_socketio_server_methods_name_the_call_here(attribute: str, hint: str) -> None:
    io = aiosocketio.Server()
    with pytest.raises(
        AttributeError,
        match=re.escape(
            f"Server has no attribute {attribute!r}: this is python-socketio's API; with aiosocketio, "
        ),
    ) as caught:
        getattr(io, attribute)
    assert hint in str(caught.value)
    with pytest.raises(AttributeError, match=re.escape("'Server' object has no attribute 'nothing_like_it'")):
        io.nothing_like_it  # noqa: B018


def test_a_python_socketio_connect_handler_is_refused_at_registration() -> None:
    io = aiosocketio.Server()
    message = (
        "the 'connect' handler is called with one argument, the Socket, and "
        "connect(sid, environ) "
        "cannot take it: this is python-socketio's API; with aiosocketio, write async def "
        "on_connection(socket): ... (python-socketio's sid, environ and auth are socket.id, socket.handshake "
        "and socket.handshake.auth)"
    )
    with pytest.raises(TypeError, match=re.escape(message)):

        @io.on("connect")
        def connect(sid: str, environ: dict[str, Any]) -> None: ...

    with pytest.raises(TypeError, match="the 'connection' handler is called with one argument"):
        io.of("/admin").on("connection", lambda sid, environ, auth: None)
    # Handlers that take the socket are fine, whatever their parameters are called.
    io.on("connection", lambda sid: None)
    io.on("connect", lambda socket, *rest: None)
    io.of("/admin").on("connection", print)


def test_a_disconnect_handler_on_the_server_is_refused() -> None:
    io = aiosocketio.Server()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "io emits no 'disconnect' event: a socket does. this is python-socketio's API; with aiosocketio, "
            "register it on the socket in the connection handler: @socket.on('disconnect') async def "
            "on_disconnect(reason, description): ..."
        ),
    ):
        io.on("disconnect", lambda sid: None)
    with pytest.raises(ValueError, match=re.escape("io.of('/chat') emits no 'disconnect' event")):
        io.of("/chat").on("disconnect", lambda sid, reason: None)


def test_a_client_event_handler_on_the_server_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    io = aiosocketio.Server()
    with caplog.at_level(logging.WARNING, logger="aiosocketio"):
        io.on("chat", lambda sid, data: None)
        io.on("reload", lambda names: None)  # a server-side event's handler: nothing to say
    [record] = caplog.records
    assert record.getMessage().startswith(
        "io.on('chat') gets the events other servers of a cluster send (server_side_emit), and <lambda>(sid, "
        "data) takes a sid as a client event's handler does in python-socketio: if it is one, handle a "
        "client's events on its socket"
    )


@pytest.mark.parametrize(
    ("keywords", "call"),
    [
        ({"room": "r1"}, "await io.to('r1').emit('chat', ...)"),
        ({"to": "sid1"}, "await io.to('sid1').emit('chat', ...)"),
        ({"skip_sid": "sid1"}, "await io.except_('sid1').emit('chat', ...)"),
        (
            {"room": "r1", "namespace": "/admin", "skip_sid": "s"},
            "await io.of('/admin').to('r1').except_('s').emit('chat', ...)",
        ),
        (
            {"to": "sid1", "callback": print},
            "answers = await io.to('sid1').timeout(5).emit_with_ack('chat', ...)",
        ),
    ],
)
async def test_python_socketio_emit_keywords_name_the_call_here(keywords: dict[str, Any], call: str) -> None:
    io = aiosocketio.Server()
    names = ", ".join(f"{name}=" for name in keywords)
    message = (
        f"emit() takes no {names} argument: this is python-socketio's API; with aiosocketio, write {call}"
    )
    with pytest.raises(TypeError, match=re.escape(message)):
        await io.emit("chat", {"text": "hi"}, **keywords)
    with pytest.raises(TypeError, match=re.escape("send() takes no room= argument")):
        await io.send("hi", room="r1")
    with pytest.raises(TypeError, match=re.escape("write await io.of('/x').to('r').emit('chat', ...)")):
        await io.of("/x").emit("chat", room="r")
    with pytest.raises(TypeError, match=re.escape("emit() got an unexpected keyword argument 'rooom'")):
        await io.emit("chat", rooom="r")


async def test_every_python_socketio_message_points_to_the_migration_guide(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each error (and the warning) about python-socketio's API ends with the page that maps the rest of it."""
    guide = "(the migration guide, docs/migrating.md, maps the rest of python-socketio's API)"
    io = aiosocketio.Server()
    messages = []
    for attempt in (
        lambda: io.enter_room,
        lambda: io.on("connect", lambda sid, environ: None),
        lambda: io.on("disconnect", lambda sid: None),
    ):
        with pytest.raises((AttributeError, TypeError, ValueError)) as caught:
            attempt()
        messages.append(str(caught.value))
    with pytest.raises(TypeError) as caught:
        await io.emit("chat", to="r1")
    messages.append(str(caught.value))
    with caplog.at_level(logging.WARNING, logger="aiosocketio"):
        io.on("chat", lambda sid, data: None)
    messages.append(caplog.records[-1].getMessage())
    assert all(message.endswith(guide) for message in messages), messages


def test_a_socket_disconnect_handler_must_take_the_reason_and_its_description() -> None:
    from aiosocketio.socket import Socket

    socket = object.__new__(Socket)
    socket._listeners = {}
    with pytest.raises(
        TypeError,
        match=re.escape(
            "the 'disconnect' handler is called with two arguments, the reason and its description, and "
            "on_disconnect(reason) cannot take them: write def on_disconnect(reason, description=None): ..."
        ),
    ):

        @socket.on("disconnect")
        def on_disconnect(reason: str) -> None: ...

    with pytest.raises(
        TypeError, match=re.escape("the 'disconnecting' handler is called with two arguments")
    ):
        socket.on("disconnecting", lambda: None)
    socket.on("disconnect", lambda reason, description=None: None)
    socket.on("disconnecting", lambda *args: None)
    socket.on("chat", lambda message: None)  # a client's event: any signature, checked when it comes
    assert len(socket.listeners("disconnect")) == 1
