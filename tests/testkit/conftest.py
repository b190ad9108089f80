"""The fixtures of aiosocketio's pytest plugin, for this directory.

Once aiosocketio is installed with its ``pytest11`` entry point, pytest loads the plugin by itself; importing
the fixtures here as well keeps these tests independent of whether the environment was installed before the
entry point existed (a conftest's fixtures take precedence over a plugin's of the same name, and are the same
functions).
"""

from aiosocketio.testing.pytest_plugin import (  # noqa: F401
    aiosocketio_client,
    aiosocketio_clock,
    aiosocketio_cluster,
)
