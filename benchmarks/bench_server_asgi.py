"""The benchmark app of ``bench_server.py`` as an ASGI app (``io.asgi_app()``) under uvicorn.

uvicorn runs with the settings of ``asgi_config.py``, the same ones python-socketio's anchor
(``anchors/pysio_asgi.py``) runs with, so the two differ only in the Socket.IO server.

Usage: ``python benchmarks/bench_server_asgi.py PORT`` (or env ``PORT``; ``HOST``; ``UVICORN_WS`` to pick another
WebSocket implementation, for both servers alike).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from asgi_config import serve
from bench_server import build


def main() -> None:
    serve(build().asgi_app())


if __name__ == "__main__":
    main()
