"""The ASGI lifespan protocol for the runner's ``other_app``: its startup runs before the server listens, its
shutdown after the last connection is gone, and what it stores in ``scope["state"]`` is handed (as a shallow
copy) to every HTTP and WebSocket scope.

An app may not speak lifespan at all: Django's handler raises on the scope, a bare ASGI function may return
without reading a message or fail an assertion on the scope's type. As uvicorn does by default ("auto"), such an
app is served anyway, without lifespan: only a failure the app *reports* (``lifespan.startup.failed``) stops the
server from starting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from .asgi_bridge import ASGIApp, ASGIMessage

__all__ = ["Lifespan", "LifespanFailure"]

logger = logging.getLogger("aiosocketio.runner")


class LifespanFailure(Exception):
    """``other_app`` could not start; the message says why in one line."""


class Lifespan:
    """One run of the lifespan scope of ``app``: :meth:`startup`, then :meth:`shutdown`.

    ``mode`` is ``"auto"`` (an exception from the app, unless it reported a failure first, means it does not
    speak lifespan: it is served without) or ``"on"`` (such an exception is a failure to start).
    """

    def __init__(self, app: ASGIApp, mode: str = "auto") -> None:
        self._app = app
        self._mode = mode
        #: The lifespan state: the same dict every request scope gets a copy of.
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[ASGIMessage] = asyncio.Queue()
        self._answer: asyncio.Future[ASGIMessage] | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._phase = "startup"  # what the app's answers may be about: startup, then shutdown
        self._failed = False  # it sent lifespan.startup.failed or lifespan.shutdown.failed
        self._error: BaseException | None = None  # what it raised, in "on" mode

    async def startup(self) -> None:
        """Run the app's startup; raises :class:`LifespanFailure` when it fails."""
        loop = asyncio.get_running_loop()
        self._answer = loop.create_future()
        self._task = loop.create_task(self._main())
        await self._inbox.put({"type": "lifespan.startup"})
        message = await self._wait_answer()
        if message is None:
            error = self._error
            if error is not None:
                raise LifespanFailure(f"the application's lifespan raised {_one_line(error)}")
            if self._mode == "on":
                raise LifespanFailure("the application does not support the ASGI lifespan (lifespan='on')")
            return
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self._started = True
            return
        await self._finish()
        if kind == "lifespan.startup.failed":
            raise LifespanFailure(f"the application failed to start{_summary(message)}")
        raise LifespanFailure(f"the application answered lifespan.startup with {kind!r}")

    async def shutdown(self) -> None:
        """Run the app's shutdown (when its startup completed); a failure is logged, not raised: the server
        stops anyway."""
        if not self._started or self._task is None:
            await self._finish()
            return
        self._started = False
        self._phase = "shutdown"
        self._answer = asyncio.get_running_loop().create_future()
        await self._inbox.put({"type": "lifespan.shutdown"})
        message = await self._wait_answer()
        if message is not None and message["type"] == "lifespan.shutdown.failed":
            logger.error("the application failed to shut down%s", _summary(message))
        await self._finish()

    async def _wait_answer(self) -> ASGIMessage | None:
        """The app's answer to the last message; None when it returned or raised instead."""
        answer = self._answer
        task = self._task
        assert answer is not None
        assert task is not None
        waiting: list[asyncio.Future[Any]] = [answer, task]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        return answer.result() if answer.done() else None

    async def _main(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await self._app(scope, self._receive, self._send)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._failed:
                return  # the failure it reported carries its own account (see _summary)
            if self._mode == "auto":
                # As uvicorn's default: Django raises on the scope, a plain ASGI function may assert its type.
                logger.info(
                    "the application does not support the ASGI lifespan (%s); serving it without", exc
                )
            else:
                logger.error("exception in the application's lifespan", exc_info=exc)
                self._error = exc

    async def _receive(self) -> ASGIMessage:
        return await self._inbox.get()

    async def _send(self, message: ASGIMessage) -> None:
        kind = str(message.get("type", ""))
        answer = self._answer
        expected = f"lifespan.{self._phase}."
        if answer is None or answer.done() or kind not in (expected + "complete", expected + "failed"):
            # Raised into the app, as uvicorn does: an app that answers every scope as HTTP then fails here,
            # and in "auto" mode it is served without a lifespan (see _main).
            raise RuntimeError(f"unexpected lifespan message {kind!r}")
        if kind.endswith(".failed"):
            self._failed = True
        answer.set_result(message)

    async def _finish(self) -> None:
        """Let the lifespan task end (an app waiting for a message it will not get is cancelled)."""
        task = self._task
        self._task = None
        if task is None:
            return
        if not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), 0.5)
            except TimeoutError:
                task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _summary(message: ASGIMessage) -> str:
    """``": <last line>"`` of the message of a ``*.failed`` answer, the whole of which goes to the log first.

    Starlette and FastAPI send the traceback of the exception as the message: its last line says what went
    wrong, the rest is for the log.
    """
    text = str(message.get("message", "") or "").strip()
    if not text:
        return ""
    lines = text.splitlines()
    if len(lines) > 1:
        logger.error("the application reports:\n%s", text)
    return ": " + lines[-1].strip()
