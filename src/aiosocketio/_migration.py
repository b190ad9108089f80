"""Errors for code written for python-socketio, each naming the call that does the same here.

python-socketio addresses clients by ``sid`` from handlers registered on the server (``@sio.event``,
``@sio.on("connect") def connect(sid, environ)``, ``sio.emit(..., room=...)``, ``sio.enter_room(sid, room)``);
this package follows the Node.js API, where each client is a ``Socket`` handed to the ``connection`` handler,
and its events are handled on it. Such code would otherwise fail far from the mistake (an ``AttributeError``,
a handler that is never called), so the places where it shows are checked at once:

* :func:`server_attribute_error` and :func:`name_moved_attributes`: ``io.event``, ``io.enter_room`` and
  python-socketio's other server methods;
* :func:`check_namespace_listener`: ``connection``/``connect`` handlers that take ``(sid, environ)`` and a
  ``disconnect`` handler on the server are refused at registration; a handler of another event whose first
  parameter is ``sid`` (a client event's handler, in python-socketio) gets a warning in the log, since on a
  namespace it receives ``server_side_emit`` events, which may well carry a socket id;
* :func:`emit_keywords_error`: ``emit(..., room=/to=/skip_sid=/namespace=/callback=)``.

Only code that cannot work here is refused: a connection handler that may take one argument is accepted.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "cannot_take",
    "check_namespace_listener",
    "check_reason_listener",
    "describe_listener",
    "emit_keywords_error",
    "name_moved_attributes",
    "server_attribute_error",
]

logger = logging.getLogger("aiosocketio")

_PREFIX = "this is python-socketio's API; with aiosocketio, "
#: Ends every message about python-socketio's API: the page that maps the rest of it.
_GUIDE = " (the migration guide, docs/migrating.md, maps the rest of python-socketio's API)"

_CLIENT_EVENTS = (
    "handle a client's events on its socket: @io.on('connection') async def on_connection(socket): "
    "@socket.on('chat') async def on_chat(data): ..."
)

#: python-socketio's server attributes that do not exist here, and what to write instead.
_SERVER_ATTRIBUTES: Mapping[str, str] = {
    "event": _CLIENT_EVENTS,
    "on_event": _CLIENT_EVENTS,
    "enter_room": "join a room with await socket.join(room), or await io.in_(sid).sockets_join(room)",
    "leave_room": "leave a room with await socket.leave(room), or await io.in_(sid).sockets_leave(room)",
    "close_room": "empty a room with await io.in_(room).sockets_leave(room)",
    "rooms": "a socket's rooms are socket.rooms",
    "get_session": "keep a client's data in socket.data (a dict)",
    "save_session": "keep a client's data in socket.data (a dict)",
    "session": "keep a client's data in socket.data (a dict)",
    "call": "ask a client and wait for its answer with await socket.timeout(5).emit_with_ack(event, ...)",
    "disconnect": "disconnect a client with await socket.disconnect(), or await io.in_(sid).disconnect_sockets()",
    "get_environ": "a client's request is socket.handshake (headers, query, address, auth) or socket.request",
    "transport": "a client's transport is socket.conn.transport.name",
    "start_background_task": "start a task with asyncio.create_task(...)",
    "sleep": "use await asyncio.sleep(...)",
    "register_namespace": "a namespace is io.of('/name'), with its own io.of('/name').on('connection', ...)",
    "attach": "serve with io.run(), aiosocketio.run(io) or the ASGI app of io.asgi_app()",
    "handle_request": "serve with io.run(), aiosocketio.run(io) or the ASGI app of io.asgi_app()",
}


def server_attribute_error(owner: str, name: str) -> AttributeError:
    """The error for ``io.<name>``: python-socketio's equivalent when there is one, else the usual message."""
    hint = _SERVER_ATTRIBUTES.get(name)
    if hint is None:
        return AttributeError(f"{owner!r} object has no attribute {name!r}")
    return AttributeError(f"{owner} has no attribute {name!r}: {_PREFIX}{hint}{_GUIDE}")


class _MovedAttribute:
    """A python-socketio server attribute, on a class that has no such attribute: reading it raises the error
    that names the call to use here.

    A descriptor per name rather than a ``__getattr__`` on the class: with ``__getattr__``, every attribute
    read on every instance goes through a slower path (about 1.5 % of a handshake's instructions, measured with
    callgrind), not only the reads of missing names.
    """

    __slots__ = ("_name", "_owner")

    def __init__(self, owner: str, name: str) -> None:
        self._owner = owner
        self._name = name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        raise server_attribute_error(self._owner, self._name)


def name_moved_attributes(cls: type) -> None:
    """Give ``cls`` (the ``Server`` class) an attribute for each python-socketio server method it lacks, which
    raises the :func:`server_attribute_error` that names the replacement when read."""
    for name in _SERVER_ATTRIBUTES:
        if not hasattr(cls, name):
            setattr(cls, name, _MovedAttribute(cls.__name__, name))


def _takes(listener: Callable[..., Any], count: int) -> bool | None:
    """Whether ``listener`` can be called with ``count`` positional arguments (None: its signature is unknown)."""
    try:
        signature = inspect.signature(listener)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def _first_parameter(listener: Callable[..., Any]) -> str | None:
    try:
        parameters = list(inspect.signature(listener).parameters.values())
    except (TypeError, ValueError):
        return None
    if not parameters or parameters[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        return None
    return parameters[0].name


def check_namespace_listener(target: str, event: str, listener: Callable[..., Any]) -> None:
    """Refuse, with the way to write it here, a listener of ``target`` (``io``, ``io.of('/x')``) that is written
    for python-socketio and would fail or never be called."""
    if event in ("connect", "connection"):
        if _takes(listener, 1) is False:
            raise TypeError(
                f"the {event!r} handler is called with one argument, the Socket, and "
                f"{_name(listener)} cannot take it: {_PREFIX}write async def on_connection(socket): ... "
                "(python-socketio's sid, environ and auth are socket.id, socket.handshake and "
                f"socket.handshake.auth){_GUIDE}"
            )
        return
    if event in ("disconnect", "disconnecting"):
        raise ValueError(
            f"{target} emits no {event!r} event: a socket does. {_PREFIX}register it on the socket in the "
            f"connection handler: @socket.on({event!r}) async def on_{event}(reason, description): ...{_GUIDE}"
        )
    if _first_parameter(listener) == "sid":
        # Maybe a server-side event that carries a socket id, so a warning rather than an error.
        logger.warning(
            "%s.on(%r) gets the events other servers of a cluster send (server_side_emit), and %s takes a sid "
            "as a client event's handler does in python-socketio: if it is one, %s%s",
            target,
            event,
            _name(listener),
            _CLIENT_EVENTS,
            _GUIDE,
        )


def check_reason_listener(event: str, listener: Callable[..., Any]) -> None:
    """A socket's ``disconnect``/``disconnecting`` listener gets ``(reason, description)``: refuse, at
    registration, one that cannot take both (``def on_disconnect(reason)`` would fail at every disconnect)."""
    if _takes(listener, 2) is False:
        raise TypeError(
            f"the {event!r} handler is called with two arguments, the reason and its description, and "
            f"{_name(listener)} cannot take them: write def on_{event}(reason, description=None): ..."
        )


def cannot_take(listener: Callable[..., Any], args: Sequence[Any], error: TypeError) -> bool:
    """Whether ``error``, raised by ``listener(*args)``, says the listener cannot take that many arguments
    (rather than coming from its body): it was raised by the call itself, and the signature agrees."""
    traceback = error.__traceback__
    if traceback is not None and traceback.tb_next is not None:  # raised inside the listener's code
        return False
    return _takes(listener, len(args)) is False


def describe_listener(listener: Callable[..., Any]) -> str:
    """``on_chat(message)``: a listener's name and signature, for messages."""
    return _name(listener)


def _name(listener: Callable[..., Any]) -> str:
    name = getattr(listener, "__name__", None)
    if name is None:
        return repr(listener)
    try:
        signature = inspect.signature(listener)
    except (TypeError, ValueError):
        return str(name)
    bare = signature.replace(
        parameters=[p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()],
        return_annotation=inspect.Signature.empty,
    )
    return f"{name}{bare}"


_EMIT_KEYWORDS = frozenset({"to", "room", "skip_sid", "namespace", "callback", "ignore_queue"})


def emit_keywords_error(target: str, method: str, event: Any, keywords: Mapping[str, Any]) -> TypeError:
    """The error for ``target.method(event, ..., **keywords)``: python-socketio's keywords, as a chain of calls."""
    unknown = sorted(set(keywords) - _EMIT_KEYWORDS)
    if unknown:
        return TypeError(f"{method}() got an unexpected keyword argument {unknown[0]!r}")
    chain = target
    namespace = keywords.get("namespace")
    if namespace is not None:
        chain += f".of({namespace!r})"
    room = keywords.get("to", keywords.get("room"))
    if room is not None:
        chain += f".to({room!r})"
    skip = keywords.get("skip_sid")
    if skip is not None:
        chain += f".except_({skip!r})"
    arguments = "..." if event is None else f"{event!r}, ..."
    if keywords.get("callback") is not None:
        call = f"answers = await {chain}.timeout(5).emit_with_ack({arguments})"
    else:
        call = f"await {chain}.{method}({arguments})"
    names = ", ".join(f"{name}=" for name in keywords)
    return TypeError(f"{method}() takes no {names} argument: {_PREFIX}write {call}{_GUIDE}")
