"""Typed event maps (docs/guide/typing.md): the type parameters of ``Server``, ``Namespace``, ``Socket``,
``BroadcastOperator`` and ``RemoteSocket``, and how an event named by a map's method reaches the wire.

An event map is a ``Protocol`` whose methods are the events: ``def chat(self, msg: str, /) -> None``. A program
names an event by the method itself (``socket.emit(ServerToClient.chat, "hi")``, ``@socket.on(ClientToServer.chat)``):
Python's type system has no "keys of" operator that would tie the string ``"chat"`` to a member of a map, but a
method reference carries its signature, which ``ParamSpec`` hands to the checkers. At run time the method's
``__name__`` is the event's name, found once per call by ``event_name()`` (a string passes through untouched).

Every parameter has a default, so ``Server()`` and a bare ``Socket`` annotation mean what they meant before
maps existed: string event names, any arguments, ``socket.data`` a ``dict[str, Any]``.
"""

from __future__ import annotations

import sys
from types import FunctionType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import TypeVar
elif sys.version_info >= (3, 13):
    from typing import TypeVar
else:
    try:
        # Defaults let ``Server[ClientToServer, ServerToClient]()`` leave out the last parameters at run time
        # too; without typing_extensions such a subscript needs all four (annotations are never evaluated).
        from typing_extensions import TypeVar
    except ImportError:  # pragma: no cover - typing_extensions comes with most environments

        def TypeVar(name: str, *constraints: Any, default: Any = None, **options: Any) -> Any:
            """``typing.TypeVar`` that accepts and ignores ``default`` (Python before 3.13, without
            typing_extensions)."""
            import typing

            return typing.TypeVar(name, *constraints, **options)


__all__ = [
    "EmitEvents",
    "ListenEvents",
    "ServerSideEvents",
    "SocketData",
    "Untyped",
    "event_name",
]


class Untyped:
    """The map an unparameterised object has, as far as overloads go: the checkers let such an object take any
    event name, as a string. Never instantiated; the parameters' defaults are ``Any``, which matches it."""


ListenEvents = TypeVar("ListenEvents", default=Any)
"""The events clients send, that ``socket.on`` listens to (Node's ``ListenEvents``); default: any."""

EmitEvents = TypeVar("EmitEvents", default=Any)
"""The events the server sends to clients with ``emit`` (Node's ``EmitEvents``); default: any."""

ServerSideEvents = TypeVar("ServerSideEvents", default=Any)
"""The events servers of a cluster send one another with ``server_side_emit`` (Node's ``ServerSideEvents``);
default: any."""

SocketData = TypeVar("SocketData", default=dict[str, Any])
"""The type of ``socket.data`` (Node's ``SocketData``); default: ``dict[str, Any]``."""


def event_name(event: Any) -> Any:
    """The name to send or listen to for ``event``: a string (or number) as it is, a map's method by its name.

    Anything else is returned unchanged, for the caller's own check to refuse with its usual message.

    Args:
        event: An event's name, or a method of an event map (``ServerToClient.chat``).

    Returns:
        The method's ``__name__`` (``"chat"``), else ``event`` itself.
    """
    if type(event) is FunctionType:
        return event.__name__
    return event
