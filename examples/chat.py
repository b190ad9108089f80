"""A small chat room: open http://127.0.0.1:3000 in two browser tabs.

The built-in runner serves Socket.IO at /socket.io/ together with the official browser client
(``serve_client=True``: /socket.io/socket.io.js, read from the npm package that ``scripts/setup`` installs); a tiny
ASGI app given as ``other_app`` serves the page. Run with ``scripts/demo`` (or ``python examples/chat.py --port N``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import aiosocketio

CLIENT_PACKAGE = Path(__file__).resolve().parent.parent / "tests" / "node_modules" / "socket.io-client"

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>aiosocketio chat</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}#log{border:1px solid #ccc;height:20em;
overflow:auto;padding:.5em}li{list-style:none}</style></head>
<body><h1>aiosocketio chat</h1><p id="status">connecting...</p><ul id="log"></ul>
<form id="form"><input id="text" autocomplete="off" placeholder="say something"><button>Send</button></form>
<script src="/socket.io/socket.io.js"></script>
<script>
const socket = io();
const log = (text) => { const li = document.createElement("li"); li.textContent = text;
  document.getElementById("log").appendChild(li); };
socket.on("connect", () => { document.getElementById("status").textContent =
  "connected as " + socket.id + " over " + socket.io.engine.transport.name;
  socket.io.engine.on("upgrade", (t) => log("(upgraded to " + t.name + ")")); });
socket.on("chat", (from, text) => log(from + ": " + text));
socket.on("joined", (count) => log("(" + count + " people here)"));
document.getElementById("form").onsubmit = async (e) => { e.preventDefault();
  const input = document.getElementById("text"); if (!input.value) return;
  const ack = await socket.emitWithAck("chat", input.value); log("me: " + input.value + " (" + ack + ")");
  input.value = ""; };
</script></body></html>"""


def build() -> aiosocketio.Server:
    io = aiosocketio.Server(serve_client=True, client_dir=str(CLIENT_PACKAGE))

    @io.on("connection")
    async def on_connection(socket: aiosocketio.Socket) -> None:
        await socket.join("lobby")

        @socket.on("chat")
        async def on_chat(text: str) -> str:
            await socket.to("lobby").emit("chat", socket.id[:6], text)
            return "delivered"

        await io.to("lobby").emit("joined", len(io.sockets.sockets))

    return io


async def pages(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Serve the page; 404 for anything else."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/":
        status, body, kind = 200, PAGE, b"text/html; charset=utf-8"
    else:
        status, body, kind = 404, b"Not Found", b"text/plain"
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", kind)]})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    print(f"aiosocketio chat demo on http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
    aiosocketio.run(build(), host=args.host, port=args.port, other_app=pages)


if __name__ == "__main__":
    main()
