"""The built-in server as the host of a whole web application: FastAPI, Starlette and Django as ``other_app``.

Each app is a module-level ``app.py`` started in a fresh process, as a user starts it (``python app.py`` with
``io.run(other_app=...)``, or ``aiosocketio run app:app``), and driven by real peers: httpx for HTTP, the
``websockets`` package for the framework's own WebSocket routes, raw sockets where the timing of a streamed body
matters, python-socketio's ``AsyncClient`` and the official socket.io-client 4.8 for Socket.IO on the same port.

What is checked: the ASGI lifespan (startup before the first request, its ``state`` in every request, shutdown when
the server stops; a failed startup ends the program with status 1), request bodies handed over as they arrive,
streamed responses, the WebSocket scope (subprotocol, text and bytes, close code and reason both ways, 403 when
refused, permessage-deflate), one token check shared by a FastAPI dependency and a Socket.IO middleware, TLS
(HTTPS, WSS and a Socket.IO client over both transports), and the command serving a framework app (behind ours or
alone, with TLS, and one line when its certificate does not load).
"""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import socketio
import websockets
from apps import AppProcess, start_app
from conftest import free_port, scaled
from jsclient import run_js_scenario
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

TOKEN = "token-of-ada"

FASTAPI_APP = """
import asyncio
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Header, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

import aiosocketio
from aiosocketio import ConnectError

TOKENS = {"token-of-ada": "ada", "token-of-bob": "bob"}


def user_for(token):
    return TOKENS.get(token)


@asynccontextmanager
async def lifespan(app):
    pool = {"name": "pool-1", "open": True}
    print("startup: pool open", flush=True)
    yield {"pool": pool}
    pool["open"] = False
    print("shutdown: pool closed", flush=True)


api = FastAPI(lifespan=lifespan)
io = aiosocketio.Server()
app = io.asgi_app(other_app=api)
released = asyncio.Event()
seen_chunks = []
disconnects = []
stream_ends = []


def current_user(authorization: str = Header()) -> str:
    user = user_for(authorization.removeprefix("Bearer "))
    if user is None:
        raise HTTPException(status_code=401)
    return user


@io.use
def authenticate(socket):
    user = user_for(socket.handshake.auth.get("token"))
    if user is None:
        raise ConnectError("not authorized")
    socket.data["user"] = user


@io.on("connection")
async def on_connection(socket):
    await socket.join(f"user:{socket.data['user']}")


@api.get("/pool")
async def pool(request: Request):
    return {"pool": request.state.pool["name"], "open": request.state.pool["open"]}


@api.get("/scope/{rest:path}")
async def scope(request: Request):
    s = request.scope
    return {
        "scheme": s["scheme"], "http_version": s["http_version"], "root_path": s["root_path"],
        "path": s["path"], "raw_path": s["raw_path"].decode(), "query_string": s["query_string"].decode(),
        "client": s["client"][0], "server": s["server"], "has_state": "state" in s,
    }


@api.post("/messages/{to}")
async def send_message(to: str, text: str, sender: str = Depends(current_user)):
    await io.to(f"user:{sender if to == 'me' else to}").emit("message", f"{sender}: {text}")
    return {"sent": True}


@api.post("/upload")
async def upload(request: Request):
    async for chunk in request.stream():
        if chunk:
            seen_chunks.append(chunk.decode())
    return {"chunks": seen_chunks}


@api.get("/upload/seen")
async def upload_seen():
    return {"chunks": seen_chunks}


@api.get("/stream")
async def stream():
    async def parts():
        yield b"first;"
        await released.wait()
        yield b"second;"
        yield b"third"

    return StreamingResponse(parts(), media_type="text/plain")


@api.get("/forever")
async def forever():
    async def parts():
        try:
            while True:
                yield b"tick;"
                await asyncio.sleep(0.02)
        finally:
            stream_ends.append("stopped")

    return StreamingResponse(parts(), media_type="text/plain")


@api.get("/forever/ends")
async def forever_ends():
    return {"ends": stream_ends}


@api.post("/release")
async def release():
    released.set()
    return {"released": True}


@api.websocket("/ws")
async def echo(websocket: WebSocket):
    offered = websocket.scope["subprotocols"]
    await websocket.accept(subprotocol="echo" if "echo" in offered else None, headers=[(b"x-echo", b"yes")])
    await websocket.send_json({"pool": websocket.state.pool["name"], "scheme": websocket.scope["scheme"]})
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                disconnects.append([message["code"], message.get("reason", "")])
                return
            if message.get("text") == "close please":
                await websocket.close(4001, "as you wish")
                return
            if message.get("text") is not None:
                await websocket.send_text("echo: " + message["text"])
            else:
                await websocket.send_bytes(b"echo: " + message["bytes"])
    except WebSocketDisconnect as exc:
        disconnects.append([exc.code, exc.reason])


@api.websocket("/ws/refused")
async def refused(websocket: WebSocket):
    await websocket.close()


@api.get("/ws/disconnects")
async def ws_disconnects():
    return {"disconnects": disconnects}


if __name__ == "__main__":
    io.run(host="127.0.0.1", port=PORT, other_app=api, OPTIONS)
"""


def fastapi_source(port: int, options: str = "") -> str:
    return FASTAPI_APP.replace("PORT", str(port)).replace(", OPTIONS", f", {options}" if options else "")


def stop_and_read(app: AppProcess) -> str:
    """Stop the app with SIGTERM (a graceful close) and return its stdout."""
    app.proc.send_signal(signal.SIGTERM)
    assert app.proc.wait(timeout=scaled(10)) == 0, app.output()
    return (app.folder / "stdout").read_text()


@pytest.fixture
def fastapi_app() -> Iterator[AppProcess]:
    port = free_port()
    with start_app(fastapi_source(port), "python", port) as app:
        yield app


async def test_lifespan_state_reaches_requests_and_shutdown_runs(fastapi_app: AppProcess) -> None:
    assert "startup: pool open" in (fastapi_app.folder / "stdout").read_text()
    async with httpx.AsyncClient(base_url=fastapi_app.url) as http:
        assert (await http.get("/pool")).json() == {"pool": "pool-1", "open": True}
    assert "shutdown: pool closed" in stop_and_read(fastapi_app)


async def test_the_http_scope(fastapi_app: AppProcess) -> None:
    async with httpx.AsyncClient(base_url=fastapi_app.url) as http:
        scope = (await http.get("/scope/a%20b/c?x=1&y=%20")).json()
    assert scope == {
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
        "path": "/scope/a b/c",
        "raw_path": "/scope/a%20b/c",
        "query_string": "x=1&y=%20",
        "client": "127.0.0.1",
        "server": ["127.0.0.1", fastapi_app.port],
        "has_state": True,
    }


async def test_a_request_body_reaches_the_app_as_it_arrives(fastapi_app: AppProcess) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fastapi_app.port)
    try:
        writer.write(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        async with httpx.AsyncClient(base_url=fastapi_app.url) as http:
            for _ in range(100):  # the first chunk is in the app while the rest is not even sent
                seen = (await http.get("/upload/seen")).json()["chunks"]
                if seen:
                    break
                await asyncio.sleep(0.02)
            assert seen == ["first"]
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), scaled(5))
        assert head.startswith(b"HTTP/1.1 200 ")
        length = int(
            next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))[15:]
        )
        assert json.loads(await reader.readexactly(length)) == {"chunks": ["first", "second"]}
    finally:
        writer.close()


async def test_a_streaming_response_is_sent_as_it_is_made(fastapi_app: AppProcess) -> None:
    async with httpx.AsyncClient(base_url=fastapi_app.url) as http, http.stream("GET", "/stream") as response:
        assert response.headers["transfer-encoding"] == "chunked"
        parts = response.aiter_raw()
        assert await asyncio.wait_for(anext(parts), scaled(5)) == b"first;"
        async with httpx.AsyncClient(base_url=fastapi_app.url) as other:
            assert (await other.post("/release")).json() == {"released": True}
        rest = b"".join([part async for part in parts])
        assert rest == b"second;third"


async def test_a_client_that_leaves_stops_an_endless_stream(fastapi_app: AppProcess) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fastapi_app.port)
    writer.write(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    assert b"tick;" in await asyncio.wait_for(reader.read(4096), scaled(5))
    writer.close()  # the app hears http.disconnect, and Starlette stops the generator
    async with httpx.AsyncClient(base_url=fastapi_app.url) as http:
        for _ in range(100):
            ends = (await http.get("/forever/ends")).json()["ends"]
            if ends:
                break
            await asyncio.sleep(0.02)
    assert ends == ["stopped"]


async def test_a_framework_websocket_route(fastapi_app: AppProcess) -> None:
    url = f"ws://127.0.0.1:{fastapi_app.port}/ws"
    async with ws_connect(url, subprotocols=[websockets.Subprotocol("echo")]) as ws:
        assert ws.subprotocol == "echo"
        assert ws.response is not None
        assert ws.response.headers["x-echo"] == "yes"
        extensions = ws.response.headers.get("sec-websocket-extensions", "")
        assert extensions.startswith("permessage-deflate")  # negotiated: the client offers it by default
        assert json.loads(await ws.recv()) == {"pool": "pool-1", "scheme": "ws"}
        await ws.send("hello")
        assert await ws.recv() == "echo: hello"
        await ws.send(b"\x00\x01" * 5000)
        assert await ws.recv() == b"echo: " + b"\x00\x01" * 5000
        await ws.send("close please")
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "as you wish")
    async with ws_connect(url, compression=None) as ws:
        assert ws.response is not None
        assert "sec-websocket-extensions" not in ws.response.headers
        assert json.loads(await ws.recv())["pool"] == "pool-1"
        await ws.close(4321, "client leaves")
    async with httpx.AsyncClient(base_url=fastapi_app.url) as http:
        for _ in range(100):
            disconnects = (await http.get("/ws/disconnects")).json()["disconnects"]
            if disconnects:
                break
            await asyncio.sleep(0.02)
    assert disconnects == [[4321, "client leaves"]]
    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(f"ws://127.0.0.1:{fastapi_app.port}/ws/refused"):
            pass
    assert refused.value.response.status_code == 403


async def test_one_token_check_for_http_and_socketio(fastapi_app: AppProcess) -> None:
    reports = await run_js_scenario("framework_client.mjs", fastapi_app.url, "upgrade", TOKEN, timeout=30)
    assert {"event": "refused", "message": "not authorized"} in reports
    assert {"event": "connect", "transport": "websocket"} in reports
    assert {"event": "posted", "status": 200, "body": {"sent": True}} in reports
    assert {"event": "message", "args": ["ada: hello"]} in reports
    async with httpx.AsyncClient(base_url=fastapi_app.url) as http:
        no_token = await http.post("/messages/me", params={"text": "x"}, headers={"authorization": "nope"})
    assert no_token.status_code == 401
    client = socketio.AsyncClient()
    heard: asyncio.Queue[str] = asyncio.Queue()
    client.on("message", heard.put_nowait)
    await client.connect(fastapi_app.url, auth={"token": "token-of-bob"}, transports=["polling"])
    try:
        async with httpx.AsyncClient(base_url=fastapi_app.url) as http:
            answer = await http.post(
                "/messages/bob", params={"text": "hi"}, headers={"authorization": f"Bearer {TOKEN}"}
            )
        assert answer.json() == {"sent": True}
        assert await asyncio.wait_for(heard.get(), scaled(5)) == "ada: hi"
    finally:
        await client.disconnect()


# --- a failed startup ------------------------------------------------------------------------------------------

FAILING_APP = """
from contextlib import asynccontextmanager

from fastapi import FastAPI

import aiosocketio


@asynccontextmanager
async def lifespan(app):
    raise RuntimeError("the database is not there")
    yield


api = FastAPI(lifespan=lifespan)
io = aiosocketio.Server()
app = io.asgi_app(other_app=api)

if __name__ == "__main__":
    io.run(host="127.0.0.1", port=PORT, other_app=api)
"""


@pytest.mark.parametrize("way", ["python", "command"])
def test_a_failed_startup_ends_the_program_with_status_1(tmp_path: Path, way: str) -> None:
    port = free_port()
    (tmp_path / "app.py").write_text(FAILING_APP.replace("PORT", str(port)), encoding="utf-8")
    argv = (
        [sys.executable, "app.py"]
        if way == "python"
        else [sys.executable, "-m", "aiosocketio", "run", "app:app", "--port", str(port)]
    )
    done = subprocess.run(
        argv, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=scaled(30), check=False
    )
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "aiosocketio: error: the application failed to start: RuntimeError: the database is not there"
    ), done.stderr


def _env() -> dict[str, str]:
    import os

    src = str(Path(__file__).resolve().parents[2] / "src")
    return dict(os.environ, PYTHONPATH=src, PYTHONUNBUFFERED="1")


# --- the command, on an ASGI app that holds ours --------------------------------------------------------------


@pytest.mark.parametrize("target", ["app:app", "app:api"])
async def test_the_command_serves_the_framework_with_its_lifespan(target: str) -> None:
    """``app:app`` is ``io.asgi_app(other_app=api)``: Socket.IO in front, FastAPI behind; ``app:api`` is the
    FastAPI app alone, served whole (no Socket.IO server in front of it)."""
    port = free_port()
    shell = f"{sys.executable} -m aiosocketio run {target} --port {port}"
    with start_app(fastapi_source(port), "command", port, shell=shell) as app:
        async with httpx.AsyncClient(base_url=app.url) as http:
            assert (await http.get("/pool")).json() == {"pool": "pool-1", "open": True}
            handshake = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
        async with ws_connect(f"ws://127.0.0.1:{port}/ws") as ws:
            assert json.loads(await ws.recv())["pool"] == "pool-1"
        if target == "app:app":
            assert handshake.status_code == 200
            client = socketio.AsyncClient()
            await client.connect(app.url, auth={"token": TOKEN})
            await client.disconnect()
        else:
            assert handshake.status_code == 404  # FastAPI's own answer
        assert "shutdown: pool closed" in stop_and_read(app)


# --- Starlette and Django ---------------------------------------------------------------------------------------

STARLETTE_APP = """
import contextlib

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

import aiosocketio

io = aiosocketio.Server()


@contextlib.asynccontextmanager
async def lifespan(app):
    yield {"greeting": "hello"}


async def online(request):
    return JSONResponse({"online": len(await io.fetch_sockets()), "greeting": request.state.greeting})


async def shout(websocket):
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(f"{websocket.state.greeting}, {text.upper()}")


web = Starlette(routes=[Route("/online", online), WebSocketRoute("/shout", shout)], lifespan=lifespan)

if __name__ == "__main__":
    io.run(host="127.0.0.1", port=PORT, other_app=web)
"""


async def test_starlette() -> None:
    port = free_port()
    with start_app(STARLETTE_APP.replace("PORT", str(port)), "python", port) as app:
        client = socketio.AsyncClient()
        await client.connect(app.url, transports=["websocket"])
        try:
            async with httpx.AsyncClient(base_url=app.url) as http:
                assert (await http.get("/online")).json() == {"online": 1, "greeting": "hello"}
            async with ws_connect(f"ws://127.0.0.1:{port}/shout") as ws:
                await ws.send("bob")
                assert await ws.recv() == "hello, BOB"
        finally:
            await client.disconnect()


DJANGO_APP = """
import django
from django.conf import settings

settings.configure(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["127.0.0.1"], SECRET_KEY="not secret")
django.setup()

from django.core.asgi import get_asgi_application
from django.http import JsonResponse
from django.urls import path

import aiosocketio

io = aiosocketio.Server()


async def broadcast(request):
    await io.emit("news", request.GET["text"])
    return JsonResponse({"sent": True, "scheme": request.scheme})


urlpatterns = [path("broadcast", broadcast)]
web = get_asgi_application()

if __name__ == "__main__":
    io.run(host="127.0.0.1", port=PORT, other_app=web)
"""


async def test_django_emits_from_a_view() -> None:
    port = free_port()
    with start_app(DJANGO_APP.replace("PORT", str(port)), "python", port) as app:
        client = socketio.AsyncClient()
        news: asyncio.Queue[str] = asyncio.Queue()
        client.on("news", news.put_nowait)
        await client.connect(app.url)
        try:
            async with httpx.AsyncClient(base_url=app.url) as http:
                answer = await http.get("/broadcast", params={"text": "from django"})
            assert answer.json() == {"sent": True, "scheme": "http"}
            assert await asyncio.wait_for(news.get(), scaled(5)) == "from django"
        finally:
            await client.disconnect()
        # Django does not speak the lifespan protocol: it was served anyway, and said so only at info level.
        assert "Traceback" not in app.stderr()


# --- TLS ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=scaled(30),
    )
    return cert, key


async def test_tls_https_wss_and_socketio(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    port = free_port()
    options = f"ssl_certfile={str(cert)!r}, ssl_keyfile={str(key)!r}"
    trust = ssl.create_default_context(cafile=str(cert))
    with start_app(fastapi_source(port, options), "python", port) as app:
        url = f"https://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, verify=trust) as http:
            assert (await http.get("/pool")).json() == {"pool": "pool-1", "open": True}
            assert (await http.get("/scope/x")).json()["scheme"] == "https"
        async with ws_connect(f"wss://127.0.0.1:{port}/ws", ssl=trust) as ws:
            assert json.loads(await ws.recv()) == {"pool": "pool-1", "scheme": "wss"}
            await ws.send("secret")
            assert await ws.recv() == "echo: secret"
        monkeypatch.setenv("NODE_EXTRA_CA_CERTS", str(cert))
        for transport in ("polling", "websocket"):
            reports = await run_js_scenario("framework_client.mjs", url, transport, TOKEN, timeout=30)
            assert {"event": "connect", "transport": transport} in reports
            assert {"event": "message", "args": ["ada: hello"]} in reports
        assert "shutdown: pool closed" in stop_and_read(app)


async def test_the_command_serves_tls(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    port = free_port()
    shell = (
        f"{sys.executable} -m aiosocketio run app:app --port {port} --ssl-certfile {cert} --ssl-keyfile {key}"
    )
    with start_app(fastapi_source(port), "command", port, shell=shell) as app:
        trust = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", verify=trust) as http:
            assert (await http.get("/scope/x")).json()["scheme"] == "https"
        async with ws_connect(f"wss://127.0.0.1:{port}/ws", ssl=trust) as ws:
            assert json.loads(await ws.recv())["scheme"] == "wss"
        assert f"serving on https://127.0.0.1:{port}" in app.stderr()


def test_the_command_says_when_the_certificate_does_not_load(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(fastapi_source(free_port()), encoding="utf-8")
    (tmp_path / "cert.pem").write_text("not a certificate\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "aiosocketio", "run", "app:app", "--ssl-certfile", "cert.pem"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=scaled(30),
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("aiosocketio: error: cannot load the TLS certificate: SSLError:"), (
        done.stderr
    )
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
