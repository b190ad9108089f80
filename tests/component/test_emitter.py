"""The event emitter, how coroutine handlers run (``start``) and the eager start of the library's own
coroutines (``step``)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

import pytest

from aiosocketio._emitter import EventEmitter, start, step


async def test_a_library_coroutine_that_never_suspends_needs_no_task() -> None:
    ran: list[str] = []

    async def quick() -> int:
        ran.append("quick")
        return 1

    assert step(quick()) is None
    assert ran == ["quick"]  # ran synchronously, before step() returned


async def test_a_suspending_library_coroutine_runs_at_once_then_carries_on_in_a_task() -> None:
    order: list[str] = []

    async def slow() -> int:
        order.append("start")
        await asyncio.sleep(0.01)
        order.append("end")
        return 2

    task = step(slow())
    order.append("returned")
    assert task is not None
    assert await task == 2
    assert order == ["start", "returned", "end"]


async def test_a_handler_runs_in_a_task_of_its_own_from_its_first_line() -> None:
    """``asyncio.timeout()`` and libraries that need the current task (aiohttp) work in a handler at once."""
    seen: list[object] = []
    done = asyncio.Event()

    async def handler() -> None:
        seen.append(asyncio.current_task())
        async with asyncio.timeout(1):
            await asyncio.sleep(0)
        done.set()

    start(handler())
    await asyncio.wait_for(done.wait(), 1)
    assert seen[0] is not None
    assert seen[0] is not asyncio.current_task()


async def test_a_handler_s_context_variables_stay_its_own() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[str] = []

    async def handler(value: str) -> None:
        seen.append(var.get())
        var.set(value)

    start(handler("first"))
    start(handler("second"))
    await asyncio.sleep(0.01)
    assert seen == ["unset", "unset"]
    assert var.get() == "unset"


@pytest.mark.parametrize("run", [start, step])
async def test_cancellation_reaches_the_coroutine(run: Any) -> None:
    seen: list[str] = []

    async def waits() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = run(waits())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]


@pytest.mark.parametrize("run", [start, step])
async def test_errors_are_logged_not_raised(caplog: pytest.LogCaptureFixture, run: Any) -> None:
    async def fails_now() -> None:
        raise RuntimeError("now")

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("later")

    with caplog.at_level(logging.ERROR, logger="aiosocketio"):
        run(fails_now())
        run(fails_later())
        await asyncio.sleep(0.01)
    messages = [r.exc_info[1].args[0] for r in caplog.records if r.exc_info and r.exc_info[1]]
    assert messages == ["now", "later"]


async def test_handlers_start_in_event_order() -> None:
    emitter = EventEmitter()
    order: list[int] = []

    async def handler(n: int) -> None:
        order.append(n)
        await asyncio.sleep(0)

    emitter.on("x", handler)
    for n in range(5):
        emitter.emit_event("x", n)
    await asyncio.sleep(0.01)
    assert order == [0, 1, 2, 3, 4]


def test_on_once_off_and_decorator() -> None:
    emitter = EventEmitter()
    calls: list[str] = []

    @emitter.on("a")
    def first(value: str) -> None:
        calls.append("first:" + value)

    emitter.once("a", lambda value: calls.append("once:" + value))
    emitter.emit_event("a", "1")
    emitter.emit_event("a", "2")
    emitter.off("a", first)
    assert not emitter.emit_event("a", "3")
    assert calls == ["first:1", "once:1", "first:2"]
    with pytest.raises(TypeError, match="callable"):
        emitter.on("a", "not a function")  # type: ignore[call-overload]


def test_prepend_listener_goes_first_and_keeps_the_checks() -> None:
    import aiosocketio

    calls: list[str] = []
    io = aiosocketio.Server()
    nsp = io.of("/x")
    nsp.on("connection", lambda socket: calls.append("app"))
    nsp.prepend_listener("connection", lambda socket: calls.append("instrumentation"))
    nsp.emit_event("connection", object())
    assert calls == ["instrumentation", "app"]
    with pytest.raises(TypeError, match="called with one argument"):
        nsp.prepend_listener("connection", lambda: None)  # the namespace's own check still applies
    assert len(nsp.listeners("connection")) == 2
