"""aiosocketio: a Socket.IO v4 server for asyncio (Engine.IO protocol v4, Socket.IO protocol v5).

The public surface is listed in ``__all__``; ``tests/unit/test_public_api.py`` keeps it complete. Importing this
package loads no optional dependency.
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
    N forked processes that clients see as one server (docs/deployment.md#workers)."""
    from aiosocketio.runner import run as run_apps

    run_apps(*apps, host=host, port=port, other_app=other_app, **options)
