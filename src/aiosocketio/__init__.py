"""aiosocketio: a Socket.IO v4 server for asyncio (Engine.IO protocol v4, Socket.IO protocol v5), which
behaves as the Node.js ``socket.io`` server does, so the official clients of every language connect to it.

The names an application needs are here: [``Server``][aiosocketio.Server] (with its namespaces, sockets and
broadcast operators), ``run()`` to serve it, the exceptions, and ``EngineServer`` for Engine.IO on its own.
The adapters of a cluster, the emitter, the parsers, the Admin UI and the test helpers are in subpackages.
The Node.js API's names are written in Python's style: ``socket.emit_with_ack`` for ``emitWithAck``,
``io.in_`` and ``io.except_`` for ``in`` and ``except`` (keywords in Python), seconds where Node takes
milliseconds.

The public surface is listed in ``__all__``; ``tests/unit/test_public_api.py`` keeps it complete. Importing this
package loads no optional dependency (the names above are loaded on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiosocketio.exceptions import (
    AckTimeoutError,
    AdapterError,
    AioSocketIOError,
    ConnectError,
    ProtocolError,
)
from aiosocketio.logs import configure_from_env as _configure_from_env
from aiosocketio.version import __version__
from aiosocketio.web import Request

# AIOSOCKETIO_DEBUG=engine,socket... turns the trace on without code (docs/operations/logging.md).
_configure_from_env()

if TYPE_CHECKING:
    from aiosocketio.broadcast import BroadcastOperator, RemoteSocket
    from aiosocketio.engineio.server import EngineServer
    from aiosocketio.namespace import Namespace
    from aiosocketio.server import Server
    from aiosocketio.socket import Handshake, Socket

__all__ = [
    "AckTimeoutError",
    "AdapterError",
    "AioSocketIOError",
    "BroadcastOperator",
    "ConnectError",
    "EngineServer",
    "Handshake",
    "Namespace",
    "ProtocolError",
    "RemoteSocket",
    "Request",
    "Server",
    "Socket",
    "__version__",
    "run",
]

_LAZY = {
    "BroadcastOperator": "aiosocketio.broadcast",
    "RemoteSocket": "aiosocketio.broadcast",
    "EngineServer": "aiosocketio.engineio.server",
    "Namespace": "aiosocketio.namespace",
    "Server": "aiosocketio.server",
    "Handshake": "aiosocketio.socket",
    "Socket": "aiosocketio.socket",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aiosocketio' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def run(*apps: Any, host: str = "127.0.0.1", port: int = 3000, other_app: Any = None, **options: Any) -> None:
    """Serve ``Server``s and ``EngineServer``s at their paths on one port with the built-in server, blocking
    until SIGINT/SIGTERM; ``other_app`` (an ASGI app) gets every other path. ``workers=N`` serves the port from
    N forked processes that clients see as one server (docs/deployment.md#workers).

    This is what a program ends with: ``aiosocketio.run(io, port=3000)``. It closes gracefully on the
    signal (the clients are told the server is shutting down); uvloop is used when installed.

    Args:
        *apps: The servers to serve, each at its own ``path``.
        host: The address to listen on (``"0.0.0.0"`` for every interface).
        port: The port to listen on.
        other_app: An ASGI app (FastAPI, Starlette...) that gets the requests for every other path; without
            one they get a 404.
        **options: More options of ``aiosocketio.runner.run`` and ``aiosocketio.runner.serve``: ``workers``,
            ``ssl``, ``root_path``, ``log_level``, ``shutdown_timeout``, the limits (``max_header_size``,
            ``max_write_buffer``...).

    Raises:
        SystemExit: The address cannot be listened on (port in use, unknown host): one line on stderr, exit
            status 1, no traceback.
    """
    from aiosocketio.runner import run as run_apps

    run_apps(*apps, host=host, port=port, other_app=other_app, **options)
