"""Anchor: python-socketio's ``AsyncServer`` as an ASGI app, under the shared uvicorn settings (``asgi_config.py``).

The same contract as ``benchmarks/bench_server.py``: ``echo`` acks its own arguments, ``join`` joins the room and
acks ``true``, ``broadcast(room, payload)`` emits ``msg`` to the room. python-socketio and python-engineio come
from the project's locked environment (``uv.lock``); their versions are written into every results file.

Usage: ``python benchmarks/anchors/pysio_asgi.py PORT`` (or env ``PORT``); stops on SIGINT.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import socketio  # type: ignore[import-untyped]

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from asgi_config import serve

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")


@sio.on("echo")
async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
    return args  # a tuple is acked as that many arguments


@sio.on("join")
async def join(sid: str, room: str) -> bool:
    await sio.enter_room(sid, room)
    return True


@sio.on("broadcast")
async def broadcast(sid: str, room: str, payload: Any) -> bool:
    await sio.emit("msg", payload, to=room)
    return True


if __name__ == "__main__":
    serve(socketio.ASGIApp(sio))
