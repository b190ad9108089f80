"""``serve_client=True``: the browser bundles of npm socket.io-client, with ETag and 304, found on disk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

import aiosocketio
from aiosocketio.client_bundle import BUNDLES, find_client_dir

TESTS = Path(__file__).resolve().parents[1]
DIST = TESTS / "node_modules" / "socket.io-client" / "dist"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    io = aiosocketio.Server(serve_client=True, client_dir=str(DIST.parent))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=io.asgi_app()), base_url="http://t"
    ) as http:
        yield http
    await io.close()


@pytest.mark.parametrize("name", sorted(BUNDLES))
async def test_every_bundle_file_is_served_as_on_disk(client: httpx.AsyncClient, name: str) -> None:
    response = await client.get(f"/socket.io/{name}")
    assert response.status_code == 200
    assert response.content == (DIST / name).read_bytes()
    expected = "application/json" if name.endswith(".map") else "application/javascript"
    assert response.headers["content-type"].startswith(expected)
    assert response.headers["etag"]


async def test_etag_gives_304(client: httpx.AsyncClient) -> None:
    first = await client.get("/socket.io/socket.io.min.js")
    again = await client.get("/socket.io/socket.io.min.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    stale = await client.get("/socket.io/socket.io.min.js", headers={"If-None-Match": '"0.0.0"'})
    assert stale.status_code == 200


async def test_other_files_and_the_engine_are_untouched(client: httpx.AsyncClient) -> None:
    assert (await client.get("/socket.io/package.json")).status_code == 400  # an engine request, not a file
    handshake = await client.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert handshake.text.startswith("0{")


def test_bundles_are_not_served_unless_asked() -> None:
    io = aiosocketio.Server()
    assert io._bundle is None


def test_lookup_order_and_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_client_dir(DIST.parent) == DIST
    assert find_client_dir(DIST) == DIST
    monkeypatch.setenv("AIOSOCKETIO_CLIENT_DIR", str(DIST.parent))
    assert find_client_dir() == DIST
    monkeypatch.delenv("AIOSOCKETIO_CLIENT_DIR")
    assert find_client_dir(start=TESTS / "unit") == DIST  # found upward, under tests/node_modules
    with pytest.raises(FileNotFoundError, match=r"npm install socket\.io-client"):
        find_client_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match="client_dir"):
        aiosocketio.Server(serve_client=True, client_dir=str(tmp_path))
