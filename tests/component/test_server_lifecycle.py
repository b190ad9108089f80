"""When a ``Server`` starts and stops its adapters: at start (the front-end's ``startup()``, or the first request
when the front-end has no such call), at ``shutdown()``, and again at the next ``startup()`` when the same server
is served once more. A request still in flight after the shutdown does not start them again.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

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


# -- the ASGI lifespan, with an other_app that does or does not speak it -------------------------------------------


async def run_lifespan(app: object) -> list[str]:
    """Drive ``app`` through startup and shutdown as an ASGI server does; returns the types of what it answered."""
    to_app: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    answers: list[str] = []

    async def receive() -> dict[str, object]:
        return await to_app.get()

    async def send(message: dict[str, object]) -> None:
        answers.append(str(message["type"]))

    await to_app.put({"type": "lifespan.startup"})
    await to_app.put({"type": "lifespan.shutdown"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    await asyncio.wait_for(app(scope, receive, send), 2)  # type: ignore[operator]
    return answers


async def refuses_lifespan(scope: dict[str, object], receive: object, send: object) -> None:
    """As Django's ASGI handler does: only HTTP is served, anything else raises before reading a message."""
    raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")


async def reads_startup_then_returns(scope: dict[str, object], receive: object, send: object) -> None:
    """An app that looks at the first message and leaves without answering it."""
    await receive()  # type: ignore[operator]


async def speaks_lifespan(scope: dict[str, object], receive: object, send: object) -> None:
    while True:
        message = await receive()  # type: ignore[operator]
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})  # type: ignore[operator]
        else:
            await send({"type": "lifespan.shutdown.complete"})  # type: ignore[operator]
            return


async def test_our_startup_and_shutdown_run_whatever_other_app_does_with_lifespan() -> None:
    for other_app in (None, refuses_lifespan, reads_startup_then_returns, speaks_lifespan):
        LOG.clear()
        io = aiosocketio.Server(adapter=RecordingAdapter)
        answers = await run_lifespan(io.asgi_app(other_app=other_app))
        assert answers == ["lifespan.startup.complete", "lifespan.shutdown.complete"], other_app
        assert LOG == [("init", "/"), ("close", "/")], other_app


async def test_django_as_other_app_does_not_cost_our_lifespan() -> None:
    """The real thing: Django's ASGI handler refuses the lifespan scope; our adapters still start and stop."""
    from django.conf import settings

    if not settings.configured:
        settings.configure(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"], SECRET_KEY="test")
    from django.core.asgi import get_asgi_application

    LOG.clear()
    io = aiosocketio.Server(adapter=RecordingAdapter)
    answers = await run_lifespan(io.asgi_app(other_app=get_asgi_application()))
    assert answers == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert LOG == [("init", "/"), ("close", "/")]


urlpatterns: list[object] = []  # Django's ROOT_URLCONF above


# -- an answer the ASGI server can no longer send ---------------------------------------------------------------


async def ask(app: object, send_error: Exception) -> None:
    """A handshake GET through ``app`` whose ASGI server fails every ``send``, as it does once the client is gone."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/socket.io/",
        "raw_path": b"/socket.io/",
        "query_string": b"EIO=4&transport=polling",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 3000),
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        raise send_error

    await asyncio.wait_for(app(scope, receive, send), 2)  # type: ignore[operator]


@pytest.mark.parametrize(
    "error",
    [
        OSError("the ASGI spec's way of saying the client left"),
        RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler is closed"),
    ],
)
async def test_an_answer_for_a_client_that_left_is_dropped_quietly(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    """What uvicorn on uvloop does to a connection it closed itself (the wire fuzz found it): the send fails."""
    io = aiosocketio.Server()
    await ask(io.asgi_app(), error)  # raises nothing
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    await io.close()


async def test_an_asgi_misuse_stays_loud() -> None:
    io = aiosocketio.Server()
    with pytest.raises(RuntimeError, match="Unexpected ASGI message"):
        await ask(io.asgi_app(), RuntimeError("Unexpected ASGI message 'http.response.start' sent"))
    await io.close()
