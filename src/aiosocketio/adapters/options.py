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
    compress: bool = True
    local: bool = False
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Target rooms (none: every socket of the namespace), excluded rooms, and flags."""

    rooms: frozenset[str] = frozenset()
    except_rooms: frozenset[str] = frozenset()
    flags: BroadcastFlags = field(default_factory=BroadcastFlags)
