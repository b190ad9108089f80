"""The Socket.IO Admin UI for aiosocketio: ``instrument(io, auth=...)``, the Python spelling of the npm package
``@socket.io/admin-ui``'s ``instrument()``, and ``ui_app()`` to serve the UI's page.

Basic authentication needs bcrypt (``pip install 'aiosocketio[admin]'``); nothing else is imported until used.
See ``docs/operations/admin-ui.md``.
"""

from __future__ import annotations

from aiosocketio.admin._instrument import instrument
from aiosocketio.admin.stores import InMemoryStore, RedisStore, Store
from aiosocketio.admin.ui import AdminUI, ui_app

__all__ = ["AdminUI", "InMemoryStore", "RedisStore", "Store", "instrument", "ui_app"]
