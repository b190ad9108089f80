"""The curated public surface: every name of ``__all__`` resolves, and importing the package loads no extra."""

from __future__ import annotations

import subprocess
import sys

import pytest

import aiosocketio


def test_every_public_name_resolves() -> None:
    for name in aiosocketio.__all__:
        assert getattr(aiosocketio, name) is not None, name


def test_the_main_classes_are_public() -> None:
    expected = {"Server", "Namespace", "Socket", "BroadcastOperator", "RemoteSocket", "ConnectError"}
    assert expected <= set(aiosocketio.__all__)
    assert {"AckTimeoutError", "EngineServer", "Request", "run"} <= set(aiosocketio.__all__)
    assert issubclass(aiosocketio.AckTimeoutError, TimeoutError)


def test_import_loads_no_optional_dependency() -> None:
    code = (
        "import sys, aiosocketio; aiosocketio.Server();"
        "print(sorted(m for m in ('redis', 'msgpack', 'uvicorn', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cluster_adapter_options_are_checked_at_once() -> None:
    from aiosocketio.adapters import redis_streams
    from aiosocketio.adapters.redis import create_adapter, create_sharded_adapter

    with pytest.raises(ValueError, match="subscription_mode is one of static, dynamic, dynamic-private"):
        create_sharded_adapter("redis://127.0.0.1:1/0", subscription_mode="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="requests_timeout is a positive number of seconds"):
        create_sharded_adapter("redis://127.0.0.1:1/0", requests_timeout=0)
    with pytest.raises(ValueError, match="requests_timeout is a positive number of seconds"):
        create_adapter("redis://127.0.0.1:1/0", requests_timeout=-1)
    with pytest.raises(ValueError, match="stream_count, max_len and read_count are positive integers"):
        redis_streams.create_adapter("redis://127.0.0.1:1/0", max_len=0)
    with pytest.raises(ValueError, match="block_time is a positive number of seconds, got 0"):
        redis_streams.create_adapter("redis://127.0.0.1:1/0", block_time=0)


def test_sharded_adapter_names_the_redis_py_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    """redis-py before 8 has no asyncio ``ssubscribe``: the factory says which release to install, at once."""
    from redis.asyncio.client import PubSub

    from aiosocketio.adapters.redis import create_sharded_adapter

    monkeypatch.delattr(PubSub, "ssubscribe")
    with pytest.raises(RuntimeError, match=r"needs redis-py 8 or newer .*pip install 'redis>=8'"):
        create_sharded_adapter("redis://127.0.0.1:1/0")
