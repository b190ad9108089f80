"""The pytest plugin of aiosocketio (registered through the ``pytest11`` entry point): fixtures for testing an
application with :mod:`aiosocketio.testing` (docs/testing.md).

* ``aiosocketio_clock`` - a fresh :class:`~aiosocketio.testing.FakeClock` (give it to ``Server(clock=...)``);
* ``aiosocketio_client`` - ``await aiosocketio_client(io, auth=...)`` connects a
  :class:`~aiosocketio.testing.TestClient` (same arguments); every client still connected at the end of the
  test is disconnected;
* ``aiosocketio_cluster`` - an :class:`~aiosocketio.testing.InMemoryCluster`; the servers made by its
  ``server()`` are closed at the end of the test.

The asynchronous fixtures run on pytest-asyncio (any mode: they are declared with ``pytest_asyncio.fixture``);
without it they say so instead of failing obscurely. Loading this plugin imports nothing but pytest.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

from aiosocketio.testing.clock import FakeClock

if TYPE_CHECKING:
    from aiosocketio.server import Server
    from aiosocketio.testing.client import TestClient
    from aiosocketio.testing.cluster import InMemoryCluster

__all__ = ["aiosocketio_client", "aiosocketio_clock", "aiosocketio_cluster"]

ClientFactory = Callable[..., Awaitable["TestClient"]]
"""What ``aiosocketio_client`` gives: ``await factory(io, namespace="/", **options)`` makes a connected client."""

HAVE_PYTEST_ASYNCIO = importlib.util.find_spec("pytest_asyncio") is not None
"""Whether pytest-asyncio is there to run the asynchronous fixtures."""


@pytest.fixture
def aiosocketio_clock() -> FakeClock:
    """A clock that moves only by ``await aiosocketio_clock.advance(seconds)``."""
    return FakeClock()


async def _clients() -> AsyncIterator[ClientFactory]:
    """The ``aiosocketio_client`` fixture: ``await aiosocketio_client(io, namespace, **options)`` connects a
    :class:`~aiosocketio.testing.TestClient`; every client made is disconnected when the test ends."""
    from aiosocketio.testing.client import TestClient

    made: list[TestClient] = []

    async def connect(io: Server, namespace: str | None = "/", **options: Any) -> TestClient:
        client = TestClient(io, namespace, **options)
        made.append(client)
        await client.connect()
        return client

    yield connect
    for client in made:
        await client.disconnect()


async def _cluster() -> AsyncIterator[InMemoryCluster]:
    """The ``aiosocketio_cluster`` fixture: an :class:`~aiosocketio.testing.InMemoryCluster` whose servers are
    closed when the test ends."""
    from aiosocketio.testing.cluster import InMemoryCluster

    cluster = InMemoryCluster()
    yield cluster
    await cluster.close()


if HAVE_PYTEST_ASYNCIO:
    import pytest_asyncio

    aiosocketio_client = pytest_asyncio.fixture(_clients, name="aiosocketio_client")
    aiosocketio_cluster = pytest_asyncio.fixture(_cluster, name="aiosocketio_cluster")
else:  # pragma: no cover

    @pytest.fixture(name="aiosocketio_client")
    def aiosocketio_client() -> None:
        """Connects in-process test clients (``await aiosocketio_client(io)``); needs pytest-asyncio.

        Raises:
            RuntimeError: pytest-asyncio is not installed.
        """
        raise RuntimeError(
            "the aiosocketio_client fixture runs on pytest-asyncio: pip install pytest-asyncio"
        )

    @pytest.fixture(name="aiosocketio_cluster")
    def aiosocketio_cluster() -> None:
        """An in-memory cluster whose servers are closed after the test; needs pytest-asyncio.

        Raises:
            RuntimeError: pytest-asyncio is not installed.
        """
        raise RuntimeError(
            "the aiosocketio_cluster fixture runs on pytest-asyncio: pip install pytest-asyncio"
        )
