"""The event maps the typing samples share: what a chat application could declare."""

from __future__ import annotations

from typing import Protocol, TypedDict


class ClientToServer(Protocol):
    """What clients send: each method is an event; its return type is the acknowledgement's."""

    def chat(self, text: str, /) -> None: ...

    def join(self, room: str, /) -> int: ...


class ServerToClient(Protocol):
    """What the server sends: a return type is what the client answers when asked for an acknowledgement."""

    def chat(self, author: str, text: str, /) -> None: ...

    def ping(self, /) -> str: ...


class InterServer(Protocol):
    """What the servers of a cluster send one another."""

    def hello(self, server: str, /) -> None: ...

    def count(self, /) -> int: ...


class SocketData(TypedDict, total=False):
    name: str
    joined: int
