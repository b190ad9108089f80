"""The exceptions of aiosocketio, one hierarchy::

    AioSocketIOError
    ├── ConnectError            a middleware refuses a connection (becomes CONNECT_ERROR)
    ├── AckTimeoutError         also a TimeoutError: an acknowledgement did not come in time
    ├── AdapterError            a cluster operation that needs the other servers cannot reach them
    └── ProtocolError           a peer broke the protocol (never escapes the server: it becomes the
                                reference's answer, a close with its reason, and a debug log line)

Programmer mistakes (a reserved event name, a wrong argument type) raise the built-in ``ValueError`` /
``TypeError`` with a message that names the fix.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AckTimeoutError", "AdapterError", "AioSocketIOError", "ConnectError", "ProtocolError"]


class AioSocketIOError(Exception):
    """The root of every exception that aiosocketio defines."""


class ConnectError(AioSocketIOError):
    """Raised by a middleware to refuse a connection; ``message`` and ``data`` go into the CONNECT_ERROR.

    The client's ``connect_error`` handler gets an error whose ``message`` and ``data`` are these (another
    exception raised by a middleware also refuses, with ``str(exc)`` as the message and no data).

    Args:
        message: What the client reads as the error's ``message``.
        data: Extra details for the client (any JSON value); ``None`` sends none.
    """

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        """The text the client receives as the error's ``message``."""
        self.data = data
        """The details the client receives as the error's ``data`` (``None``: none)."""


class AckTimeoutError(AioSocketIOError, TimeoutError):
    """An acknowledgement did not arrive in time; ``responses`` holds whatever did arrive.

    A ``TimeoutError`` too, so ``except TimeoutError`` catches it.

    Args:
        message: The error's text; the reference's wording by default.
        responses: What arrived before the deadline (broadcasts and server-side emits collect several).
    """

    def __init__(self, message: str = "operation has timed out", responses: list[Any] | None = None) -> None:
        super().__init__(message)
        self.responses: list[Any] = responses if responses is not None else []
        """The acknowledgements (or server answers) that arrived in time, in arrival order; empty for one socket."""


class AdapterError(AioSocketIOError):
    """The cluster back-end (Redis...) cannot be reached for an operation that needs answers from it."""


class ProtocolError(AioSocketIOError):
    """A peer sent something the protocol does not allow."""
