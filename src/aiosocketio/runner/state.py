"""What all connections of one server share: the apps and their routes, the limits, the live connections, the
request tasks, and the one end-of-turn write of every WebSocket's queued frames."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ..web import WebApp, quick_answerer
from .asgi_bridge import ASGIApp

__all__ = [
    "DEFAULT_KEEP_ALIVE_TIMEOUT",
    "DEFAULT_MAX_BODY_BUFFER",
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_HEADER_SIZE",
    "DEFAULT_MAX_WRITE_BUFFER",
    "DEFAULT_WS_CLOSE_TIMEOUT",
    "Connection",
    "Flushable",
    "Limits",
    "ServerState",
]

#: Bytes of request line plus headers; more gets 431 and the connection is closed (Node.js allows 16 KiB).
DEFAULT_MAX_HEADER_SIZE: Final = 16 * 1024
#: Header lines per request; more gets 431.
DEFAULT_MAX_HEADERS: Final = 100
#: Seconds an idle keep-alive connection stays open; also the time a client has to send a request head
#: (Node.js's ``keepAliveTimeout`` is 5 s as well).
DEFAULT_KEEP_ALIVE_TIMEOUT: Final = 5.0
#: Request body bytes held while nobody reads them, before reading from the socket pauses.
DEFAULT_MAX_BODY_BUFFER: Final = 256 * 1024
#: Unsent bytes a WebSocket connection may hold while its peer does not read; past that it is dropped (the
#: session closes with "transport error"). Checked on every frame once the transport has paused our writes
#: (above its 64 KiB high-water mark), so a connection holds at most this plus one frame.
DEFAULT_MAX_WRITE_BUFFER: Final = 16 * 1024 * 1024
#: Seconds to wait for the client's close frame after sending ours.
DEFAULT_WS_CLOSE_TIMEOUT: Final = 5.0


class Connection(Protocol):
    """A live connection (HTTP or WebSocket), as server shutdown sees it."""

    @property
    def idle(self) -> bool:
        """No request is being answered or waiting (closed first at shutdown)."""
        ...

    def begin_shutdown(self) -> None:
        """Close when idle, or once the answer in progress is out (a WebSocket says "going away")."""

    def abort(self) -> None:
        """Drop the connection at once."""


class Flushable(Protocol):
    """A connection that queues its writes during a loop turn and writes them at its end."""

    def flush(self) -> None:
        """Write what is queued, in one write."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection limits, shared by every connection of one server (one object, not one per socket,
    since an idle connection should cost as little memory as possible). Fields: the ``DEFAULT_*`` above."""

    max_header_size: int = DEFAULT_MAX_HEADER_SIZE
    max_headers: int = DEFAULT_MAX_HEADERS
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT
    max_body_buffer: int = DEFAULT_MAX_BODY_BUFFER
    max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER
    ws_close_timeout: float = DEFAULT_WS_CLOSE_TIMEOUT


class ServerState:
    """What all connections of one server share: the apps, the limits and the set of live connections."""

    __slots__ = (
        "_all_gone",
        "_dirty",
        "_flush_pending",
        "apps",
        "asgi_state",
        "connections",
        "limits",
        "loop",
        "other_app",
        "routes",
        "secure",
        "shutting_down",
        "tasks",
    )

    def __init__(
        self,
        apps: Sequence[WebApp],
        *,
        other_app: ASGIApp | None = None,
        limits: Limits | None = None,
        secure: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.apps = tuple(apps)
        # Each app with its answer_at_once (None if it has none), looked up once here rather than per request.
        self.routes = tuple((app, quick_answerer(app)) for app in self.apps)
        self.other_app = other_app
        #: The lifespan state of ``other_app`` (``scope["state"]``), copied into each of its request scopes.
        self.asgi_state: dict[str, Any] | None = None
        self.limits = limits or Limits()
        self.secure = secure
        self.loop = loop or asyncio.get_running_loop()
        self.connections: set[Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.shutting_down = False
        self._all_gone: asyncio.Event | None = None
        # WebSockets with frames queued during this loop turn, written by one callback at its end (see
        # ``WebSocketConnection.send_text``): a broadcast to 1,000 sockets schedules one callback, not 1,000.
        self._dirty: list[Flushable] = []
        self._flush_pending = False

    def forget(self, connection: Connection) -> None:
        """A connection ended (or changed protocol)."""
        connections = self.connections
        connections.discard(connection)
        if not connections and self._all_gone is not None:
            self._all_gone.set()

    async def wait_connections_closed(self) -> None:
        """Return once every connection has ended (bound it with ``asyncio.timeout``)."""
        if not self.connections:
            return
        self._all_gone = gone = asyncio.Event()
        try:
            await gone.wait()
        finally:
            self._all_gone = None

    def flush_later(self, connection: Flushable) -> None:
        """Write ``connection``'s queued frames at the end of this loop turn, with every other one's."""
        self._dirty.append(connection)
        if not self._flush_pending:
            self._flush_pending = True
            self.loop.call_soon(self._flush_dirty)

    def _flush_dirty(self) -> None:
        # Swapped first: a connection that queues again while this runs lands in the next round.
        dirty = self._dirty
        self._dirty = []
        self._flush_pending = False
        for connection in dirty:
            connection.flush()

    def start_task(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a request handler, keeping a reference so shutdown can wait for it."""
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task
