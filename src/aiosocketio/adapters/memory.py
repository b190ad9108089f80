"""``InMemoryAdapter``: the default adapter, for a single server (no cluster)."""

from __future__ import annotations

import logging
from typing import Any

from aiosocketio.adapters.base import Adapter

__all__ = ["InMemoryAdapter"]

logger = logging.getLogger("aiosocketio")


class InMemoryAdapter(Adapter):
    """Rooms and broadcasts for the sockets of this server; there are no other servers to reach."""

    __slots__ = ()

    async def server_side_emit(self, packet: list[Any]) -> None:
        logger.debug(
            "server_side_emit(%r) reaches nobody: the in-memory adapter has no other servers", packet[0]
        )

    async def server_side_emit_with_ack(self, packet: list[Any], timeout: float | None) -> list[Any]:
        logger.debug("server_side_emit_with_ack(%r): no other servers, no responses", packet[0])
        return []
