"""``Server.use_adapter``: how ``workers=N`` gives each worker's server a cluster adapter before it serves
(docs/deployment.md#workers). Every namespace gets it, those already there and those made later, until the server
serves; a server given an adapter of its own keeps it."""

from __future__ import annotations

import re

import pytest

import aiosocketio
from aiosocketio.adapters.memory import InMemoryAdapter
from aiosocketio.namespace import Namespace


class MarkedAdapter(InMemoryAdapter):
    __slots__ = ()


def test_every_namespace_gets_the_adapter_those_to_come_too() -> None:
    io = aiosocketio.Server()
    admin = io.of("/admin")
    parent = io.of(re.compile(r"^/room-\d+$"))
    assert not io.has_own_adapter
    io.use_adapter(MarkedAdapter)
    assert isinstance(io.of("/").adapter, MarkedAdapter)
    assert isinstance(admin.adapter, MarkedAdapter)
    assert isinstance(parent.adapter, MarkedAdapter)
    assert isinstance(io.of("/later").adapter, MarkedAdapter)
    child = parent.create_child("/room-1")  # type: ignore[attr-defined]
    assert isinstance(child.adapter, MarkedAdapter)
    assert child.adapter.nsp is child


def test_a_server_given_an_adapter_keeps_it() -> None:
    def mine(nsp: Namespace) -> InMemoryAdapter:
        return InMemoryAdapter(nsp)

    io = aiosocketio.Server(adapter=mine)
    assert io.has_own_adapter
    with pytest.raises(ValueError, match="was given an adapter"):
        io.use_adapter(MarkedAdapter)
    assert type(io.of("/").adapter) is InMemoryAdapter


async def test_not_once_the_server_serves() -> None:
    io = aiosocketio.Server()
    await io.startup()
    try:
        with pytest.raises(RuntimeError, match="does not serve yet"):
            io.use_adapter(MarkedAdapter)
    finally:
        await io.shutdown()
    assert type(io.of("/").adapter) is InMemoryAdapter


def test_reset_adapters_makes_each_namespace_a_new_one_from_the_servers_factory() -> None:
    made: list[InMemoryAdapter] = []

    def factory(nsp: Namespace) -> InMemoryAdapter:
        made.append(InMemoryAdapter(nsp))
        return made[-1]

    io = aiosocketio.Server(adapter=factory)
    admin = io.of("/admin")
    before = (io.of("/").adapter, admin.adapter)
    io.reset_adapters()  # what each worker of workers=N does before it serves
    after = (io.of("/").adapter, admin.adapter)
    assert len(made) == 4
    assert after == tuple(made[2:])
    assert not set(map(id, before)) & set(map(id, after))
