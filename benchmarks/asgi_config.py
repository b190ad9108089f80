"""The one uvicorn configuration every Python server under ASGI runs with in the benchmarks.

Ours (``bench_server_asgi.py``) and python-socketio's (``anchors/pysio_asgi.py``) both call ``serve()``, so they are
compared on the same ASGI server, event loop, HTTP parser and WebSocket implementation, from the same environment
(the project's locked ``.venv``). Change a setting here and it changes for both.

``UVICORN_WS`` picks another of uvicorn's WebSocket implementations (``websockets``, ``websockets-sansio``,
``wsproto``), for both servers alike; the results record which one ran.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import uvicorn

# uvicorn's fastest stack: uvloop, httptools, and the sans-I/O protocol of websockets (the plain ``websockets``
# implementation adds a task and queues per connection on top of the same frame codec).
WS = os.environ.get("UVICORN_WS") or "websockets-sansio"
SETTINGS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "ws": WS,
    "ws_per_message_deflate": False,  # the loader never offers it; said here so that no default decides
    "lifespan": "off",  # neither app needs startup hooks; the same for both
    "log_level": "warning",
    "access_log": False,
}


def describe() -> str:
    """The settings in one line, for the results' header."""
    return f"uvicorn {uvicorn.__version__}: loop={SETTINGS['loop']}, http={SETTINGS['http']}, ws={SETTINGS['ws']}"


def serve(app: Any) -> None:
    """Serve ``app`` on 127.0.0.1 (or ``HOST``) at the port of the first argument or of ``PORT``, until SIGINT."""
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "9001"))
    uvicorn.run(app, host=os.environ.get("HOST", "127.0.0.1"), port=port, **SETTINGS)
