"""The two errors every codec raises: :class:`DecodeError` for what a peer sent, :class:`EncodeError` for what
the application asked to send.

They live below the parsers and the cluster messages, which both raise them;
:mod:`aiosocketio.parsers.packet` re-exports them under their historical path.
"""

from __future__ import annotations

from aiosocketio.exceptions import ProtocolError

__all__ = ["DecodeError", "EncodeError"]


class DecodeError(ProtocolError, ValueError):
    """A peer sent something the parser cannot accept (docs/protocol/socketio.md#default-parser, docs/protocol/socketio.md#binary-attachments).

    The message is the reference's text (``"invalid payload"``, ``"Illegal attachments"``, ...) so logs read
    the same as the Node.js server's. The server answers any of them by closing the whole Engine.IO connection
    (sockets get the reason ``forced close``, docs/protocol/socketio.md#disconnect-reasons).
    """


class EncodeError(TypeError, ValueError):
    """The application asked to send a value that cannot be written as Socket.IO JSON.

    Raised for a type JSON cannot carry, an ``int`` outside the 64-bit range, a ``dict`` key that is not a
    ``str`` / number / ``bool`` / ``None``, or data nested deeper than the encoder's ``max_depth`` (a cycle
    included). It is both a ``TypeError`` and a ``ValueError`` so callers may catch either.
    """
