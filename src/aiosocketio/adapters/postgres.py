"""The PostgreSQL adapter, wire-compatible with ``@socket.io/postgres-adapter`` 0.5.0.

A :class:`~aiosocketio.adapters.cluster.ClusterAdapterWithHeartbeat` over ``LISTEN``/``NOTIFY``
(``docs/protocol/cluster.md#cluster-adapter``, ``docs/protocol/cluster.md#postgres``): one channel per namespace, ``<channel_prefix>#<nsp>``, carries every message
and response (the base class routes responses by type). A NOTIFY payload is the JSON of the envelope; a message
that holds binary (types 3, 9, 10, 12) or whose JSON is longer than ``payload_threshold`` bytes (NOTIFY refuses
payloads of 8000 bytes or more) goes MessagePack-encoded (@msgpack/msgpack flavour) into a row of the attachment
table, and the NOTIFY only says ``{"uid", "type", "attachmentId"}``. Old rows are deleted periodically.

Servers know each other by heartbeats, so the server count needs no query. There is no connection state recovery
across servers: NOTIFY has no offsets.

What the factory shares between its namespaces: the pool messages are published through and one listening
connection (taken from that pool). When that connection is lost (PostgreSQL restarted, network cut) it is
reconnected with back-off and every channel listened to again; each adapter then announces itself again
(INITIAL_HEARTBEAT) so the cluster knows it anew at once rather than at the next heartbeat. Nothing here raises
into user code that did not ask for an answer: a failed publish is logged (and lost, as with the reference), and
a request (``fetch_sockets``, ``server_side_emit_with_ack``...) fails with a timeout.

``table_name`` is written into SQL as it is given (like the reference, so ``schema.table`` works): it is
configuration, never user input.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from aiosocketio._checks import TIMER_LIMIT, seconds
from aiosocketio._emitter import spawn
from aiosocketio.adapters import messages as wire
from aiosocketio.adapters.cluster import ClusterAdapterWithHeartbeat, Outgoing
from aiosocketio.parsers.binary import has_binary
from aiosocketio.parsers.packet import DecodeError

if TYPE_CHECKING:
    from asyncpg import Pool

    from aiosocketio.adapters._types import AdapterNamespace

__all__ = ["PostgresAdapter", "create_adapter"]

logger = logging.getLogger("aiosocketio.adapter.postgres")

ATTACHMENT_TYPES: Final = frozenset(
    {
        wire.ClusterMessageType.BROADCAST,
        wire.ClusterMessageType.SERVER_SIDE_EMIT,
        wire.ClusterMessageType.SERVER_SIDE_EMIT_RESPONSE,
        wire.ClusterMessageType.BROADCAST_ACK,
    }
)
"""Types that go through the attachment table when they hold binary (the reference's list; docs/protocol/cluster.md#postgres). Other types
with binary (a FETCH_SOCKETS_RESPONSE with bytes in ``socket.data``) go as JSON, ``Buffer.toJSON()`` style."""

# Reconnection of the listening connection: 0.1 s after losing it, then doubling up to 0.5 s between attempts
# (jittered, x 0.5 to 1): a refused connection costs little, and the cluster is back within ~0.5 s of PostgreSQL.
_RETRY_FIRST: Final = 0.1
_RETRY_MAX: Final = 0.5
_MAX_CHANNEL_BYTES: Final = 63  # NAMEDATALEN - 1: pg_notify refuses longer channels, LISTEN truncates them
_OWN_POOL_MAX_SIZE: Final = 5  # a pool made from a DSN: the listening connection + a few publishers


def create_adapter(
    pool_or_dsn: Pool | str,
    *,
    channel_prefix: str = "socket.io",
    table_name: str = "socket_io_attachments",
    payload_threshold: int = 8000,
    cleanup_interval: float = 30.0,
    heartbeat_interval: float = 5.0,
    heartbeat_timeout: float = 10.0,
    requests_timeout: float = 5.0,
) -> Callable[[AdapterNamespace], PostgresAdapter]:
    """``Server(adapter=create_adapter(pool_or_dsn))``: an ``asyncpg`` pool, or a PostgreSQL URL (a small pool is
    then made on first use and closed with the last namespace). The factory keeps one connection of the pool for
    itself (the one that LISTENs) as long as a namespace uses it: size a pool you give accordingly.

    The options are the npm package's, in seconds where it takes milliseconds (``cleanup_interval``,
    ``heartbeat_interval``, ``heartbeat_timeout``, ``requests_timeout``). ``payload_threshold`` is in bytes of
    UTF-8 JSON. The attachment table is created if it does not exist (the reference leaves that to the
    application; its README shows the same statement).
    """
    try:
        import asyncpg  # noqa: F401  (fail here, not at the first namespace, when the extra is missing)
    except ImportError:
        from aiosocketio._checks import missing_extra

        raise missing_extra("asyncpg", "postgres", "the PostgreSQL adapter") from None
    if payload_threshold < 1:
        raise ValueError("payload_threshold is a positive number of bytes")
    cleanup_interval = seconds("cleanup_interval", cleanup_interval, limit=TIMER_LIMIT)
    requests_timeout = seconds("requests_timeout", requests_timeout, limit=TIMER_LIMIT)
    heartbeat_interval = seconds("heartbeat_interval", heartbeat_interval, limit=TIMER_LIMIT)
    heartbeat_timeout = seconds("heartbeat_timeout", heartbeat_timeout, limit=TIMER_LIMIT)
    if not table_name:
        raise ValueError("table_name is the attachment table's name")
    hub = _Hub(
        pool_or_dsn,
        channel_prefix=channel_prefix,
        table_name=table_name,
        payload_threshold=payload_threshold,
        cleanup_interval=cleanup_interval,
        heartbeat_interval=heartbeat_interval,
        heartbeat_timeout=heartbeat_timeout,
        requests_timeout=requests_timeout,
    )
    return hub.new_adapter


def _carried(body: wire.ClusterBody) -> Any:
    """The application data a message of :data:`ATTACHMENT_TYPES` carries: the only place binary can be."""
    if isinstance(body, wire.BroadcastMessage):
        return body.packet.data
    if isinstance(body, wire.ServerSideEmitMessage):
        return body.data
    if isinstance(body, wire.ServerSideEmitResponse | wire.BroadcastAck):
        return body.response
    return None


def _attachment_header(uid: str, kind: int) -> str:
    """The start of the NOTIFY sent for an attachment: ``{"uid":…,"type":…,"attachmentId":"`` (the row id and
    ``"}`` are appended by the database). node-postgres reads ``bigserial`` as a string, hence the quotes."""
    return '{"uid":' + wire.encode_json(uid) + ',"type":' + str(kind) + ',"attachmentId":"'


class _Hub:
    """What the adapters of one factory share: the pool, the listening connection and the cleanup timer."""

    def __init__(self, source: Pool | str, **options: Any) -> None:
        self.source = source
        self.options = options
        self.prefix: str = options["channel_prefix"]
        self.table: str = options["table_name"]
        self.threshold: int = options["payload_threshold"]
        self.timeout: float = options["requests_timeout"]
        self.adapters: dict[str, PostgresAdapter] = {}
        self.pool: Pool | None = None
        self.channels: set[str] = set()
        self.connection: Any = None  # the listening connection, while it is up
        self._listened: set[str] = set()  # the channels it LISTENs to
        # asyncio's locks and events belong to the loop they are first used on: _bind() makes them anew each
        # time the hub starts, on the loop that serves (the factory may run at import time, before any loop).
        self._pool_lock = asyncio.Lock()
        self._connection_lock = asyncio.Lock()  # one operation at a time on the listening connection
        self._connected = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._cleaner: asyncio.Task[None] | None = None
        # Notifications are handled in the order they arrive; while an attachment is being read, the ones after
        # it wait here (and are handled by ``_drain``).
        self._inbox: collections.deque[Any] = collections.deque()
        self._draining: asyncio.Task[None] | None = None
        self._insert_sql = (
            f"WITH attachment AS (INSERT INTO {self.table} (payload) VALUES ($1) RETURNING id) "
            "SELECT pg_notify($2, $3 || attachment.id::text || '\"}') FROM attachment"
        )

    def new_adapter(self, nsp: AdapterNamespace) -> PostgresAdapter:
        adapter = PostgresAdapter(nsp, self)
        if len(adapter.channel.encode()) > _MAX_CHANNEL_BYTES:
            logger.warning(
                "%s: the channel %r is longer than PostgreSQL allows (%d bytes): this namespace cannot cross servers",
                nsp.name,
                adapter.channel,
                _MAX_CHANNEL_BYTES,
            )
        self.adapters[nsp.name] = adapter
        return adapter

    def channel(self, nsp: str) -> str:
        return wire.postgres_channel(self.prefix, nsp)

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def get_pool(self) -> Pool:
        """The pool: the one given, or one made from the DSN (without connecting: PostgreSQL may be down)."""
        if self.pool is not None:
            return self.pool
        async with self._pool_lock:
            if self.pool is None:
                if isinstance(self.source, str):
                    import asyncpg

                    self.pool = await asyncpg.create_pool(
                        self.source, min_size=0, max_size=_OWN_POOL_MAX_SIZE
                    )
                else:
                    self.pool = self.source
        return self.pool

    async def start(self, adapter: PostgresAdapter) -> None:
        """Listen to ``adapter``'s channel; wait (up to ``requests_timeout``) for the listening connection."""
        self.adapters[adapter.nsp.name] = adapter
        self.channels.add(adapter.channel)
        if self._listener is None:
            self._bind()
            self._listener = spawn(self._listen())
        if self._cleaner is None:
            self._cleaner = spawn(self._clean())
        try:
            await asyncio.wait_for(self._connected.wait(), self.timeout)
        except TimeoutError:
            logger.warning("%s: PostgreSQL is not reachable yet; the adapter keeps trying", adapter.nsp.name)
            return
        await self._listen_to(adapter.channel)

    def _bind(self) -> None:
        """Fresh synchronisation objects for the loop that starts serving (see ``__init__``)."""
        if self.pool is None:
            self._pool_lock = asyncio.Lock()
        self._connection_lock = asyncio.Lock()
        self._connected = asyncio.Event()

    async def _listen_to(self, channel: str) -> None:
        """LISTEN on the current connection (a connection made later listens to every channel anyway)."""
        async with self._connection_lock:
            connection = self.connection
            if connection is None or channel not in self.channels or channel in self._listened:
                return
            try:
                await asyncio.wait_for(connection.add_listener(channel, self._on_notification), self.timeout)
                self._listened.add(channel)
            except Exception as exc:
                logger.warning("LISTEN %s failed (%r); it is done again on reconnection", channel, exc)
                connection.terminate()

    async def stop(self, adapter: PostgresAdapter) -> None:
        if self.adapters.get(adapter.nsp.name) is not adapter:
            return
        del self.adapters[adapter.nsp.name]
        self.channels.discard(adapter.channel)
        if self.adapters:
            async with self._connection_lock:
                if self.connection is not None and adapter.channel in self._listened:
                    self._listened.discard(adapter.channel)
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(
                            self.connection.remove_listener(adapter.channel, self._on_notification),
                            self.timeout,
                        )
            return
        for task in (self._listener, self._cleaner, self._draining):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._listener = self._cleaner = self._draining = None
        self._inbox.clear()
        if self.pool is not None and isinstance(self.source, str):
            pool, self.pool = self.pool, None
            try:
                await asyncio.wait_for(pool.close(), self.timeout)
            except Exception:
                pool.terminate()

    # -- the listening connection ------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Hold a connection that LISTENs to every channel; reconnect with back-off whenever it is lost."""
        loop = asyncio.get_running_loop()
        attempt = 0
        reconnecting = False
        keepalive = max(1.0, self.options["heartbeat_interval"])
        while True:
            connection: Any = None
            try:
                pool = await self.get_pool()
                connection = await pool.acquire(timeout=self.timeout)
                lost: asyncio.Future[None] = loop.create_future()

                def on_lost(_connection: Any, lost: asyncio.Future[None] = lost) -> None:
                    if not lost.done():
                        lost.set_result(None)

                connection.add_termination_listener(on_lost)
                await self._create_table(connection)
                async with self._connection_lock:
                    listened: set[str] = set()
                    self._listened = listened
                    while missing := self.channels - listened:
                        for channel in missing:
                            await asyncio.wait_for(
                                connection.add_listener(channel, self._on_notification), self.timeout
                            )
                            listened.add(channel)
                    self.connection = connection
                self._connected.set()
                attempt = 0
                if reconnecting:
                    logger.info("listening to PostgreSQL again")
                reconnecting = True
                # Whoever announced itself already (maybe into the void) does it again; an adapter still waiting
                # in start() announces itself right after.
                for adapter in tuple(self.adapters.values()):
                    adapter.announce()
                while not lost.done():
                    try:
                        await asyncio.wait_for(asyncio.shield(lost), keepalive)
                    except TimeoutError:
                        # A connection cut without a FIN never ends by itself: ask it something now and then.
                        async with self._connection_lock:
                            await connection.fetchval("SELECT 1", timeout=self.timeout)
                logger.warning("lost the PostgreSQL listening connection; reconnecting")
            except asyncio.CancelledError:
                await self._let_go(connection)
                raise
            except Exception as exc:
                # Once per outage at warning level; the retries (two a second) only at debug level.
                log = logger.warning if attempt == 0 else logger.debug
                log("PostgreSQL listening connection failed: %r; retrying", exc)
            self._connected.clear()
            self.connection = None
            await self._let_go(connection)
            delay = min(_RETRY_MAX, _RETRY_FIRST * 2**attempt) * random.uniform(0.5, 1.0)
            attempt = min(attempt + 1, 8)
            await asyncio.sleep(delay)

    async def _let_go(self, connection: Any) -> None:
        """Give the listening connection back to the pool (UNLISTEN first, or the pool complains)."""
        if connection is None:
            return
        self.connection = None
        self._connected.clear()
        listened, self._listened = self._listened, set()
        try:
            if not connection.is_closed():
                for channel in listened:
                    await asyncio.wait_for(
                        connection.remove_listener(channel, self._on_notification), self.timeout
                    )
            assert self.pool is not None
            await asyncio.wait_for(self.pool.release(connection), self.timeout)
        except Exception:
            with contextlib.suppress(Exception):
                connection.terminate()

    async def _create_table(self, connection: Any) -> None:
        """``CREATE TABLE IF NOT EXISTS`` the attachment table, as the reference's README does."""
        try:
            await connection.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)",
                timeout=self.timeout,
            )
        except Exception as exc:
            import asyncpg

            if isinstance(exc, asyncpg.UniqueViolationError | asyncpg.DuplicateTableError):
                return  # another server created it at the same moment
            if isinstance(exc, asyncpg.PostgresError):
                logger.warning("could not create the table %s: %r", self.table, exc)
                return
            raise

    async def _clean(self) -> None:
        """Delete attachments older than ``cleanup_interval``, every ``cleanup_interval`` (docs/protocol/cluster.md#postgres)."""
        interval: float = self.options["cleanup_interval"]
        while True:
            await asyncio.sleep(interval)
            try:
                pool = await self.get_pool()
                await pool.execute(
                    f"DELETE FROM {self.table} WHERE created_at < now() - make_interval(secs => $1)",
                    float(interval),
                    timeout=self.timeout,
                )
            except Exception as exc:
                logger.debug("removing old attachments failed: %r", exc)

    # -- receiving ---------------------------------------------------------------------------------------

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        if self._draining is not None:
            self._inbox.append(payload)
            return
        value = self._parse(payload)
        if value is None:
            return
        if value.get("attachmentId"):
            self._inbox.append(value)
            self._draining = spawn(self._drain())
            return
        self._dispatch(value)

    def _parse(self, payload: str) -> dict[str, Any] | None:
        """The decoded notification, or None when it is malformed or one of our own."""
        try:
            value = wire.decode_json(payload)
        except DecodeError as exc:
            logger.debug("ignored a notification: %r", exc)
            return None
        if not isinstance(value, dict):
            return None
        nsp = value.get("nsp")
        adapter = self.adapters.get(nsp) if isinstance(nsp, str) else None
        if adapter is not None and adapter.uid == value.get("uid"):
            return None
        uid = value.get("uid")
        if nsp is None and any(a.uid == uid for a in self.adapters.values()):
            return None  # the header of one of our own attachments: no need to read it back
        return value

    def _dispatch(self, value: Any) -> None:
        try:
            message = wire.cluster_from_wire(value)
        except DecodeError as exc:
            logger.debug("ignored a notification: %r", exc)
            return
        adapter = self.adapters.get(message.nsp)
        if adapter is None:
            return
        try:
            adapter.on_message(message)
        except Exception:
            logger.exception("%s: handling a cluster message failed", message.nsp)

    async def _drain(self) -> None:
        """Handle the waiting notifications in order, reading each attachment from the table."""
        inbox = self._inbox
        try:
            while inbox:
                value = inbox.popleft()
                if isinstance(value, str):
                    value = self._parse(value)
                    if value is None:
                        continue
                attachment = value.get("attachmentId")
                if attachment:
                    value = await self._read_attachment(attachment)
                    if value is None:
                        continue
                self._dispatch(value)
        finally:
            self._draining = None

    async def _read_attachment(self, attachment: Any) -> Any:
        try:
            pool = await self.get_pool()
            raw = await pool.fetchval(
                f"SELECT payload FROM {self.table} WHERE id = $1", int(attachment), timeout=self.timeout
            )
            if raw is None:
                logger.debug("attachment %s is gone", attachment)
                return None
            return wire.MSGPACK.decode(raw)
        except (DecodeError, ValueError, TypeError) as exc:
            logger.debug("ignored attachment %r: %r", attachment, exc)
        except Exception as exc:
            logger.warning("reading attachment %r failed: %r", attachment, exc)
        return None

    # -- publishing --------------------------------------------------------------------------------------

    def _encode(self, message: wire.ClusterMessage) -> tuple[str, str | None, bytes | None]:
        """``(channel, JSON payload, None)`` for a NOTIFY, ``(channel, None, MessagePack)`` for an attachment."""
        channel = self.channel(message.nsp)
        value = wire.cluster_to_wire(message)
        if message.type in ATTACHMENT_TYPES and has_binary(_carried(message.body)):
            return channel, None, wire.MSGPACK.encode(value)
        payload = wire.encode_json(value)
        size = len(payload)  # UTF-8 bytes >= characters, <= 3 x characters
        if size > self.threshold or (size * 3 > self.threshold and len(payload.encode()) > self.threshold):
            return channel, None, wire.MSGPACK.encode(value)
        return channel, payload, None

    async def publish(self, messages: Sequence[wire.ClusterMessage]) -> None:
        """NOTIFY ``messages`` in order, on one pooled connection.

        Consecutive small messages go in one statement (one round trip), except that two identical payloads are
        never sent in the same transaction: PostgreSQL would deliver only one of them. A message that cannot be
        encoded is left out (and logged) rather than failing the whole batch.
        """
        encoded = []
        for message in messages:
            try:
                encoded.append((message, *self._encode(message)))
            except (TypeError, ValueError, RecursionError) as exc:
                logger.warning("%s: a cluster message could not be encoded: %r", message.nsp, exc)
        if not encoded:
            return
        pool = await self.get_pool()
        async with pool.acquire(timeout=self.timeout) as connection:
            channels: list[str] = []
            payloads: list[str] = []
            seen: set[tuple[str, str]] = set()
            for message, channel, payload, attachment in encoded:
                if payload is None or (channel, payload) in seen:
                    await self._notify(connection, channels, payloads)
                    channels, payloads = [], []
                    seen.clear()
                if payload is None:
                    await connection.execute(
                        self._insert_sql,
                        attachment,
                        channel,
                        _attachment_header(message.uid, int(message.type)),
                        timeout=self.timeout,
                    )
                    continue
                channels.append(channel)
                payloads.append(payload)
                seen.add((channel, payload))
            await self._notify(connection, channels, payloads)

    async def _notify(self, connection: Any, channels: list[str], payloads: list[str]) -> None:
        if len(payloads) == 1:
            await connection.execute(
                "SELECT pg_notify($1, $2)", channels[0], payloads[0], timeout=self.timeout
            )
        elif payloads:
            await connection.execute(
                "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS m(c, p)",
                channels,
                payloads,
                timeout=self.timeout,
            )


class PostgresAdapter(ClusterAdapterWithHeartbeat):
    """One namespace's share of a cluster over PostgreSQL ``LISTEN``/``NOTIFY``."""

    __slots__ = ("_announced", "_hub", "channel")

    def __init__(self, nsp: AdapterNamespace, hub: _Hub) -> None:
        options = hub.options
        super().__init__(
            nsp,
            requests_timeout=options["requests_timeout"],
            heartbeat_interval=options["heartbeat_interval"],
            heartbeat_timeout=options["heartbeat_timeout"],
        )
        self._hub = hub
        self.channel = hub.channel(nsp.name)
        """The ``LISTEN``/``NOTIFY`` channel of this namespace: ``<channel_prefix>#<namespace>``."""
        self._announced = False

    async def init(self) -> None:
        """Listen on :attr:`channel` (waiting up to ``requests_timeout`` for the connection), then announce this
        server and start its heartbeats."""
        await self._hub.start(self)  # listen first, so that the answers to INITIAL_HEARTBEAT are heard
        await super().init()
        self._announced = True

    async def close(self) -> None:
        """Tell the other servers this one leaves, flush, and stop listening on :attr:`channel`."""
        if self._closed:
            return
        self._announced = False
        await super().close()
        await self._hub.stop(self)

    def announce(self) -> None:
        """Say INITIAL_HEARTBEAT again (the listening connection is new: PostgreSQL was restarted, or was not
        there when this adapter started) so that every server answers and is known again at once."""
        if self._announced and not self._closed:
            self._publish(wire.InitialHeartbeat())

    async def _do_publish(self, message: wire.ClusterMessage) -> str | None:
        await self._hub.publish((message,))
        return None

    async def _do_publish_response(self, requester: str, message: wire.ClusterMessage) -> None:
        await self._hub.publish((message,))  # one channel for everything: the receivers route by type

    async def _do_publish_batch(self, batch: Sequence[Outgoing]) -> list[str | None]:
        await self._hub.publish([message for _, message in batch])
        return [None] * len(batch)
