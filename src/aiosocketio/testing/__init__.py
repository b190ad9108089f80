"""Testing an application built on aiosocketio, in process and without sleeping (docs/testing.md).

* :class:`TestClient` - a client that reaches a ``Server`` through its real Engine.IO and Socket.IO layers,
  with no socket;
* :class:`FakeClock` - a clock whose time moves only by ``await clock.advance(seconds)``: give it to the server
  (``Server(clock=clock)``) and heartbeats, connect, ack and recovery timeouts follow it;
* :class:`InMemoryCluster` - several servers joined by an in-memory bus (needs ``msgpack``);
* a pytest plugin (:mod:`aiosocketio.testing.pytest_plugin`, loaded automatically) with the fixtures
  ``aiosocketio_client``, ``aiosocketio_clock`` and ``aiosocketio_cluster``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiosocketio.exceptions import AckTimeoutError, ConnectError
from aiosocketio.testing.client import InProcessHandshake, InProcessWebSocket, TestClient
from aiosocketio.testing.clock import FakeClock, FakeTimer, settle

if TYPE_CHECKING:
    from aiosocketio.testing.cluster import InMemoryCluster, InMemoryClusterAdapter

__all__ = [
    "AckTimeoutError",
    "ConnectError",
    "FakeClock",
    "FakeTimer",
    "InMemoryCluster",
    "InMemoryClusterAdapter",
    "InProcessHandshake",
    "InProcessWebSocket",
    "TestClient",
    "settle",
]


def __getattr__(name: str) -> Any:
    # The cluster needs msgpack (an extra): imported on first use only.
    if name in ("InMemoryCluster", "InMemoryClusterAdapter"):
        from aiosocketio.testing import cluster

        value = getattr(cluster, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aiosocketio.testing' has no attribute {name!r}")
