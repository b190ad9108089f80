"""``EngineWriter``: the server's packet writer (the ``PacketWriter`` interface), built once from its parser.

Everything that sends (sockets, namespaces, clients, adapters) encodes through the one writer of its server, so
the choice between the default parser's shortcuts and a custom parser's ``encode`` is made here, once, and not
on every packet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aiosocketio.parsers import default as default_parser
from aiosocketio.parsers.packet import Packet, PacketType

__all__ = ["EngineWriter"]


class EngineWriter:
    """Packets to Engine.IO items with one parser (see ``aiosocketio.adapters._types.PacketWriter``)."""

    __slots__ = ("_encode", "_encode_ack", "_plain_connect", "plain_ack")

    def __init__(self, parser: Any) -> None:
        self._encode: Callable[[Packet], list[str | bytes]] = parser.encode
        default = self._encode is default_parser.encode
        # The default parser writes an ACK without building a Packet; a custom one gets the Packet.
        self._encode_ack: Callable[[str, int, Sequence[Any]], list[str | bytes]] | None = (
            default_parser.encode_ack if default else None
        )
        self.plain_ack: Callable[[str, int, Sequence[Any]], str | None] | None = (
            default_parser.plain_ack if default else None
        )
        self._plain_connect: Callable[[str, dict[str, str]], str | None] | None = (
            default_parser.plain_connect if default else None
        )

    def engine_items(self, packet: Packet) -> list[str | bytes]:
        """The packet as Engine.IO messages: text gets the message type ``4``, binary stays as it is."""
        return ["4" + part if type(part) is str else part for part in self._encode(packet)]

    def connect_items(self, nsp: str, reply: dict[str, str]) -> list[str | bytes]:
        """The CONNECT packet answering a client (``reply``: its ``sid``, and ``pid`` with recovery) as Engine.IO
        messages; the default parser writes it without building a Packet (one per handshake)."""
        plain = self._plain_connect
        if plain is not None:
            text = plain(nsp, reply)
            if text is not None:
                return ["4" + text]
        return self.engine_items(Packet(PacketType.CONNECT, nsp, reply))

    def ack_items(self, nsp: str, ack_id: int, args: list[Any]) -> list[str | bytes]:
        """An ACK as Engine.IO messages."""
        encode_ack = self._encode_ack
        if encode_ack is not None:
            return ["4" + part if type(part) is str else part for part in encode_ack(nsp, ack_id, args)]
        return self.engine_items(Packet(PacketType.ACK, nsp, args, ack_id))
