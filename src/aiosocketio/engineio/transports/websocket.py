"""The WebSocket transport (docs/protocol/engineio.md#websocket): one Engine.IO packet per WebSocket message.

Text packets travel in text messages, binary messages as the raw bytes of a binary message. Sends go straight
to the port's write buffer (the front-end coalesces them per loop turn); received messages are handed to the
owner (a :class:`~aiosocketio.engineio.interfaces.TransportOwner`, the ``EngineSocket``) by a direct call.
"""

from __future__ import annotations

import binascii

from aiosocketio.engineio.interfaces import TransportOwner
from aiosocketio.engineio.payload_v3 import encode_ws_v3
from aiosocketio.web import WebSocketPort

__all__ = ["WebSocketTransport"]


class WebSocketTransport:
    """An accepted WebSocket bound to one session, as its transport or as its upgrade candidate."""

    __slots__ = ("_b64", "_socket", "_v3", "closed", "port")

    name = "websocket"

    def __init__(
        self, socket: TransportOwner, port: WebSocketPort, *, b64: bool = False, v3: bool = False
    ) -> None:
        self._socket = socket
        self.port = port
        self._b64 = b64
        self._v3 = (
            # protocol 3 (docs/protocol/engineio-v3.md): a binary message carries its packet type first (0x04, or "b4" in base64)
            v3
        )
        self.closed = False
        port.set_receiver(self)

    @property
    def writable(self) -> bool:
        """Whether the peer keeps up: what ``volatile`` packets are checked against."""
        return not self.closed and self.port.writable

    # -- WebSocketReceiver -----------------------------------------------------------------------------

    def on_ws_message(self, data: str | bytes) -> None:
        self._socket.on_ws_message(self, data)

    def on_ws_close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        # The session hears of it one loop turn later, as the reference's WebSocket reports a close only after
        # the messages read before it were handled: a Socket.IO DISCONNECT sent just before closing (which its
        # socket takes one turn later) still closes that socket as "client namespace disconnect".
        self._socket.loop.call_soon(self._socket.on_ws_closed, self, code)

    # -- sending -----------------------------------------------------------------------------------------

    def send(self, item: str | bytes) -> None:
        """Send one encoded packet: ``str`` is a text packet, ``bytes`` a binary message."""
        if self.closed:
            return
        if type(item) is str:
            self.port.send_text(item)
        elif self._v3:
            frame = encode_ws_v3(item, not self._b64)
            if type(frame) is str:
                self.port.send_text(frame)
            else:
                self.port.send_bytes(frame)  # type: ignore[arg-type]
        elif self._b64:
            self.port.send_text("b" + binascii.b2a_base64(item, newline=False).decode("ascii"))  # type: ignore[arg-type]
        else:
            self.port.send_bytes(item)  # type: ignore[arg-type]

    def send_many(self, items: list[str | bytes]) -> None:
        for item in items:
            self.send(item)

    def close(self) -> None:
        """Close the WebSocket (no Engine.IO close packet: docs/protocol/engineio.md#websocket)."""
        if self.closed:
            return
        self.closed = True
        self.port.close(1000)
