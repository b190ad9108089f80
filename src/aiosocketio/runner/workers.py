"""``workers=N``: N processes serving one port, seen by clients as one server (docs/deployment.md#workers).

How it works:

* The **parent** binds the listening sockets, forks N **workers**, and from then on only routes the connections
  that need it; it never parses a whole request nor touches a message. A worker is a fork of the parent: the
  servers the application built at import time (no event loop needed to build one) are inherited as they are,
  and each worker starts its own event loop and serves them.
* Each worker has listening sockets of its own on the port (``SO_REUSEPORT``, :func:`bind_worker_listeners`):
  the kernel gives each new connection to one worker (by a hash of its addresses), which accepts it itself. A
  handshake or a WebSocket is served where it arrives, without the parent.
* Long-polling sends every request of a session as its own HTTP request, often on a new TCP connection, and
  the session lives in one worker only. So a worker reads the ``sid`` query parameter of the first request of
  each connection (decoded as the engine decodes it, whatever shape ``generate_id`` gives it); when it holds no
  such session, it hands the connection back to the parent, with the bytes it already read, and the parent looks
  the sid up in a table sid -> worker and sends the connection there (``socket.send_fds``; an unknown sid: the
  next worker in turn, which answers as a single server would).
* Workers keep the table current: a worker reports each long-polling session it opens over its control socket
  *before* the handshake's answer is written, so the next request of that session, whichever connection it
  comes on, finds the parent already told (when the parent meets an unknown sid it reads what the workers sent
  first). Sessions opened over WebSocket (no HTTP request of theirs follows) and closed sessions are reported
  in batches, every ``REPORT_DELAY`` (50 ms) at most: a stale entry only sends a request to the worker that
  had the session, which answers it as a single server would ("Session ID unknown"); a request naming a
  WebSocket session the parent has not heard of yet goes to the next worker in turn, which answers "Session
  ID unknown" where the session's worker would have answered "Bad request" (only a client that breaks the
  protocol sends one).
* A keep-alive connection may carry requests for several sessions: each request that begins is checked the same
  way. The worker a connection is routed to always answers that first request itself, so a request never
  travels more than twice. A WebSocket stays in the worker that accepted it.
* A worker that dies is replaced (same index); until the replacement serves, the parent accepts from the dead
  worker's sockets (it keeps a copy of every worker's) and routes what comes to the others. SIGTERM or SIGINT
  on the parent closes the sockets, asks every worker to close as a single server does, waits for them, removes
  the workers' directory and returns.

Each worker has in its environment, before the application's code runs there: ``AIOSOCKETIO_WORKER_INDEX``
(0 to N-1; a replacement takes the index of the worker it replaces), ``AIOSOCKETIO_WORKERS`` (N) and
``AIOSOCKETIO_WORKER_DIR`` (a private directory the parent made and removes at the end: for Unix sockets
between workers, such as a cluster adapter's).

A connection handed over TLS could not be taken over by another process mid-session, so ``workers`` and
``ssl`` do not go together (terminate TLS in a proxy in front).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, Final, Protocol, runtime_checkable

from ..engineio.server import EngineServer
from ..web import WebApp, parse_query
from .http import HttpProtocol
from .state import ServerState

__all__ = [
    "ENV_COUNT",
    "ENV_DIR",
    "ENV_INDEX",
    "AdapterOwner",
    "HandedHttpProtocol",
    "Supervisor",
    "WorkerInlet",
    "WorkerLink",
    "bind_listeners",
    "bind_worker_listeners",
    "cluster_adapter",
    "engines_of",
    "prepare_worker",
    "request_sid",
    "workers_supported",
]

logger = logging.getLogger("aiosocketio.runner")

ENV_INDEX: Final = "AIOSOCKETIO_WORKER_INDEX"
ENV_COUNT: Final = "AIOSOCKETIO_WORKERS"
ENV_DIR: Final = "AIOSOCKETIO_WORKER_DIR"

#: Bytes of a new connection looked at to find its request line (peeked at by the parent, held by a worker).
PEEK_SIZE: Final = 8192
#: Largest chunk a worker hands back with a connection (a bigger one is answered where it is).
MAX_HANDBACK: Final = 64 * 1024
#: Bytes of sids a report of closed sessions holds at most (a sid may take 4 bytes a character in UTF-8).
REPORT_SIZE: Final = 8 * 1024
#: Seconds a worker gathers the sessions it closed and those it opened over WebSocket before it reports them:
#: every report wakes the parent (about 15-20 µs of its CPU), so one per handshake would cost more than the
#: routing it saves. The parent's table is that late for them, which only matters to a request that names
#: such a session on another connection (see the module docstring).
REPORT_DELAY: Final = 0.05
#: Seconds a new connection may stay silent in the parent before it goes to a worker unrouted (a browser's
#: preconnect sends nothing for a while); that worker then checks its first request as it checks later ones.
SILENT_HANDOVER: Final = 1.0
#: How often the parent looks again at a connection whose request line has not all come yet.
RECHECK: Final = 0.005
#: A worker that lived less than this before dying is replaced after this long, not at once (no fork storm).
RESPAWN_BACKOFF: Final = 1.0
#: Seconds a worker waits for room in its control socket to the parent (which reads it at once) before it gives
#: up on one message.
SEND_TIMEOUT: Final = 2.0
#: Connections the parent holds for a worker whose control socket is full, before it drops new ones.
MAX_BACKLOG: Final = 4096

# Control messages, one per SOCK_SEQPACKET datagram (so boundaries and the fds that go with them are kept).
_ROUTED: Final = (
    b"r"  # parent -> worker: a connection (fd) and the bytes read of it; its first request is yours
)
_UNROUTED: Final = b"u"  # parent -> worker: a silent connection; check its first request like the later ones
_OPENED: Final = b"o"  # worker -> parent: the sid (UTF-8) of a session opened here
_OPENED_WS: Final = b"w"  # worker -> parent: the sids (JSON list) of WebSocket sessions opened here
_CLOSED: Final = b"c"  # worker -> parent: the sids (JSON list) of sessions that ended here
_HANDBACK: Final = b"h"  # worker -> parent: a connection (fd) whose next request is another worker's
_READY: Final = b"y"  # worker -> parent: serving


def request_sid(data: bytes) -> str | None:
    """The ``sid`` query parameter of the request line ``data`` starts with, as the engine reads it; None if none.

    Only the request target is looked at (``GET /socket.io/?EIO=4&transport=polling&sid=... HTTP/1.1``). The
    common query (nothing percent-encoded, one ``sid``) is read directly; any other goes through the function
    the engine parses queries with, so any id ``generate_id`` returns, percent-encoded by the client or not, is
    found as the engine would find it.
    """
    end = data.find(b"\n")
    line = data if end < 0 else data[:end]
    start = line.find(b" ") + 1
    if not start:
        return None
    stop = line.find(b" ", start)
    target = line[start:] if stop < 0 else line[start:stop]
    question = target.find(b"?")
    if question < 0:
        return None
    query = target[question + 1 :]
    if b"%" in query or b"+" in query or b"#" in query:
        return parse_query(query.partition(b"#")[0].decode("latin-1")).get("sid") or None
    count = query.count(b"sid")
    if count != 1:
        return None if not count else parse_query(query.decode("latin-1")).get("sid") or None
    if query.startswith(b"sid="):
        begin = 4
    else:
        begin = query.find(b"&sid=") + 5
        if begin == 4:
            return None
    finish = query.find(b"&", begin)
    value = query[begin:] if finish < 0 else query[begin:finish]
    return value.decode("latin-1") or None


@runtime_checkable
class AdapterOwner(Protocol):
    """What a worker needs of a Socket.IO ``Server`` to set its adapters up (see :func:`prepare_worker`)."""

    @property
    def has_own_adapter(self) -> bool: ...

    def use_adapter(self, factory: Callable[[Any], Any]) -> None: ...

    def reset_adapters(self) -> None: ...


def prepare_worker(apps: Iterable[object]) -> None:
    """In a new worker, its environment set, before it serves: each Socket.IO server gets the adapter of
    :func:`cluster_adapter` when its user chose none, and otherwise adapters made anew from its own factory
    (one made in the parent would give every worker the same identity in the cluster)."""
    factory = cluster_adapter()
    for app in apps:
        if not isinstance(app, AdapterOwner):
            continue
        if factory is not None and not app.has_own_adapter:
            app.use_adapter(factory)
        else:
            app.reset_adapters()


def cluster_adapter() -> Callable[[Any], Any] | None:
    """The adapter factory a worker gives each of its ``Server``s whose user passed no ``adapter=`` (through
    ``Server.use_adapter``), called in the worker once its environment is set and before it serves: the
    inter-process adapter (docs/clusters.md), so that the workers are one cluster (rooms, broadcasts, acks,
    ``fetch_sockets``, connection state recovery) with no external service. A server with an adapter of its
    user's (Redis, PostgreSQL...) is one node of that cluster as it is.
    """
    from aiosocketio.adapters.workers import create_adapter

    return create_adapter()


def engines_of(apps: Iterable[WebApp]) -> list[EngineServer]:
    """The Engine.IO servers behind ``apps`` (a Socket.IO ``Server``'s ``engine``, an ``EngineServer`` itself)."""
    engines = []
    for app in apps:
        engine = getattr(app, "engine", app)
        if isinstance(engine, EngineServer):
            engines.append(engine)
    return engines


def workers_supported() -> bool:
    """Whether this system has what ``workers=N`` uses: ``fork``, Unix sockets that carry descriptors with
    message boundaries kept (``SOCK_SEQPACKET``), and listening sockets that share a port with the kernel
    spreading connections over them (``SO_REUSEPORT`` as Linux has it; elsewhere it may not spread them)."""
    if not hasattr(os, "fork") or not hasattr(socket, "send_fds") or not hasattr(socket, "SOCK_SEQPACKET"):
        return False
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        return False
    try:
        one, two = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except OSError:
        return False
    one.close()
    two.close()
    return True


def bind_listeners(
    host: str | Sequence[str] | None, port: int, *, backlog: int, reuse_port: bool
) -> list[socket.socket]:
    """Listening sockets for ``host:port`` (every address ``host`` resolves to), as ``loop.create_server`` makes
    them; raises ``OSError`` (closing what it opened) when one cannot be had."""
    hosts: list[str | None]
    if host is None or host == "":
        hosts = [None]
    elif isinstance(host, str):
        hosts = [host]
    else:
        hosts = list(host)
    infos = []
    for one in hosts:
        for info in socket.getaddrinfo(one, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE):
            if info not in infos:
                infos.append(info)
    listeners: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            # Linux: accept() once the first bytes are there, so that they can be peeked at at once.
            defer = getattr(socket, "TCP_DEFER_ACCEPT", None)
            if defer is not None:
                sock.setsockopt(socket.IPPROTO_TCP, defer, 1)
            if port == 0 and len(listeners) > 1:  # every address on the port the first one got
                address = (address[0], listeners[0].getsockname()[1], *address[2:])
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    return listeners


def bind_worker_listeners(
    host: str | Sequence[str] | None, port: int, count: int, *, backlog: int
) -> list[list[socket.socket]]:
    """``count`` sets of listening sockets on ``host:port``, one set per worker, all with ``SO_REUSEPORT``: the
    kernel spreads new connections over the sets (by a hash of their addresses), and each worker accepts from
    its own set, so a connection reaches a worker without passing through the parent. With ``port=0`` every
    set gets the port the first one was given. Raises ``OSError`` (closing what it opened) when one cannot be
    had."""
    sets: list[list[socket.socket]] = []
    try:
        for _ in range(count):
            sets.append(bind_listeners(host, port, backlog=backlog, reuse_port=True))
            port = sets[0][0].getsockname()[1]
    except BaseException:
        for listeners in sets:
            for sock in listeners:
                sock.close()
        raise
    return sets


# --- the worker's side ---------------------------------------------------------------------------------------


class WorkerLink:
    """A worker's two control sockets to the parent: connections come in on ``inbound``; session reports and
    handed-back connections go out on ``outbound``."""

    __slots__ = ("_closed", "_flush_scheduled", "_loop", "_opened_ws", "inbound", "outbound", "parent_gone")

    def __init__(self, inbound: socket.socket, outbound: socket.socket) -> None:
        self.inbound = inbound
        self.outbound = outbound
        outbound.settimeout(SEND_TIMEOUT)
        inbound.setblocking(False)
        self._closed: list[str] = []
        self._opened_ws: list[str] = []
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.parent_gone = False  # the parent died without stopping us (SIGKILL): nobody else cleans up

    def leave(self) -> None:
        """The worker stopped: when its parent died first, remove the workers' directory (each worker whose
        parent is gone tries; the parent does it otherwise)."""
        directory = os.environ.get(ENV_DIR)
        if self.parent_gone and directory:
            shutil.rmtree(directory, ignore_errors=True)

    def watch(self, engines: Iterable[EngineServer], loop: asyncio.AbstractEventLoop) -> None:
        """Report the sessions of ``engines`` to the parent as they open and close."""
        self._loop = loop
        for engine in engines:
            engine.on("connection", self._on_session)

    def _on_session(self, session: Any) -> None:
        sid: str = session.id
        if getattr(session.transport, "name", None) == "websocket":
            # A session opened over WebSocket gets no HTTP request of its own from a client that follows the
            # protocol: reported with the others of this loop turn, in one message.
            self._opened_ws.append(sid)
            self._flush_soon()
        else:
            # Sent now, before the handshake's answer is written (the engine writes it after its listeners ran):
            # the session's next request may come on a new connection, which may reach another worker, and
            # the parent must know where to send it.
            self._send(_OPENED + sid.encode("utf-8", "surrogatepass"))
        session.on("close", lambda *_: self._on_closed(sid))

    def _on_closed(self, sid: str) -> None:
        self._closed.append(sid)
        self._flush_soon()

    def _flush_soon(self) -> None:
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_later(REPORT_DELAY, self._flush_reports)

    def _flush_reports(self) -> None:
        self._flush_scheduled = False
        opened, self._opened_ws = self._opened_ws, []
        closed, self._closed = self._closed, []
        # Opened first: a session that opened and closed within one turn must not stay in the parent's table.
        self._send_sids(_OPENED_WS, opened)
        self._send_sids(_CLOSED, closed)

    def _send_sids(self, kind: bytes, sids: list[str]) -> None:
        message: list[str] = []
        size = 0
        for sid in sids:  # in messages the parent reads whole (a datagram longer than its buffer is cut)
            message.append(sid)
            size += 6 * len(sid) + 4  # JSON writes a character outside ASCII as \uXXXX
            if size > REPORT_SIZE:
                self._send(kind + json.dumps(message).encode())
                message, size = [], 0
        if message:
            self._send(kind + json.dumps(message).encode())

    def _send(self, message: bytes, fds: Sequence[int] = ()) -> bool:
        try:
            if fds:
                socket.send_fds(self.outbound, [message], fds)
            else:
                self.outbound.send(message)
        except OSError as exc:
            logger.warning("worker %d: cannot reach the parent process: %s", os.getpid(), exc)
            return False
        return True

    def ready(self) -> None:
        """Tell the parent this worker serves (a worker of the first generation that dies before is fatal)."""
        self._send(_READY)

    def hand_back(self, fd: int, data: bytes) -> bool:
        """Give the connection ``fd`` back to the parent with ``data``, the bytes already read of it."""
        return self._send(_HANDBACK + data, [fd])


class HandedHttpProtocol(HttpProtocol):
    """An HTTP connection a worker got from the parent: ``prefix`` is what was read of it before (it is parsed
    first); when a later request names a session this worker does not hold, the connection goes back to the
    parent, which routes it to the session's worker."""

    __slots__ = ("_engines", "_line", "_link", "_prefix", "_routed")

    def __init__(
        self,
        state: ServerState,
        link: WorkerLink,
        engines: Sequence[EngineServer],
        prefix: bytes,
        *,
        routed: bool,
    ) -> None:
        super().__init__(state)
        self._link = link
        self._engines = engines
        self._prefix = prefix
        self._routed = routed
        self._line = b""  # the start of a request whose request line has not all come yet

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        prefix = self._prefix
        if prefix:
            self._prefix = b""
            self.data_received(prefix)  # before the transport reads anything: it starts after this returns

    def data_received(self, data: bytes) -> None:
        # At the start of a request (nothing of one read yet, none being answered): whose session is it?
        if (
            self._in_head
            and not self._head_bytes
            and self._active is None
            and not self._queue
            and self._upgrade_ex is None
            and self._parser is not None
            and not self._closing
        ):
            if self._routed:
                self._routed = False  # the parent chose this worker for this request: answer it here
            else:
                if self._line:
                    data = self._line + data
                    self._line = b""
                if b"\n" not in data and len(data) < PEEK_SIZE:
                    # Whose session it is shows only once the request line is whole (a slow client).
                    self._line = data
                    return
                if self._belongs_elsewhere(data) and self._hand_back(data):
                    return
        super().data_received(data)

    def _belongs_elsewhere(self, data: bytes) -> bool:
        sid = request_sid(data)
        if sid is None:
            return False
        return not any(sid in engine.clients for engine in self._engines)

    def _hand_back(self, data: bytes) -> bool:
        transport = self._transport
        if transport is None or len(data) > MAX_HANDBACK or transport.get_write_buffer_size():
            return False  # an answer still being written must go out before anyone else writes
        sock = transport.get_extra_info("socket")
        if sock is None or not self._link.hand_back(sock.fileno(), data):
            return False
        # The parent holds the connection now: closing our descriptor does not end it.
        self._closing = True
        self._cancel_idle()
        transport.close()
        return True


class WorkerInlet:
    """Where a worker's connections come from: its own listening sockets, which it accepts from itself, and
    the parent's control socket, for connections routed to it (it stands in for the listening socket of a
    single server: ``close()`` stops taking new ones)."""

    def __init__(
        self,
        state: ServerState,
        link: WorkerLink,
        engines: Sequence[EngineServer],
        *,
        on_parent_gone: Callable[[], None],
    ) -> None:
        self._state = state
        self._link = link
        self._engines = engines
        self._on_parent_gone = on_parent_gone
        self._reading = True
        self._servers: list[asyncio.AbstractServer] = []
        state.loop.add_reader(link.inbound.fileno(), self._on_readable)

    async def listen(self, listeners: Sequence[socket.socket], backlog: int) -> None:
        """Accept from ``listeners`` (this worker's share of the port, see :func:`bind_worker_listeners`): a
        connection accepted here has its first request checked like a later one (and handed back when it
        names another worker's session), so most connections never pass through the parent."""
        state, link, engines = self._state, self._link, self._engines

        def factory() -> HandedHttpProtocol:
            return HandedHttpProtocol(state, link, engines, b"", routed=False)

        for listener in listeners:
            self._servers.append(await state.loop.create_server(factory, sock=listener, backlog=backlog))

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(sock for server in self._servers for sock in server.sockets)  # type: ignore[attr-defined]

    def _on_readable(self) -> None:
        inbound = self._link.inbound
        while self._reading:
            try:
                message, fds, _, _ = socket.recv_fds(inbound, MAX_HANDBACK + 16, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                logger.warning("worker %d: control socket failed: %s", os.getpid(), exc)
                message, fds = b"", []
            if not message and not fds:
                logger.warning("worker %d: the parent process is gone; stopping", os.getpid())
                self._link.parent_gone = True
                self.close()
                self._on_parent_gone()
                return
            for fd in fds:
                self._accept(fd, message)

    def _accept(self, fd: int, message: bytes) -> None:
        sock = socket.socket(fileno=fd)
        if self._state.shutting_down:
            sock.close()
            return
        sock.setblocking(False)
        routed = message[:1] == _ROUTED
        prefix = message[1:]
        state, link, engines = self._state, self._link, self._engines

        def factory() -> HandedHttpProtocol:
            return HandedHttpProtocol(state, link, engines, prefix, routed=routed)

        state.start_task(self._connect(factory, sock))

    async def _connect(self, factory: Callable[[], HandedHttpProtocol], sock: socket.socket) -> None:
        try:
            await self._state.loop.connect_accepted_socket(factory, sock)
        except OSError as exc:
            logger.debug("a handed connection failed at once: %s", exc)
            sock.close()

    def close(self) -> None:
        for server in self._servers:
            server.close()
        if self._reading:
            self._reading = False
            with contextlib.suppress(Exception):
                self._state.loop.remove_reader(self._link.inbound.fileno())

    async def wait_closed(self) -> None:
        for server in self._servers:
            await server.wait_closed()


# --- the parent's side -------------------------------------------------------------------------------------


class _Worker:
    """The parent's view of one worker process."""

    __slots__ = ("backlog", "index", "outbound", "pid", "ready", "replacement", "reports", "sids", "started")

    def __init__(
        self, index: int, pid: int, outbound: socket.socket, reports: socket.socket, *, replacement: bool
    ) -> None:
        self.index = index
        self.replacement = replacement
        self.ready = False
        self.pid = pid
        self.outbound = outbound  # parent -> worker: connections
        self.reports = reports  # worker -> parent: reports and handed-back connections
        self.sids: set[str] = set()
        self.started = time.monotonic()
        # Connections waiting for room in the worker's control socket: the parent never blocks on one worker.
        self.backlog: deque[tuple[bytes, socket.socket]] = deque()


#: What the parent calls in a new worker process: (index, inbound control socket, outbound control socket, the
#: worker's listening sockets); it serves until told to stop and returns the exit status.
WorkerMain = Callable[[int, socket.socket, socket.socket, list[socket.socket]], int]


class Supervisor:
    """The parent process: forks the workers, routes connections to them, replaces those that die and stops
    them all on SIGTERM/SIGINT (see the module docstring). It runs no event loop (a ``selectors`` loop does),
    so nothing of asyncio is inherited half-running by the workers it forks."""

    def __init__(
        self,
        listeners: Sequence[Sequence[socket.socket]],
        count: int,
        worker_main: WorkerMain,
        *,
        shutdown_timeout: float,
    ) -> None:
        if count < 1:
            raise ValueError(f"workers must be at least 1, got {count}")
        if len(listeners) != count:
            raise ValueError(f"one set of listening sockets per worker: {len(listeners)} for {count} workers")
        # Worker i accepts from listeners[i] itself (bind_worker_listeners); the parent keeps its copies, so
        # that connections the kernel queues on the set of a dead worker wait for its replacement.
        self._listeners = [list(own) for own in listeners]
        self._covered: set[int] = set()  # workers whose sockets the parent accepts from while they are down
        self._count = count
        self._worker_main = worker_main
        self._shutdown_timeout = shutdown_timeout
        self._selector = selectors.DefaultSelector()
        self._workers: dict[int, _Worker] = {}  # by index
        self._by_pid: dict[int, _Worker] = {}
        self._owners: dict[str, _Worker] = {}
        self._next = 0
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = 0
        self._pending: dict[socket.socket, float] = {}  # new connections waiting for their request line
        self._draining = False
        self._started = False
        self.status = 0
        self._reading_reports = False
        self._wakeup_r, self._wakeup_w = socket.socketpair()
        self.directory = ""

    # -- the loop --

    def run(self) -> int:
        """Fork the workers and route until SIGTERM/SIGINT has stopped them all; then clean up. Returns the exit
        status: 1 when a worker could not start serving, else 0."""
        self.directory = tempfile.mkdtemp(prefix="aiosocketio-workers-")
        previous = self._install_signals()
        try:
            for index in range(self._count):
                self._spawn(index)
            self._started = True
            self._loop()
        finally:
            self._restore_signals(previous)
            for sock in list(self._pending):
                self._drop(sock)
            for listeners in self._listeners:
                for listener in listeners:
                    listener.close()
            for worker in self._workers.values():
                self._forget(worker)
            self._selector.close()
            self._wakeup_r.close()
            self._wakeup_w.close()
            shutil.rmtree(self.directory, ignore_errors=True)
        return self.status

    def _loop(self) -> None:
        deadline: float | None = None
        while True:
            if self._draining:
                if not self._by_pid:
                    return
                if deadline is None:
                    deadline = time.monotonic() + self._shutdown_timeout + 5.0
                elif time.monotonic() > deadline:
                    for pid in list(self._by_pid):
                        logger.warning("worker pid %d did not stop in time: killing it", pid)
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    deadline = time.monotonic() + 5.0
            timeout = 0.5
            if self._timers:
                timeout = max(0.0, min(timeout, self._timers[0][0] - time.monotonic()))
            for key, _ in self._selector.select(timeout):
                self._call(key.data, key.fileobj)
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _, _, callback = heapq.heappop(self._timers)
                self._call(callback)

    @staticmethod
    def _call(callback: Callable[..., None], *args: Any) -> None:
        """One step of the loop: a bug there is logged, and the parent goes on routing."""
        try:
            callback(*args)
        except Exception:
            logger.exception("error in the workers' parent process")

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (time.monotonic() + delay, self._timer_seq, callback))

    # -- signals --

    def _install_signals(self) -> tuple[int, dict[signal.Signals, Any]]:
        self._wakeup_r.setblocking(False)
        self._wakeup_w.setblocking(False)
        wakeup = signal.set_wakeup_fd(self._wakeup_w.fileno())
        handlers = {
            sig: signal.signal(sig, _note_signal) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)
        }
        self._selector.register(self._wakeup_r, selectors.EVENT_READ, self._on_signal)
        return wakeup, handlers

    def _restore_signals(self, previous: tuple[int, dict[signal.Signals, Any]]) -> None:
        wakeup, handlers = previous
        signal.set_wakeup_fd(wakeup)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)

    def _on_signal(self, _: Any) -> None:
        try:
            received = self._wakeup_r.recv(64)
        except BlockingIOError:
            return
        for number in received:
            if number == signal.SIGCHLD:
                self._reap()
            elif number in (signal.SIGTERM, signal.SIGINT) and not self._draining:
                self._drain()

    def _drain(self) -> None:
        logger.info("shutting down %d workers", len(self._by_pid))
        self._draining = True
        for index in list(self._covered):
            self._uncover(index)
        for listeners in self._listeners:
            for listener in listeners:
                listener.close()
        for sock in list(self._pending):
            self._drop(sock)
        for pid in self._by_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    # -- the workers --

    def _spawn(self, index: int) -> None:
        to_worker, worker_in = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        worker_out, from_worker = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # the worker
            status = 1
            try:
                to_worker.close()
                from_worker.close()
                self._become_worker(index)
                status = self._worker_main(index, worker_in, worker_out, self._listeners[index])
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                logger.exception("worker %d failed", index)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        worker_in.close()
        worker_out.close()
        to_worker.setblocking(False)
        from_worker.setblocking(False)
        worker = _Worker(index, pid, to_worker, from_worker, replacement=self._started)
        self._workers[index] = worker
        self._by_pid[pid] = worker
        self._selector.register(from_worker, selectors.EVENT_READ, lambda _: self._read_reports(worker))
        logger.info("worker %d started (pid %d)", index, pid)

    def _become_worker(self, index: int) -> None:
        """In a new worker: let go of everything of the parent's, and set the environment."""
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        self._selector.close()
        self._wakeup_r.close()
        self._wakeup_w.close()
        for number, listeners in enumerate(self._listeners):
            if number != index:  # its own stay open: it accepts from them
                for listener in listeners:
                    listener.close()
        for sock in self._pending:
            sock.close()
        for other in self._workers.values():
            other.outbound.close()
            other.reports.close()
        os.environ[ENV_INDEX] = str(index)
        os.environ[ENV_COUNT] = str(self._count)
        os.environ[ENV_DIR] = self.directory

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self._by_pid.pop(pid, None)
            if worker is None:
                continue
            if worker.reports.fileno() >= 0:
                self._read_reports(worker)  # what it said before it died ("ready" among others)
            self._forget(worker)
            if self._workers.get(worker.index) is worker:
                del self._workers[worker.index]
            if self._draining:
                continue
            # Until its replacement serves, connections the kernel gives its sockets are taken by the parent
            # and handed to the others (a first-generation worker that dies before serving ends everything).
            if worker.ready or worker.replacement:
                self._cover(worker.index)
            how = (
                f"killed by signal {os.WTERMSIG(status)}"
                if os.WIFSIGNALED(status)
                else f"exited with status {os.waitstatus_to_exitcode(status)}"
            )
            if not worker.ready and not worker.replacement:
                # The application cannot start (an adapter that cannot connect, say): as a single server would,
                # the program ends, rather than failing again and again.
                logger.error("worker %d (pid %d) %s before it served: stopping", worker.index, pid, how)
                self.status = 1
                self._drain()
                continue
            lived = time.monotonic() - worker.started
            delay = RESPAWN_BACKOFF if lived < RESPAWN_BACKOFF else 0.0
            logger.warning(
                "worker %d (pid %d) %s; starting a replacement%s",
                worker.index,
                pid,
                how,
                f" in {delay:g} s" if delay else "",
            )
            index = worker.index
            if delay:
                self._later(delay, partial(self._respawn, index))
            else:
                self._respawn(index)

    def _respawn(self, index: int) -> None:
        if not self._draining and index not in self._workers:
            self._spawn(index)

    def _forget(self, worker: _Worker) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(worker.reports)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(worker.outbound)
        while worker.backlog:
            worker.backlog.popleft()[1].close()
        worker.outbound.close()
        worker.reports.close()
        for sid in worker.sids:
            if self._owners.get(sid) is worker:
                del self._owners[sid]
        worker.sids.clear()

    def _read_reports(self, worker: _Worker) -> None:
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(worker.reports, MAX_HANDBACK + 16, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                message, fds = b"", []
            if not message and not fds:  # the worker is gone; SIGCHLD says how
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(worker.reports)
                return
            kind = message[:1]
            if kind == _READY:
                worker.ready = True
                if self._workers.get(worker.index) is worker:
                    self._uncover(worker.index)
            elif kind == _OPENED:
                self._opened(worker, message[1:].decode("utf-8", "surrogatepass"))
            elif kind == _OPENED_WS:
                try:
                    opened = json.loads(message[1:])
                except ValueError:
                    logger.error("worker %d sent a report that does not parse", worker.index)
                    opened = []
                for sid in opened:
                    self._opened(worker, sid)
            elif kind == _CLOSED:
                try:
                    closed = json.loads(message[1:])
                except ValueError:
                    logger.error("worker %d sent a report that does not parse", worker.index)
                    closed = []
                for sid in closed:
                    if self._owners.get(sid) is worker:
                        del self._owners[sid]
                    worker.sids.discard(sid)
            for fd in fds:
                sock = socket.socket(fileno=fd)
                if kind == _HANDBACK and not self._draining:
                    self._route(sock, message[1:])
                else:
                    sock.close()

    def _opened(self, worker: _Worker, sid: str) -> None:
        other = self._owners.get(sid)
        if other is not None and other is not worker:
            logger.error(
                "workers %d and %d both hold a session %r: generate_id must give ids unique across "
                "the workers (their requests now all go to worker %d)",
                other.index,
                worker.index,
                sid,
                worker.index,
            )
            other.sids.discard(sid)
        self._owners[sid] = worker
        worker.sids.add(sid)

    def _cover(self, index: int) -> None:
        """Accept from worker ``index``'s sockets in the parent (it is down) and route what comes."""
        if index in self._covered:
            return
        self._covered.add(index)
        for listener in self._listeners[index]:
            self._selector.register(listener, selectors.EVENT_READ, self._on_accept)

    def _uncover(self, index: int) -> None:
        """Worker ``index`` serves again: its sockets are its own."""
        if index not in self._covered:
            return
        self._covered.discard(index)
        for listener in self._listeners[index]:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(listener)

    def _read_all_reports(self) -> None:
        """Read what every worker sent so far (a session it opened may be in there)."""
        if self._reading_reports:
            return
        self._reading_reports = True
        try:
            for worker in list(self._workers.values()):
                if worker.reports.fileno() >= 0:
                    self._read_reports(worker)
        finally:
            self._reading_reports = False

    # -- routing --

    def _on_accept(self, listener: Any) -> None:
        for _ in range(64):  # a burst at a time, then the other sockets get their turn
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors, the peer already gone...
                logger.debug("accept failed: %s", exc)
                return
            # With TCP_DEFER_ACCEPT (see bind_listeners) the request is usually there already: routed at once,
            # with no round through the selector. (The socket stays blocking: it is only ever peeked at with
            # MSG_DONTWAIT here, and the worker sets it up as its loop wants.)
            self._first_look(sock, registered=False)

    def _on_first_bytes(self, sock: Any) -> None:
        self._first_look(sock, registered=True)

    def _first_look(self, sock: socket.socket, *, registered: bool) -> None:
        try:
            data = sock.recv(PEEK_SIZE, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            if not registered:
                self._wait_first_bytes(sock)
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return
        if b"\n" not in data and len(data) < PEEK_SIZE:
            # The request line has not all come: look again shortly (the socket stays readable meanwhile).
            if not registered:
                self._wait_first_bytes(sock)
            self._selector.unregister(sock)
            self._later(RECHECK, partial(self._recheck, sock))
            return
        if registered:
            self._selector.unregister(sock)
            del self._pending[sock]
        self._route(sock, b"", peeked=data)

    def _wait_first_bytes(self, sock: socket.socket) -> None:
        self._pending[sock] = time.monotonic() + SILENT_HANDOVER
        self._selector.register(sock, selectors.EVENT_READ, self._on_first_bytes)
        self._later(SILENT_HANDOVER, partial(self._on_silent, sock))

    def _recheck(self, sock: socket.socket) -> None:
        if sock in self._pending:
            self._selector.register(sock, selectors.EVENT_READ, self._on_first_bytes)

    def _on_silent(self, sock: socket.socket) -> None:
        if sock not in self._pending:
            return
        del self._pending[sock]
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        self._send(sock, _UNROUTED, self._spread())

    def _drop(self, sock: socket.socket) -> None:
        self._pending.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        sock.close()

    def _route(self, sock: socket.socket, data: bytes, *, peeked: bytes = b"") -> None:
        """Send ``sock`` (``data``: what was read of it already) to the worker of its request's session."""
        sid = request_sid(data or peeked)
        worker = None
        if sid is not None:
            worker = self._owners.get(sid)
            if worker is None:
                self._read_all_reports()
                worker = self._owners.get(sid)
        self._send(sock, _ROUTED + data, worker or self._spread())

    def _spread(self) -> _Worker | None:
        """The next worker in turn (round-robin over the live ones)."""
        for _ in range(self._count):
            index = self._next
            self._next = (index + 1) % self._count
            worker = self._workers.get(index)
            if worker is not None:
                return worker
        return None

    def _send(self, sock: socket.socket, message: bytes, worker: _Worker | None) -> None:
        """Hand ``sock`` to ``worker`` (another one if that one is gone), or queue it while the worker's control
        socket is full; the parent's copy is closed once the worker has its own."""
        tried = 0
        while worker is not None and tried < self._count:
            if worker.backlog:
                if len(worker.backlog) >= MAX_BACKLOG:
                    logger.warning("worker %d takes no connection: one dropped", worker.index)
                    break
                worker.backlog.append((message, sock))
                return
            try:
                socket.send_fds(worker.outbound, [message], [sock.fileno()])
            except (BlockingIOError, InterruptedError):
                worker.backlog.append((message, sock))
                self._selector.register(worker.outbound, selectors.EVENT_WRITE, partial(self._flush, worker))
                return
            except OSError as exc:
                logger.warning("cannot hand a connection to worker %d: %s", worker.index, exc)
                tried += 1
                worker = self._spread()
                continue
            break
        sock.close()

    def _flush(self, worker: _Worker, _: Any) -> None:
        """The worker's control socket has room again: send what waited."""
        backlog = worker.backlog
        while backlog:
            message, sock = backlog[0]
            try:
                socket.send_fds(worker.outbound, [message], [sock.fileno()])
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                logger.warning("cannot hand a connection to worker %d: %s", worker.index, exc)
            backlog.popleft()
            sock.close()
        self._selector.unregister(worker.outbound)


def _note_signal(signum: int, frame: Any) -> None:
    """Python-level handler: the C handler writes the signal's number to the wakeup socket, the loop reads it."""
