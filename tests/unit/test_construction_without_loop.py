"""Everything an application builds at import time is built without an event loop.

A module-level ``io = aiosocketio.Server(adapter=create_adapter("redis://..."))`` is how applications are written
(uvicorn and gunicorn import ``app:app`` before their loop exists), so importing such a module must not raise and
must not connect anywhere: the addresses below have nobody listening. Serving the same objects afterwards is
checked in ``tests/integration/test_module_level.py``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

MODULE = """
import redis
import redis.asyncio

import aiosocketio
from aiosocketio.adapters import postgres, redis_streams, workers
from aiosocketio.adapters.redis import create_adapter, create_sharded_adapter
from aiosocketio.emitter import RedisEmitter, SyncRedisEmitter
from aiosocketio.engineio import EngineServer

NOBODY = "redis://127.0.0.1:1/0"

servers = {
    "memory": aiosocketio.Server(),
    "recovery": aiosocketio.Server(connection_state_recovery=True),
    "classic": aiosocketio.Server(adapter=create_adapter(NOBODY)),
    "classic-client": aiosocketio.Server(adapter=create_adapter(redis.asyncio.Redis(port=1))),
    "sharded": aiosocketio.Server(adapter=create_sharded_adapter(NOBODY)),
    "streams": aiosocketio.Server(adapter=redis_streams.create_adapter(NOBODY), connection_state_recovery=True),
    "postgres": aiosocketio.Server(adapter=postgres.create_adapter("postgresql://nobody@127.0.0.1:1/none")),
    # Its settings are read from the environment when it serves: none is set here, and none is needed yet.
    "workers": aiosocketio.Server(adapter=workers.create_adapter(), connection_state_recovery=True),
    "workers-dir": aiosocketio.Server(adapter=workers.create_adapter(socket_dir="/nonexistent", index=0, workers=2)),
}
namespaces = {name: io.of("/x") for name, io in servers.items()}
apps = {name: io.asgi_app() for name, io in servers.items()}
emitters = [
    RedisEmitter(NOBODY).of("/x").to("room1"),
    RedisEmitter(redis.asyncio.Redis(port=1)),
    SyncRedisEmitter(NOBODY).to("room1"),
    SyncRedisEmitter(redis.Redis(port=1)),
]
engine = EngineServer(cors={"origin": "*"})
engine_app = engine.asgi_app()
"""


def _import(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[path.stem]
    return module


def test_importing_a_module_that_builds_everything_needs_no_loop(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()  # this test runs outside any loop, as an import by uvicorn does
    path = tmp_path / "module_level_app.py"
    path.write_text(MODULE, encoding="utf-8")
    module = _import(path)
    assert set(module.servers) == set(module.namespaces)
    for name, io in module.servers.items():
        assert set(io.namespaces) == {"/", "/x"}, name
        assert io.of("/x") is module.namespaces[name]
