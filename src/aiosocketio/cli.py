"""The ``aiosocketio`` command: serve an application with the built-in server.

Usage::

    aiosocketio run MODULE:ATTRIBUTE [--host HOST] [--port PORT] [--log-level LEVEL] [--root-path PREFIX]
                                     [--workers N] [--ssl-certfile PEM [--ssl-keyfile PEM]]
                                     [--lifespan auto|on|off] [--factory] [--app-dir DIR] [--traceback]
    python -m aiosocketio run ...          # the same, without the console script

``MODULE:ATTRIBUTE`` names what to serve, as ``uvicorn`` does: ``chat:io`` imports ``chat`` (looked up in the
current directory first, or in ``--app-dir``) and takes its ``io``; the attribute may be dotted
(``chat:servers.main``). It is one of

* a :class:`~aiosocketio.Server` or an :class:`~aiosocketio.EngineServer`;
* what ``io.asgi_app(other_app=...)`` returns (an :class:`aiosocketio.asgi.ASGIApp`): its servers are served
  at their paths, and its ``other_app`` (FastAPI, Starlette, Django...) gets every other request, HTTP and
  WebSocket, with its ASGI lifespan run around the server's life;
* any other ASGI 3 application: served whole, as ``other_app`` with no Socket.IO server of ours in front (a
  Socket.IO server mounted inside it then answers through its ASGI front-end);
* with ``--factory``, a callable that takes no argument and returns one of those.

The server is the built-in one (:func:`aiosocketio.run`), on uvloop when it is installed. SIGINT (Ctrl-C) or
SIGTERM closes it gracefully: every client is told the server is shutting down, requests in flight may finish,
and the command exits with status 0.

``--workers N`` serves the port from N processes forked from this one once the application is loaded; they
look like one server to clients (long-polling included, with no sticky load balancer): see
:mod:`aiosocketio.runner.workers`.

``--root-path /chat`` serves everything under that prefix: a client connects with ``path: "/chat/socket.io/"``,
and requests outside the prefix get 404 (see :mod:`aiosocketio.runner.mount`).

Errors a user can fix are one line on stderr, with no traceback: a module that does not import (its own
exception, in one line; ``--traceback`` shows the whole traceback too), an attribute that does not exist or is
not something to serve, a factory that fails, a port already in use, a host that cannot be listened on, an
ASGI application whose lifespan startup fails. They exit with status 1; a command line that does not parse exits with status 2 (argparse's usage message).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from aiosocketio.version import __version__

__all__ = ["AppLoadError", "load_app", "main"]

PROG = "aiosocketio"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class AppLoadError(Exception):
    """``MODULE:ATTRIBUTE`` does not name something to serve; the message is one line for the user."""


@dataclass
class Served:
    """What ``run`` hands to the built-in server: the web apps, the ASGI app for other paths, its options."""

    apps: list[Any]
    other_app: Any = None
    options: dict[str, Any] = field(default_factory=dict)


def _one_line(exc: BaseException) -> str:
    """``Type: message`` on one line (a multi-line message, such as a SyntaxError's, is joined)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _describe(value: Any) -> str:
    """``the class Foo``, ``the function make``, ``a dict``, ``an object of type starlette.applications.Starlette``."""
    kind = type(value)
    if isinstance(value, type):
        return f"the class {value.__qualname__}"
    if callable(value) and hasattr(value, "__qualname__"):
        return f"the function {value.__qualname__}"
    if kind.__module__ == "builtins":
        return f"a {kind.__name__}"
    return f"an object of type {kind.__module__}.{kind.__qualname__}"


def _as_served(value: Any, spec: str, *, factory: bool) -> Served:
    """Sort ``value`` into what the built-in server needs, or say what it is and what was expected."""
    from aiosocketio.asgi import ASGIApp
    from aiosocketio.engineio.server import EngineServer
    from aiosocketio.server import Server

    if isinstance(value, Server | EngineServer):
        return Served([value])
    if isinstance(value, ASGIApp):
        return Served(list(value.apps), value.other_app, {"max_write_buffer": value.max_write_buffer})
    if not isinstance(value, type) and _looks_like_asgi(value):
        return Served([], value)
    expected = "a Server, an EngineServer or an ASGI app"
    if factory:
        raise AppLoadError(f"the factory {spec!r} returned {_describe(value)}, not {expected}")
    if callable(value):
        raise AppLoadError(
            f"{spec!r} is {_describe(value)}, not {expected}: if it builds one, pass --factory"
        )
    raise AppLoadError(f"{spec!r} is {_describe(value)}, not {expected}")


def _looks_like_asgi(value: Any) -> bool:
    """A coroutine function of three arguments, or an object with such a ``__call__`` (Starlette, FastAPI...)."""
    import inspect

    if not callable(value):
        return False
    # An instance's bound __call__ (what is called), so that ``self`` is not counted among the arguments.
    target = value if inspect.isfunction(value) else value.__call__
    if not inspect.iscoroutinefunction(target):
        return False
    try:
        return len(inspect.signature(target).parameters) == 3
    except (TypeError, ValueError):
        return False


def load_app(spec: str, *, factory: bool = False, app_dir: str = ".") -> Served:
    """Import ``MODULE:ATTRIBUTE`` (``app_dir`` first on ``sys.path``) and sort out what it names.

    Raises :class:`AppLoadError` with a one-line message; the module's own exception, if it failed to import,
    is the ``__cause__``.
    """
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise AppLoadError(f"APP must be MODULE:ATTRIBUTE, such as chat:io, got {spec!r}")
    directory = os.path.abspath(app_dir)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise AppLoadError(f"cannot import {module_name!r}: {_one_line(exc)}") from exc
    value: Any = module
    walked = module_name
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            where = f"module {module_name!r}" if value is module else repr(walked)
            raise AppLoadError(f"{where} has no attribute {part!r}") from None
        walked += ("." if ":" in walked else ":") + part
    if factory:
        if not callable(value):
            raise AppLoadError(f"--factory: {spec!r} is {_describe(value)}, not a callable")
        try:
            value = value()
        except Exception as exc:
            raise AppLoadError(f"the factory {spec!r} failed: {_one_line(exc)}") from exc
    return _as_served(value, spec, factory=factory)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is between 0 and 65535, got {port}")
    return port


def _workers(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of processes: {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"at least one worker, got {count}")
    return count


def build_parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per action, so that each can grow options of its own."""
    parser = argparse.ArgumentParser(prog=PROG, description="A Socket.IO v4 server for asyncio.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run",
        help="serve an application with the built-in server",
        description="Serve MODULE:ATTRIBUTE (a Server, an EngineServer or an ASGI app, such as io.asgi_app()'s) "
        "with the built-in server until SIGINT or SIGTERM.",
    )
    run.add_argument("app", metavar="MODULE:ATTRIBUTE", help="what to serve, e.g. chat:io")
    run.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)")
    run.add_argument("--port", type=_port, default=3000, help="the port to listen on (default: %(default)s)")
    run.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        type=str.lower,
        help="the level of aiosocketio's log (default: %(default)s)",
    )
    run.add_argument(
        "--root-path",
        default="",
        metavar="PREFIX",
        help="serve under this path prefix: a client then connects with path PREFIX/socket.io/",
    )
    run.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="serve from N processes (one per core, say); clients see one server (default: %(default)s)",
    )
    run.add_argument(
        "--ssl-certfile", metavar="PEM", help="serve HTTPS and WSS with this certificate (chain)"
    )
    run.add_argument("--ssl-keyfile", metavar="PEM", help="the private key, when it is not in --ssl-certfile")
    run.add_argument(
        "--lifespan",
        choices=("auto", "on", "off"),
        default="auto",
        help="run the ASGI lifespan of the web application (default: %(default)s: when it supports it)",
    )
    run.add_argument(
        "--factory",
        action="store_true",
        help="ATTRIBUTE is a function of no argument that returns what to serve",
    )
    run.add_argument(
        "--app-dir",
        default=".",
        metavar="DIR",
        help="look for MODULE in this directory first (default: the current directory)",
    )
    run.add_argument(
        "--traceback",
        action="store_true",
        help="when the application cannot be loaded, print the whole traceback too",
    )
    return parser


def _fail(message: str) -> NoReturn:
    raise SystemExit(f"{PROG}: error: {message}")


def _run(args: argparse.Namespace) -> int:
    from aiosocketio.runner.mount import normalize_root_path

    try:
        root_path = normalize_root_path(args.root_path)
    except ValueError as exc:
        _fail(str(exc))
    try:
        served = load_app(args.app, factory=args.factory, app_dir=args.app_dir)
    except AppLoadError as exc:
        if args.traceback and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        _fail(str(exc))
    if args.ssl_keyfile and not args.ssl_certfile:
        _fail("--ssl-keyfile needs --ssl-certfile")
    if args.ssl_certfile and args.workers > 1:
        _fail(
            "--workers cannot serve TLS (a polling request that reaches the wrong worker is handed over by its "
            "request line, which TLS hides): terminate TLS in a proxy in front, or serve with one worker"
        )
    if args.ssl_certfile:
        from aiosocketio.runner.server import ssl_context

        try:
            served.options["ssl"] = ssl_context(args.ssl_certfile, args.ssl_keyfile)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            _fail(f"cannot load the TLS certificate: {_one_line(exc)}")
    if served.other_app is not None:
        served.options["lifespan"] = args.lifespan
    from aiosocketio.runner import run

    # run() ends the program itself (one line, status 1) when the address cannot be had.
    run(
        *served.apps,
        host=args.host,
        port=args.port,
        other_app=served.other_app,
        log_level=args.log_level,
        root_path=root_path,
        workers=args.workers,
        **served.options,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The console script's entry point (``aiosocketio``); returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    raise AssertionError(f"unknown command {args.command!r}")  # argparse only lets known ones through
