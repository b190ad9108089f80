"""When a ``Server`` starts and stops its adapters: at start (the front-end's ``startup()``, or the first request
when the front-end has no such call), at ``shutdown()``, and again at the next ``startup()`` when the same server
is served once more. A request still in flight after the shutdown does not start them again.
"""

from __future__ import annotations

import asyncio

import aiosocketio
from aiosocketio.adapters.memory import InMemoryAdapter
from aiosocketio.namespace import Namespace
from aiosocketio.web import Headers, Request

LOG: list[tuple[str, str]] = []


class RecordingAdapter(InMemoryAdapter):
    __slots__ = ()

    def __init__(self, nsp: Namespace) -> None:
        super().__init__(nsp)

    async def init(self) -> None:
        LOG.append(("init", self.nsp.name))

    async def close(self) -> None:
        LOG.append(("close", self.nsp.name))


async def handshake(io: aiosocketio.Server) -> int:
    request = Request("GET", "/socket.io/", "EIO=4&transport=polling", Headers())
    response = await asyncio.wait_for(io.handle_http(request), 2)
    return response.status


async def test_the_adapters_start_with_the_first_request_stop_at_shutdown_and_start_again() -> None:
    LOG.clear()
    io = aiosocketio.Server(adapter=RecordingAdapter)
    io.of("/x")
    assert LOG == []  # building the server starts nothing
    assert await handshake(io) == 200  # no startup() from the front-end: the first request does it
    assert LOG == [("init", "/"), ("init", "/x")]
    await io.shutdown()
    assert LOG[2:] == [("close", "/"), ("close", "/x")]
    assert await handshake(io) == 200  # a late request is answered, but does not restart the adapters
    assert len(LOG) == 4
    await io.startup()  # served again
    assert LOG[4:] == [("init", "/"), ("init", "/x")]
    await io.close()
    assert LOG[6:] == [("close", "/"), ("close", "/x")]
