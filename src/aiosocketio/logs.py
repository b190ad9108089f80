"""The logger tree and the ``AIOSOCKETIO_DEBUG`` switch (docs/operations/logging.md).

Every module logs under ``aiosocketio``, on one of the names of :data:`LOGGERS`; their DEBUG lines trace each
session's life (handshake, upgrade, namespace connects and refusals, packets in and out, disconnect reasons,
adapter requests). Packet lines name the packet type, the namespace, the event and the acknowledgement id, never
the arguments: a trace can be shared without leaking the application's data.

``AIOSOCKETIO_DEBUG=engine,socket`` (or ``*``/``all``) in the environment turns those loggers to DEBUG when the
package is imported, and prints their lines on stderr for as long as nothing else configured logging (once the
root logger has a handler, the lines go there instead, printed once).

The modules on the per-packet paths read ``logger.isEnabledFor(DEBUG)`` once per session or socket, when it is
made, and test that boolean afterwards: with tracing off, a packet costs one attribute test. Levels set later
apply to the sessions that start after.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

__all__ = [
    "ADAPTER",
    "ENGINE",
    "ENV_VAR",
    "LOGGERS",
    "NAMESPACE",
    "SOCKET",
    "TRANSPORT",
    "configure_from_env",
    "describe_packet",
    "enable_debug",
]

ENV_VAR = "AIOSOCKETIO_DEBUG"

ENGINE = "aiosocketio.engine"
TRANSPORT = "aiosocketio.engine.transport"
SOCKET = "aiosocketio.socket"
NAMESPACE = "aiosocketio.namespace"
ADAPTER = "aiosocketio.adapter"

#: The documented loggers (short name → what its lines are about); the short name is what ``AIOSOCKETIO_DEBUG``
#: takes. A back-end adapter logs on a child of ``aiosocketio.adapter`` (``adapter.redis``...), which the
#: switch ``adapter`` includes.
LOGGERS: dict[str, str] = {
    "engine": "Engine.IO sessions: handshakes (id, transport, remote address), upgrades, refusals, closes and "
    "their reason",
    "engine.transport": "the transports under a session: upgrade probes, polls held and aborted, buffers "
    "that overflow, heartbeats",
    "socket": "Socket.IO packets in and out (type, namespace, event name, acknowledgement id), invalid "
    "packets, disconnect reasons, errors in event handlers",
    "namespace": "namespace connects (the socket id) and refusals (the reason)",
    "adapter": "broadcasts, and the cluster requests and responses between servers",
    "adapter.cluster": "the cluster protocol: messages published and received, servers that go away",
    "adapter.redis": "the Redis pub/sub back-ends",
    "adapter.redis_streams": "the Redis streams back-end",
    "adapter.postgres": "the PostgreSQL back-end",
    "adapter.workers": "the adapter between the worker processes of one server",
    "runner": "the built-in HTTP/WebSocket server: listening, shutting down, connection errors",
    "asgi": "the ASGI front-end",
    "admin": "the Admin UI instrumentation",
    "metrics": "the Prometheus instrumentation",
}

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_EVENT_NAME_LIMIT = 60


class _FallbackHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Prints on stderr only while the root logger has no handler: a program that configures logging later
    gets each line once, through its own handlers."""

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers:
            return
        super().emit(record)


def _full_name(short: str) -> str:
    short = short.strip()
    if short.startswith("aiosocketio"):
        return short
    return f"aiosocketio.{short}"


def enable_debug(names: str | list[str], *, stream: Any = None) -> list[str]:
    """Turn the named loggers (short names of :data:`LOGGERS`, full names, or ``*``/``all``) to DEBUG and make
    sure their lines are printed; returns the full names turned on. What ``AIOSOCKETIO_DEBUG`` does, callable."""
    if isinstance(names, str):
        names = names.split(",")
    wanted = [n.strip() for n in names if n.strip()]
    if any(n in ("*", "all", "aiosocketio", "aiosocketio*", "aiosocketio.*") for n in wanted):
        wanted = list(LOGGERS)
    full = [_full_name(n.rstrip("*").rstrip(".:") or "aiosocketio") for n in wanted]
    for name in full:
        logging.getLogger(name).setLevel(logging.DEBUG)
    parent = logging.getLogger("aiosocketio")
    if not any(isinstance(h, _FallbackHandler) for h in parent.handlers):
        handler = _FallbackHandler(stream if stream is not None else sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT))
        parent.addHandler(handler)
    return full


def configure_from_env(environ: Any = None) -> list[str]:
    """Apply ``AIOSOCKETIO_DEBUG`` if it is set (importing ``aiosocketio`` calls this); returns the loggers
    turned on."""
    value = (environ if environ is not None else os.environ).get(ENV_VAR, "")
    if not value.strip():
        return []
    return enable_debug(value)


def _event_name(event: Any) -> str:
    text = repr(event)
    return text if len(text) <= _EVENT_NAME_LIMIT else text[: _EVENT_NAME_LIMIT - 3] + "..."


def describe_packet(kind: str, nsp: str, data: Any = None, ack_id: int | None = None) -> str:
    """``EVENT nsp=/ event='echo' ack=3``: what a trace line says of a packet (never its arguments)."""
    parts = [kind, f"nsp={nsp}"]
    if kind in ("EVENT", "BINARY_EVENT") and isinstance(data, list | tuple) and data:
        parts.append(f"event={_event_name(data[0])}")
    if ack_id is not None:
        parts.append(f"ack={ack_id}")
    return " ".join(parts)
