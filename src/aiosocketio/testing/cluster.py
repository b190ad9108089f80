"""``InMemoryCluster``: several ``Server``\\ s of one process joined by an in-memory message bus.

Each server gets an :class:`InMemoryClusterAdapter` (``Server(adapter=cluster.adapter())``), a
:class:`~aiosocketio.adapters.cluster.ClusterAdapter` whose bus is a list in memory: every message is encoded as
the sharded Redis adapter encodes it and decoded again on each receiver (so what would not cross a real bus does
not cross this one either), then delivered on a later loop turn, in order. Broadcasts across servers, rooms of
remote sockets, ``fetch_sockets`` and ``server_side_emit`` with acks therefore run the real cluster logic,
without Redis. Needs the ``msgpack`` package (the cluster messages are msgpack, as on a real bus).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiosocketio.adapters import messages as wire
from aiosocketio.adapters.cluster import ClusterAdapter

if TYPE_CHECKING:
    from aiosocketio.adapters._types import AdapterNamespace
    from aiosocketio.server import Server

__all__ = ["InMemoryCluster", "InMemoryClusterAdapter"]


class InMemoryCluster:
    """The bus: which adapters (one per server and namespace) are on it, and the messages it carried.

    Several servers in one process, joined as a cluster without Redis: ``cluster.server()`` makes each one.

    Args:
        requests_timeout: The default ``requests_timeout`` of the adapters it makes, in seconds.
    """

    __test__ = False

    def __init__(self, *, requests_timeout: float = 5.0) -> None:
        self.requests_timeout = requests_timeout
        """The ``requests_timeout`` of the adapters it makes when :meth:`adapter` is given none."""
        self.adapters: list[InMemoryClusterAdapter] = []
        """The adapters on the bus now, every namespace together."""
        self.servers: list[Server] = []
        """The servers made by :meth:`server`, which :meth:`close` closes."""
        self.log: list[wire.ClusterMessage] = []
        """Every message published, in order (for tests of the cluster traffic itself)."""

    def adapter(self, *, requests_timeout: float | None = None) -> Callable[[Any], InMemoryClusterAdapter]:
        """The ``adapter=`` option of a ``Server`` on this bus."""
        timeout = self.requests_timeout if requests_timeout is None else requests_timeout

        def create(nsp: AdapterNamespace) -> InMemoryClusterAdapter:
            return InMemoryClusterAdapter(nsp, self, requests_timeout=timeout)

        return create

    def server(self, **options: Any) -> Server:
        """A new ``Server(adapter=self.adapter(), **options)`` on this bus."""
        from aiosocketio.server import Server

        io = Server(adapter=self.adapter(), **options)
        self.servers.append(io)
        return io

    async def close(self) -> None:
        """Close the servers made by :meth:`server` (their clients are disconnected, their adapters leave)."""
        for io in self.servers:
            await io.close()
        self.servers.clear()

    def members(self, nsp: str) -> list[InMemoryClusterAdapter]:
        """The adapters of namespace ``nsp`` now on the bus."""
        return [adapter for adapter in self.adapters if adapter.nsp.name == nsp]

    def publish(self, message: wire.ClusterMessage, to: str | None = None) -> None:
        """Carry ``message`` to every adapter of its namespace (``to``: only the one whose uid that is)."""
        self.log.append(message)
        payload = wire.encode_sharded(message)
        loop = asyncio.get_running_loop()
        for adapter in self.members(message.nsp):
            if to is None or adapter.uid == to:
                loop.call_soon(adapter.receive, payload)


class InMemoryClusterAdapter(ClusterAdapter):
    """A cluster adapter on an :class:`InMemoryCluster`: on the bus from its creation until it is closed (and
    again once the server serves anew).

    Args:
        nsp: The namespace it serves.
        bus: The cluster it joins.
        requests_timeout: Seconds a request waits for the other servers when the caller gave no timeout.
    """

    __slots__ = ("bus",)

    def __init__(self, nsp: AdapterNamespace, bus: InMemoryCluster, *, requests_timeout: float = 5.0) -> None:
        super().__init__(nsp, requests_timeout=requests_timeout)
        self.bus = bus
        """The cluster this adapter is on."""
        bus.adapters.append(self)

    async def init(self) -> None:
        """Be on the bus again (after a :meth:`close`, when the server serves anew)."""
        await super().init()
        if self not in self.bus.adapters:
            self.bus.adapters.append(self)

    async def close(self) -> None:
        """Leave the bus: the other servers stop counting this one and it receives nothing more."""
        await super().close()
        if self in self.bus.adapters:
            self.bus.adapters.remove(self)

    def receive(self, payload: str | bytes) -> None:
        """A message the bus carried here."""
        if self in self.bus.adapters:
            self.on_message(wire.decode_cluster(payload, wire.NOTEPACK))

    async def _do_publish(self, message: wire.ClusterMessage) -> str | None:
        self.bus.publish(message)
        return None

    async def _do_publish_response(self, requester: str, message: wire.ClusterMessage) -> None:
        self.bus.publish(message, to=requester)

    async def server_count(self) -> int:
        """The servers whose adapter for this namespace is on the bus, this one included."""
        return len(self.bus.members(self.nsp.name))
