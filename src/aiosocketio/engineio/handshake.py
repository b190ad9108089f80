"""Request verification and the OPEN packet (docs/protocol/engineio.md#handshake, docs/protocol/engineio.md#verification). Pure: no I/O, no clock.

Every request to the engine path goes through :func:`verify` in the reference's order; a failure is an
:class:`EngineError` with the reference's code, message and context, which the server turns into the HTTP answer
(:func:`error_response_body`, :func:`status_for`) and one ``connection_error`` event.
"""

from __future__ import annotations

import binascii
import os
import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import orjson

__all__ = [
    "EngineError",
    "ErrorCode",
    "SidGenerator",
    "error_response_body",
    "open_packet",
    "origin_is_invalid",
    "status_for",
    "verify",
]


class ErrorCode(IntEnum):
    """The reference's error codes for rejected requests."""

    UNKNOWN_TRANSPORT = 0
    """The ``transport`` query parameter is missing or names no transport the server offers."""
    UNKNOWN_SID = 1
    """The ``sid`` query parameter names no open session."""
    BAD_HANDSHAKE_METHOD = 2
    """A handshake (a request without ``sid``) that is not a GET."""
    BAD_REQUEST = 3
    """Any other malformed or refused request (the error's ``context`` says which)."""
    FORBIDDEN = 4
    """``allow_request`` refused the request."""
    UNSUPPORTED_PROTOCOL_VERSION = 5
    """The ``EIO`` query parameter is not a protocol version the server accepts."""


MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    ErrorCode.UNKNOWN_SID: "Session ID unknown",
    ErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    ErrorCode.BAD_REQUEST: "Bad request",
    ErrorCode.FORBIDDEN: "Forbidden",
    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


@dataclass(frozen=True, slots=True)
class EngineError:
    """A refused request: what the client is told and what ``connection_error`` reports."""

    code: ErrorCode
    message: str
    context: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, code: ErrorCode, context: dict[str, Any], message: str | None = None) -> EngineError:
        return cls(code, message or MESSAGES[code], context)


def status_for(code: ErrorCode) -> int:
    """HTTP status of a refused plain request: 403 for "Forbidden", 400 for everything else."""
    return 403 if code is ErrorCode.FORBIDDEN else 400


def error_response_body(error: EngineError) -> bytes:
    """``{"code":n,"message":"..."}`` exactly as the reference writes it."""
    return orjson.dumps({"code": int(error.code), "message": error.message})


_INVALID_ORIGIN_CHAR = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def origin_is_invalid(origin: str) -> bool:
    """Characters Node.js refuses in a header value: controls other than TAB, and DEL."""
    return _INVALID_ORIGIN_CHAR.search(origin) is not None


def verify(
    *,
    method: str,
    query: dict[str, str],
    origin: str | None,
    is_upgrade: bool,
    transports: tuple[str, ...],
    session_transport: str | None,
    allow_eio3: bool = False,
    session_protocol: int = 4,
) -> EngineError | None:
    """Check a request in the reference's order (docs/protocol/engineio.md#verification steps 2-5, before ``allow_request``).

    ``session_transport`` is the current transport name of the session named by ``sid`` (``None`` when the
    request has a ``sid`` that is not a live session; ignored without ``sid``), ``session_protocol`` its
    protocol revision: a request of another revision (``EIO``, see :func:`protocol_revision`) is refused. The
    caller still runs ``allow_request``, the ``EIO`` check (:func:`check_protocol`) and id generation for
    handshakes.
    """
    transport = query.get("transport")
    if transport is None or transport not in transports:
        return EngineError.of(ErrorCode.UNKNOWN_TRANSPORT, {"transport": transport})
    if origin is not None and origin_is_invalid(origin):
        return EngineError.of(ErrorCode.BAD_REQUEST, {"name": "INVALID_ORIGIN", "origin": origin})
    sid = query.get("sid")
    if sid:  # an empty sid is no sid, as the reference's truthiness test has it: a handshake
        if session_transport is None:
            return EngineError.of(ErrorCode.UNKNOWN_SID, {"sid": sid})
        if not is_upgrade and transport != session_transport:
            return EngineError.of(
                ErrorCode.BAD_REQUEST,
                {
                    "name": "TRANSPORT_MISMATCH",
                    "transport": transport,
                    "previousTransport": session_transport,
                },
            )
        protocol = protocol_revision(query)
        if protocol != session_protocol:
            return EngineError.of(
                ErrorCode.BAD_REQUEST,
                {"name": "PROTOCOL_MISMATCH", "protocol": protocol, "previousProtocol": session_protocol},
            )
        return None
    if method != "GET":
        return EngineError.of(ErrorCode.BAD_HANDSHAKE_METHOD, {"method": method})
    if transport == "websocket" and not is_upgrade:
        return EngineError.of(ErrorCode.BAD_REQUEST, {"name": "TRANSPORT_HANDSHAKE_ERROR"})
    return None


def protocol_revision(query: dict[str, str]) -> int:
    """The Engine.IO revision a request speaks: 4 for ``EIO=4``, 3 for anything else (absent included)."""
    return 4 if query.get("EIO") == "4" else 3


def check_protocol(query: dict[str, str], allow_eio3: bool) -> EngineError | None:
    """The ``EIO`` check of a handshake: exactly ``"4"`` (or anything, when EIO=3 clients are allowed)."""
    protocol = query.get("EIO")
    if protocol == "4" or allow_eio3:
        return None
    return EngineError.of(ErrorCode.UNSUPPORTED_PROTOCOL_VERSION, {"protocol": protocol})


def open_packet(
    sid: str, upgrades: list[str], ping_interval: float, ping_timeout: float, max_payload: int
) -> str:
    """The text of the OPEN packet, keys in the reference's order, durations as integer milliseconds."""
    body = orjson.dumps(
        {
            "sid": sid,
            "upgrades": upgrades,
            "pingInterval": round(ping_interval * 1000),
            "pingTimeout": round(ping_timeout * 1000),
            "maxPayload": max_payload,
        }
    )
    return "0" + body.decode()


#: Ids' worth of random bytes a SidGenerator takes from the system at once.
_RANDOM_POOL = 256
_URL_SAFE = bytes.maketrans(b"+/", b"-_")
#: Forks seen by this process (counted in the child): a generator refills its pool after one, so that a parent
#: and its workers never hand out the same random bytes.
_forks = 0


def _count_fork() -> None:
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_count_fork)


class SidGenerator:
    """Session ids like the reference's: 12 random bytes and a 3-byte counter, URL-safe base64 (20 chars).

    Ids are secrets (whoever knows one can speak for the session), hence the random part; the counter keeps
    them unique within a process even if the random source repeated. The random bytes come from the system's
    secure source (``os.urandom``) 256 ids at a time: every handshake makes two ids, and a system call each
    was a measurable part of one. A forked process starts a new pool.
    """

    __slots__ = ("_counter", "_forks", "_pool")

    def __init__(self) -> None:
        self._counter = int.from_bytes(os.urandom(3), "big")
        # The random parts of the next ids, each taken by one list.pop(): atomic, so that two threads sharing a
        # generator can never get the same one.
        self._pool: list[bytes] = []
        self._forks = _forks

    def __call__(self) -> str:
        self._counter = (self._counter + 1) & 0xFFFFFF
        if self._forks != _forks:
            self._pool = []
            self._forks = _forks
        try:
            random = self._pool.pop()
        except IndexError:
            chunk = os.urandom(12 * _RANDOM_POOL)
            self._pool = [chunk[at : at + 12] for at in range(12, len(chunk), 12)]
            random = chunk[:12]
        raw = random + self._counter.to_bytes(3, "big")
        return binascii.b2a_base64(raw, newline=False).translate(_URL_SAFE).decode()
