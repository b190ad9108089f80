"""Running the ASGI ``other_app`` for a WebSocket request no app of ours handles (ASGI WebSocket spec 2.4, with
the ``websocket.http.response`` extension), over the runner's own handshake and frame codec.

The app's ``websocket.accept`` becomes our 101 (its subprotocol and extra headers in it; permessage-deflate when
the client offers it, as uvicorn does by default); ``websocket.close`` before that refuses the request with 403,
and ``websocket.http.response.*`` with the response the app gives. Messages from the peer wait in a queue for
``receive()``; while more than :data:`MAX_QUEUED` wait, reading from the peer pauses. A ``send`` waits while the
peer does not read what it is sent. The peer's close (or a broken connection, 1006) comes to the app as
``websocket.disconnect`` with the peer's code and reason.

An app that returns without accepting gets the client a 500 (403 if it closed), one that raises after
accepting closes the connection with 1011, and one that returns while the connection is open closes it with
1000.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Final, Protocol

from ..web import CLOSE_DROPPED, Response
from . import wsframe
from .asgi_bridge import ASGIApp, ASGIMessage, BridgedConnection
from .exchange import Exchange
from .headers import SERVER_ERROR, checked, plain
from .websocket import Handshake, UpgradingConnection, WebSocketConnection

__all__ = ["MAX_MESSAGE_SIZE", "MAX_QUEUED", "AsgiWebSocket", "ClientDisconnected", "UpgradedConnection"]

logger = logging.getLogger("aiosocketio.runner")

#: The largest message the app may be sent by a peer (uvicorn's default ``ws_max_size``); larger closes with 1009.
MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024
#: Messages held for an app that does not call ``receive()``, before reading from the peer pauses.
MAX_QUEUED: Final = 32
#: Bytes (characters of text) an app may send before they are written without waiting for the end of the turn.
UNWRITTEN_LIMIT: Final = 64 * 1024

_FORBIDDEN: Final = plain(403, "Forbidden")


class ClientDisconnected(OSError):
    """``send`` on a WebSocket that is closed (the ASGI spec asks for an ``OSError`` then)."""


class UpgradedConnection(BridgedConnection, UpgradingConnection, Protocol):
    """The HTTP connection an upgrade came on: addresses for the scope, and the switch to a WebSocket."""

    def read_while_upgrading(self) -> None:
        """Read from the socket while the app has not answered, to notice a client that leaves."""


class AsgiWebSocket:
    """One WebSocket request served by ``other_app``: its ``receive``/``send`` and the port's receiver."""

    def __init__(
        self, http: UpgradedConnection, ex: Exchange, app: ASGIApp, state: dict[str, Any] | None
    ) -> None:
        self._http = http
        self._ex = ex
        self._app = app
        self._state = state
        self._handshake = Handshake(http, ex)
        self._port: WebSocketConnection | None = None
        self._connect_sent = False
        self._refused = False  # answered with HTTP instead of the 101
        self._closed_by_app = False
        self._inbox: deque[ASGIMessage] = deque()
        self._gone: ASGIMessage | None = None  # the disconnect, once the connection is closed
        self._waiter: asyncio.Future[None] | None = None
        self._denial: tuple[int, list[tuple[str, str]], list[bytes]] | None = None
        self._unwritten = 0  # sent since the last write we forced (see send)

    def scope(self) -> dict[str, Any]:
        http = self._http
        ex = self._ex
        client = http.client
        server = http.server_address
        protocols = ex.header(b"sec-websocket-protocol")
        scope: dict[str, Any] = {
            "type": "websocket",
            # 2.4: a send on a closed connection raises an OSError (ClientDisconnected), as uvicorn's does.
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": ex.http_version,
            "scheme": "wss" if http.secure else "ws",
            "path": ex.path,
            "raw_path": ex.raw_path,
            "query_string": ex.query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in ex.headers],
            "client": list(client) if client else None,
            "server": list(server) if server else None,
            "subprotocols": [p.strip() for p in protocols.decode("latin-1").split(",") if p.strip()]
            if protocols
            else [],
            "extensions": {"websocket.http.response": {}},
        }
        if self._state is not None:
            scope["state"] = dict(self._state)
        return scope

    async def run(self) -> None:
        ex = self._ex
        try:
            await self._app(self.scope(), self.receive, self.send)
        except ClientDisconnected:
            # The app did not catch our "the connection is closed": nothing is wrong, and nobody is left to tell.
            logger.debug("the ASGI app sent on the closed WebSocket of %s", ex.path)
            return
        except Exception:
            logger.exception("error in the ASGI app while handling a WebSocket request to %s", ex.path)
            if self._port is not None:
                self._port.close(wsframe.CLOSE_INTERNAL_ERROR)
            elif not self._refused:
                await self._refuse(SERVER_ERROR)
            return
        if self._port is not None:
            self._port.close(wsframe.CLOSE_NORMAL)
        elif not self._refused:
            logger.error("the ASGI app neither accepted nor refused the WebSocket request to %s", ex.path)
            await self._refuse(SERVER_ERROR)

    async def _refuse(self, response: Response) -> None:
        self._refused = True
        if not self._ex.answered and not self._ex.disconnected:
            await self._handshake.reject(response)

    # --- receive ---

    async def receive(self) -> ASGIMessage:
        if not self._connect_sent:
            self._connect_sent = True
            return {"type": "websocket.connect"}
        while True:
            if self._inbox:
                message = self._inbox.popleft()
                if self._port is not None and len(self._inbox) < MAX_QUEUED // 2:
                    self._port.hold_reading(False)
                return message
            if self._gone is not None:
                return self._gone
            if self._port is None:
                if self._refused or self._ex.disconnected:
                    return {"type": "websocket.disconnect", "code": wsframe.CLOSE_ABNORMAL, "reason": ""}
                self._http.read_while_upgrading()
                await self._ex.wait(self._http.loop)  # woken when the client leaves before the answer
                continue
            waiter = self._waiter = self._http.loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_ws_message(self, data: str | bytes) -> None:
        if type(data) is str:
            self._inbox.append({"type": "websocket.receive", "text": data})
        else:
            self._inbox.append({"type": "websocket.receive", "bytes": data})
        if len(self._inbox) >= MAX_QUEUED and self._port is not None:
            self._port.hold_reading(True)
        self._wake()

    def on_ws_close(self, code: int, reason: str) -> None:
        if (
            code == CLOSE_DROPPED
        ):  # our own word for a peer we gave up on; on the wire it is a lost connection
            code = wsframe.CLOSE_ABNORMAL
        self._gone = {"type": "websocket.disconnect", "code": code, "reason": reason}
        self._wake()

    # --- send ---

    async def send(self, message: ASGIMessage) -> None:
        kind = message["type"]
        port = self._port
        if kind == "websocket.send":
            if port is None:
                raise RuntimeError("websocket.send before websocket.accept")
            if self._gone is not None or self._closed_by_app:
                raise ClientDisconnected("the WebSocket is closed")
            text = message.get("text")
            if text is not None:
                text = str(text)
                port.send_text(text)
                self._unwritten += len(text)
            else:
                data = message.get("bytes")
                if data is None:
                    raise RuntimeError("websocket.send needs 'text' or 'bytes'")
                data = bytes(data)
                port.send_bytes(data)
                self._unwritten += len(data)
            # Frames are written at the end of the loop turn, all connections' together (as the engine's are).
            # An app that sends in a loop without awaiting anything else would pile every message up before that
            # write: past UNWRITTEN_LIMIT, write now, and the transport tells whether the peer keeps up; if not,
            # wait until it does (or until it is dropped for holding more than ``max_write_buffer``, see
            # WebSocketConnection.flush).
            if self._unwritten > UNWRITTEN_LIMIT:
                self._unwritten = 0
                port.flush()
            if not port.writable:
                await port.drain()
            return
        if kind == "websocket.close":
            if port is None:
                if self._refused:
                    raise RuntimeError("websocket.close after the request was refused")
                await self._refuse(_FORBIDDEN)
                return
            if self._gone is not None or self._closed_by_app:
                return  # already closed: nothing to tell the peer
            self._closed_by_app = True
            port.close(int(message.get("code") or wsframe.CLOSE_NORMAL), str(message.get("reason") or ""))
            return
        if kind == "websocket.accept":
            await self._accept(message)
            return
        if kind == "websocket.http.response.start":
            if port is not None or self._refused or self._denial is not None:
                raise RuntimeError("websocket.http.response.start after the request was answered")
            headers = [
                (checked(bytes(n)).decode("latin-1"), checked(bytes(v)).decode("latin-1"))
                for n, v in message.get("headers", ())
                if bytes(n).lower() != b"content-length"  # the runner sets it
            ]
            self._denial = (int(message["status"]), headers, [])
            return
        if kind == "websocket.http.response.body":
            denial = self._denial
            if denial is None or self._refused:
                raise RuntimeError("websocket.http.response.body without websocket.http.response.start")
            denial[2].append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                await self._refuse(Response(denial[0], denial[1], b"".join(denial[2])))
            return
        raise RuntimeError(f"unexpected ASGI message {kind!r}")

    async def _accept(self, message: ASGIMessage) -> None:
        if self._port is not None or self._refused or self._denial is not None:
            raise RuntimeError("websocket.accept after the request was answered")
        ex = self._ex
        if ex.disconnected:
            raise ClientDisconnected("the client left before the WebSocket was accepted")
        headers = [
            (checked(bytes(name)).decode("latin-1"), checked(bytes(value)).decode("latin-1"))
            for name, value in message.get("headers", ())
        ]
        subprotocol = message.get("subprotocol")
        if subprotocol:
            headers.append(("sec-websocket-protocol", str(subprotocol)))
        port = await self._handshake.accept(headers, max_message_size=MAX_MESSAGE_SIZE, compression=True)
        self._port = port
        port.set_receiver(self)
        ex.wake()  # a receive() that waited for the answer in another task now reads from the port
