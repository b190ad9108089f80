"""A small event emitter for the public ``on`` / ``once`` / ``off`` API of engine and server objects.

Listeners may be plain functions or coroutine functions. A plain listener runs inline; a coroutine runs as a
task of its own (:func:`start`), so that everything asyncio offers works in it from its first line:
``asyncio.current_task()``, ``asyncio.timeout()``, libraries that need a task (aiohttp's timeouts), and context
variables that stay the handler's own. Handlers start in the order their events arrived. On Python 3.12+ the task
starts eagerly (it runs at once, and a handler that never suspends is finished before ``start`` returns); on 3.11
it starts on the next loop turn. An exception in a listener is logged and never reaches the connection that
triggered it.

:func:`step` is the eager start without a task, for the library's own coroutines that run no application code.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Callable, Coroutine, Generator
from types import CoroutineType
from typing import Any, TypeVar, overload

logger = logging.getLogger("aiosocketio")

Listener = Callable[..., Any]
F = TypeVar("F", bound=Listener)

_background_tasks: set[asyncio.Task[Any]] = set()


def _log_task_error(task: asyncio.Task[Any]) -> None:
    _background_tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        logger.error(
            "error in an event handler", exc_info=(type(exc), exc, exc.__traceback__) if exc else None
        )


def spawn(coro: Any) -> asyncio.Task[Any]:
    """Run a coroutine in the background, keep a reference to it and log its failure."""
    task: asyncio.Task[Any] = asyncio.ensure_future(coro)
    _background_tasks.add(task)
    task.add_done_callback(_log_task_error)
    return task


class _Resume:
    """Awaitable that carries on a coroutine which :func:`start` has already stepped once.

    The wrapped generator hands each future the coroutine waits for to the task driving it, and passes results
    and exceptions (cancellation included) back into the coroutine: exactly what a task would have done.
    """

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro = coro
        self._first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self._coro
        pending = self._first
        while True:
            try:
                sent = yield pending
            except BaseException as exc:
                try:
                    pending = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    pending = coro.send(sent)
                except StopIteration as done:
                    return done.value


async def carry_on(coro: Coroutine[Any, Any, Any], first: Any) -> Any:
    """A coroutine (for a task) that goes on with ``coro``, which yielded ``first`` from its first step."""
    return await _Resume(coro, first)


_EAGER_TASKS = sys.version_info >= (3, 12)


def start(awaitable: Any) -> asyncio.Task[Any] | None:
    """Run application code (a handler's coroutine) as a task: eagerly where asyncio can (3.12+).

    Returns the task, or None when it already finished. Errors are logged, never raised.
    """
    if _EAGER_TASKS and inspect.iscoroutine(awaitable):
        task: asyncio.Task[Any] = asyncio.Task(  # type: ignore[call-arg,unused-ignore]
            awaitable, loop=asyncio.get_running_loop(), eager_start=True
        )
        if task.done():
            _log_task_error(task)
            return None
        _background_tasks.add(task)
        task.add_done_callback(_log_task_error)
        return task
    return spawn(awaitable)


def step(awaitable: Any) -> asyncio.Task[Any] | None:
    """Run one of the library's own coroutines now, up to its first suspension; a task carries on from there
    (returned), if needed. Not for application code: until it suspends, the coroutine runs in the caller's task
    (or none) and context. Errors are logged, never raised. Other awaitables are wrapped in a task.
    """
    if type(awaitable) is not CoroutineType and not inspect.iscoroutine(awaitable):
        return spawn(awaitable)
    try:
        first = awaitable.send(None)
    except StopIteration:
        return None
    except Exception:
        logger.exception("error in an event handler")
        return None
    return spawn(carry_on(awaitable, first))


_PLAIN_RESULTS = frozenset({type(None), bool, int, float, str, bytes, tuple, list, dict})


def is_awaitable(value: Any) -> bool:
    """``inspect.isawaitable`` with the common answers first: a handler's result is a coroutine or a plain value
    most of the time, and ``isawaitable`` takes a slow ABC check for the plain ones (0.5 us per event)."""
    kind = type(value)
    if kind is CoroutineType:
        return True
    if kind in _PLAIN_RESULTS:
        return False
    return inspect.isawaitable(value)


def call_listener(listener: Listener, *args: Any) -> None:
    """Call one listener with ``args``; a coroutine result is started eagerly."""
    try:
        result = listener(*args)
    except Exception:
        logger.exception("error in an event handler")
        return
    if is_awaitable(result):
        start(result)


class EventEmitter:
    """``on`` / ``once`` / ``off`` / ``emit`` with decorator support."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        # Tuples, replaced on every change: events fire far more often than listeners change, so emitting
        # iterates without a defensive copy, and one listener costs a 1-tuple instead of a list and its array
        # (every connection registers a few: about 160 bytes less per connection).
        self._listeners: dict[str, tuple[Listener, ...]] = {}

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...

    @overload
    def on(self, event: str, listener: F) -> F: ...

    def on(self, event: str, listener: F | None = None) -> F | Callable[[F], F]:
        """Register ``listener`` for ``event``; without a listener, return a decorator."""
        if listener is None:

            def decorator(fn: F) -> F:
                self._add_listener(event, fn)
                return fn

            return decorator
        self._add_listener(event, listener)
        return listener

    def once(self, event: str, listener: Listener) -> Listener:
        """Register ``listener`` for the next ``event`` only."""

        def wrapper(*args: Any) -> Any:
            self.off(event, wrapper)
            return listener(*args)

        wrapper.__wrapped__ = listener  # type: ignore[attr-defined]
        self._add_listener(event, wrapper)
        return listener

    def prepend_listener(self, event: str, listener: Listener) -> Listener:
        """Register ``listener`` for ``event`` before the listeners it already has (Node's ``prependListener``):
        for instrumentation that must see a socket before the application's handlers do."""
        self._add_listener(event, listener)  # the checks of the subclass, then moved to the front
        *others, added = self._listeners[event]
        self._listeners[event] = (added, *others)
        return listener

    def off(self, event: str | None = None, listener: Listener | None = None) -> None:
        """Remove one listener, every listener of ``event``, or every listener at all."""
        if event is None:
            self._listeners.clear()
            return
        if listener is None:
            self._listeners.pop(event, None)
            return
        listeners = self._listeners.get(event)
        if not listeners:
            return
        for i, registered in enumerate(listeners):
            if registered is listener or getattr(registered, "__wrapped__", None) is listener:
                remaining = listeners[:i] + listeners[i + 1 :]
                if remaining:
                    self._listeners[event] = remaining
                else:
                    del self._listeners[event]
                return

    def listeners(self, event: str) -> list[Listener]:
        """The listeners of ``event``, in call order."""
        return list(self._listeners.get(event, ()))

    def has_listeners(self, event: str) -> bool:
        """Whether ``event`` has at least one listener (cheaper than ``listeners(event)``).

        Args:
            event: The event's name.
        """
        return event in self._listeners

    def _add_listener(self, event: str, listener: Listener) -> None:
        if not isinstance(event, str):
            raise TypeError(
                f"an event name to listen to is a str, not {type(event).__name__} "
                "(an event a client names with a number reaches the listener of that number as a str)"
            )
        if not callable(listener):
            raise TypeError(f"a listener must be callable, got {type(listener).__name__}")
        self._listeners[event] = (*self._listeners.get(event, ()), listener)

    def emit_event(self, event: str, *args: Any) -> bool:
        """Call every listener of ``event``; returns whether there was any."""
        listeners = self._listeners.get(event)
        if not listeners:
            return False
        for listener in listeners:  # a tuple: listeners added or removed meanwhile take effect next time
            # call_listener() inlined: every connection emits a few events (a frame and a call less each)
            try:
                result = listener(*args)
            except Exception:
                logger.exception("error in an event handler")
                continue
            if result is not None and is_awaitable(result):
                start(result)
        return True
