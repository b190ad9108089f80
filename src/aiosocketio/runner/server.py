"""Starting and stopping the built-in server: :func:`serve` inside a running loop, :func:`run` as a program.

Startup order: every app's ``startup()``, then the ASGI lifespan startup of ``other_app`` (``runner/lifespan.py``),
then listening. Shutdown order (``RunningServer.close``): stop listening, let every app close its sessions
(``app.shutdown()``, which sends Engine.IO/Socket.IO goodbyes over the still-open connections), close the
idle keep-alive connections, let requests in flight finish for up to ``shutdown_timeout`` seconds, then drop
whatever is left and wait for the handler tasks to end, so nothing is left pending on the loop; last, the
lifespan shutdown of ``other_app``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import ssl as ssl_module
from collections.abc import Callable, Sequence
from typing import Any

from ..web import WebApp
from .asgi_bridge import ASGIApp
from .http import HttpProtocol
from .lifespan import Lifespan, LifespanFailure
from .mount import MountedApp, MountedAsgiApp, normalize_root_path
from .state import (
    DEFAULT_KEEP_ALIVE_TIMEOUT,
    DEFAULT_MAX_BODY_BUFFER,
    DEFAULT_MAX_HEADER_SIZE,
    DEFAULT_MAX_HEADERS,
    DEFAULT_MAX_WRITE_BUFFER,
    DEFAULT_WS_CLOSE_TIMEOUT,
    Limits,
    ServerState,
)

__all__ = [
    "CannotListen",
    "LifespanFailure",
    "RunningServer",
    "listen_problem",
    "run",
    "serve",
    "ssl_context",
]

logger = logging.getLogger("aiosocketio.runner")


class RunningServer:
    """A listening server returned by :func:`serve`; ``await close()`` (or ``async with``) stops it."""

    def __init__(
        self,
        server: asyncio.Server,
        state: ServerState,
        *,
        shutdown_timeout: float,
        lifespan: Lifespan | None = None,
    ) -> None:
        self._server = server
        self._state = state
        self._lifespan = lifespan
        self._shutdown_timeout = shutdown_timeout
        self._closed: asyncio.Future[None] | None = None

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets (one per address the host resolved to)."""
        return tuple(self._server.sockets)

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def connection_count(self) -> int:
        """Open connections, HTTP and WebSocket."""
        return len(self._state.connections)

    async def close(self) -> None:
        """Stop gracefully (see the module docstring). Calling it again waits for the first call."""
        if self._closed is not None:
            await asyncio.shield(self._closed)
            return
        self._closed = self._state.loop.create_future()
        try:
            await self._shutdown()
        finally:
            self._closed.set_result(None)

    async def _shutdown(self) -> None:
        state = self._state
        self._server.close()
        state.shutting_down = True
        for app in state.apps:
            try:
                await app.shutdown()
            except Exception:
                logger.exception("error while shutting down %r", app)
        for connection in list(state.connections):
            connection.begin_shutdown()
        loop = state.loop
        deadline = loop.time() + self._shutdown_timeout
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._shutdown_timeout):
                await state.wait_connections_closed()
        if state.tasks:
            await asyncio.wait(list(state.tasks), timeout=max(0.0, deadline - loop.time()))
        for connection in list(state.connections):
            connection.abort()
        tasks = list(state.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        # Let the transports run connection_lost before the loop may be closed.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await state.wait_connections_closed()
        await self._server.wait_closed()
        if self._lifespan is not None:
            await self._lifespan.shutdown()

    async def __aenter__(self) -> RunningServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def serve(
    apps: Sequence[WebApp],
    *,
    host: str | Sequence[str] | None = "127.0.0.1",
    port: int = 3000,
    other_app: ASGIApp | None = None,
    ssl: ssl_module.SSLContext | None = None,
    ssl_certfile: str | os.PathLike[str] | None = None,
    ssl_keyfile: str | os.PathLike[str] | None = None,
    ssl_keyfile_password: str | None = None,
    lifespan: str = "auto",
    backlog: int = 2048,
    reuse_port: bool = False,
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
    max_headers: int = DEFAULT_MAX_HEADERS,
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT,
    max_body_buffer: int = DEFAULT_MAX_BODY_BUFFER,
    max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER,
    ws_close_timeout: float = DEFAULT_WS_CLOSE_TIMEOUT,
    shutdown_timeout: float = 5.0,
    root_path: str = "",
) -> RunningServer:
    """Listen on ``host:port`` and serve ``apps`` (first whose ``handles(path)`` is true) plus ``other_app``.

    ``port=0`` picks a free port (read it from ``.port``). The limits are documented on
    :class:`~aiosocketio.runner.state.Limits`; ``shutdown_timeout`` bounds how long :meth:`RunningServer.close`
    waits for requests in flight. ``root_path`` (``"/chat"``) serves everything under that prefix
    (:mod:`aiosocketio.runner.mount`). When the address cannot be had (``OSError``, ``socket.gaierror``), the
    apps started here are shut down again before the error is raised.

    TLS: ``ssl`` (an :class:`ssl.SSLContext`), or ``ssl_certfile`` (PEM, the chain after the certificate) with
    ``ssl_keyfile`` (when the key is not in the same file) and ``ssl_keyfile_password``.

    ``lifespan``: whether to run the ASGI lifespan of ``other_app``: ``"auto"`` (the default, as uvicorn's: an
    app that does not speak it is served without), ``"on"`` (such an app is an error) or ``"off"``. A startup
    that fails raises :class:`LifespanFailure`; what it stored in ``scope["state"]`` reaches every request's
    scope.
    """
    if lifespan not in ("auto", "on", "off"):
        raise ValueError(f"lifespan is 'auto', 'on' or 'off', got {lifespan!r}")
    if ssl_certfile is not None:
        if ssl is not None:
            raise ValueError("pass either ssl (an SSLContext) or ssl_certfile, not both")
        ssl = ssl_context(ssl_certfile, ssl_keyfile, ssl_keyfile_password)
    elif ssl_keyfile is not None:
        raise ValueError("ssl_keyfile needs ssl_certfile")
    loop = asyncio.get_running_loop()
    prefix = normalize_root_path(root_path)
    if prefix:
        apps = [MountedApp(app, prefix) for app in apps]
        if other_app is not None:
            other_app = MountedAsgiApp(other_app, prefix)
    limits = Limits(
        max_header_size=max_header_size,
        max_headers=max_headers,
        keep_alive_timeout=keep_alive_timeout,
        max_body_buffer=max_body_buffer,
        max_write_buffer=max_write_buffer,
        ws_close_timeout=ws_close_timeout,
    )
    state = ServerState(apps, other_app=other_app, limits=limits, secure=ssl is not None, loop=loop)
    for app in apps:
        await app.startup()  # e.g. cluster adapters subscribe before the first client arrives

    def factory() -> HttpProtocol:
        return HttpProtocol(state)

    running_lifespan: Lifespan | None = None
    try:
        if other_app is not None and lifespan != "off":
            running_lifespan = Lifespan(other_app, lifespan)
            await running_lifespan.startup()
            state.asgi_state = running_lifespan.state
        server = await loop.create_server(
            factory, host, port, ssl=ssl, backlog=backlog, reuse_address=True, reuse_port=reuse_port or None
        )
    except BaseException as exc:
        if running_lifespan is not None and not isinstance(exc, LifespanFailure):
            await running_lifespan.shutdown()
        for app in apps:  # what startup() connected (a cluster adapter's bus) must not stay open
            try:
                await app.shutdown()
            except Exception:
                logger.exception("error while shutting down %r", app)
        raise
    return RunningServer(server, state, shutdown_timeout=shutdown_timeout, lifespan=running_lifespan)


def ssl_context(
    certfile: str | os.PathLike[str],
    keyfile: str | os.PathLike[str] | None = None,
    password: str | None = None,
) -> ssl_module.SSLContext:
    """A server-side TLS context from PEM files, with the library's secure defaults."""
    context = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile, password)
    return context


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


class CannotListen(Exception):
    """:func:`run` could not get its address (port in use, unknown host...); the message says why in one line."""


def _where(host: str | Sequence[str] | None, port: int) -> str:
    if host is None or host == "":
        return f"port {port} (every address)"
    if not isinstance(host, str):
        return ", ".join(_where(one, port) for one in host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen_problem(exc: OSError, host: str | Sequence[str] | None, port: int) -> str:
    """One line saying why ``host:port`` could not be listened on, from the error the loop raised."""
    where = _where(host, port)
    if isinstance(exc, socket.gaierror):
        return f"cannot listen on {where}: the host cannot be resolved ({exc.strerror or exc})"
    if exc.errno == errno.EADDRINUSE:
        return f"cannot listen on {where}: the address is already in use (is another server running there?)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: the host is not an address of this machine"
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need privileges)"
    if exc.errno:
        return f"cannot listen on {where}: {os.strerror(exc.errno)}"
    return f"cannot listen on {where}: {exc}"


def run(
    *apps: WebApp,
    host: str = "127.0.0.1",
    port: int = 3000,
    other_app: ASGIApp | None = None,
    log_level: int | str = "info",
    **options: Any,
) -> None:
    """Serve ``apps`` until SIGINT or SIGTERM, then close gracefully; uses uvloop when it is installed.

    ``options`` go to :func:`serve` (``ssl`` or ``ssl_certfile``/``ssl_keyfile``, ``lifespan``, limits,
    ``shutdown_timeout``, ``root_path``...). This is the function a program ends with, so a port in use, a host
    that cannot be listened on or a lifespan startup of ``other_app`` that fails ends the program as a
    command-line tool would: one line on stderr and exit status 1 (``SystemExit``), no traceback of ours.
    """
    level = logging.getLevelName(log_level.upper()) if isinstance(log_level, str) else log_level
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiosocketio").setLevel(level)
    loop_factory = _loop_factory()
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(
                _serve_until_signal(apps, host, port, other_app, uvloop=loop_factory is not None, **options)
            )
    except (CannotListen, LifespanFailure) as exc:
        raise SystemExit(f"aiosocketio: error: {exc}") from None


async def _serve_until_signal(
    apps: Sequence[WebApp], host: str, port: int, other_app: ASGIApp | None, *, uvloop: bool, **options: Any
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    try:
        try:
            server = await serve(apps, host=host, port=port, other_app=other_app, **options)
        except OSError as exc:
            raise CannotListen(listen_problem(exc, host, port)) from exc
        scheme = "https" if options.get("ssl") or options.get("ssl_certfile") else "http"
        prefix = normalize_root_path(options.get("root_path", ""))
        logger.info(
            "serving on %s://%s:%d%s%s", scheme, host, server.port, prefix, " (uvloop)" if uvloop else ""
        )
        try:
            await stop.wait()
            logger.info("shutting down")
        finally:
            await server.close()
    finally:
        for sig in installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
