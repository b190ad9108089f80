"""Typed event maps at run time (docs/guide/typing.md): the type parameters cost nothing and change nothing, and
an event named by a map's method is the event of the method's name."""

from __future__ import annotations

from typing import Any, Protocol

import pytest

import aiosocketio
from aiosocketio.broadcast import check_event_name
from aiosocketio.eventmaps import event_name


class Events(Protocol):
    def chat(self, text: str, /) -> None: ...

    def connect(self, /) -> None: ...  # a reserved name: refused as the string would be


def test_a_map_method_is_its_name() -> None:
    assert event_name(Events.chat) == "chat"
    assert event_name("chat") == "chat"
    assert event_name(7) == 7
    assert check_event_name(Events.chat) == "chat"
    with pytest.raises(ValueError, match='"connect" is a reserved event name'):
        check_event_name(Events.connect)
    with pytest.raises(TypeError, match="an event name is a str"):
        check_event_name(len)  # a builtin is no map method


def test_subscripted_classes_are_the_classes() -> None:
    io = aiosocketio.Server[Events, Events]()  # fewer than four: the others take their defaults
    assert type(io) is aiosocketio.Server
    assert type(io.sockets) is aiosocketio.Namespace
    assert aiosocketio.Socket[Events, Events, Any, dict[str, Any]] is not None
    assert aiosocketio.BroadcastOperator[Events, dict[str, Any]] is not None
    assert aiosocketio.RemoteSocket[Events, dict[str, Any]] is not None


def test_listeners_registered_by_method_are_found_by_name() -> None:
    io = aiosocketio.Server()

    def on_chat(text: str) -> None: ...

    io.on(Events.chat, on_chat)
    assert io.sockets.listeners("chat") == [on_chat]
    io.sockets.off("chat", on_chat)
    assert io.sockets.listeners("chat") == []
    # A parent namespace hands its connection listeners to each child, whatever named them.
    parent = io.of(lambda name, auth: True)
    parent.on("connection", print)
    child = parent.create_child("/child")  # type: ignore[attr-defined]
    assert child.listeners("connection") == [print]
