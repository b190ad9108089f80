"""The server socket.io-client's own Node.js test suite runs against, written on our API.

The client's suite (``packages/socket.io-client/test`` in the socket.io monorepo) expects a server on port 3210
that does what this one does: ping interval 2 s, connection state recovery on, every request admitted after a
10 ms delay (so that a client's connect timeout can be tested), a handful of namespaces, middlewares that
refuse ``?fail=...`` on "/" and everything on "/no", and event handlers that echo, acknowledge and send dates,
UTF-8 strings and binary. ``scripts/run_client_suites.py`` starts it; ``tests/integration`` uses it too.

Each ``echo`` event received is printed as ``ECHO <socket id>`` (stdout), so a test can count what arrived.

    python tests/servers/client_suite_sio.py --port 3210 --frontend runner|uvicorn
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from frontend import parse_args, serve

import aiosocketio


def js_date() -> str:
    """A date as JSON.stringify writes a JavaScript Date: ISO 8601 in UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build() -> aiosocketio.Server:
    async def admit_later(request: aiosocketio.Request) -> bool:
        await asyncio.sleep(0.01)
        return True

    io = aiosocketio.Server(ping_interval=2.0, connection_state_recovery={}, allow_request=admit_later)

    def on_foo(socket: aiosocketio.Socket) -> None:
        socket.on("getId", lambda: socket.id)

    io.of("/foo").on("connection", on_foo)
    for name in ("/timeout_socket", "/valid", "/asd"):
        io.of(name).on("connection", lambda socket: None)  # the namespace exists, nothing more

    async def on_abc(socket: aiosocketio.Socket) -> None:
        await socket.emit("handshake", socket.handshake.to_dict())

    io.of("/abc").on("connection", on_abc)

    async def fail_on_query(socket: aiosocketio.Socket) -> None:
        if socket.request.query.get("fail"):
            raise aiosocketio.ConnectError("Auth failed (main namespace)")

    async def refuse(socket: aiosocketio.Socket) -> None:
        raise aiosocketio.ConnectError("Auth failed (custom namespace)")

    io.use(fail_on_query)
    io.of("/no").use(refuse)
    io.on("connection", on_connection)
    return io


def on_connection(socket: aiosocketio.Socket) -> None:
    received = {"abuff1": False, "blob1": False, "blob2": False}

    async def emit(event: str, *args: Any) -> None:
        await socket.emit(event, *args)

    @socket.on("hi")
    async def on_hi() -> None:
        await emit("hi")

    @socket.on("echo")
    def on_echo(arg: Any = None) -> tuple[Any, ...]:
        print(f"ECHO {socket.id}", flush=True)
        return (arg,)  # one argument, null included: the ack is [arg] as the Node.js callback(arg) sends

    @socket.on("ack")
    async def on_ack(*args: Any) -> None:
        # The client's answer is awaited here, so an "ack" event is never acknowledged itself, as the Node.js
        # handler that ignores its callback.
        answer = await socket.emit_with_ack("ack")
        a, b = answer if isinstance(answer, tuple) and len(answer) == 2 else (answer, None)
        if a == 5 and isinstance(b, dict) and b.get("test"):
            await emit("got it")

    socket.on("getAckDate", lambda *args: js_date())

    @socket.on("getDate")
    async def on_get_date(*args: Any) -> None:
        await emit("takeDate", js_date())

    @socket.on("getDateObj")
    async def on_get_date_obj(*args: Any) -> None:
        await emit("takeDateObj", {"date": js_date()})

    @socket.on("getUtf8")
    async def on_get_utf8(*args: Any) -> None:
        for text in ("てすと", "Я Б Г Д Ж Й", "Ä ä Ü ü ß", "utf8 — string", "utf8 — string"):
            await emit("takeUtf8", text)

    @socket.on("false")
    async def on_false(*args: Any) -> None:
        await emit("false", False)

    @socket.on("doge")
    async def on_doge(*args: Any) -> None:
        await emit("doge", b"asdfasdf")

    @socket.on("buffa")
    async def on_buffa(a: Any = None, *args: Any) -> None:
        if isinstance(a, bytes):
            await emit("buffack")

    def mixed(a: Any) -> bool:
        return (
            isinstance(a, dict)
            and a.get("hello") == "lol"
            and isinstance(a.get("message"), bytes)
            and a.get("goodbye") == "gotcha"
        )

    @socket.on("jsonbuff")
    async def on_jsonbuff(a: Any = None, *args: Any) -> None:
        if mixed(a):
            await emit("jsonbuff-ack")

    @socket.on("abuff1")
    def on_abuff1(a: Any = None, *args: Any) -> None:
        if isinstance(a, bytes):
            received["abuff1"] = True

    @socket.on("abuff2")
    async def on_abuff2(*args: Any) -> None:
        if received["abuff1"]:
            await emit("abuff2-ack")

    @socket.on("blob")
    async def on_blob(a: Any = None, *args: Any) -> None:
        if isinstance(a, bytes):
            await emit("back")

    @socket.on("jsonblob")
    async def on_jsonblob(a: Any = None, *args: Any) -> None:
        if mixed(a):
            await emit("jsonblob-ack")

    @socket.on("blob1")
    def on_blob1(a: Any = None, *args: Any) -> None:
        if isinstance(a, bytes):
            received["blob1"] = True

    @socket.on("blob2")
    def on_blob2(a: Any = None, *args: Any) -> None:
        if received["blob1"] and a == "second":
            received["blob2"] = True

    @socket.on("blob3")
    async def on_blob3(a: Any = None, *args: Any) -> None:
        if isinstance(a, bytes) and received["blob1"] and received["blob2"]:
            await emit("blob3-ack")

    @socket.on("getbin")
    async def on_getbin(*args: Any) -> None:
        await emit("takebin", b"asdfasdf")

    socket.on("getHandshake", lambda *args: socket.handshake.to_dict())
    socket.on("getId", lambda *args: socket.id)


def main() -> None:
    serve(build(), parse_args())


if __name__ == "__main__":
    main()
