"""The curated public surface: every name of ``__all__`` resolves, and importing the package loads no extra."""

from __future__ import annotations

import subprocess
import sys

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
