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
import inspect
import logging
import os
import signal
import socket
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

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
from .workers import (
    Supervisor,
    WorkerInlet,
    WorkerLink,
    bind_worker_listeners,
    engines_of,
    prepare_worker,
    workers_supported,
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


class Listener(Protocol):
    """Where connections come from: the ``asyncio.Server`` of a listening socket or, in a worker of
    ``workers=N``, the control socket the parent hands connections over (``runner/workers.py``)."""

    @property
    def sockets(self) -> Sequence[socket.socket]: ...

    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...


class RunningServer:
    """A listening server returned by :func:`serve`; ``await close()`` (or ``async with``) stops it."""

    def __init__(
        self,
        server: Listener,
        state: ServerState,
        *,
        shutdown_timeout: float,
        port: int | None = None,
        lifespan: Lifespan | None = None,
    ) -> None:
        self._server = server
        self._state = state
        self._lifespan = lifespan
        self._shutdown_timeout = shutdown_timeout
        self._port = port
        self._closed: asyncio.Future[None] | None = None

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets (one per address the host resolved to)."""
        return tuple(self._server.sockets)

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        if self._port is not None:
            return self._port
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
        # asyncio.Server.wait_closed() waits until every transport it accepted has detached; the connections were
        # all aborted above, so this is quick, unless a transport escaped the bookkeeping: then close() must not
        # hang for it (seen once in CI, not reproduced).
        try:
            async with asyncio.timeout(1.0):
                await self._server.wait_closed()
        except TimeoutError:
            logger.warning("a connection was still open when the server closed; not waiting for it")
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

    Args:
        apps: The ``Server`` and ``EngineServer`` objects to serve, each at its own path; their adapters are
            started here, before the first client can arrive.
        host: The address to listen on: a host name or IP address, several of them, or None (or ``""``) for
            every interface.
        port: The port; 0 picks a free one.
        other_app: An ASGI app that gets every request no app handles (a 404 without one).
        ssl: A server ``ssl.SSLContext`` to serve HTTPS and WSS.
        ssl_certfile: Instead of ``ssl``: a PEM file with the certificate, then its chain.
        ssl_keyfile: The private key's PEM file, when it is not in ``ssl_certfile``.
        ssl_keyfile_password: The key's password, when it has one.
        lifespan: Whether to run the ASGI lifespan of ``other_app``: ``"auto"`` (the default, as uvicorn's: an
            app that does not speak it is served without), ``"on"`` (such an app is an error) or ``"off"``.
            What its startup stored in ``scope["state"]`` reaches every request's scope.
        backlog: The listening socket's queue of connections not yet accepted.
        reuse_port: Let several processes listen on the same port (``SO_REUSEPORT``).
        max_header_size: Bytes of request line plus headers; more gets a 431 answer.
        max_headers: Header lines per request; more gets a 431 answer.
        keep_alive_timeout: Seconds an idle keep-alive connection stays open.
        max_body_buffer: Request body bytes held while nobody reads them, before reading pauses.
        max_write_buffer: Unsent bytes a WebSocket connection may hold while its peer does not read; past
            that the connection is dropped.
        ws_close_timeout: Seconds to wait for the client's WebSocket close frame after sending ours.
        shutdown_timeout: Seconds :meth:`RunningServer.close` lets requests in flight finish.
        root_path: A path prefix (``"/chat"``) under which everything is served.

    Returns:
        The listening server: its ``port``, ``sockets``, ``connection_count``, and ``await close()`` (or
        ``async with``).

    Raises:
        OSError: The address cannot be listened on (``socket.gaierror`` for an unknown host).
        LifespanFailure: The lifespan startup of ``other_app`` failed.
        TypeError: A ``root_path`` that is not a str.
        ValueError: A ``root_path`` that does not start with ``/``, a ``lifespan`` that is not one of the
            three, ``ssl`` together with ``ssl_certfile``.
    """
    _check_lifespan(lifespan)
    if ssl_certfile is not None:
        if ssl is not None:
            raise ValueError("pass either ssl (an SSLContext) or ssl_certfile, not both")
        ssl = ssl_context(ssl_certfile, ssl_keyfile, ssl_keyfile_password)
    elif ssl_keyfile is not None:
        raise ValueError("ssl_keyfile needs ssl_certfile")
    state = await _start_apps(
        apps,
        other_app=other_app,
        secure=ssl is not None,
        root_path=root_path,
        limits=Limits(
            max_header_size=max_header_size,
            max_headers=max_headers,
            keep_alive_timeout=keep_alive_timeout,
            max_body_buffer=max_body_buffer,
            max_write_buffer=max_write_buffer,
            ws_close_timeout=ws_close_timeout,
        ),
    )

    def factory() -> HttpProtocol:
        return HttpProtocol(state)

    running_lifespan: Lifespan | None = None
    try:
        running_lifespan = await _start_lifespan(state, lifespan)
        server = await state.loop.create_server(
            factory, host, port, ssl=ssl, backlog=backlog, reuse_address=True, reuse_port=reuse_port or None
        )
    except BaseException as exc:
        if running_lifespan is not None and not isinstance(exc, LifespanFailure):
            await running_lifespan.shutdown()
        await _shutdown_apps(
            state.apps
        )  # what startup() connected (a cluster adapter's bus) must not stay open
        raise
    return RunningServer(server, state, shutdown_timeout=shutdown_timeout, lifespan=running_lifespan)


def _check_lifespan(lifespan: str) -> None:
    if lifespan not in ("auto", "on", "off"):
        raise ValueError(f"lifespan is 'auto', 'on' or 'off', got {lifespan!r}")


async def _start_lifespan(state: ServerState, lifespan: str) -> Lifespan | None:
    """Run the lifespan startup of the server's ``other_app`` (unless ``"off"``); its state reaches every scope."""
    if state.other_app is None or lifespan == "off":
        return None
    running = Lifespan(state.other_app, lifespan)
    await running.startup()
    state.asgi_state = running.state
    return running


def ssl_context(
    certfile: str | os.PathLike[str],
    keyfile: str | os.PathLike[str] | None = None,
    password: str | None = None,
) -> ssl_module.SSLContext:
    """A server-side TLS context from PEM files, with the library's secure defaults."""
    context = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile, password)
    return context


async def _start_apps(
    apps: Sequence[WebApp], *, other_app: ASGIApp | None, secure: bool, root_path: str, limits: Limits
) -> ServerState:
    """The state every connection of a server shares, once the apps are started."""
    loop = asyncio.get_running_loop()
    prefix = normalize_root_path(root_path)
    if prefix:
        apps = [MountedApp(app, prefix) for app in apps]
        if other_app is not None:
            other_app = MountedAsgiApp(other_app, prefix)
    state = ServerState(apps, other_app=other_app, limits=limits, secure=secure, loop=loop)
    for app in apps:
        await app.startup()  # e.g. cluster adapters subscribe before the first client arrives
    return state


async def _shutdown_apps(apps: Sequence[WebApp]) -> None:
    for app in apps:
        try:
            await app.shutdown()
        except Exception:
            logger.exception("error while shutting down %r", app)


async def _serve_handed(
    apps: Sequence[WebApp],
    link: WorkerLink,
    listeners: Sequence[socket.socket],
    *,
    port: int,
    on_parent_gone: Callable[[], None],
    other_app: ASGIApp | None = None,
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
    max_headers: int = DEFAULT_MAX_HEADERS,
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT,
    max_body_buffer: int = DEFAULT_MAX_BODY_BUFFER,
    max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER,
    ws_close_timeout: float = DEFAULT_WS_CLOSE_TIMEOUT,
    shutdown_timeout: float = 5.0,
    root_path: str = "",
    backlog: int = 2048,
    reuse_port: bool = False,  # the parent's business (the workers' sockets always have SO_REUSEPORT)
    ssl: None = None,  # TLS is refused with workers (see _run_workers)
    ssl_certfile: None = None,
    ssl_keyfile: None = None,
    ssl_keyfile_password: None = None,
    lifespan: str = "auto",
) -> RunningServer:
    """:func:`serve` in a worker of ``workers=N``: it accepts from ``listeners``, its share of the port, and
    takes the connections the parent routes to it over ``link``."""
    engines = engines_of(apps)
    state = await _start_apps(
        apps,
        other_app=other_app,
        secure=False,
        root_path=root_path,
        limits=Limits(
            max_header_size=max_header_size,
            max_headers=max_headers,
            keep_alive_timeout=keep_alive_timeout,
            max_body_buffer=max_body_buffer,
            max_write_buffer=max_write_buffer,
            ws_close_timeout=ws_close_timeout,
        ),
    )
    try:
        running_lifespan = await _start_lifespan(state, lifespan)
    except BaseException:
        await _shutdown_apps(state.apps)
        raise
    link.watch(engines, state.loop)
    inlet = WorkerInlet(state, link, engines, on_parent_gone=on_parent_gone)
    try:
        await inlet.listen(listeners, backlog)
    except BaseException:  # not expected: the sockets were bound and listening in the parent
        inlet.close()
        if running_lifespan is not None:
            await running_lifespan.shutdown()
        await _shutdown_apps(state.apps)
        raise
    link.ready()
    return RunningServer(
        inlet, state, shutdown_timeout=shutdown_timeout, port=port, lifespan=running_lifespan
    )


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
    workers: int = 1,
    **options: Any,
) -> None:
    """Serve ``apps`` until SIGINT or SIGTERM, then close gracefully; uses uvloop when it is installed.

    ``options`` go to :func:`serve` (``ssl`` or ``ssl_certfile``/``ssl_keyfile``, ``lifespan``, limits,
    ``shutdown_timeout``, ``root_path``...). This is the function a program ends with, so a port in use, a host
    that cannot be listened on or a lifespan startup of ``other_app`` that fails ends the program as a
    command-line tool would: one line on stderr and exit status 1 (``SystemExit``), no traceback of ours.

    ``workers=N`` (N > 1) serves the port from N forked processes that look like one server to clients
    (:mod:`aiosocketio.runner.workers`; not with ``ssl``).

    Args:
        *apps: The ``Server`` and ``EngineServer`` objects to serve, each at its own path.
        host: The address to listen on (as :func:`serve` takes it).
        port: The port.
        other_app: An ASGI app that gets every request no app handles.
        log_level: The level of the ``aiosocketio`` logger (``"info"``, ``"debug"``... or a number); the
            root logger is set up at that level too when the program has not configured logging.
        workers: The number of processes that serve the port (1: this one alone).
        **options: More options of :func:`serve`.

    Raises:
        SystemExit: The address cannot be listened on, or this system cannot run ``workers``.
        ValueError: ``workers`` is not an int of at least 1, or ``workers=N`` with ``ssl``.
    """
    level = logging.getLevelName(log_level.upper()) if isinstance(log_level, str) else log_level
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiosocketio").setLevel(level)
    if type(workers) is not int or workers < 1:
        raise ValueError(f"workers is a number of processes, at least 1, got {workers!r}")
    if workers > 1:
        _run_workers(apps, host, port, other_app, workers, options)
        return
    loop_factory = _loop_factory()
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(
                _serve_until_signal(
                    lambda _: _listen(apps, host, port, other_app, options),
                    _serving_line(host, options, uvloop=loop_factory is not None),
                )
            )
    except (CannotListen, LifespanFailure) as exc:
        raise SystemExit(f"aiosocketio: error: {exc}") from None


async def _listen(
    apps: Sequence[WebApp], host: str, port: int, other_app: ASGIApp | None, options: dict[str, Any]
) -> RunningServer:
    try:
        return await serve(apps, host=host, port=port, other_app=other_app, **options)
    except OSError as exc:
        raise CannotListen(listen_problem(exc, host, port)) from exc


def _serving_line(host: str, options: dict[str, Any], *, uvloop: bool) -> Callable[[int], str]:
    """The log line saying where the server listens, given the port."""
    scheme = "https" if options.get("ssl") or options.get("ssl_certfile") else "http"
    prefix = normalize_root_path(options.get("root_path", ""))
    return lambda port: f"serving on {scheme}://{host}:{port}{prefix}{' (uvloop)' if uvloop else ''}"


def _run_workers(
    apps: Sequence[WebApp],
    host: str,
    port: int,
    other_app: ASGIApp | None,
    workers: int,
    options: dict[str, Any],
) -> None:
    """The parent of ``workers=N``: bind, fork, route until a signal (:class:`~.workers.Supervisor`)."""
    if options.get("ssl") is not None or options.get("ssl_certfile") is not None:
        raise ValueError(
            "workers=N cannot serve TLS (a polling request that reaches the wrong worker is handed over by its "
            "request line, which TLS hides): terminate TLS in a proxy in front, or serve with one worker"
        )
    if not workers_supported():
        raise SystemExit(
            "aiosocketio: error: workers=N needs os.fork, Unix sockets that pass descriptors and keep "
            "message boundaries, and SO_REUSEPORT (Linux); serve with one worker here"
        )
    # Mistakes fail here, once, rather than in every worker: an unknown option, a bad prefix.
    inspect.signature(serve).bind(apps, **options)
    _check_lifespan(options.get("lifespan", "auto"))
    normalize_root_path(options.get("root_path", ""))
    try:
        listeners = bind_worker_listeners(host, port, workers, backlog=options.get("backlog", 2048))
    except OSError as exc:
        raise SystemExit(f"aiosocketio: error: {listen_problem(exc, host, port)}") from None
    bound = listeners[0][0].getsockname()[1]
    loop_factory = _loop_factory()
    describe = _serving_line(host, options, uvloop=loop_factory is not None)

    def worker_main(
        index: int, inbound: socket.socket, outbound: socket.socket, own: list[socket.socket]
    ) -> int:
        # In the forked worker: adapters of its own (the hook for a cluster adapter is there), then a loop of
        # its own, as a single server.
        prepare_worker(apps)
        link = WorkerLink(inbound, outbound)
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(
                _serve_until_signal(
                    lambda stop: _serve_handed(
                        apps,
                        link,
                        own,
                        port=bound,
                        on_parent_gone=stop,
                        other_app=other_app,
                        **options,
                    ),
                    lambda _: f"worker {index} (pid {os.getpid()}) ready",
                    log_stop=False,
                )
            )
        link.leave()
        return 0

    logger.info("%s with %d workers (pid %d)", describe(bound), workers, os.getpid())
    status = Supervisor(
        listeners, workers, worker_main, shutdown_timeout=options.get("shutdown_timeout", 5.0)
    ).run()
    if status:
        raise SystemExit(status)


async def _serve_until_signal(
    start: Callable[[Callable[[], None]], Awaitable[RunningServer]],
    describe: Callable[[int], str],
    *,
    log_stop: bool = True,
) -> None:
    """Start a server with ``start(stop)`` (``stop()`` ends serving, as SIGINT/SIGTERM do), log
    ``describe(port)``, serve until stopped, then close gracefully."""
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
        server = await start(stop.set)
        logger.info("%s", describe(server.port))
        try:
            await stop.wait()
            if log_stop:
                logger.info("shutting down")
        finally:
            await server.close()
    finally:
        for sig in installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
