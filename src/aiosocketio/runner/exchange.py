"""One HTTP request as the runner holds it while it is answered: its head, its body as it arrives, and the state of
its answer."""

from __future__ import annotations

import asyncio

__all__ = ["Exchange"]


class Exchange:
    """One request and the state of its answer. Bodies are buffered as chunks until someone reads them."""

    __slots__ = (
        "answered",
        "body_complete",
        "buffered",
        "chunks",
        "continue_sent",
        "disconnected",
        "error",
        "headers",
        "http_version",
        "keep_alive",
        "method",
        "path",
        "query",
        "raw_path",
        "reading",
        "received",
        "upgrade",
        "upgrade_tail",
        "waiter",
    )

    def __init__(
        self,
        method: str = "GET",
        path: str = "/",
        raw_path: bytes = b"/",
        query: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None,
        http_version: str = "1.1",
        keep_alive: bool = False,
    ) -> None:
        # The request line and head come in as arguments: one exchange per request, so no field is set twice.
        self.method = method
        self.path = path
        self.raw_path = raw_path
        self.query = query
        self.headers = headers if headers is not None else []
        self.http_version = http_version
        self.keep_alive = keep_alive
        self.upgrade = False
        self.upgrade_tail = b""
        self.chunks: list[bytes] = []
        self.buffered = 0  # body bytes held in ``chunks``
        self.received = 0  # body bytes received in all
        self.body_complete = False
        self.reading = False  # someone is waiting for the body
        self.continue_sent = False
        self.waiter: asyncio.Future[None] | None = None
        self.disconnected = False
        self.answered = False
        self.error = 0  # an HTTP status to answer with at once (bad request, head too large)

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header, ``name`` in lower case (only for rarely needed headers). The parser
        stores names in lower case already (``HttpProtocol.on_header``), so they are compared as they are."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    async def wait(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait for more body, its end, the answer or a disconnect. Several readers may wait at once
        (an ASGI app listening for disconnect while reading), so the future is shielded: cancelling
        one reader must not cancel the wait of the others."""
        waiter = self.waiter
        if waiter is None:
            waiter = self.waiter = loop.create_future()
        await asyncio.shield(waiter)

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)
