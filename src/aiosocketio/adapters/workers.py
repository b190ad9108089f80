"""The workers adapter: the processes of one machine as a cluster, talking over Unix domain sockets.

Made for ``workers=N`` (N processes serving one port), usable by any set of processes that share a directory:
each worker listens on ``worker-<index>.sock`` in that directory and connects to every other worker's socket, so
the workers form a mesh and no message goes through a parent process or an external service. A worker sends on
the connection it opened and reads on the ones it accepted; a worker that is replaced (same index, new process)
is reconnected to as soon as its socket answers again. Messages are the cluster envelopes of
:mod:`aiosocketio.adapters.messages` (MessagePack), framed by a 4-byte length; what one worker sends to another
during one turn of the event loop leaves in one write.

Connection state recovery survives a worker killed without warning (SIGKILL, OOM killer), because nothing waits
for the dying worker: while a socket is connected, its worker keeps a copy of what recovery needs (id, private
id, rooms, ``data``) on every other worker, and every event sent with an offset is logged by every worker. An
offset is a vector: for each worker that sent events, the last of its events the delivering worker had handled.
Any worker can thus tell exactly which logged events a returning client missed, whichever worker it was on. A
worker that joins the mesh (a replacement too) gets from the others the sessions waiting for their clients and
their logs.

Configuration comes from the arguments, else from the environment the ``workers=N`` supervisor sets in each
worker (``AIOSOCKETIO_WORKER_INDEX``, ``AIOSOCKETIO_WORKERS``, ``AIOSOCKETIO_WORKER_DIR``). Nothing is opened
before the server starts serving, so a server built at import time can be forked.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiosocketio._emitter import spawn
from aiosocketio.adapters import messages as wire
from aiosocketio.adapters.cluster import ClusterAdapter, Request
from aiosocketio.adapters.messages.common import read_object, read_rooms, read_string
from aiosocketio.parsers.packet import DecodeError
from aiosocketio.recovery import StoredSession

if TYPE_CHECKING:
    from aiosocketio.adapters._types import AdapterNamespace
    from aiosocketio.adapters.options import BroadcastOptions

__all__ = ["ENV_DIR", "ENV_INDEX", "ENV_WORKERS", "WorkersAdapter", "create_adapter"]

logger = logging.getLogger("aiosocketio.adapter.workers")

ENV_INDEX = "AIOSOCKETIO_WORKER_INDEX"
"""The environment variable with the worker's number, 0 to N-1 (a replacement gets the number it replaces)."""
ENV_WORKERS = "AIOSOCKETIO_WORKERS"
"""The environment variable with the number of workers, N."""
ENV_DIR = "AIOSOCKETIO_WORKER_DIR"
"""The environment variable with the directory of the workers' Unix sockets, private to them."""

_HEADER = struct.Struct(">IB")  # the body's length (the kind byte not counted), the frame's kind
_EVENT = struct.Struct(">Qd")  # an event's sequence number (0: not logged) and its sender's clock
_MAX_FRAME = 256 * 1024 * 1024
_MAX_BUFFERED = 64 * 1024 * 1024
_MAX_PATH = 108  # sun_path, Linux's size (macOS: 104)

# Frame kinds.
_HELLO = 1  # {uid, token, index, nsps}: the first frame on a connection
_NSP = 2  # {nsp, up}: a namespace was opened or closed on the sender
_MESSAGE = 3  # _EVENT + a cluster envelope
_SESSION = 4  # {nsp, pid, sid, rooms, data, kept, kept_at} or {nsp, pid, gone}: a recoverable session changed
_LOG = 5  # {nsp, token, entries: [[seq, at, data, rooms, except], ...]}: the sender's log, for a worker that joins
_LOG_CHUNK = 500


def _socket_path(directory: str, index: int) -> str:
    return os.path.join(directory, f"worker-{index}.sock")


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
        if not value:
            return out


_TOKEN_LEN = 6


def encode_offset(vector: dict[str, int]) -> str:
    """``tok1seq1.tok2seq2…``: each worker's token (6 characters) and its last event handled, in base 36."""
    return ".".join(token + _base36(seq) for token, seq in vector.items())


def decode_offset(offset: str) -> dict[str, int] | None:
    """The vector of an offset, or None when it is not one of ours."""
    vector: dict[str, int] = {}
    if not offset or len(offset) > 4096:
        return None
    for part in offset.split("."):
        if len(part) <= _TOKEN_LEN:
            return None
        try:
            vector[part[:_TOKEN_LEN]] = int(part[_TOKEN_LEN:], 36)
        except ValueError:
            return None
    return vector


def _setting(value: Any, env: str, what: str) -> str:
    if value is not None:
        return str(value)
    found = os.environ.get(env)
    if not found:
        raise RuntimeError(
            f"the workers adapter needs {what}: pass create_adapter({what}=...) or run under workers=N, "
            f"which sets {env} in each worker"
        )
    return found


def create_adapter(
    *,
    socket_dir: str | os.PathLike[str] | None = None,
    index: int | None = None,
    workers: int | None = None,
    requests_timeout: float = 5.0,
    reconnect_interval: float = 0.1,
    sync_interval: float | None = 1.0,
) -> Callable[[AdapterNamespace], WorkersAdapter]:
    """``Server(adapter=create_adapter())`` in each worker of ``workers=N``; elsewhere, give each process its
    ``index`` (0 to ``workers - 1``), the number of ``workers`` and a ``socket_dir`` they share (private to
    them: whoever can connect to its sockets speaks for a worker).

    Arguments left out are read from the environment when the server starts serving (not now: a server made at
    import time may be built before the supervisor forks the workers). ``reconnect_interval`` is how often a
    missing worker's socket is tried again; with connection state recovery, ``sync_interval`` is how often the
    ``data`` of the connected sockets is checked for changes to copy to the other workers (joins and leaves are
    copied at once; None checks only at those moments).
    """
    if index is not None and index < 0:
        raise ValueError("index is a worker number from 0")
    if workers is not None and (workers < 1 or (index is not None and index >= workers)):
        raise ValueError("workers is the number of workers, more than index")
    if requests_timeout <= 0 or reconnect_interval <= 0 or (sync_interval is not None and sync_interval <= 0):
        raise ValueError(
            "requests_timeout, reconnect_interval and sync_interval are positive numbers of seconds"
        )
    hub = _Hub(
        None if socket_dir is None else os.fspath(socket_dir),
        index,
        workers,
        requests_timeout=requests_timeout,
        reconnect_interval=reconnect_interval,
        sync_interval=sync_interval,
    )
    return hub.new_adapter


@dataclass(slots=True)
class _Peer:
    """Another worker, as its HELLO on the connection it opened to us announced it."""

    uid: str
    token: str
    index: int
    nsps: set[str]


class _Link:
    """Our connection to worker ``index``: connects, reconnects, and writes what we send it, batched per turn."""

    def __init__(self, hub: _Hub, index: int) -> None:
        self.hub = hub
        self.index = index
        self.writer: asyncio.StreamWriter | None = None
        self._buffer = bytearray()
        self._flush_scheduled = False
        self._wake = asyncio.Event()
        self._dropping = False
        self.task = spawn(self._run())

    @property
    def connected(self) -> bool:
        return self.writer is not None

    def wake(self) -> None:
        """Try to connect now (the worker announced itself on its own connection)."""
        self._wake.set()

    def send(self, frame: bytes) -> None:
        writer = self.writer
        if writer is None:
            return  # the worker is not there; it learns the state anew when it connects
        transport = writer.transport
        if transport.get_write_buffer_size() + len(self._buffer) > _MAX_BUFFERED:
            if not self._dropping:
                self._dropping = True
                logger.warning("worker %d does not read what we send; dropping messages", self.index)
            return
        self._dropping = False
        self._buffer += frame
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        writer = self.writer
        # A worker that just died: its connection is closing, and the reading side is about to notice.
        if writer is not None and self._buffer and not writer.transport.is_closing():
            writer.write(bytes(self._buffer))
        self._buffer.clear()

    async def _run(self) -> None:
        hub = self.hub
        path = _socket_path(hub.directory, self.index)
        while True:
            try:
                reader, writer = await asyncio.open_unix_connection(path)
            except OSError:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), hub.options["reconnect_interval"])
                continue
            self._buffer.clear()
            self.writer = writer
            try:
                self.send(hub.hello_frame())
                try:
                    hub.link_up(self)
                except Exception:
                    logger.exception("sending our state to worker %d failed", self.index)
                # Nothing comes back on this connection: reading only notices when the worker goes away.
                while await reader.read(4096):
                    pass
            except (ConnectionError, OSError):
                pass
            finally:
                self.writer = None
                self._buffer.clear()
                writer.close()
                hub.link_down(self)

    async def close(self) -> None:
        self._flush()
        writer = self.writer
        if writer is not None:
            with contextlib.suppress(ConnectionError, OSError):
                await asyncio.wait_for(writer.drain(), 1.0)
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class _Hub:
    """What the adapters of one factory (one process) share: the listening socket and the links."""

    def __init__(self, directory: str | None, index: int | None, workers: int | None, **options: Any) -> None:
        self._given = (directory, index, workers)
        self.options = options
        self.adapters: dict[str, WorkersAdapter] = {}
        self.directory = ""
        self.index = -1
        self.workers = 0
        self.uid = ""
        self.token = ""
        self.links: dict[int, _Link] = {}
        self.peers: dict[str, _Peer] = {}
        self._server: asyncio.AbstractServer | None = None
        self._inbound: set[asyncio.StreamWriter] = set()

    def new_adapter(self, nsp: AdapterNamespace) -> WorkersAdapter:
        return WorkersAdapter(nsp, self)

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self, adapter: WorkersAdapter) -> None:
        if self._server is None:
            await self._open()
        self.adapters[adapter.nsp.name] = adapter
        self.broadcast_frame(_frame(_NSP, _pack({"nsp": adapter.nsp.name, "up": True})))

    async def _open(self) -> None:
        """Read the settings (now, in the worker: see create_adapter), listen, and connect to the others."""
        directory, index, workers = self._given
        self.directory = _setting(directory, ENV_DIR, "socket_dir")
        self.index = int(_setting(index, ENV_INDEX, "index"))
        self.workers = int(_setting(workers, ENV_WORKERS, "workers"))
        if not 0 <= self.index < self.workers:
            raise ValueError(f"worker index {self.index} is not in 0..{self.workers - 1}")
        # Made here, after any fork: a uid and token made before it would be shared by every worker.
        self.uid = os.urandom(8).hex()
        self.token = _base36(int.from_bytes(os.urandom(4), "big")).rjust(_TOKEN_LEN, "0")[-_TOKEN_LEN:]
        # Private when made here: whoever can connect to a worker's socket speaks for a worker.
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        path = _socket_path(self.directory, self.index)
        if len(os.fsencode(path)) >= _MAX_PATH:
            raise ValueError(
                f"the workers adapter's socket path {path!r} is too long for a Unix socket "
                f"({_MAX_PATH - 1} bytes at most): give create_adapter() a shorter socket_dir"
            )
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by the worker this one replaces
        self._server = await asyncio.start_unix_server(self._accept, path)
        for other in range(self.workers):
            if other != self.index:
                self.links[other] = _Link(self, other)

    async def stop(self, adapter: WorkersAdapter) -> None:
        if self.adapters.get(adapter.nsp.name) is not adapter:
            return
        del self.adapters[adapter.nsp.name]
        self.broadcast_frame(_frame(_NSP, _pack({"nsp": adapter.nsp.name, "up": False})))
        if self.adapters or self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_socket_path(self.directory, self.index))
        links, self.links = list(self.links.values()), {}
        for link in links:
            await link.close()
        for writer in list(self._inbound):
            writer.close()
        self.peers.clear()

    # -- sending -----------------------------------------------------------------------------------------

    def hello_frame(self) -> bytes:
        return _frame(
            _HELLO,
            _pack({"uid": self.uid, "token": self.token, "index": self.index, "nsps": list(self.adapters)}),
        )

    def broadcast_frame(self, frame: bytes) -> None:
        for link in self.links.values():
            link.send(frame)

    def send_to(self, uid: str, frame: bytes) -> None:
        peer = self.peers.get(uid)
        if peer is not None:
            link = self.links.get(peer.index)
            if link is not None:
                link.send(frame)

    def live_peers(self, nsp: str) -> list[_Peer]:
        """The workers we hear from and can write to, with ``nsp`` open."""
        links = self.links
        return [
            peer
            for peer in self.peers.values()
            if nsp in peer.nsps and (link := links.get(peer.index)) is not None and link.connected
        ]

    def link_up(self, link: _Link) -> None:
        """Our connection to a worker is open: it gets our state (it may be new, or a replacement)."""
        for adapter in self.adapters.values():
            adapter.send_state(link)

    def link_down(self, link: _Link) -> None:
        for peer in list(self.peers.values()):
            if peer.index == link.index:
                for adapter in self.adapters.values():
                    adapter.forget_requests(peer.uid)

    # -- receiving ---------------------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._inbound.add(writer)
        peer: _Peer | None = None
        try:
            while True:
                header = await reader.readexactly(_HEADER.size)
                length, kind = _HEADER.unpack(header)
                if length > _MAX_FRAME:
                    logger.warning("a worker sent a frame of %d bytes; closing its connection", length)
                    return
                body = await reader.readexactly(length)
                if kind == _HELLO:
                    try:
                        peer = self._on_hello(body)
                    except (DecodeError, ValueError, TypeError) as exc:
                        logger.warning("a worker's hello cannot be read (%r); closing its connection", exc)
                        return
                elif peer is not None:
                    try:
                        self._dispatch(peer, kind, body)
                    except (DecodeError, ValueError, TypeError, struct.error) as exc:
                        # The frames are length-prefixed: the next one is still where it should be.
                        logger.warning("worker %d sent a frame that cannot be read: %r", peer.index, exc)
                    except Exception:
                        logger.exception("handling a frame of worker %d failed", peer.index)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._inbound.discard(writer)
            writer.close()
            if peer is not None and self.peers.get(peer.uid) is peer:
                del self.peers[peer.uid]
                for adapter in self.adapters.values():
                    adapter.peer_gone(peer)

    def _on_hello(self, body: bytes) -> _Peer:
        value = read_object(_unpack(body), "a worker's hello")
        nsps = value.get("nsps")
        peer = _Peer(
            read_string(value, "uid"),
            read_string(value, "token"),
            int(value.get("index", -1)),
            {n for n in nsps if isinstance(n, str)} if isinstance(nsps, list) else set(),
        )
        self.peers[peer.uid] = peer
        link = self.links.get(peer.index)
        if link is not None and not link.connected:
            link.wake()
        return peer

    def _dispatch(self, peer: _Peer, kind: int, body: bytes) -> None:
        if kind == _MESSAGE:
            seq, at = _EVENT.unpack_from(body)
            message = wire.decode_cluster(memoryview(body)[_EVENT.size :], wire.MSGPACK)
            adapter = self.adapters.get(message.nsp)
            if adapter is not None:
                adapter.on_peer_message(peer, message, seq, at)
        elif kind == _SESSION:
            value = read_object(_unpack(body), "a session")
            adapter = self.adapters.get(read_string(value, "nsp"))
            if adapter is not None:
                adapter.on_session(peer, value)
        elif kind == _LOG:
            value = read_object(wire.MSGPACK.decode(body), "an event log")
            adapter = self.adapters.get(read_string(value, "nsp"))
            if adapter is not None:
                adapter.on_log(value)
        elif kind == _NSP:
            value = read_object(_unpack(body), "a namespace")
            name = read_string(value, "nsp")
            if value.get("up"):
                peer.nsps.add(name)
            else:
                peer.nsps.discard(name)
                adapter = self.adapters.get(name)
                if adapter is not None:
                    adapter.forget_requests(peer.uid)


def _pack(value: Any) -> bytes:
    """The worker's own frames (hello, namespaces, sessions): plain MessagePack, read only by this module, so
    Python values come back as they were (the cluster envelopes keep the cluster codec)."""
    import msgpack  # type: ignore[import-untyped, unused-ignore]  # here: the messages package names the extra

    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def _unpack(body: bytes) -> Any:
    import msgpack  # type: ignore[import-untyped, unused-ignore]

    try:
        return msgpack.unpackb(body, raw=False, strict_map_key=False)
    except Exception as exc:
        raise DecodeError(f"unreadable worker frame: {exc!r}") from None


def _frame(kind: int, body: bytes) -> bytes:
    return _HEADER.pack(len(body), kind) + body


@dataclass(slots=True)
class _Logged:
    seq: int
    at: float
    data: list[Any]
    rooms: frozenset[str]
    except_rooms: frozenset[str]


@dataclass(slots=True)
class _Replica:
    """A recoverable session as this worker keeps it: ``owner`` (a uid) has the socket while ``kept_at`` is
    None; once the socket is gone (or its worker), the session waits ``max_disconnection_duration`` for it."""

    sid: str
    pid: str
    rooms: tuple[str, ...]
    data: Any
    owner: str
    kept_at: float | None


_LIVE, _KEPT, _GONE = "live", "kept", "gone"


class WorkersAdapter(ClusterAdapter):
    """One namespace's share of the workers' mesh, with connection state recovery that survives a worker."""

    __slots__ = (
        "_first_seen",
        "_housekeeping",
        "_hub",
        "_kept",
        "_log",
        "_pending",
        "_replicas",
        "_replicated",
        "_seen_data",
        "_seq",
        "_synced",
        "_vector",
    )

    has_offsets = True
    """Events get offsets (vectors of per-worker event numbers) that let a client recover on any worker."""

    def __init__(self, nsp: AdapterNamespace, hub: _Hub) -> None:
        super().__init__(nsp, requests_timeout=hub.options["requests_timeout"])
        self._hub = hub
        self._seq = 0
        self._vector: dict[str, int] = {}  # worker token -> its last event handled here
        self._first_seen: dict[str, int] = {}  # worker token -> its first event handled here
        self._log: dict[str, deque[_Logged]] = {}
        self._replicas: dict[str, _Replica] = {}  # pid -> the sessions this worker keeps for others
        self._replicated: dict[str, str] = {}  # sid -> pid of the local sockets copied to the others
        self._synced: dict[str, bytes] = {}  # sid -> what was sent last, to send only changes
        self._seen_data: dict[str, Any] = {}  # sid -> a copy of the data sent last, compared at each check
        self._pending: dict[str, tuple[str, StoredSession | None]] = {}
        self._kept: deque[tuple[float, str]] = deque()  # (kept since, pid), oldest first: what expires next
        self._housekeeping: asyncio.TimerHandle | None = None

    @property
    def _recovery(self) -> dict[str, Any] | None:
        return self.nsp.server.connection_state_recovery

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def init(self) -> None:
        """Join the mesh: connect to the other workers for this namespace (with recovery on, start expiring
        kept sessions)."""
        await super().init()
        await self._hub.start(self)
        if self.uid != self._hub.uid:
            # A new process (or served anew): a new token, whose events count from 1 again.
            self.uid = self._hub.uid
            self._seq = 0
        if self._recovery is not None and self._housekeeping is None:
            self._housekeeping = asyncio.get_running_loop().call_later(self._tick_every, self._tick)

    async def close(self) -> None:
        """Leave the mesh, after sending the other workers the sessions of the sockets just disconnected."""
        if self._closed:
            return
        # The server has just disconnected its sockets ("server shutting down"): their sessions are kept by
        # tasks that run on the next turn of the loop (Python 3.11); let them, then send them.
        await asyncio.sleep(0)
        self._flush_sessions()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            self._housekeeping = None
        await super().close()
        await self._hub.stop(self)

    @property
    def _tick_every(self) -> float:
        recovery = self._recovery
        window = recovery["max_disconnection_duration"] if recovery is not None else 60.0
        sync = self._hub.options["sync_interval"]
        return min(window, sync) if sync is not None else min(window, 60.0)

    def _tick(self) -> None:
        self._housekeeping = asyncio.get_running_loop().call_later(self._tick_every, self._tick)
        if self._hub.options["sync_interval"] is not None:
            self._sync_data()
        self._expire(time.time())

    def _sync_data(self) -> None:
        """Copy to the other workers the data of the sockets whose data changed since it was last copied."""
        if True:
            # Comparing with a copy is much cheaper than encoding: only the sockets whose data changed are.
            sockets, pending, seen = self.nsp.sockets, self._pending, self._seen_data
            for sid in self._replicated:
                socket = sockets.get(sid)
                if (
                    socket is not None
                    and sid not in pending
                    and not _same(socket.data, seen.get(sid, _NEVER))
                ):
                    pending[sid] = (_LIVE, None)
            if pending:
                self._flush_sessions()

    # -- the bus -----------------------------------------------------------------------------------------

    def _publish(self, body: wire.ClusterBody, then: Callable[[str | None], None] | None = None) -> None:
        # Written at once, in order: a broadcast waiting for its offset gets it now, and is delivered here now.
        message = wire.ClusterMessage(self.uid, self.nsp.name, body)
        seq, at, offset = 0, 0.0, None
        if then is not None and isinstance(body, wire.BroadcastMessage):
            seq, at = self._next_seq(), time.time()
            offset = self._record(self._hub.token, seq, at, body.packet.data, body.opts)
        self._hub.broadcast_frame(_message_frame(message, seq, at))
        if then is not None:
            then(offset)

    def _publish_response(self, requester: str, body: wire.ClusterBody) -> None:
        message = wire.ClusterMessage(self.uid, self.nsp.name, body)
        self._hub.send_to(requester, _message_frame(message, 0, 0.0))

    async def _do_publish(self, message: wire.ClusterMessage) -> str | None:
        self._hub.broadcast_frame(_message_frame(message, 0, 0.0))
        return None

    async def _do_publish_response(self, requester: str, message: wire.ClusterMessage) -> None:
        self._hub.send_to(requester, _message_frame(message, 0, 0.0))

    async def server_count(self) -> int:
        """This worker and the others that are up, with this namespace open."""
        return 1 + len(self._hub.live_peers(self.nsp.name))

    async def _expected_answers(self) -> int | set[str]:
        return {peer.uid for peer in self._hub.live_peers(self.nsp.name)}

    def _timeout_message(self, request: Request) -> str:
        return f"timeout reached: missing {request.missing} responses"

    def forget_requests(self, uid: str) -> None:
        """Worker ``uid`` went away (or closed this namespace): stop waiting for its answers."""
        for request in list(self._requests.values()):
            request.forget(uid)

    def peer_gone(self, peer: _Peer) -> None:
        """For the mesh: ``peer``'s worker went away; stop waiting for it and start the clock on the sessions
        of its sockets, which this worker keeps for their clients' return.

        Args:
            peer: The worker that went away.
        """
        self.forget_requests(peer.uid)
        now = time.time()
        for replica in self._replicas.values():
            if replica.owner == peer.uid and replica.kept_at is None:
                replica.kept_at = now  # its worker died with the socket: the session waits from now
                self._kept.append((now, replica.pid))

    def on_peer_message(self, peer: _Peer, message: wire.ClusterMessage, seq: int, at: float) -> None:
        """For the mesh: a cluster message from ``peer``, logged first when it is an event to recover.

        Args:
            peer: The worker that sent it.
            message: The message.
            seq: Its number among ``peer``'s events (0: not an event to log).
            at: When it was sent (Unix time), for the log's expiry.
        """
        offset = None
        body = message.body
        if seq and isinstance(body, wire.BroadcastMessage) and self._recovery is not None:
            offset = self._record(peer.token, seq, at, body.packet.data, body.opts)
        self.on_message(message, offset)

    # -- the event log -----------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _record(self, token: str, seq: int, at: float, data: Any, opts: BroadcastOptions) -> str:
        """Log an event of worker ``token``; returns the offset its recipients here get."""
        vector = self._vector
        last = vector.get(token)
        log = self._log.get(token)
        if log is None or last is None:
            log = self._log[token] = deque()
            self._first_seen[token] = seq
        elif seq <= last:
            return encode_offset(vector)  # logged already, from a copy of another worker's log
        elif seq != last + 1:
            # Events were lost on the way (the link was down): the log restarts here, so that no session is
            # recovered with a hole in what it missed.
            log.clear()
            self._first_seen[token] = seq
        log.append(_Logged(seq, at, data if isinstance(data, list) else [], opts.rooms, opts.except_rooms))
        vector[token] = seq
        return encode_offset(vector)

    def _merge(self, token: str, entries: list[_Logged]) -> None:
        """Add a copy of worker ``token``'s events (contiguous, in order) that another worker sent us: what came
        before our first one and what came after our last one, where it joins without a hole."""
        if not entries or token == self._hub.token:
            return
        log = self._log.get(token)
        last = self._vector.get(token)
        if log is None or last is None:
            self._log[token] = deque(entries)
            self._first_seen[token] = entries[0].seq
            self._vector[token] = entries[-1].seq
            return
        first = self._first_seen[token]
        if entries[0].seq < first <= entries[-1].seq + 1:
            log.extendleft(reversed([e for e in entries if e.seq < first]))
            self._first_seen[token] = entries[0].seq
        if entries[0].seq <= last + 1 < entries[-1].seq + 1:
            log.extend(e for e in entries if e.seq > last)
            self._vector[token] = entries[-1].seq

    def on_log(self, value: dict[str, Any]) -> None:
        """For the mesh: a copy of another worker's event log (sent to a worker that joins), merged into ours.

        Args:
            value: The decoded message: the worker's token and its entries.
        """
        if self._recovery is None:
            return
        entries = []
        raw = value.get("entries")
        for item in raw if isinstance(raw, list) else ():
            seq, at, data, rooms, except_rooms = item
            entries.append(
                _Logged(
                    int(seq),
                    float(at),
                    data if isinstance(data, list) else [],
                    frozenset(read_rooms(rooms, "rooms")),
                    frozenset(read_rooms(except_rooms, "except")),
                )
            )
        self._merge(read_string(value, "token"), entries)

    def _expire(self, now: float) -> None:
        recovery = self._recovery
        if recovery is None:
            return
        limit = now - recovery["max_disconnection_duration"]
        alive = {self._hub.token, *(peer.token for peer in self._hub.peers.values())}
        for token, log in list(self._log.items()):
            while log and log[0].at < limit:
                log.popleft()
            if not log and token not in alive:
                # A worker gone for longer than the window: out of the offsets (which would grow with each
                # replaced worker otherwise). Whatever it sent is older than any session that can come back.
                del self._log[token]
                self._first_seen.pop(token, None)
                self._vector.pop(token, None)
        kept, replicas, hub = self._kept, self._replicas, self._hub
        while kept and kept[0][0] < limit:
            _, pid = kept.popleft()
            replica = replicas.get(pid)
            if replica is None or replica.kept_at is None or replica.kept_at >= limit:
                continue  # recovered, or kept again since (its entry is further on)
            del replicas[pid]
            # One worker tells the application: the one that had the socket, or for a dead one's, the first.
            if replica.owner == self.uid or (
                replica.owner not in hub.peers
                and hub.index <= min((p.index for p in hub.peers.values()), default=hub.index)
            ):
                self.emit_event("session-expired", pid, replica.sid)

    # -- sessions while the socket lives -------------------------------------------------------------------

    def _mark(self, sid: str) -> None:
        if self._recovery is None or sid in self._pending:
            return
        socket = self.nsp.sockets.get(sid)
        if socket is None or socket.pid is None:
            return
        self._want(sid, (_LIVE, None))

    def _want(self, sid: str, what: tuple[str, StoredSession | None]) -> None:
        if not self._pending:
            with contextlib.suppress(RuntimeError):  # no loop: nothing is served, nothing to copy
                asyncio.get_running_loop().call_soon(self._flush_sessions)
        self._pending[sid] = what

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """Make the local socket ``sid`` join ``rooms``; its copy on the other workers follows.

        Args:
            sid: The id of a socket connected to this worker.
            rooms: The rooms to join.
        """
        super().add_all(sid, rooms)
        self._mark(sid)

    def delete(self, sid: str, room: str) -> None:
        """Make the local socket ``sid`` leave ``room``; its copy on the other workers follows.

        Args:
            sid: The id of a socket connected to this worker.
            room: The room to leave.
        """
        super().delete(sid, room)
        self._mark(sid)

    def delete_all(self, sid: str) -> None:
        """Forget the local socket ``sid``; unless its session is kept for recovery, the other workers drop
        their copy.

        Args:
            sid: The id of a socket that disconnected.
        """
        super().delete_all(sid)
        if sid in self._replicated:
            state = self._pending.get(sid)
            if state is None or state[0] != _KEPT:
                self._want(sid, (_GONE, None))

    def _flush_sessions(self) -> None:
        pending, self._pending = self._pending, {}
        for sid, (state, session) in pending.items():
            if state == _LIVE:
                socket = self.nsp.sockets.get(sid)
                if socket is None or socket.pid is None:
                    continue
                data = socket.data
                if not _same(data, self._seen_data.get(sid, _NEVER)):
                    self._seen_data[sid] = _copy(data)
                frame = self._session_frame(sid, socket.pid, socket.rooms, data, kept=False)
                if frame is None or self._synced.get(sid) == frame:
                    continue
                self._synced[sid] = frame
                self._replicated[sid] = socket.pid
                self._hub.broadcast_frame(frame)
            elif state == _KEPT and session is not None:
                self._replicated.pop(sid, None)
                self._synced.pop(sid, None)
                self._seen_data.pop(sid, None)
                frame = self._session_frame(sid, session.pid, session.rooms, session.data, kept=True)
                if frame is not None:
                    self._hub.broadcast_frame(frame)
            else:
                pid = self._replicated.pop(sid, None)
                self._synced.pop(sid, None)
                self._seen_data.pop(sid, None)
                if pid is not None:
                    self._send_gone(pid)

    def _session_frame(
        self, sid: str, pid: str, rooms: Iterable[str], data: Any, *, kept: bool, kept_at: float | None = None
    ) -> bytes | None:
        value: dict[str, Any] = {
            "nsp": self.nsp.name,
            "pid": pid,
            "sid": sid,
            "rooms": sorted(rooms),
            "data": data,
            "kept": kept,
        }
        if kept_at is not None:
            value["kept_at"] = kept_at
        try:
            return _frame(_SESSION, _pack(value))
        except Exception as exc:
            logger.warning(
                "%s: the data of socket %s cannot be copied to the other workers: %r", self.nsp.name, sid, exc
            )
            return None

    def _send_gone(self, pid: str) -> None:
        self._hub.broadcast_frame(_frame(_SESSION, _pack({"nsp": self.nsp.name, "pid": pid, "gone": True})))

    def send_state(self, link: _Link) -> None:
        """What a worker that (re)connects must know to recover sessions as well as we can: our sockets'
        sessions, the sessions waiting for their client (of any worker, a dead one's too) and our event log."""
        if self._recovery is None:
            return
        self._flush_sessions()
        for synced in self._synced.values():
            link.send(synced)
        for replica in self._replicas.values():
            if replica.kept_at is not None:
                frame = self._session_frame(
                    replica.sid, replica.pid, replica.rooms, replica.data, kept=True, kept_at=replica.kept_at
                )
                if frame is not None:
                    link.send(frame)
        for token, log in self._log.items():
            entries = [[e.seq, e.at, e.data, sorted(e.rooms), sorted(e.except_rooms)] for e in log]
            for start in range(0, len(entries), _LOG_CHUNK):
                chunk = entries[start : start + _LOG_CHUNK]
                value = {"nsp": self.nsp.name, "token": token, "entries": chunk}
                try:
                    link.send(_frame(_LOG, wire.MSGPACK.encode(value)))
                except Exception as exc:
                    logger.warning(
                        "%s: the event log cannot be copied to worker %d: %r", self.nsp.name, link.index, exc
                    )
                    break

    def on_session(self, peer: _Peer, value: dict[str, Any]) -> None:
        """For the mesh: ``peer``'s copy of one of its sockets' sessions (live, kept for recovery, or gone).

        Args:
            peer: The worker the socket is (or was) on.
            value: The decoded message: ``pid``, ``sid``, ``rooms``, ``data`` and its state.
        """
        pid = read_string(value, "pid")
        if value.get("gone"):
            self._replicas.pop(pid, None)
            return
        kept_at: float | None = None
        if value.get("kept"):
            at = value.get("kept_at")
            kept_at = float(at) if isinstance(at, int | float) else time.time()
        self._replicas[pid] = _Replica(
            read_string(value, "sid"),
            pid,
            read_rooms(value.get("rooms"), "rooms"),
            value.get("data"),
            peer.uid,
            kept_at,
        )
        if kept_at is not None:
            self._kept.append((kept_at, pid))

    # -- connection state recovery -------------------------------------------------------------------------

    async def persist_session(self, session: StoredSession) -> None:
        """Keep a disconnected socket's session here and on every other worker, for
        ``max_disconnection_duration`` seconds.

        Args:
            session: Its id, private id, rooms and data, as the socket left them.
        """
        if self._recovery is None:
            return
        now = time.time()
        self._replicas[session.pid] = _Replica(
            session.sid, session.pid, tuple(session.rooms), session.data, self.uid, now
        )
        self._kept.append((now, session.pid))
        self._want(session.sid, (_KEPT, session))

    async def restore_session(self, pid: str, offset: str) -> StoredSession | None:
        """Take back a kept session with the events it missed since ``offset``, whichever worker it was on.

        Args:
            pid: The private id the client was given at its first connection.
            offset: The offset of the last event the client received (a vector of per-worker event numbers).

        Returns:
            The session with the missed events, or ``None`` when it is unknown or expired, the offset is not
            one of ours, or this worker cannot be sure to have every event the client missed. A session still
            kept is taken out on every worker either way: it is recovered at most once.
        """
        recovery = self._recovery
        vector = decode_offset(offset)
        replica = self._replicas.get(pid)
        if recovery is None or vector is None or replica is None or replica.kept_at is None:
            return None
        now = time.time()
        if now - replica.kept_at > recovery["max_disconnection_duration"]:
            return None
        del self._replicas[pid]
        self._send_gone(pid)  # nobody else recovers it a second time
        limit = now - recovery["max_disconnection_duration"]
        alive = {self._hub.token, *(peer.token for peer in self._hub.peers.values())}
        for token, first in self._first_seen.items():
            if first <= vector.get(token, 0) + 1:
                continue
            log = self._log.get(token)
            if token in alive or (log and log[-1].at >= limit):
                return None  # this worker started after events the client may have missed
        rooms = set(replica.rooms)
        session = StoredSession(replica.sid, pid, rooms, _as_dict(replica.data))
        missed: list[tuple[float, str, _Logged]] = []
        for token, log in self._log.items():
            seen = vector.get(token, 0)
            for entry in log:
                if entry.seq > seen and entry.at >= limit and _reaches(rooms, entry):
                    missed.append((entry.at, token, entry))
        missed.sort(key=lambda item: (item[0], item[1], item[2].seq))
        progress = dict(vector)
        for _, token, entry in missed:
            progress[token] = entry.seq
            session.missed_packets.append([*entry.data, encode_offset(progress)])
        return session


def _message_frame(message: wire.ClusterMessage, seq: int, at: float) -> bytes:
    body = _EVENT.pack(seq, at) + wire.encode_cluster_msgpack(message)
    return _HEADER.pack(len(body), _MESSAGE) + body


_NEVER = object()  # equal to no data: a socket whose data was never copied, or could not be


def _same(data: Any, seen: Any) -> bool:
    try:
        return bool(data == seen)
    except Exception:  # values whose == raises or is not a truth value (arrays): assume a change
        return False


def _copy(data: Any) -> Any:
    try:
        return copy.deepcopy(data)
    except Exception:
        return _NEVER


def _reaches(rooms: set[str], entry: _Logged) -> bool:
    included = not entry.rooms or not rooms.isdisjoint(entry.rooms)
    return included and rooms.isdisjoint(entry.except_rooms)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
