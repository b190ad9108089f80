"""The Redis Streams adapter, wire-compatible with ``@socket.io/redis-streams-adapter`` 0.3.1.

A :class:`~aiosocketio.adapters.cluster.ClusterAdapter` whose durable messages (broadcasts without ack, joins,
leaves, disconnects) go into a Redis stream (``XADD … MAXLEN ~ max_len``) and whose requests and responses go
through pub/sub (``docs/protocol/cluster.md#streams``). Because each stream entry has an id, this is the adapter that
carries **connection state recovery across servers**: the entry id is the offset clients keep, sessions are kept in
Redis (``SET sio:session:<pid> … PX``), and a client whose server died reconnects to any other server and gets what
it missed from the stream.

Unlike the reference, which writes a session only when its server handles the disconnection, this adapter keeps
the session of every connected socket in Redis while it lives (same key, same encoding), so that a server killed
outright leaves its clients' sessions behind: written at connect, rewritten when the rooms or ``data`` change,
given an expiry that outlasts the socket (pushed back on each refresh) and ``max_disconnection_duration`` once it
is gone, deleted when it ends for good. What is restored is decided by the client's own offset, as in the reference
(docs/guide/recovery.md#crash).

One reader per stream (``XREAD BLOCK``) and one pub/sub connection serve every namespace of the process; a reader
that loses Redis resumes from the last entry it saw, so nothing published meanwhile is skipped.

Deviation from the reference: a recovered session does not replay ``volatile`` broadcasts (the reference does;
volatile means "may be lost", and the in-memory recovery skips them too).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from aiosocketio._checks import TIMER_LIMIT, seconds
from aiosocketio._emitter import spawn
from aiosocketio.adapters import messages as wire
from aiosocketio.adapters._redis import ClientLease, Subscription, count_subscribers, retry_delay, retrying
from aiosocketio.adapters.cluster import ClusterAdapter, Outgoing
from aiosocketio.parsers.packet import DecodeError
from aiosocketio.recovery import StoredSession

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from aiosocketio.adapters._types import AdapterNamespace
    from aiosocketio.adapters.options import BroadcastOptions

__all__ = ["RedisStreamsAdapter", "create_adapter"]

logger = logging.getLogger("aiosocketio.adapter.redis_streams")

_OFFSET = re.compile(r"^[0-9]+-[0-9]+$")
_RESTORE_MAX_RANGES = 100
_SESSION_BATCH = 1000  # session writes per pipeline

# The last write of a server for a socket that went away (KEYS[1] the session's key; ARGV: the SHA-1 of the value
# this server last wrote there, or ""; the value to SET, or "" to DEL; the expiry in ms). It lands only when the
# key is absent or still holds that value: another server that restored the session meanwhile (the client came
# back there before this one noticed it was gone) keeps what it wrote.
_LAST_WRITE = """
local current = redis.call('GET', KEYS[1])
if current and redis.sha1hex(current) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
"""
_MAX_REFRESH_INTERVAL = 30.0

_Live = tuple[Literal["live"], str, bool]
"""Write the session of live socket ``sid`` if it changed; with ``True``, push its expiry back even if not."""
_Persist = tuple[Literal["persist"], str, str, int]
"""Socket ``sid`` went away and may come back: SET this encoded session with this expiry in ms."""
_Drop = tuple[Literal["drop"], str]
"""Socket ``sid`` went away for good: DEL the session."""
_SessionOp = _Live | _Persist | _Drop


def create_adapter(
    redis: Redis | str,
    *,
    stream_name: str = "socket.io",
    stream_count: int = 1,
    channel_prefix: str = "socket.io",
    use_sharded_pub_sub: bool = False,
    max_len: int = 10_000,
    read_count: int = 100,
    block_time: float = 5.0,
    session_key_prefix: str = "sio:session:",
    only_plaintext: bool = False,
    requests_timeout: float = 5.0,
    session_refresh_interval: float | None = None,
) -> Callable[[AdapterNamespace], RedisStreamsAdapter]:
    """``Server(adapter=create_adapter(redis))``: ``redis`` is a ``redis.asyncio.Redis`` client or a URL.

    The options are the npm package's (``block_time`` in seconds for ``blockTimeInMs``). Give a stream adapter a
    ``channel_prefix`` of its own when a classic Redis adapter uses the same Redis: with the default prefixes
    ``socket.io#/#`` is a channel of both.

    With connection state recovery on, the session of each connected socket is kept in Redis while it lives, so
    that it survives a crash of this server; ``session_refresh_interval`` (seconds; by default a quarter of the
    recovery's ``max_disconnection_duration``, 30 s at most) is how often their expiry is pushed back and
    in-place changes of ``socket.data`` are looked for (docs/guide/recovery.md#crash).

    Each ``XREAD`` blocks for ``block_time`` at most, and less when the client's ``socket_timeout`` is shorter
    (recent redis-py versions default it to 5 s): a read stays short enough to be answered before that timeout,
    so an idle server keeps its connection and gets new entries at once.
    """
    if stream_count < 1 or max_len < 1 or read_count < 1:
        raise ValueError("stream_count, max_len and read_count are positive integers")
    block_time = seconds("block_time", block_time, limit=TIMER_LIMIT)
    requests_timeout = seconds("requests_timeout", requests_timeout, limit=TIMER_LIMIT)
    if session_refresh_interval is not None:
        session_refresh_interval = seconds(
            "session_refresh_interval", session_refresh_interval, limit=TIMER_LIMIT
        )
    hub = _Hub(
        ClientLease(redis),
        stream_name=stream_name,
        stream_count=stream_count,
        channel_prefix=channel_prefix,
        sharded=use_sharded_pub_sub,
        max_len=max_len,
        read_count=read_count,
        block_ms=max(1, round(block_time * 1000)),
        session_key_prefix=session_key_prefix,
        only_plaintext=only_plaintext,
        requests_timeout=requests_timeout,
        session_refresh_interval=session_refresh_interval,
    )
    return hub.new_adapter


class _Hub:
    """What the adapters of one factory share: the client, the stream readers and the pub/sub connection."""

    def __init__(self, lease: ClientLease, **options: Any) -> None:
        self.lease = lease
        self.options = options
        self.adapters: dict[str, RedisStreamsAdapter] = {}
        self.readers: dict[str, asyncio.Task[None]] = {}
        self.ready: dict[str, asyncio.Future[None]] = {}
        self.subscription: Subscription | None = None
        self.redis: Redis | None = None

    def new_adapter(self, nsp: AdapterNamespace) -> RedisStreamsAdapter:
        adapter = RedisStreamsAdapter(nsp, self, self.lease.client)
        self.adapters[nsp.name] = adapter
        return adapter

    @property
    def pubsub_kind(self) -> Any:
        return "shard" if self.options["sharded"] else "channel"

    async def start(self, adapter: RedisStreamsAdapter) -> None:
        """Listen for ``adapter``'s namespace: its channels, and its stream's reader if not yet running. The
        client is taken here, on the loop that serves (the factory may have been called before it existed)."""
        if self.redis is None:
            self.redis = self.lease.acquire()
        adapter.use_client(self.redis)
        self.adapters[adapter.nsp.name] = adapter  # again, when served anew after a stop
        if self.subscription is None:
            self.subscription = Subscription(self.redis, self._on_pubsub, "redis streams")
        self.subscription.add(self.pubsub_kind, adapter.public_channel, adapter.private_channel)
        self.subscription.start()
        stream = adapter.stream
        if stream not in self.readers:
            self.ready[stream] = asyncio.get_running_loop().create_future()
            self.readers[stream] = spawn(self._read(stream))
        timeout = self.options["requests_timeout"]
        try:
            await asyncio.wait_for(asyncio.shield(self.ready[stream]), timeout)
        except TimeoutError:
            logger.warning("%s: Redis is not reachable yet; the adapter keeps trying", adapter.nsp.name)
            return
        await self.subscription.wait_ready(timeout)

    async def stop(self, adapter: RedisStreamsAdapter) -> None:
        if self.adapters.get(adapter.nsp.name) is not adapter:
            return
        del self.adapters[adapter.nsp.name]
        if self.subscription is not None:
            self.subscription.remove(self.pubsub_kind, adapter.public_channel, adapter.private_channel)
        if self.adapters:
            return
        readers, self.readers = list(self.readers.values()), {}
        for reader in readers:
            reader.cancel()
        for reader in readers:
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        self.ready.clear()
        if self.subscription is not None:
            await self.subscription.close()
            self.subscription = None
        if self.redis is not None:  # not taken when the server never started
            self.redis = None
            await self.lease.release()

    def _on_pubsub(self, kind: str, channel: str, data: bytes) -> None:
        message = wire.decode_cluster(data, wire.MSGPACK)
        adapter = self.adapters.get(message.nsp)
        if adapter is not None:
            adapter.on_message(message)

    async def _read(self, stream: str) -> None:
        """Read ``stream`` from now on, forever; after a lost connection, resume after the last entry seen.

        The reads hold a connection of their own (a single-connection client on the shared pool), so the
        timeout redis-py puts on them is known exactly: that connection's ``socket_timeout``, whatever the client
        was made from and whichever redis-py version made it. Each ``XREAD BLOCK`` is kept shorter than it (see
        :func:`_block_ms`), so an idle reader never times out, drops its connection and reconnects.
        """
        assert self.redis is not None
        reader = self.redis.client()
        options = self.options
        last: str | None = None
        failures = 0
        try:
            while True:
                try:
                    if reader.connection is None:
                        await reader.initialize()  # takes the connection from the pool
                    if last is None:
                        # Start after the newest entry (rather than XREAD's "$"): nothing added after start() is
                        # missed.
                        newest = await reader.xrevrange(stream, "+", "-", count=1)
                        last = _text(newest[0][0]) if newest else "0-0"
                        ready = self.ready.get(stream)
                        if ready is not None and not ready.done():
                            ready.set_result(None)
                    block = _block_ms(options["block_ms"], getattr(reader.connection, "socket_timeout", None))
                    response = await reader.xread({stream: last}, count=options["read_count"], block=block)
                    failures = 0
                    streams: Any = response or ()
                    for _, entries in streams:
                        for entry_id, fields in entries:
                            last = _text(entry_id)
                            self._dispatch(last, fields)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    delay = retry_delay(failures)
                    logger.warning("reading stream %s failed (%r); %s", stream, exc, retrying(delay))
                    if delay:
                        await asyncio.sleep(delay)
        finally:
            # Gives the connection back to the pool (redis-py closed it if a read was cut short).
            with contextlib.suppress(Exception):
                await asyncio.shield(reader.aclose())

    def _dispatch(self, entry_id: str, fields: Any) -> None:
        try:
            message = wire.decode_stream_entry(fields)
        except DecodeError as exc:
            logger.debug("ignored stream entry %s: %r", entry_id, exc)
            return
        adapter = self.adapters.get(message.nsp)
        if adapter is not None:
            try:
                adapter.on_message(message, entry_id)
            except Exception:
                logger.exception("%s: handling stream entry %s failed", message.nsp, entry_id)


def _block_ms(block_ms: int, socket_timeout: object) -> int:
    """How long an ``XREAD`` may block on a connection whose reads time out after ``socket_timeout`` seconds
    (None or 0: never): the configured block, but short enough that the reply arrives before the timeout, with
    half a second to spare (half the timeout when it is shorter than a second)."""
    if isinstance(socket_timeout, int | float) and socket_timeout > 0:
        allowed = socket_timeout - min(0.5, socket_timeout / 2)
        return max(1, min(block_ms, int(allowed * 1000)))
    return block_ms


def _text(value: Any) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _next_offset(offset: str) -> str:
    ms, seq = offset.split("-")
    return f"{ms}-{int(seq) + 1}"


def _reaches(session_rooms: set[str], opts: BroadcastOptions) -> bool:
    """Whether a broadcast with ``opts`` was aimed at a socket in ``session_rooms``."""
    included = not opts.rooms or not opts.rooms.isdisjoint(session_rooms)
    return included and opts.except_rooms.isdisjoint(session_rooms)


class RedisStreamsAdapter(ClusterAdapter):
    """One namespace's share of a cluster over a Redis stream, with recovery across servers."""

    __slots__ = (
        "_hub",
        "_live_ttl_ms",
        "_pending",
        "_pending_done",
        "_redis",
        "_refresher",
        "_writer",
        "_writing_done",
        "_written",
        "private_channel",
        "public_channel",
        "stream",
    )

    has_offsets = True
    """Each stream entry's id is the offset a client sends back to recover its session."""

    def __init__(self, nsp: AdapterNamespace, hub: _Hub, redis: Redis) -> None:
        options = hub.options
        super().__init__(nsp, requests_timeout=options["requests_timeout"])
        self._hub = hub
        self._redis = redis
        self.stream = wire.stream_name(nsp.name, options["stream_name"], options["stream_count"])
        """The Redis stream this namespace writes to and reads from (``stream_name``, or one of ``stream_count``)."""
        self.public_channel = wire.cluster_channel(options["channel_prefix"], nsp.name)
        """The pub/sub channel that carries this namespace's requests to every server."""
        self.private_channel = wire.cluster_channel(options["channel_prefix"], nsp.name, self.uid)
        """The pub/sub channel on which the other servers answer this server's requests."""
        # Session writes (docs/guide/recovery.md#crash): one op per pid waits in _pending; a single writer task
        # sends them in order, a pipeline per batch, so that a later op on a key always lands after an earlier one.
        self._live_ttl_ms: int | None = None  # None: recovery off, nothing is kept while sockets live
        self._pending: dict[str, _SessionOp] = {}
        self._pending_done: asyncio.Future[None] | None = None  # resolved once the pending ops are written
        self._writing_done: asyncio.Future[None] | None = None  # the same for the batch being written
        self._writer: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._written: dict[str, bytes] = {}  # pid -> SHA-1 of the value last stored for a live socket

    def use_client(self, redis: Redis) -> None:
        """Use ``redis`` from now on: the client the hub took on the loop that serves."""
        self._redis = redis

    async def init(self) -> None:
        """Start listening: subscribe to this namespace's channels and read its stream from now on.

        With connection state recovery on, also start refreshing the sessions of the live sockets in Redis.
        """
        await super().init()
        recovery = self.nsp.server.connection_state_recovery
        if recovery is not None:
            duration = float(recovery["max_disconnection_duration"])
            interval = self._hub.options["session_refresh_interval"]
            if interval is None:
                interval = min(_MAX_REFRESH_INTERVAL, duration / 4)
            # A crash right before a refresh leaves the session ``max_disconnection_duration`` at least; one more
            # interval of slack covers a refresh that comes late.
            self._live_ttl_ms = max(1, round((duration + 2 * interval) * 1000))
            if self._refresher is None:
                self._refresher = spawn(self._refresh_sessions(interval))
        await self._hub.start(self)

    async def close(self) -> None:
        """Stop listening, after waiting (up to ``requests_timeout``) for session writes still on their way.

        Sockets that this closing server disconnects keep their session, so another server can recover them.
        """
        if self._closed:
            return
        await super().close()
        if self._refresher is not None:
            self._refresher.cancel()
            self._refresher = None
        try:  # the sessions of the sockets this closing server just disconnected
            await asyncio.wait_for(self.save_sessions(), self.requests_timeout)
        except TimeoutError:
            logger.warning("%s: sessions not stored in Redis at close", self.nsp.name)
        self._written.clear()
        await self._hub.stop(self)

    # -- publishing --------------------------------------------------------------------------------------

    @staticmethod
    def _ephemeral(message: wire.ClusterMessage) -> bool:
        """Requests go through pub/sub; everything else into the stream (docs/protocol/cluster.md#streams-routing)."""
        body = message.body
        if isinstance(body, wire.BroadcastMessage):
            return body.request_id is not None
        return message.type not in wire.STREAM_ENTRY_TYPES

    def _queue(self, pipe: Any, target: str | None, message: wire.ClusterMessage) -> bool:
        """Add ``message`` to ``pipe``; True when it is an XADD (whose result is an offset)."""
        sharded = self._hub.options["sharded"]
        if target is not None or self._ephemeral(message):
            channel = (
                self.public_channel
                if target is None
                else wire.cluster_channel(self._hub.options["channel_prefix"], self.nsp.name, target)
            )
            payload = wire.encode_cluster_msgpack(message)
            if sharded:
                pipe.spublish(channel, payload)
            else:
                pipe.publish(channel, payload)
            return False
        options = self._hub.options
        fields = dict(wire.encode_stream_entry(message, only_plaintext=options["only_plaintext"]))
        pipe.xadd(self.stream, fields, maxlen=options["max_len"], approximate=True)
        return True

    async def _do_publish_batch(self, batch: Sequence[Outgoing]) -> list[str | None]:
        pipe = self._redis.pipeline(transaction=False)
        kinds = [self._queue(pipe, target, message) for target, message in batch]
        results = await pipe.execute()
        return [_text(result) if is_xadd else None for is_xadd, result in zip(kinds, results, strict=True)]

    async def _do_publish(self, message: wire.ClusterMessage) -> str | None:
        return (await self._do_publish_batch([(None, message)]))[0]

    async def _do_publish_response(self, requester: str, message: wire.ClusterMessage) -> None:
        await self._do_publish_batch([(requester, message)])

    async def server_count(self) -> int:
        """Servers subscribed to this namespace's public channel (``PUBSUB NUMSUB``/``SHARDNUMSUB``)."""
        return await count_subscribers(self._redis, self.public_channel, sharded=self._hub.options["sharded"])

    # -- connection state recovery (docs/protocol/cluster.md#streams-sessions) ----------------------------------------------------------------

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """Make the local socket ``sid`` join ``rooms``; with recovery on, its session in Redis is updated.

        Args:
            sid: The id of a socket connected to this server.
            rooms: The rooms to join.
        """
        super().add_all(sid, rooms)
        if self._live_ttl_ms is not None:
            self.session_changed(sid)

    def delete(self, sid: str, room: str) -> None:
        """Make the local socket ``sid`` leave ``room``; with recovery on, its session in Redis is updated.

        Args:
            sid: The id of a socket connected to this server.
            room: The room to leave.
        """
        super().delete(sid, room)
        if self._live_ttl_ms is not None:
            self.session_changed(sid)

    def session_changed(self, sid: str) -> None:
        """Queue a write of ``sid``'s session; a socket not connected yet (middlewares, a recovery in progress)
        is written when it connects."""
        if self._live_ttl_ms is None:
            return
        socket = self.nsp.sockets.get(sid)
        pid = None if socket is None else socket.pid
        if pid is None:
            return
        queued = self._pending.get(pid)
        if queued is None or queued[0] != "live":  # a refresh already queued writes a change too
            self._queue_session(pid, ("live", sid, False))

    async def save_sessions(self) -> None:
        """Wait until the session writes queued so far have been sent to Redis (or failed, logged)."""
        done = self._pending_done if self._pending else self._writing_done
        if done is not None:
            await asyncio.shield(done)

    async def persist_session(self, session: StoredSession) -> None:
        """Keep a disconnected socket's session in Redis, so that any server of the cluster can recover it.

        The key (``session_key_prefix`` + private id) expires after ``max_disconnection_duration``. A failure is
        logged, not raised: the client then gets a new session at its next connection.

        Args:
            session: Its id, private id, rooms and data, as the socket left them.
        """
        recovery = self.nsp.server.connection_state_recovery
        if recovery is None:
            return
        persisted = wire.PersistedSession(session.sid, session.pid, tuple(session.rooms), session.data)
        try:
            value = wire.encode_stream_session(persisted)
        except Exception as exc:
            logger.warning("%s: session %s cannot be stored: %r", self.nsp.name, session.pid, exc)
            return
        ttl_ms = max(1, round(recovery["max_disconnection_duration"] * 1000))
        self._queue_session(session.pid, ("persist", session.sid, value, ttl_ms))
        await self.save_sessions()

    async def discard_session(self, sid: str, pid: str) -> None:
        """Delete from Redis the session of a socket that ended for good (it will not be recovered).

        Args:
            sid: The socket's id.
            pid: Its private id, the key of its session.
        """
        if self._live_ttl_ms is None:
            return
        self._queue_session(pid, ("drop", sid))
        await self.save_sessions()

    def _queue_session(self, pid: str, op: _SessionOp) -> None:
        self._pending[pid] = op
        if self._pending_done is None:
            self._pending_done = asyncio.get_running_loop().create_future()
        if self._writer is None:
            self._writer = spawn(self._write_sessions())

    async def _write_sessions(self) -> None:
        """Send the queued ops until none is left: what is queued meanwhile goes in the next batch."""
        try:
            # One turn of the loop first: the handlers that a change starts (a "connection" handler that fills
            # socket.data) make their own changes before the session is encoded.
            await asyncio.sleep(0)
            while self._pending:
                ops, self._pending = self._pending, {}
                self._writing_done, self._pending_done = self._pending_done, None
                try:
                    items = list(ops.items())
                    for start in range(0, len(items), _SESSION_BATCH):
                        await self._write_batch(items[start : start + _SESSION_BATCH])
                except Exception as exc:
                    logger.warning(
                        "%s: could not store %d session(s) in Redis: %r", self.nsp.name, len(ops), exc
                    )
                finally:
                    done, self._writing_done = self._writing_done, None
                    if done is not None and not done.done():
                        done.set_result(None)
        finally:
            self._writer = None

    async def _write_batch(self, ops: list[tuple[str, _SessionOp]]) -> None:
        prefix = self._hub.options["session_key_prefix"]
        live_ttl = self._live_ttl_ms or 1
        pipe = self._redis.pipeline(transaction=False)
        sent: list[tuple[str, str, bytes | None]] = []  # (pid, sid, SHA-1 written) for each live op sent
        for pid, op in ops:
            key = prefix + pid
            socket = self.nsp.sockets.get(op[1])
            if socket is not None and socket.pid != pid:
                socket = None
            if op[0] == "live" or socket is not None:
                # A persist or drop whose socket is connected again (a recovery on this server took over the id
                # meanwhile) becomes a write of the live session.
                if socket is None:
                    continue  # gone meanwhile: its disconnection queued what to do
                try:
                    persisted = wire.PersistedSession(
                        socket.id, pid, tuple(sorted(socket.rooms)), socket.data
                    )
                    value = wire.encode_stream_session(persisted)
                except Exception as exc:
                    logger.warning("%s: session %s cannot be stored: %r", self.nsp.name, pid, exc)
                    continue
                digest = hashlib.sha1(value.encode("ascii")).digest()
                if op[0] != "live" or self._written.get(pid) != digest:
                    pipe.execute_command("SET", key, value, "PX", live_ttl)
                    sent.append((pid, socket.id, digest))
                elif op[0] == "live" and op[2]:
                    pipe.execute_command("PEXPIRE", key, live_ttl)
                    sent.append((pid, socket.id, None))
            else:
                # EVAL rather than EVALSHA: no NOSCRIPT to recover from, and Redis compiles the script once.
                last = self._written.pop(pid, b"").hex()
                value, ttl = (op[2], op[3]) if op[0] == "persist" else ("", 0)
                pipe.eval(_LAST_WRITE, 1, key, last, value, ttl)
                sent.append((pid, "", None))
        if not sent:
            return
        results = await pipe.execute()
        for (pid, sid, written), result in zip(sent, results, strict=True):
            if not sid:
                continue
            if written is not None:
                self._written[pid] = written
            elif not result:
                # PEXPIRE of a key that is gone (flushed, expired while Redis was away): write it anew.
                self._written.pop(pid, None)
                if pid not in self._pending:
                    self._queue_session(pid, ("live", sid, False))

    async def _refresh_sessions(self, interval: float) -> None:
        """Every ``interval``: push back the expiry of each live socket's session, and store the ones whose
        ``data`` changed in place since they were last written."""
        while True:
            await asyncio.sleep(interval)
            for sid, socket in list(self.nsp.sockets.items()):
                pid = socket.pid
                if pid is not None:
                    self._queue_session(pid, ("live", sid, True))

    async def restore_session(self, pid: str, offset: str) -> StoredSession | None:
        """Take back a session kept in Redis, with the events of the stream it missed since ``offset``.

        Args:
            pid: The private id the client was given at its first connection.
            offset: The stream entry id of the last event the client received.

        Returns:
            The session with the missed events, or ``None`` when the offset is malformed or no longer in the
            stream, the session expired or is unknown, or Redis failed (logged). A session found is deleted
            from Redis either way: it is recovered at most once.
        """
        if not _OFFSET.match(offset):
            return None
        key = self._hub.options["session_key_prefix"] + pid
        await self.save_sessions()  # a write of ours still on its way lands first
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.get(key)
            pipe.delete(key)
            raw, _ = await pipe.execute()
            # The key is gone: a socket of ours that takes the session over writes it anew.
            self._written.pop(pid, None)
            if raw is None or not await self._redis.xrange(self.stream, offset, offset):
                return None
            stored = wire.decode_stream_session(raw)
            session = StoredSession(stored.sid, stored.pid, set(stored.rooms), _as_dict(stored.data))
            for _ in range(_RESTORE_MAX_RANGES):
                entries = await self._redis.xrange(self.stream, _next_offset(offset), "+")
                if not entries:
                    break
                for entry_id, fields in entries:
                    offset = _text(entry_id)
                    self._collect(session, offset, fields)
        except Exception as exc:
            logger.warning("%s: could not restore session %s: %r", self.nsp.name, pid, exc)
            return None
        return session

    def _collect(self, session: StoredSession, offset: str, fields: Any) -> None:
        """Add the entry to the session's missed packets when it is an event that was aimed at it."""
        try:
            message = wire.decode_stream_entry(fields)
        except DecodeError:
            return
        body = message.body
        if message.nsp != self.nsp.name or not isinstance(body, wire.BroadcastMessage):
            return
        if body.opts.flags.volatile or not _reaches(session.rooms, body.opts):
            return
        if isinstance(body.packet.data, list):
            session.missed_packets.append([*body.packet.data, offset])


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
