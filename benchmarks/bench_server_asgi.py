"""The ``../shared/bench`` server contract (see ``bench_server.py``) as an ASGI app under uvicorn.

uvicorn with uvloop, httptools and its fastest WebSocket implementation available (``websockets-sansio``, else
uvicorn's default), like ``shared/bench/servers/pysio_uvicorn.py`` does for python-socketio.

Usage: ``python benchmarks/bench_server_asgi.py PORT`` (or env ``PORT``; ``HOST``; ``UVICORN_WS`` to force a
WebSocket implementation).
"""

from __future__ import annotations

import os
import sys

import uvicorn
import uvicorn.config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_server import build  # noqa: E402


def main() -> None:
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "9001"))
    host = os.environ.get("HOST", "127.0.0.1")
    ws = os.environ.get("UVICORN_WS") or (
        "websockets-sansio" if "websockets-sansio" in uvicorn.config.WS_PROTOCOLS else "auto"
    )
    uvicorn.run(
        build().asgi_app(),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        ws=ws,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
