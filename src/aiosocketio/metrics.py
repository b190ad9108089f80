"""Prometheus metrics of a Socket.IO server (docs/operations/metrics.md): ``instrument(io)``, then serve
``asgi_app()`` (or the built-in server's ``other_app``) at ``/metrics``.

Opt-in and self-contained: ``prometheus_client`` is imported when :func:`instrument` or :func:`asgi_app` is
called (``pip install 'aiosocketio[metrics]'``), and nothing here touches a server that is not instrumented. It
listens to the public events of the server, its engine and each session:

- each Engine.IO session's ``tap`` (told of every message sent and received) counts packets and bytes by type
  into plain ints, read when Prometheus scrapes (a ``prometheus_client`` counter takes a lock per increment, and
  an event listener costs a dispatch per packet: both too dear for every packet); an EVENT that asks for an
  acknowledgement is timed until its ACK;
- ``packet_dropped`` (a volatile packet the transport could not take) and ``close`` (the reason; a slow
  consumer's says ``write buffer full``);
- the engine's ``connection`` and ``connection_error`` (handshakes, refusals by error code);
- a cluster adapter's ``request`` event (each request to the other servers: kind, seconds, error);
- connected clients by transport and the rooms are counted at scrape time from ``io.engine.clients`` and each
  namespace's adapter; the event loop's lag is measured by a timer while the server serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from aiosocketio._checks import missing_extra, seconds

if TYPE_CHECKING:
    from aiosocketio.clock import Clock
    from aiosocketio.engineio.interfaces import PacketTap
    from aiosocketio.engineio.server import EngineConnectionError
    from aiosocketio.engineio.socket import EngineSocket
    from aiosocketio.namespace import Namespace
    from aiosocketio.server import Server

__all__ = ["Metrics", "asgi_app", "instrument"]

logger = logging.getLogger("aiosocketio.metrics")

ASGIReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]
ASGISend = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], ASGIReceive, ASGISend], Awaitable[None]]

#: The ``type`` label of a message, by its key: the Socket.IO packet type (the character after Engine.IO's ``4``),
#: ``""`` for an empty message, ``"b"`` for a binary one.
_TYPES = {
    "0": "CONNECT",
    "1": "DISCONNECT",
    "2": "EVENT",
    "3": "ACK",
    "4": "CONNECT_ERROR",
    "5": "BINARY_EVENT",
    "6": "BINARY_ACK",
    "": "MESSAGE",
    "b": "BINARY",  # an attachment, or a whole packet of the msgpack parser
}
_ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_PENDING_ACKS_LIMIT = 1000


def _prometheus() -> Any:
    try:
        import prometheus_client
        import prometheus_client.core
        import prometheus_client.exposition
    except ImportError as exc:
        raise missing_extra("prometheus_client", "metrics", "aiosocketio.metrics") from exc
    return prometheus_client


def _ack_key(text: str, start: int) -> tuple[str, int] | None:
    """The namespace and id of a Socket.IO packet whose type digit is at ``start - 1`` (``2/chat,12[...]`` →
    ``("/chat", 12)``), or None without an id."""
    i = start
    end = len(text)
    if i < end and text[i - 1] in "56":  # binary: the attachment count and "-" first
        dash = text.find("-", i)
        if dash < 0:
            return None
        i = dash + 1
    nsp = "/"
    if i < end and text[i] == "/":
        comma = text.find(",", i)
        if comma < 0:
            return None
        nsp = text[i:comma]
        i = comma + 1
    j = i
    while j < end and "0" <= text[j] <= "9":
        j += 1
    if j == i:
        return None
    return nsp, int(text[i:j])


def _cell() -> list[int]:
    return [0, 0]


class _Counts:
    """The per-message tallies of every session, read at scrape time: type key → [packets, bytes].

    A broadcast hands the same item object to every recipient's session, one after the other: the item last
    sent is kept with its type and size, and a repeat only adds one to ``repeats`` (settled into the cells
    when another item comes, or at scrape time). That makes a delivery of a broadcast about half the work of a
    message of its own.
    """

    __slots__ = ("last", "last_key", "last_size", "received", "repeats", "sent")

    def __init__(self) -> None:
        self.sent: defaultdict[str, list[int]] = defaultdict(_cell)
        self.received: defaultdict[str, list[int]] = defaultdict(_cell)
        self.last: str | bytes | None = None
        self.last_key = ""
        self.last_size = 0
        self.repeats = 0

    def settle(self) -> None:
        """Add the repeats of the last item to its cell."""
        repeats = self.repeats
        if repeats:
            cell = self.sent[self.last_key]
            cell[0] += repeats
            cell[1] += repeats * self.last_size
            self.repeats = 0

    def new_item(self, item: str | bytes) -> str:
        """Count an item that is not a repeat and remember it; returns its type key."""
        if self.repeats:
            self.settle()
        if type(item) is str:
            key = item[1:2]  # after Engine.IO's "4": a session's tap sees only message packets
            size = len(item) if item.isascii() else len(item.encode())
        else:
            key = "b"
            size = len(item)
        cell = self.sent[key]
        cell[0] += 1
        cell[1] += size
        self.last = item
        self.last_key = key
        self.last_size = size
        return key


class _Tap:
    """The :class:`~aiosocketio.engineio.interfaces.PacketTap` of one Engine.IO session: counts, and the
    acknowledgements the server waits for. Its two methods run for every message: a few dict and list
    operations (a 1-character slice is a cached string: no allocation), less for a broadcast's repeats."""

    __slots__ = ("_clock", "_counts", "_metrics", "_pending", "_received")

    def __init__(self, metrics: Metrics, clock: Clock) -> None:
        self._metrics = metrics
        self._counts = metrics.counts
        self._received = metrics.counts.received
        self._clock = clock  # the session's: the loop's, or the one the server was given
        self._pending: dict[tuple[str, int], float] | None = None

    def sent(self, item: str | bytes) -> None:
        counts = self._counts
        if item is counts.last:
            counts.repeats += 1
            key = counts.last_key
        else:
            key = counts.new_item(item)
        if key == "2" and type(item) is str:
            after = item[2:3]  # an ack id, or a namespace that may be followed by one; usually "["
            if after == "/" or "0" <= after <= "9":
                self._sent_event(item)
        elif key == "5" and type(item) is str:
            self._sent_event(item)

    def _sent_event(self, item: str) -> None:
        found = _ack_key(item, 2)
        if found is None:
            return
        pending = self._pending
        if pending is None:
            pending = self._pending = {}
        elif len(pending) >= _PENDING_ACKS_LIMIT:
            return  # a client that never answers: stop timing its acknowledgements rather than grow
        pending[found] = self._clock.time()

    def received(self, data: str | bytes | None) -> None:
        if type(data) is str:
            key = data[:1]
            cell = self._received[key]
            cell[0] += 1
            cell[1] += 1 + (len(data) if data.isascii() else len(data.encode()))
            if self._pending and (key == "3" or key == "6"):
                found = _ack_key(data, 1)
                sent = self._pending.pop(found, None) if found is not None else None
                if sent is not None:
                    self._metrics.ack_latency.observe(self._clock.time() - sent)
        elif data is None:
            cell = self._received[""]
            cell[0] += 1
            cell[1] += 1
        else:
            cell = self._received["b"]
            cell[0] += 1
            cell[1] += len(data)

    def on_dropped(self, items: Sequence[str | bytes]) -> None:
        self._metrics.dropped_volatile += 1

    def on_upgrade(self, transport: Any) -> None:
        self._metrics.upgrades += 1

    def on_close(self, reason: str, description: Any = None) -> None:
        metrics = self._metrics
        metrics.disconnects[reason] += 1
        if description == "write buffer full":
            metrics.slow_consumers += 1
        self._pending = None


class _Tee:
    """Two taps on one session."""

    __slots__ = ("_first", "_second")

    def __init__(self, first: PacketTap, second: PacketTap) -> None:
        self._first = first
        self._second = second

    def sent(self, item: str | bytes) -> None:
        self._first.sent(item)
        self._second.sent(item)

    def received(self, data: str | bytes | None) -> None:
        self._first.received(data)
        self._second.received(data)


class Metrics:
    """What :func:`instrument` returns: the collector registered for one server, and its switches.

    ``close()`` unregisters it and stops listening to new sessions (the sessions already tapped keep counting
    into it until they end).
    """

    def __init__(
        self,
        io: Server,
        registry: Any,
        *,
        prefix: str,
        loop_lag_interval: float,
        ack_buckets: Iterable[float],
    ) -> None:
        prom = _prometheus()
        self.io = io
        self.registry = registry
        self.prefix = prefix
        self.loop_lag_interval = loop_lag_interval
        self.counts = _Counts()
        self.handshakes: defaultdict[str, int] = defaultdict(int)
        self.refusals: defaultdict[tuple[int, str], int] = defaultdict(int)
        self.disconnects: defaultdict[str, int] = defaultdict(int)
        self.upgrades = 0
        self.dropped_volatile = 0
        self.slow_consumers = 0
        self.loop_lag = 0.0
        self.loop_lag_max = 0.0
        self._lag_task: asyncio.Task[None] | None = None
        self._closed = False
        self.ack_latency = prom.Histogram(
            f"{prefix}_ack_latency_seconds",
            "Time from an event the server sent asking for an acknowledgement to the client's answer",
            buckets=tuple(ack_buckets),
            registry=None,
        )
        self.adapter_latency = prom.Histogram(
            f"{prefix}_adapter_request_duration_seconds",
            "Requests of a cluster adapter to the other servers (fetch_sockets, server_side_emit with an ack...)",
            ["namespace", "request"],
            registry=None,
        )
        self.adapter_errors = prom.Counter(
            f"{prefix}_adapter_request_errors",
            "Cluster adapter requests that failed (error: timeout, or the exception's type)",
            ["namespace", "request", "error"],
            registry=None,
        )
        self._collector = _Collector(self, prom)
        registry.register(self._collector)
        engine = io.engine
        engine.on("connection", self._on_session)
        engine.on("connection_error", self._on_refused)
        io.on("new_namespace", self._on_namespace)
        io.on("startup", self._on_startup)
        io.on("shutdown", self._on_shutdown)
        for nsp in io.namespaces.values():
            self._on_namespace(nsp)
        if io.serving:
            self._on_startup()

    # -- listeners -----------------------------------------------------------------------------------------

    def _on_session(self, conn: EngineSocket) -> None:
        if self._closed:
            return
        self.handshakes[conn.transport.name] += 1
        tap = _Tap(self, conn.clock)
        # One tap per session: a second instrumentation (another prefix) shares it through a tee.
        conn.tap = tap if conn.tap is None else _Tee(conn.tap, tap)
        conn.on("packet_dropped", tap.on_dropped)
        conn.on("upgrade", tap.on_upgrade)
        conn.on("close", tap.on_close)

    def _on_refused(self, error: EngineConnectionError) -> None:
        self.refusals[(error.code, error.message)] += 1

    def _on_namespace(self, nsp: Namespace) -> None:
        adapter = nsp.adapter
        name = nsp.name

        def on_request(kind: str, duration: float, error: str | None) -> None:
            self.adapter_latency.labels(name, kind).observe(duration)
            if error is not None:
                self.adapter_errors.labels(name, kind, error).inc()

        adapter.on("request", on_request)

    def _on_startup(self) -> None:
        if self._lag_task is None and not self._closed:
            self._lag_task = asyncio.get_running_loop().create_task(self._measure_lag())

    def _on_shutdown(self) -> None:
        task = self._lag_task
        self._lag_task = None
        if task is not None:
            task.cancel()

    async def _measure_lag(self) -> None:
        """How late a timer fires: what every callback waiting behind a busy loop suffers."""
        loop = asyncio.get_running_loop()
        interval = self.loop_lag_interval
        while True:
            due = loop.time() + interval
            await asyncio.sleep(interval)
            lag = max(0.0, loop.time() - due)
            self.loop_lag = lag
            self.loop_lag_max = max(self.loop_lag_max, lag)

    def close(self) -> None:
        """Stop: unregister from the registry and leave new sessions alone."""
        if self._closed:
            return
        self._closed = True
        self._on_shutdown()
        with contextlib.suppress(KeyError):
            self.registry.unregister(self._collector)

    # -- scrape-time gauges ----------------------------------------------------------------------------------

    def clients_by_transport(self) -> dict[str, int]:
        counts: dict[str, int] = {"polling": 0, "websocket": 0}
        for conn in tuple(self.io.engine.clients.values()):
            name = conn.transport.name
            counts[name] = counts.get(name, 0) + 1
        return counts

    def rooms_by_namespace(self) -> dict[str, int]:
        return {name: len(nsp.adapter.rooms) for name, nsp in self.io.namespaces.items()}

    def sockets_by_namespace(self) -> dict[str, int]:
        return {name: len(nsp.sockets) for name, nsp in self.io.namespaces.items()}


class _Collector:
    """Turns the tallies into Prometheus metric families when the registry is scraped."""

    def __init__(self, metrics: Metrics, prom: Any) -> None:
        self._metrics = metrics
        self._core = prom.core

    def describe(self) -> list[Any]:
        return []  # no name clash check at registration; collect() runs at scrape time only

    def collect(self) -> Iterator[Any]:
        core = self._core
        m = self._metrics
        p = m.prefix
        gauge = core.GaugeMetricFamily(
            f"{p}_connected_clients", "Open Engine.IO sessions, by transport", labels=["transport"]
        )
        for transport, count in sorted(m.clients_by_transport().items()):
            gauge.add_metric([transport], count)
        yield gauge
        gauge = core.GaugeMetricFamily(
            f"{p}_connected_sockets", "Sockets connected to each namespace", labels=["namespace"]
        )
        for name, count in sorted(m.sockets_by_namespace().items()):
            gauge.add_metric([name], count)
        yield gauge
        gauge = core.GaugeMetricFamily(
            f"{p}_rooms",
            "Rooms of each namespace on this server (each socket's own room included)",
            labels=["namespace"],
        )
        for name, count in sorted(m.rooms_by_namespace().items()):
            gauge.add_metric([name], count)
        yield gauge
        counter = core.CounterMetricFamily(
            f"{p}_handshakes", "Engine.IO sessions opened, by first transport", labels=["transport"]
        )
        for transport, count in sorted(m.handshakes.items()):
            counter.add_metric([transport], count)
        yield counter
        counter = core.CounterMetricFamily(
            f"{p}_handshake_refusals",
            "Engine.IO requests refused, by error code and message",
            labels=["code", "message"],
        )
        for (code, message), count in sorted(m.refusals.items()):
            counter.add_metric([str(code), message], count)
        yield counter
        yield core.CounterMetricFamily(f"{p}_upgrades", "Sessions upgraded to WebSocket", value=m.upgrades)
        counter = core.CounterMetricFamily(
            f"{p}_disconnects", "Engine.IO sessions closed, by reason", labels=["reason"]
        )
        for reason, count in sorted(m.disconnects.items()):
            counter.add_metric([reason], count)
        yield counter
        yield core.CounterMetricFamily(
            f"{p}_slow_consumer_disconnects",
            "Sessions dropped because their client did not read what was sent (write buffer full)",
            value=m.slow_consumers,
        )
        yield core.CounterMetricFamily(
            f"{p}_dropped_volatile_packets",
            "Volatile packets not sent because the transport could not take them",
            value=m.dropped_volatile,
        )
        counts = m.counts
        counts.settle()
        for direction, tallies in (("in", counts.received), ("out", counts.sent)):
            done = "received" if direction == "in" else "sent"
            packets = core.CounterMetricFamily(
                f"{p}_packets_{direction}", f"Messages {done}, by Socket.IO packet type", labels=["type"]
            )
            sizes = core.CounterMetricFamily(
                f"{p}_bytes_{direction}", f"Bytes of the messages {done}, by type", labels=["type"]
            )
            for key, (count, size) in sorted(tuple(tallies.items())):
                label = _TYPES.get(key, key)
                packets.add_metric([label], count)
                sizes.add_metric([label], size)
            yield packets
            yield sizes
        yield core.GaugeMetricFamily(
            f"{p}_event_loop_lag_seconds", "How late the last lag timer fired", value=m.loop_lag
        )
        yield core.GaugeMetricFamily(
            f"{p}_event_loop_lag_max_seconds", "The most a lag timer has been late", value=m.loop_lag_max
        )
        yield from m.ack_latency.collect()
        yield from m.adapter_latency.collect()
        yield from m.adapter_errors.collect()


def instrument(
    io: Server,
    registry: Any = None,
    *,
    prefix: str = "socketio",
    loop_lag_interval: float = 1.0,
    ack_buckets: Iterable[float] = _ACK_BUCKETS,
) -> Metrics:
    """Collect the metrics of ``io`` into ``registry`` (``prometheus_client.REGISTRY`` by default).

    Sessions opened after this call are counted. ``prefix`` starts every metric name (one registry can hold
    two servers with two prefixes). ``loop_lag_interval`` (seconds) is how often the event loop's lag is
    sampled while the server serves.
    """
    prom = _prometheus()
    interval = seconds("loop_lag_interval", loop_lag_interval, limit=3600.0)
    return Metrics(
        io,
        registry if registry is not None else prom.REGISTRY,
        prefix=prefix,
        loop_lag_interval=float(interval),
        ack_buckets=ack_buckets,
    )


def asgi_app(registry: Any = None, *, other_app: ASGIApp | None = None, path: str = "/metrics") -> ASGIApp:
    """An ASGI app serving ``registry`` (``prometheus_client.REGISTRY`` by default) in the Prometheus text
    format at ``path``; every other request goes to ``other_app`` (404 without one).

    Mount it next to the server: ``aiosocketio.run(io, other_app=asgi_app())`` on the built-in server, or
    ``io.asgi_app(asgi_app(other_app=your_app))`` under an ASGI server.
    """
    prom = _prometheus()
    registry = registry if registry is not None else prom.REGISTRY

    async def app(scope: MutableMapping[str, Any], receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] == "http" and scope.get("path") == path:
            accept = ""
            for name, value in scope.get("headers") or ():
                if name.lower() == b"accept":
                    accept = value.decode("latin-1")
            encoder, content_type = prom.exposition.choose_encoder(accept)
            body = encoder(registry)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", content_type.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body if scope.get("method") != "HEAD" else b""})
            return
        if other_app is not None:
            await other_app(scope, receive, send)
            return
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "http":
            await send(
                {"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]}
            )
            await send({"type": "http.response.body", "body": b"Not Found"})
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    return app
