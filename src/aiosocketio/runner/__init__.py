"""The built-in HTTP/1.1 + WebSocket server: the fast path, no ASGI hop."""

from .server import LifespanFailure, RunningServer, run, serve

__all__ = ["LifespanFailure", "RunningServer", "run", "serve"]
