"""The ASGI app of ``io.asgi_app()`` inside real web frameworks, under uvicorn and hypercorn, each started in a
fresh process from a module-level ``app.py`` (tests/servers/asgiapp_*.py), as a reader's project is:

- FastAPI beside Socket.IO (``other_app``): FastAPI's lifespan runs (its state reaches the views), its HTTP and
  WebSocket routes answer, one authentication serves a FastAPI dependency and a Socket.IO middleware, and a
  view emits to a user's room; the official socket.io-client 4.8 sees it over long-polling and WebSocket.
- Starlette with the Socket.IO server mounted under ``/realtime``: clients connect at ``/realtime/socket.io/``
  with the server's own ``path`` unchanged; uvicorn's ``--root-path`` (a proxy that strips the prefix) too.
- Django (which refuses the lifespan scope): a view emits to the connected clients, and the Socket.IO server
  still stops with the ASGI server (its clients are disconnected).
- Stopping: uvicorn exits within a second of SIGINT with 100 long-polling clients waiting, each of which gets
  the reference's answer to a poll held at shutdown (a ``close`` packet); so does hypercorn when it runs the
  app in its own process (``--workers 0``), and gunicorn with uvicorn's worker on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from apps import start_app
from conftest import free_port, scaled
from jsclient import run_js_scenario

SERVERS = Path(__file__).resolve().parent.parent / "servers"
WAYS = ("uvicorn", "hypercorn")
TRANSPORTS = ("polling", "websocket")


def source(name: str) -> str:
    return (SERVERS / f"asgiapp_{name}.py").read_text(encoding="utf-8")


async def js_client(origin: str, path: str, transport: str, token: str, trigger: str) -> dict[str, Any]:
    """Run tests/integration/js/asgiapp_client.mjs; its reports by event name."""
    reports = await run_js_scenario("asgiapp_client.mjs", origin, path, transport, token, trigger, timeout=30)
    errors = [r for r in reports if r["event"] in ("error", "timeout")]
    assert not errors, errors
    return {r["event"]: r for r in reports}


@pytest.mark.parametrize("way", WAYS)
async def test_fastapi_beside_socketio(way: str) -> None:
    port = free_port()
    with start_app(source("fastapi"), way, port) as app:
        for transport in TRANSPORTS:
            seen = await js_client(
                app.url, "/socket.io/", transport, "token-of-ada", f"{app.url}/messages/ada"
            )
            assert seen["connect"]["transport"] == transport
            assert seen["whoami"]["value"] == "ada"
            # The view ran with FastAPI's dependency (the sender is the token's user) and its lifespan state.
            assert (seen["trigger"]["status"], seen["trigger"]["body"]) == (200, {"sent": True})
            assert seen["news"]["args"] == ["hello from ada"]
            assert seen["disconnect"]["reason"] == "io client disconnect"
        async with httpx.AsyncClient(base_url=app.url) as http:
            refused = await http.post("/messages/ada", headers={"Authorization": "Bearer nobody"})
            assert refused.status_code == 401
            assert (await http.get("/online")).json() == {"online": 0}
            # The Socket.IO middleware refuses the same unknown token as the dependency.
            handshake = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
            sid = json.loads(handshake.text[1:])["sid"]
            query = {"EIO": "4", "transport": "polling", "sid": sid}
            await http.post("/socket.io/", params=query, content='40{"token":"nobody"}')
            answer = await http.get("/socket.io/", params=query)
            assert answer.text == '44{"message":"not authorized"}'
        await shout_through_fastapi(app.port)
        output = stop(app)
    # FastAPI's lifespan ran at both ends (its state reached the view above).
    assert "fastapi startup" in output
    assert "fastapi shutdown" in output


def stop(app: Any, *, signalled: bool = False) -> str:
    """SIGINT, as Ctrl+C (once: a second one is a "force quit"), unless ``signalled`` already: the server must
    exit on its own, promptly; returns what it printed."""
    if not signalled:
        app.proc.send_signal(signal.SIGINT)
    app.proc.wait(scaled(5))
    return str(app.output())


async def shout_through_fastapi(port: int) -> None:
    """FastAPI's own WebSocket route answers beside the Socket.IO server."""
    import websockets

    async with websockets.connect(f"ws://127.0.0.1:{port}/shout") as ws:
        await ws.send("hi")
        assert await ws.recv() == "HI"


@pytest.mark.parametrize("way", WAYS)
async def test_starlette_mount_under_a_prefix(way: str) -> None:
    port = free_port()
    with start_app(source("starlette"), way, port) as app:
        for transport in TRANSPORTS:
            seen = await js_client(app.url, "/realtime/socket.io/", transport, "-", f"{app.url}/news")
            assert seen["connect"]["transport"] == transport
            assert seen["whoami"]["value"] == "anonymous"
            assert seen["news"]["args"] == ["from starlette"]
        async with httpx.AsyncClient(base_url=app.url) as http:
            handshake = await http.get("/realtime/socket.io/", params={"EIO": "4", "transport": "polling"})
            assert handshake.status_code == 200
            assert handshake.text.startswith('0{"sid":')
            # Only under the prefix: elsewhere Starlette's own 404.
            outside = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
            assert (outside.status_code, outside.text) == (404, "Not Found")
            assert (await http.get("/online")).json() == {"online": 0}  # Starlette's own route
            signalled = False
            if way == "uvicorn":
                # Starlette keeps the lifespan to itself, so the mounted app watches the stop signals from its
                # first request on: a poll held at Ctrl+C ends at once with the close packet.
                sid = await polling_client(http, "/realtime/socket.io/")
                held = asyncio.ensure_future(http.get("/realtime/socket.io/", params=polling(sid)))
                await asyncio.sleep(0.3)
                assert not held.done()
                started = time.monotonic()
                app.proc.send_signal(signal.SIGINT)
                signalled = True
                answer = await asyncio.wait_for(held, scaled(5))
                assert (answer.status_code, answer.text) == (200, "1")
                await asyncio.to_thread(app.proc.wait, scaled(5))
                assert time.monotonic() - started < scaled(1.0)
        stop(app, signalled=signalled)


ROOT_PATH_APP = """
import aiosocketio

io = aiosocketio.Server()


@io.on("connection")
def on_connection(socket):
    @socket.on("whoami")
    def whoami():
        return "anonymous"


app = io.asgi_app()
"""


ROOT_PATH_COMMANDS = {
    "uvicorn": "python -m uvicorn app:app --host 127.0.0.1 --port {port} --root-path /realtime",
    "hypercorn": "python -m hypercorn app:app --bind 127.0.0.1:{port} --root-path /realtime",
}


@pytest.mark.parametrize("way", WAYS)
async def test_root_path_behind_a_proxy_that_strips_the_prefix(way: str) -> None:
    """``--root-path /realtime`` says a proxy serves the app at ``/realtime`` and strips the prefix: the requests
    come to ``/socket.io/`` (uvicorn then makes ``path`` ``/realtime/socket.io/``, hypercorn leaves it), and are
    served."""
    port = free_port()
    command = ROOT_PATH_COMMANDS[way].format(port=port)
    with start_app(ROOT_PATH_APP, f"{way} --root-path", port, shell=command) as app:
        for transport in TRANSPORTS:
            seen = await js_client(app.url, "/socket.io/", transport, "-", "-")
            assert seen["whoami"]["value"] == "anonymous"
        stop(app)


@pytest.mark.parametrize("way", WAYS)
async def test_django_view_emits(way: str) -> None:
    port = free_port()
    with start_app(source("django"), way, port) as app:
        for transport in TRANSPORTS:
            seen = await js_client(app.url, "/socket.io/", transport, "-", f"{app.url}/broadcast")
            assert seen["connect"]["transport"] == transport
            assert (seen["trigger"]["status"], seen["trigger"]["body"]) == (200, {"sent": True})
            assert seen["news"]["args"] == ["from django"]
        signalled = False
        if way == "uvicorn":
            # Django does not speak lifespan, yet the Socket.IO server stops with the ASGI server: a client still
            # connected is disconnected, its held poll ends with a close packet (hypercorn: see the stop tests).
            async with httpx.AsyncClient(base_url=app.url) as http:
                sid = await polling_client(http)
                held = asyncio.ensure_future(http.get("/socket.io/", params=polling(sid)))
                await asyncio.sleep(0.3)
                assert not held.done()
                app.proc.send_signal(signal.SIGINT)
                signalled = True
                answer = await asyncio.wait_for(held, scaled(5))
                assert (answer.status_code, answer.text) == (200, "1")
        output = stop(app, signalled=signalled)
    if way == "uvicorn":
        # The lifespan was ours to answer (Django refuses it) and was answered at both ends: uvicorn did not
        # give up on it as unsupported.
        assert "Application startup complete" in output
        assert "Application shutdown complete" in output
        assert "unsupported" not in output


def polling(sid: str) -> dict[str, str]:
    return {"EIO": "4", "transport": "polling", "sid": sid}


async def polling_client(http: httpx.AsyncClient, path: str = "/socket.io/") -> str:
    """Open a session and connect to "/" over long-polling; returns the session id, its next GET to be held."""
    handshake = await http.get(path, params={"EIO": "4", "transport": "polling"})
    sid: str = json.loads(handshake.text[1:])["sid"]
    assert (await http.post(path, params=polling(sid), content="40")).text == "ok"
    assert (await http.get(path, params=polling(sid))).text.startswith("40")
    return sid


# -- stopping with long-polling clients waiting ------------------------------------------------------------------


class RawPoller:
    """A long-polling Socket.IO client over one raw keep-alive HTTP/1.1 connection (cheap enough for 100)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.sid = ""

    @classmethod
    async def connect(cls, port: int) -> RawPoller:
        """Open a session, connect to "/" and read the CONNECT answer: the next GET is held."""
        poller = cls(*await asyncio.open_connection("127.0.0.1", port))
        status, body = await poller.request("GET", "/socket.io/?EIO=4&transport=polling")
        assert status == 200, body
        poller.sid = json.loads(body[1:])["sid"]
        assert await poller.request("POST", poller.target(), b"40") == (200, b"ok")
        status, body = await poller.request("GET", poller.target())
        assert body.startswith(b"40"), body
        return poller

    def target(self) -> str:
        return f"/socket.io/?EIO=4&transport=polling&sid={self.sid}"

    def send(self, method: str, target: str, body: bytes = b"") -> None:
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if method == "POST":
            head += f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)

    async def response(self) -> tuple[int, bytes]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
        return int(lines[0].split(" ")[1]), await self.reader.readexactly(
            int(headers.get("content-length", "0"))
        )

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        self.send(method, target, body)
        return await asyncio.wait_for(self.response(), scaled(10))

    def close(self) -> None:
        self.writer.close()


STOP_APP = """
import aiosocketio

io = aiosocketio.Server()
app = io.asgi_app()
"""

STOPS = {
    "uvicorn": ("python -m uvicorn app:app --host 127.0.0.1 --port {port}", signal.SIGINT),
    "uvicorn --workers 2": (
        "python -m uvicorn app:app --host 127.0.0.1 --port {port} --workers 2",
        signal.SIGINT,
    ),
    "hypercorn --workers 0": (
        "python -m hypercorn app:app --bind 127.0.0.1:{port} --workers 0",
        signal.SIGINT,
    ),
    # gunicorn's master stops its workers with SIGTERM on its own SIGTERM (the one process managers send).
    "gunicorn uvicorn worker": (
        "python -m gunicorn -k uvicorn.workers.UvicornWorker -w 1 -b 127.0.0.1:{port} app:app",
        signal.SIGTERM,
    ),
}
"""How each server is started for the stop test, and the signal that stops it."""


@pytest.mark.parametrize("way", list(STOPS))
async def test_the_server_stops_within_a_second_with_100_held_polls(way: str) -> None:
    """The held polls are answered as the reference answers them when its server closes (a ``close`` packet),
    at once, so that the ASGI server, which waits for the requests in flight, is not kept waiting."""
    port = free_port()
    command, stop_signal = STOPS[way]
    with start_app(STOP_APP, way, port, shell=command.format(port=port)) as app:
        pollers = await asyncio.gather(*(RawPoller.connect(port) for _ in range(100)))
        try:
            for poller in pollers:
                poller.send("GET", poller.target())
            answers = [asyncio.ensure_future(poller.response()) for poller in pollers]
            await asyncio.sleep(0.5)
            assert not any(answer.done() for answer in answers)  # every GET is held
            started = time.monotonic()
            app.proc.send_signal(stop_signal)
            results = await asyncio.wait_for(asyncio.gather(*answers), scaled(5))
            assert set(results) == {(200, b"1")}
            await asyncio.to_thread(app.proc.wait, scaled(5))
            assert time.monotonic() - started < scaled(1.0), f"stopped in {time.monotonic() - started:.2f} s"
        finally:
            for poller in pollers:
                poller.close()
