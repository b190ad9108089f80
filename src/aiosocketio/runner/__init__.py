"""The built-in HTTP/1.1 + WebSocket server: the fast path, no ASGI hop."""

from .server import RunningServer, run, serve

__all__ = ["RunningServer", "run", "serve"]
