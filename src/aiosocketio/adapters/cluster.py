"""``ClusterAdapter`` and ``ClusterAdapterWithHeartbeat``: the cluster logic shared by every message-bus back-end.

These mirror socket.io-adapter 2.5's two base classes (``docs/protocol/cluster.md#cluster-adapter``), so that a back-end only
moves :class:`~aiosocketio.adapters.messages.ClusterMessage` envelopes: it implements :meth:`ClusterAdapter._do_publish`
(to every server, returning the message's offset when the bus has one), :meth:`ClusterAdapter._do_publish_response`
(to the server that asked) and, without heartbeats, :meth:`ClusterAdapter.server_count`; it feeds what it receives to
:meth:`ClusterAdapter.on_message` (responses may come the same way: they are routed by type).

Everything is applied here at once *and* published (receivers drop their own echo), with two rules from the reference:

* local work never waits for the bus, except a broadcast that carries a recovery offset (connection state recovery
  on, an event without ack, not volatile): its local delivery waits for the offset the bus gives it, so that the
  offset our clients see is the one other servers see;
* publishing never raises into user code; a failed publish is logged, and requests that needed answers fail with
  a timeout.

Messages leave through one ordered outbox per adapter: what piles up while a publish is in flight goes out as one
batch (back-ends override :meth:`ClusterAdapter._do_publish_batch` to pipeline it), and the order the application
emitted in is the order every server delivers in.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aiosocketio._checks import TIMER_LIMIT, seconds
from aiosocketio._emitter import spawn
from aiosocketio.adapters import messages as wire
from aiosocketio.adapters.base import Adapter
from aiosocketio.adapters.options import BroadcastOptions
from aiosocketio.clock import Clock, TimerHandle, clock_of, wait_for
from aiosocketio.exceptions import AckTimeoutError
from aiosocketio.parsers.packet import Packet, PacketType

if TYPE_CHECKING:
    from aiosocketio.adapters._types import AdapterNamespace

__all__ = ["ClusterAdapter", "ClusterAdapterWithHeartbeat"]

logger = logging.getLogger("aiosocketio.adapter.cluster")

EMITTER_UID = "emitter"
"""The uid an emitter's messages carry: not a server, so never counted as one or waited for."""
_MAX_BATCH = 256

Outgoing = tuple[str | None, wire.ClusterMessage]
"""A message to publish: ``(None, message)`` goes to every server, ``(uid, message)`` is a response to ``uid``."""


def random_id() -> str:
    """16 hex digits, like the reference's ``randomBytes(8).toString("hex")`` (server uids, request ids)."""
    return os.urandom(8).hex()


class Request:
    """A request waiting for answers: from ``expected`` servers, or from each uid of ``expected`` when it is a set
    (the heartbeat variant knows the servers by name, so a server that goes away stops being waited for)."""

    __slots__ = ("answered", "expected", "future", "responses")

    def __init__(self, expected: int | set[str], responses: list[Any] | None = None) -> None:
        self.expected = expected
        """How many servers must still answer, or the uids of those that must."""
        self.answered = 0
        """How many servers answered so far."""
        self.responses: list[Any] = responses if responses is not None else []
        """What the answers carried, in arrival order."""
        self.future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        """Done with :attr:`responses` once nobody is missing."""
        self._check()

    def answer(self, uid: str | None, items: Iterable[Any]) -> None:
        """Server ``uid`` answered with ``items``."""
        if self.future.done():
            return
        if isinstance(self.expected, set):
            if uid not in self.expected:
                return
            self.expected.discard(uid)
        self.responses.extend(items)
        self.answered += 1
        self._check()

    def forget(self, uid: str) -> None:
        """Server ``uid`` left the cluster: do not wait for it."""
        if isinstance(self.expected, set):
            self.expected.discard(uid)
            self._check()

    @property
    def missing(self) -> int:
        """How many answers are still awaited."""
        if isinstance(self.expected, set):
            return len(self.expected)
        return max(0, self.expected - self.answered)

    def _check(self) -> None:
        if self.missing == 0 and not self.future.done():
            self.future.set_result(self.responses)


def describe_body(body: object) -> str:
    """What a trace line says of a cluster message: its kind, its request id, the event of a broadcast (never
    the arguments)."""
    parts = [type(body).__name__]
    request_id = getattr(body, "request_id", None)
    if request_id is not None:
        parts.append(f"request={request_id}")
    packet = getattr(body, "packet", None)
    data = getattr(packet, "data", None) if packet is not None else getattr(body, "data", None)
    if isinstance(data, list) and data:
        parts.append(f"event={data[0]!r}")
    return " ".join(parts)


def local_socket_data(sockets: Iterable[Any]) -> tuple[wire.SocketData, ...]:
    """What a FETCH_SOCKETS answer carries for each local socket (never a RemoteSocket)."""
    return tuple(
        wire.SocketData(s.id, s.handshake, tuple(s.rooms), s.data) for s in sockets if hasattr(s, "client")
    )


class _Outbox:
    """The adapter's ordered outgoing queue, drained by one task in batches.

    Bounded: while the bus hangs (a server that accepts connections but does not answer), at most
    ``MAX_PENDING`` messages wait; more are dropped, like the publishes made while the bus is down, and a
    broadcast waiting for its offset is delivered locally without one. One warning per such episode.
    """

    __slots__ = ("_dropping", "_name", "_publish_batch", "_queue", "_task")

    MAX_PENDING = 100_000

    def __init__(
        self, name: str, publish_batch: Callable[[Sequence[Outgoing]], Awaitable[list[str | None]]]
    ) -> None:
        self._name = name  # the namespace's, for the logs
        self._publish_batch = publish_batch
        self._dropping = False
        self._queue: collections.deque[
            tuple[str | None, wire.ClusterMessage, Callable[[str | None], None] | None]
        ]
        self._queue = collections.deque()
        self._task: asyncio.Task[None] | None = None

    def push(
        self,
        target: str | None,
        message: wire.ClusterMessage,
        then: Callable[[str | None], None] | None = None,
    ) -> None:
        if len(self._queue) >= self.MAX_PENDING:
            if not self._dropping:
                self._dropping = True
                logger.warning(
                    "%s: the cluster bus does not keep up (%d messages waiting); dropping new ones",
                    self._name,
                    len(self._queue),
                )
            if then is not None:
                then(None)
            return
        self._dropping = False
        self._queue.append((target, message, then))
        if self._task is None:
            self._task = spawn(self._drain())

    async def _drain(self) -> None:
        queue = self._queue
        try:
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), _MAX_BATCH))]
                try:
                    offsets = await self._publish_batch([(target, message) for target, message, _ in batch])
                except Exception as exc:
                    logger.warning("%s: publishing %d message(s) failed: %r", self._name, len(batch), exc)
                    offsets = [None] * len(batch)
                for (_, _, then), offset in zip(batch, offsets, strict=False):
                    if then is not None:
                        try:
                            then(offset)
                        except Exception:
                            logger.exception("%s: delivering a published broadcast failed", self._name)
        finally:
            self._task = None

    async def flush(self) -> None:
        """Wait until everything pushed so far has been handed to the bus (or failed)."""
        while self._task is not None:
            await asyncio.shield(self._task)


class ClusterAdapter(Adapter):
    """One namespace's rooms here and its share of a cluster behind a message bus (docs/protocol/cluster.md#cluster-types, docs/protocol/cluster.md#cluster-semantics).

    Subclasses implement :meth:`_do_publish`, :meth:`_do_publish_response` and :meth:`server_count`, call
    :meth:`on_message` for what the bus delivers, and may override :meth:`_do_publish_batch`.
    ``has_offsets`` says whether :meth:`_do_publish` returns offsets that can recover a session.

    Each operation is done here (through :class:`Adapter`) and, unless ``options.flags.local`` is set, published
    for the other servers; requests (``fetch_sockets``, ``server_side_emit_with_ack``) wait for their answers.

    Args:
        nsp: The namespace this adapter serves.
        requests_timeout: Seconds a request to the other servers waits for their answers when the caller gave no
            timeout (Node.js: ``requestsTimeout``, in milliseconds there).

    Raises:
        TypeError: ``requests_timeout`` is not a number.
        ValueError: ``requests_timeout`` is not positive, or so large it must be milliseconds.
    """

    __slots__ = ("_ack_requests", "_closed", "_outbox", "_requests", "requests_timeout", "uid")

    has_offsets = False
    """Whether the bus gives each published message an offset that can recover a session (Redis Streams does)."""

    def __init__(self, nsp: AdapterNamespace, *, requests_timeout: float = 5.0) -> None:
        super().__init__(nsp)
        requests_timeout = seconds("requests_timeout", requests_timeout, limit=TIMER_LIMIT)
        self.uid = random_id()
        """This server's id in the cluster, random per adapter; messages carry it so a server skips its own echo."""
        self.requests_timeout = requests_timeout
        """Seconds a request waits for the other servers when the caller set no timeout."""
        self._requests: dict[str, Request] = {}
        self._ack_requests: dict[str, tuple[Callable[[int], None], Callable[..., None]]] = {}
        # Looked up at each batch, not bound now: a subclass or a test may replace _do_publish_batch later.
        self._outbox = _Outbox(nsp.name, lambda batch: self._do_publish_batch(batch))
        self._closed = False

    # -- what a back-end implements ----------------------------------------------------------------------

    @abstractmethod
    async def _do_publish(self, message: wire.ClusterMessage) -> str | None:
        """Send ``message`` to every server of the cluster; return its offset if the bus has one."""

    @abstractmethod
    async def _do_publish_response(self, requester: str, message: wire.ClusterMessage) -> None:
        """Send a response to the server whose uid is ``requester``."""

    @abstractmethod
    async def server_count(self) -> int:
        """How many servers share this namespace, this one included."""

    async def _do_publish_batch(self, batch: Sequence[Outgoing]) -> list[str | None]:
        """Publish ``batch`` in order and return one offset per message (override to pipeline)."""
        offsets: list[str | None] = []
        for target, message in batch:
            if target is None:
                offsets.append(await self._do_publish(message))
            else:
                await self._do_publish_response(target, message)
                offsets.append(None)
        return offsets

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def init(self) -> None:
        """The server starts serving (again, after a :meth:`close`, when it is served once more)."""
        self._closed = False

    async def close(self) -> None:
        """Stop taking part in the cluster: flush what is queued, then cancel the pending requests.

        Messages still unsent after ``requests_timeout`` seconds are dropped (with a warning). Calling it twice is
        harmless.
        """
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.wait_for(self._outbox.flush(), self.requests_timeout)
        except TimeoutError:
            logger.warning("%s: unsent cluster messages dropped at close", self.nsp.name)
        for request in self._requests.values():
            if not request.future.done():
                request.future.cancel()
        self._requests.clear()
        self._ack_requests.clear()

    async def flush(self) -> None:
        """Wait until every message published so far has been handed to the bus."""
        await self._outbox.flush()

    @property
    def _clock(self) -> Clock:
        """Where the adapter's deadlines are timed: the server's clock (the running loop by default)."""
        return clock_of(self.nsp.server.clock)

    # -- publishing --------------------------------------------------------------------------------------

    def _publish(self, body: wire.ClusterBody, then: Callable[[str | None], None] | None = None) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: server %s publishes %s", self.nsp.name, self.uid, describe_body(body))
        self._outbox.push(None, wire.ClusterMessage(self.uid, self.nsp.name, body), then)

    def _publish_response(self, requester: str, body: wire.ClusterBody) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s: server %s answers %s with %s", self.nsp.name, self.uid, requester, describe_body(body)
            )
        self._outbox.push(requester, wire.ClusterMessage(self.uid, self.nsp.name, body))

    def _wants_offset(self, packet: Packet, options: BroadcastOptions) -> bool:
        """An offset goes at the end of the event's data (docs/protocol/cluster.md#cluster-offsets): recovery on, event, no ack, not volatile."""
        return (
            self.has_offsets
            and packet.type is PacketType.EVENT
            and packet.id is None
            and not options.flags.volatile
            and self.nsp.server.connection_state_recovery is not None
        )

    def _deliver_with_offset(self, packet: Packet, options: BroadcastOptions, offset: str | None) -> None:
        if offset is not None and isinstance(packet.data, list):
            packet = Packet(packet.type, packet.nsp, [*packet.data, offset], packet.id)
        Adapter.broadcast(self, packet, options)

    # -- incoming ----------------------------------------------------------------------------------------

    def on_message(self, message: wire.ClusterMessage, offset: str | None = None) -> None:
        """A message from the bus (responses included), fed by the back-end with the bus's offset when it has
        one; our own echo and other namespaces are dropped."""
        if message.uid == self.uid or message.nsp != self.nsp.name:
            return
        body = message.body
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s: server %s received %s from %s", self.nsp.name, self.uid, describe_body(body), message.uid
            )
        if isinstance(body, wire.BroadcastMessage):
            if body.request_id is None:
                if offset is not None and self._wants_offset(body.packet, body.opts):
                    self._deliver_with_offset(body.packet, body.opts, offset)
                else:
                    Adapter.broadcast(self, body.packet, body.opts)
            else:
                self._on_remote_broadcast_with_ack(message.uid, body, body.request_id)
        elif isinstance(body, wire.SocketsJoinMessage):
            Adapter.add_sockets(self, body.opts, body.rooms)
        elif isinstance(body, wire.SocketsLeaveMessage):
            Adapter.del_sockets(self, body.opts, body.rooms)
        elif isinstance(body, wire.DisconnectSocketsMessage):
            Adapter.disconnect_sockets(self, body.opts, body.close)
        elif isinstance(body, wire.FetchSocketsMessage):
            found = [s for s in self._local_sockets(body.opts)]
            self._publish_response(
                message.uid, wire.FetchSocketsResponse(body.request_id, local_socket_data(found))
            )
        elif isinstance(body, wire.ServerSideEmitMessage):
            self._on_server_side_emit(message.uid, body)
        elif isinstance(
            body,
            wire.FetchSocketsResponse
            | wire.ServerSideEmitResponse
            | wire.BroadcastClientCount
            | wire.BroadcastAck,
        ):
            self._on_response(message)

    def _on_remote_broadcast_with_ack(
        self, requester: str, body: wire.BroadcastMessage, request_id: str
    ) -> None:
        packet = body.packet
        local = Packet(packet.type, self.nsp.name, packet.data, self.nsp.next_ack_id())

        def on_count(count: int) -> None:
            self._publish_response(requester, wire.BroadcastClientCount(request_id, count))

        def on_ack(*args: Any) -> None:
            self._publish_response(
                requester, wire.BroadcastAck(request_id, args[0] if args else wire.UNDEFINED)
            )

        Adapter.broadcast_with_ack(self, local, body.opts, on_count, on_ack)

    def _on_server_side_emit(self, requester: str, body: wire.ServerSideEmitMessage) -> None:
        request_id = body.request_id
        if request_id is None:
            self.nsp.on_server_side_emit(body.data)
            return

        def answer(response: Any) -> None:
            self._publish_response(requester, wire.ServerSideEmitResponse(request_id, response))

        self.nsp.on_server_side_emit(body.data, answer)

    def _on_response(self, message: wire.ClusterMessage) -> None:
        body = message.body
        if isinstance(body, wire.BroadcastClientCount):
            callbacks = self._ack_requests.get(body.request_id)
            if callbacks is not None:
                callbacks[0](body.client_count)
        elif isinstance(body, wire.BroadcastAck):
            callbacks = self._ack_requests.get(body.request_id)
            if callbacks is not None:
                callbacks[1](*(() if body.response is wire.UNDEFINED else (body.response,)))
        elif isinstance(body, wire.FetchSocketsResponse):
            request = self._requests.get(body.request_id)
            if request is not None:
                request.answer(message.uid, body.sockets)
        elif isinstance(body, wire.ServerSideEmitResponse):
            request = self._requests.get(body.request_id)
            if request is not None:
                request.answer(message.uid, (None if body.response is wire.UNDEFINED else body.response,))

    # -- outgoing ----------------------------------------------------------------------------------------

    def broadcast(self, packet: Packet, options: BroadcastOptions) -> None:
        """Deliver ``packet`` to the local targets and publish it for the other servers (unless ``local``).

        With connection state recovery on, an event without ack that is not volatile is delivered here only once
        the bus has given it an offset, which is appended to its arguments, so every server uses the same one.

        Args:
            packet: The packet to deliver.
            options: Which sockets, and how.
        """
        if options.flags.local:
            super().broadcast(packet, options)
        elif self._wants_offset(packet, options):
            # The local delivery waits for the bus's offset (the reference awaits the publish the same way).
            self._publish(
                wire.BroadcastMessage(packet, options),
                lambda offset: self._deliver_with_offset(packet, options, offset),
            )
        else:
            self._publish(wire.BroadcastMessage(packet, options))
            super().broadcast(packet, options)

    def broadcast_with_ack(
        self,
        packet: Packet,
        options: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: Callable[..., None],
    ) -> None:
        """Like :meth:`broadcast`, collecting acknowledgements from the sockets of every server.

        Each server reports how many sockets it reached through ``client_count_callback`` and forwards each
        acknowledgement to ``ack``. Remote reports stop being listened to after the flags' timeout (or
        ``requests_timeout``).

        Args:
            packet: The packet to deliver; its ``id`` is the ack id used on this server.
            options: Which sockets, and how.
            client_count_callback: Called once per server with the number of sockets it sent the packet to.
            ack: Called with each socket's acknowledgement arguments.
        """
        if not options.flags.local:
            request_id = self._request_id()
            self._ack_requests[request_id] = (client_count_callback, ack)
            remote = Packet(packet.type, packet.nsp, packet.data)
            self._publish(wire.BroadcastMessage(remote, options, request_id))
            timeout = options.flags.timeout if options.flags.timeout is not None else self.requests_timeout
            self._clock.call_later(timeout, self._ack_requests.pop, request_id, None)
        super().broadcast_with_ack(packet, options, client_count_callback, ack)

    def add_sockets(self, options: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make the targeted sockets of every server (this one only with ``local``) join ``rooms``.

        Args:
            options: Which sockets, and how.
            rooms: The rooms to join.
        """
        rooms = tuple(rooms)
        if not options.flags.local:
            self._publish(wire.SocketsJoinMessage(options, rooms))
        super().add_sockets(options, rooms)

    def del_sockets(self, options: BroadcastOptions, rooms: Iterable[str]) -> None:
        """Make the targeted sockets of every server (this one only with ``local``) leave ``rooms``.

        Args:
            options: Which sockets, and how.
            rooms: The rooms to leave.
        """
        rooms = tuple(rooms)
        if not options.flags.local:
            self._publish(wire.SocketsLeaveMessage(options, rooms))
        super().del_sockets(options, rooms)

    def disconnect_sockets(self, options: BroadcastOptions, close: bool) -> None:
        """Disconnect the targeted sockets of every server (this one only with ``local``).

        Args:
            options: Which sockets, and how.
            close: Also close each socket's underlying connection.
        """
        if not options.flags.local:
            self._publish(wire.DisconnectSocketsMessage(options, close))
        super().disconnect_sockets(options, close)

    # -- requests ----------------------------------------------------------------------------------------

    async def _expected_answers(self) -> int | set[str]:
        """Whom a request waits for: the number of other servers (overridden with their uids)."""
        return await self.server_count() - 1

    async def _ask(
        self, body: Callable[[str], wire.ClusterBody], expected: int | set[str], timeout: float
    ) -> Request:
        """Publish a request and wait for its answers; TimeoutError carries the request in ``args[0]``."""
        request_id = self._request_id()
        request = Request(expected)
        self._requests[request_id] = request
        clock = self._clock
        began = clock.time()
        kind = ""
        error: str | None = None
        try:
            if not request.future.done():
                message = body(request_id)
                kind = type(message).__name__
                self._publish(message)
                try:
                    await wait_for(self.nsp.server.clock, asyncio.shield(request.future), timeout)
                except TimeoutError:
                    error = "timeout"
                    raise TimeoutError(request) from None
            return request
        except BaseException as exc:
            error = error or type(exc).__name__
            raise
        finally:
            del self._requests[request_id]
            if kind and self.has_listeners("request"):
                # ``request(kind, seconds, error)``: how long the other servers took (for metrics).
                self.emit_event("request", kind, clock.time() - began, error)

    def _timeout_message(self, request: Request) -> str:
        return f"timeout reached: only {request.answered} responses received out of {request.answered + request.missing}"

    def _fetch_timeout_message(self, request: Request) -> str:
        return self._timeout_message(request)

    def _request_id(self) -> str:
        return random_id()

    async def fetch_sockets(self, options: BroadcastOptions) -> list[Any]:
        """The targeted sockets of every server: local ``Socket`` objects, then ``RemoteSocket`` ones.

        Args:
            options: Which sockets; its ``timeout`` flag (else ``requests_timeout``) bounds the wait for the other
                servers; with ``local`` only this server's sockets are returned.

        Returns:
            The local sockets followed by a ``RemoteSocket`` for each socket the other servers reported.

        Raises:
            TimeoutError: Some server did not answer in time (the message says how many did).
        """
        local = await super().fetch_sockets(options)
        if options.flags.local:
            return local
        expected = await self._expected_answers()
        timeout = options.flags.timeout if options.flags.timeout is not None else self.requests_timeout
        try:
            request = await self._ask(lambda rid: wire.FetchSocketsMessage(options, rid), expected, timeout)
        except TimeoutError as exc:
            raise TimeoutError(self._fetch_timeout_message(exc.args[0])) from None
        remote = [self.nsp.remote_socket(s.id, s.handshake, set(s.rooms), s.data) for s in request.responses]
        return local + remote

    async def server_side_emit(self, packet: list[Any]) -> None:
        """Publish ``[event, *args]`` to the same namespace of every other server (not this one).

        Args:
            packet: ``[event, *args]``.
        """
        self._publish(wire.ServerSideEmitMessage(packet))

    async def server_side_emit_with_ack(self, packet: list[Any], timeout: float | None) -> list[Any]:
        """Publish ``[event, *args]`` to every other server and wait for one answer from each.

        Args:
            packet: ``[event, *args]``.
            timeout: Seconds to wait; ``None`` (or 0) waits ``requests_timeout``.

        Returns:
            One response per other server, in the order they arrived.

        Raises:
            AckTimeoutError: Not every server answered in time; its ``responses`` holds those that did.
        """
        expected = await self._expected_answers()
        try:
            request = await self._ask(
                lambda rid: wire.ServerSideEmitMessage(packet, rid),
                expected,
                timeout or self.requests_timeout,
            )
        except TimeoutError as exc:
            request = exc.args[0]
            raise AckTimeoutError(self._timeout_message(request), responses=list(request.responses)) from None
        return request.responses


class ClusterAdapterWithHeartbeat(ClusterAdapter):
    """A :class:`ClusterAdapter` that knows the other servers by their heartbeats (docs/protocol/cluster.md#heartbeats).

    A server announces itself with INITIAL_HEARTBEAT (everyone answers HEARTBEAT), sends a HEARTBEAT when it has
    published nothing for ``heartbeat_interval``, and is forgotten after ``heartbeat_timeout`` of silence or at its
    ADAPTER_CLOSE. The server count is 1 + the servers heard from, and a request waits for each of them by uid, so
    it completes early when one goes away. One timer per adapter, ticking once a second, does all of this.

    Args:
        nsp: The namespace this adapter serves.
        requests_timeout: Seconds a request waits for the other servers when the caller gave no timeout.
        heartbeat_interval: Seconds of silence after which this server sends a heartbeat (Node.js:
            ``heartbeatInterval``, in milliseconds there).
        heartbeat_timeout: Seconds of silence after which another server is considered gone (Node.js:
            ``heartbeatTimeout``).

    Raises:
        TypeError: A duration is not a number.
        ValueError: A duration is not positive, or so large it must be milliseconds.
    """

    __slots__ = ("_last_publish", "_nodes", "_ticker", "heartbeat_interval", "heartbeat_timeout")

    def __init__(
        self,
        nsp: AdapterNamespace,
        *,
        requests_timeout: float = 5.0,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 10.0,
    ) -> None:
        super().__init__(nsp, requests_timeout=requests_timeout)
        self.heartbeat_interval = seconds("heartbeat_interval", heartbeat_interval, limit=TIMER_LIMIT)
        """Seconds without publishing anything after which this server sends a heartbeat."""
        self.heartbeat_timeout = seconds("heartbeat_timeout", heartbeat_timeout, limit=TIMER_LIMIT)
        """Seconds without hearing from a server after which it is forgotten."""
        self._nodes: dict[str, float] = {}
        self._last_publish: float | None = None
        self._ticker: TimerHandle | None = None

    @property
    def nodes(self) -> frozenset[str]:
        """The uids of the other servers heard from recently."""
        return frozenset(self._nodes)

    async def init(self) -> None:
        """Join the cluster: announce this server (every other one answers) and start the heartbeat timer."""
        await super().init()
        self._publish(wire.InitialHeartbeat())
        if self._ticker is None:
            self._ticker = self._clock.call_later(self._tick_every, self._tick)

    @property
    def _tick_every(self) -> float:
        return min(1.0, self.heartbeat_interval, self.heartbeat_timeout / 2)

    async def close(self) -> None:
        """Leave the cluster: stop the timer, tell the other servers, flush, and forget the servers known."""
        if self._closed:
            return
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self._publish(wire.AdapterClose())
        await super().close()
        # Served again later, this server learns the cluster anew (its INITIAL_HEARTBEAT asks everyone).
        self._nodes.clear()
        self._last_publish = None

    def _publish(self, body: wire.ClusterBody, then: Callable[[str | None], None] | None = None) -> None:
        self._last_publish = self._clock.time()
        super()._publish(body, then)

    def _tick(self) -> None:
        clock = self._clock
        now = clock.time()
        for uid, seen in list(self._nodes.items()):
            if now - seen > self.heartbeat_timeout:
                logger.info("%s: server %s seems down", self.nsp.name, uid)
                self._remove_node(uid)
        if self._last_publish is not None and now - self._last_publish >= self.heartbeat_interval:
            self._publish(wire.Heartbeat())
        self._ticker = clock.call_later(self._tick_every, self._tick)

    def _remove_node(self, uid: str) -> None:
        self._nodes.pop(uid, None)
        for request in self._requests.values():
            request.forget(uid)

    def on_message(self, message: wire.ClusterMessage, offset: str | None = None) -> None:
        """Handle a message from the bus, first noting that its sender is alive.

        Heartbeats and close notices update the known servers; everything else goes on to
        :meth:`ClusterAdapter.on_message`. Ignored once the adapter is closed.

        Args:
            message: The decoded message.
            offset: The bus's offset for it, when the bus has offsets.
        """
        if message.uid == self.uid or self._closed:
            return  # a closed adapter may still be handed what the bus had on its way: it must not relearn nodes
        if message.uid and message.uid != EMITTER_UID and message.nsp == self.nsp.name:
            self._nodes[message.uid] = self._clock.time()
        body = message.body
        if isinstance(body, wire.InitialHeartbeat):
            if message.nsp == self.nsp.name:
                self._publish(wire.Heartbeat())
        elif isinstance(body, wire.AdapterClose):
            if message.nsp == self.nsp.name:
                self._remove_node(message.uid)
        elif not isinstance(body, wire.Heartbeat):
            super().on_message(message, offset)

    async def server_count(self) -> int:
        """This server plus the servers heard from within ``heartbeat_timeout`` (Node.js: ``serverCount``)."""
        return 1 + len(self._nodes)

    async def _expected_answers(self) -> int | set[str]:
        return set(self._nodes)

    def _timeout_message(self, request: Request) -> str:
        return f"timeout reached: missing {request.missing} responses"
