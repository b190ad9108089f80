"""Engine.IO protocol v4: the transport layer, usable on its own (like npm ``engine.io``).

``EngineServer`` accepts sessions over HTTP long-polling and WebSocket and upgrades between them; each session
is an ``EngineSocket`` that sends and receives text and binary messages.
"""

from aiosocketio.engineio.handshake import ErrorCode
from aiosocketio.engineio.server import EngineConnectionError, EngineServer
from aiosocketio.engineio.session import CloseReason
from aiosocketio.engineio.socket import EngineSocket

__all__ = ["CloseReason", "EngineConnectionError", "EngineServer", "EngineSocket", "ErrorCode"]
