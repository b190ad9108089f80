"""``aiosocketio.admin.ui_app()``: the Admin UI's page (npm ``@socket.io/admin-ui``'s ``ui/dist``) served beside
a server, with ETag and 304, found on disk, and nothing outside its folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

import aiosocketio
from aiosocketio.admin import ui_app
from aiosocketio.admin.ui import find_ui_dir
from aiosocketio.asgi import ASGIApp

pytestmark = pytest.mark.node  # the files come from the npm package under tests/node_modules

TESTS = Path(__file__).resolve().parents[1]
PACKAGE = TESTS / "node_modules" / "@socket.io" / "admin-ui"
DIST = PACKAGE / "ui" / "dist"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    io = aiosocketio.Server()
    app = ASGIApp(io, ui_app(ui_dir=PACKAGE))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http
    await io.close()


async def test_the_page_and_its_files_are_served_as_on_disk(client: httpx.AsyncClient) -> None:
    redirect = await client.get("/admin")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "/admin/"  # the page's files are relative to the folder
    page = await client.get("/admin/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.content == (DIST / "index.html").read_bytes()
    assert (await client.get("/admin/index.html")).content == page.content
    scripts = sorted(p.name for p in (DIST / "js").glob("*.js"))
    assert scripts
    for name in scripts:
        response = await client.get(f"/admin/js/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/javascript")
        assert response.content == (DIST / "js" / name).read_bytes()
    css = next((DIST / "css").glob("*.css")).name
    assert (await client.get(f"/admin/css/{css}")).headers["content-type"] == "text/css; charset=utf-8"
    assert (await client.get("/admin/favicon.png")).headers["content-type"] == "image/png"


async def test_etag_gives_304(client: httpx.AsyncClient) -> None:
    first = await client.get("/admin/")
    assert first.headers["etag"] == '"admin-ui-0.5.1"'
    again = await client.get("/admin/", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_nothing_else_is_served(client: httpx.AsyncClient) -> None:
    for path in (
        "/admin/nope.js",
        "/admin/../package.json",
        "/admin/%2e%2e/%2e%2e/package.json",
        "/admin/js/..%2f..%2f..%2fpackage.json",
        "/admin/js",  # a folder
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
    assert (await client.post("/admin/", content=b"x")).status_code == 405
    assert (await client.get("/administrator")).status_code == 404  # not ours: the ASGI app's 404
    # the Socket.IO server beside it is untouched
    handshake = await client.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert handshake.text.startswith("0{")


def test_another_path() -> None:
    app = ui_app("/ops/admin-ui", ui_dir=DIST)
    assert app.path == "/ops/admin-ui/"
    assert app.handles("/ops/admin-ui/")
    assert app.handles("/ops/admin-ui")
    assert not app.handles("/admin/")


def test_lookup_order_and_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_ui_dir(PACKAGE) == DIST
    assert find_ui_dir(DIST) == DIST
    monkeypatch.setenv("AIOSOCKETIO_ADMIN_UI_DIR", str(PACKAGE))
    assert find_ui_dir() == DIST
    monkeypatch.delenv("AIOSOCKETIO_ADMIN_UI_DIR")
    assert find_ui_dir(start=TESTS / "component") == DIST  # tests/node_modules, from a folder below the repo
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"npm install @socket\.io/admin-ui"):
        find_ui_dir(start=tmp_path)
    with pytest.raises(FileNotFoundError, match="looked in"):
        ui_app(ui_dir=tmp_path)
