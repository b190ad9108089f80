"""aiosocketio: a Socket.IO v4 server for asyncio (Engine.IO protocol v4, Socket.IO protocol v5)."""

from aiosocketio.version import __version__

__all__ = ["__version__"]
