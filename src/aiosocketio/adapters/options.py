"""Broadcast options: which sockets a broadcast or utility method targets, and how (docs/protocol/socketio.md#emit-flags, docs/protocol/server.md#broadcasting, docs/protocol/server.md#utility-methods). Pure.

Frozen so that broadcast operators can share them: each modifier (``to``, ``except_``, ``volatile``...) builds a
new value instead of changing one another operator holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BroadcastFlags", "BroadcastOptions"]


@dataclass(frozen=True, slots=True)
class BroadcastFlags:
    """Per-emit flags. ``timeout`` is in seconds; ``local`` keeps a cluster operation on this server."""

    volatile: bool = False
    """Drop the packet for a socket whose transport is not ready to write, instead of queueing it."""
    compress: bool = True
    """The reference's ``compress`` flag, carried to the other servers of a cluster.

    Delivery on this server does not look at it: a packet is written the same way either way.
    """
    local: bool = False
    """Reach only the sockets of this server: a cluster adapter does not forward the operation."""
    timeout: float | None = None
    """Seconds to wait for the acknowledgements of a broadcast with an ack; ``None``: no timeout set."""


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Target rooms (none: every socket of the namespace), excluded rooms, and flags."""

    rooms: frozenset[str] = frozenset()
    """The sockets in at least one of these rooms are targeted; empty: every socket of the namespace."""
    except_rooms: frozenset[str] = frozenset()
    """Sockets in any of these rooms are left out, even when they are in a target room (Node.js: ``except``)."""
    flags: BroadcastFlags = field(default_factory=BroadcastFlags)
    """How the packet is sent: volatile, compressed, local-only, with an ack timeout."""
