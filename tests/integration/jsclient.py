"""Run one of the Node.js client scripts of ``tests/integration/js/`` and read what it reports.

Each script prints one JSON object per line and ends with ``{"event": "done"}``; this helper runs it from
``tests/`` (so that ``node_modules`` resolves), fails the test with the script's output if it hangs or exits
badly, and returns the parsed lines.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
TESTS_DIR = Path(__file__).resolve().parent.parent
JS_DIR = Path(__file__).resolve().parent / "js"


async def run_js_scenario(script: str, *args: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Run ``js/<script>`` with ``args``; return its reports, the trailing ``{"event": "done"}`` included."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/setup installs the npm clients)"
    proc = await asyncio.create_subprocess_exec(
        node,
        str(JS_DIR / script),
        *args,
        cwd=TESTS_DIR,
        env=dict(os.environ, AIOSOCKETIO_TEST_TIMEOUT_FACTOR=str(FACTOR)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout * FACTOR)
    except TimeoutError:
        proc.kill()
        stdout, stderr = await proc.communicate()
        pytest.fail(f"the client did not finish\nstdout:\n{stdout.decode()}\nstderr:\n{stderr.decode()}")
    output = stdout.decode()
    print(f"client stdout:\n{output}\nclient stderr:\n{stderr.decode()}")
    reports = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert proc.returncode == 0, f"the client exited with {proc.returncode}: {reports[-1:]}"
    assert reports, "the client reported nothing"
    assert reports[-1] == {"event": "done"}, reports[-1]
    return reports
