"""The deployment guide's gunicorn worker class, run as the page says.

``docs/operations/deployment.md`` shows a ``workers.py`` (a uvicorn worker for gunicorn with uvicorn's fastest
WebSocket protocol and no per-message compression) and the gunicorn command that uses it. Both are taken from the
page; gunicorn serves the README's example with them, in a fresh process. A WebSocket handshake that offers
``permessage-deflate`` is then accepted without it, where the plain ``uvicorn.workers.UvicornWorker`` accepts it,
and a client chats as the README shows. (The nginx configuration of the page is tested in test_nginx.py.)
"""

from __future__ import annotations

import asyncio
import re
import shlex
from pathlib import Path

import socketio
from apps import REPO, start_app
from conftest import free_port, scaled
from docsamples import Services, blocks, localise

PROMPTLY = scaled(5.0)
DEPLOYMENT = REPO / "docs" / "operations" / "deployment.md"


def worker_module_and_command() -> tuple[str, str]:
    """The page's ``workers.py`` (the fragment that names it) and the gunicorn command line after it."""
    found = blocks(DEPLOYMENT)
    (index,) = [i for i, b in enumerate(found) if b.kind == "fragment" and b.reason.startswith("workers.py")]
    command = next(b for b in found[index + 1 :] if b.language == "sh")
    line = command.code.strip()
    assert line.startswith("gunicorn -k workers.SocketIOWorker"), line
    return found[index].code, line


async def extensions_accepted(port: int) -> str | None:
    """Offer ``permessage-deflate`` in a WebSocket handshake; the extensions the 101 answer accepts, if any."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
        )
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PROMPTLY)).decode("latin-1")
    finally:
        writer.close()
        await writer.wait_closed()
    assert head.startswith("HTTP/1.1 101"), head
    match = re.search(r"^sec-websocket-extensions:\s*(.*?)\r$", head, re.I | re.M)
    return match.group(1) if match else None


async def chat(port: int) -> None:
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"], wait_timeout=PROMPTLY)
        assert await client.call("chat", "hello", timeout=PROMPTLY) == "received"
    finally:
        await client.disconnect()


async def test_the_guides_gunicorn_worker_serves_without_compression(tmp_path: Path) -> None:
    module, documented = worker_module_and_command()
    (tmp_path / "workers.py").write_text(module, encoding="utf-8")
    (readme,) = [b for b in blocks(REPO / "README.md") if (b.kind, b.name) == ("server", "readme")]
    port = free_port()
    # The page's command on the test's port; gunicorn finds workers.py where the test wrote it.
    command = localise(documented, {3001: port}, Services()) + f" --pythonpath {shlex.quote(str(tmp_path))}"
    with start_app(readme.code, "gunicorn (the guide's worker)", port, shell=command):
        assert await extensions_accepted(port) is None
        await chat(port)

    # The same without the guide's worker: uvicorn compresses every message of a client that offers it.
    port = free_port()
    with start_app(readme.code, "gunicorn", port):
        assert (await extensions_accepted(port) or "").startswith("permessage-deflate")
