"""The Socket.IO Admin UI against our servers: the real page (npm ``@socket.io/admin-ui`` 0.5.1's ``ui/dist``, served
by ``aiosocketio.admin.ui_app()``) in headless Chromium, and a cluster of two of our servers and one Node.js server
instrumented by the npm package itself, in one Redis (the classic adapter on both sides); and two of our servers in
one PostgreSQL cluster, seen by an admin client (the workers' cluster is run by ``test_doc_samples.py``, with the
admin page's own sample).

The servers are ``tests/servers/admin_app.py`` and its Node.js twin ``tests/servers/admin_node.mjs``; the users and
an admin observer are python-socketio clients. Chromium is driven through the DevTools protocol with the helpers
of ``test_demo_browser.py``: the page's connection form is filled in as a person would type, its buttons clicked,
and what it shows read from the DOM. The page asks for two stylesheets on the internet (Google Fonts, the
Material Design icons); the machine may have no access to them, so those two failed loads are the only console
errors allowed. A screenshot of each page is kept in the test's tmp folder.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import socketio
from conftest import SERVERS_DIR, ServerProcess, scaled
from test_demo_browser import Page, open_cdp, open_page, run_chromium

pytestmark = pytest.mark.node

PROMPTLY = scaled(10.0)
ADMIN_APP = SERVERS_DIR / "admin_app.py"
ADMIN_NODE = SERVERS_DIR / "admin_node.mjs"
PASSWORD = "changeit"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
CREDENTIALS = {"username": "admin", "password": PASSWORD}
#: What the page may fail to load without failing the test: its two stylesheets on the internet.
EXTERNAL = ("fonts.googleapis.com", "cdn.jsdelivr.net")
#: The text of each row of the current view's tables; null while two views are on the page (a transition).
ROWS = """(() => {
    const views = document.querySelectorAll('main .v-main__wrap > .container > *');
    if (views.length !== 1) return null;
    return [...views[0].querySelectorAll('tbody tr')].map((tr) => tr.innerText.replace(/\\s+/g, ' ').trim());
})()"""

Start = Callable[..., ServerProcess]


# -- python-socketio clients: the users, and an admin observer ----------------------------------------------------


class Admin:
    """A client of ``/admin`` as the UI is one, recording every event it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[Any, ...]] = []
        self._changed = asyncio.Event()

        @self.client.on("*", namespace="/admin")
        def record(event: str, *args: Any) -> None:
            self.received.append((event, *args))
            self._changed.set()

    def events(self, name: str) -> list[tuple[Any, ...]]:
        return [tuple(args) for event, *args in self.received if event == name]

    async def wait_for(
        self, name: str, check: Callable[[tuple[Any, ...]], bool], what: str
    ) -> tuple[Any, ...]:
        try:
            async with asyncio.timeout(PROMPTLY):
                while True:
                    for args in self.events(name):
                        if check(args):
                            return args
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"{what}: no such {name!r} within {PROMPTLY:.0f} s") from None

    async def emit(self, event: str, *args: Any) -> None:
        await self.client.emit(event, args, namespace="/admin")


@contextlib.asynccontextmanager
async def admin_of(url: str) -> AsyncIterator[Admin]:
    admin = Admin()
    await admin.client.connect(url, namespaces=["/admin"], auth=CREDENTIALS, wait_timeout=PROMPTLY)
    try:
        yield admin
    finally:
        await admin.client.disconnect()


@contextlib.asynccontextmanager
async def user(url: str, nick: str, rooms: str = "") -> AsyncIterator[socketio.AsyncClient]:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(f"{url}?nick={nick}&rooms={rooms}", wait_timeout=PROMPTLY)
    try:
        yield client
    finally:
        await client.disconnect()


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + PROMPTLY
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"{what} did not happen within {PROMPTLY:.0f} s"
        await asyncio.sleep(0.05)


# -- the page -----------------------------------------------------------------------------------------------------


class AdminPage:
    """The Admin UI in a browser tab: its connection form, its views (by their ``#/`` routes) and its tables."""

    def __init__(self, page: Page, screenshots: Path) -> None:
        self.page = page
        self.screenshots = screenshots
        original = page.check_no_errors

        def check_no_errors() -> None:
            page.errors[:] = [e for e in page.errors if not any(host in e for host in EXTERNAL)]
            original()

        page.check_no_errors = check_no_errors  # type: ignore[method-assign]

    async def open(self, url: str) -> None:
        result = await self.page.cdp.send("Page.navigate", url=url)
        assert not result.get("errorText"), f"loading {url} failed: {result['errorText']}"
        await self.page.wait_for(
            "document.querySelectorAll('.v-dialog--active input').length",
            "the connection form",
            lambda n: n >= 3,
        )

    async def type_into(self, index: int, text: str) -> None:
        """Type ``text`` into the ``index``-th field of the connection form, replacing what it holds."""
        await self.page.evaluate(
            f"(() => {{ const e = document.querySelectorAll('.v-dialog--active input')[{index}];"
            " e.focus(); e.select(); })()"
        )
        await self.page.cdp.send("Input.insertText", text=text)

    async def log_in(self, server_url: str) -> None:
        # the fields in order: server URL, username, password
        await self.type_into(0, server_url)
        await self.type_into(1, CREDENTIALS["username"])
        await self.type_into(2, CREDENTIALS["password"])
        await self.page.evaluate("document.querySelector('.v-dialog--active button[type=submit]').click()")
        await self.page.wait_for(
            "!document.querySelector('.v-dialog--active')", "the form closing on success"
        )

    async def show(self, route: str) -> None:
        await self.page.evaluate(f"location.hash = {json.dumps(route)}")

    async def wait_for_rows(self, what: str, check: Callable[[list[str]], bool]) -> list[str]:
        """The rows of the tables the current view shows, once ``check`` accepts them (while the views slide,
        the one leaving is still there: its rows are not read)."""
        return list(await self.page.wait_for(ROWS, what, lambda rows: rows is not None and check(list(rows))))

    async def screenshot(self, name: str) -> Path:
        shot = await self.page.cdp.send("Page.captureScreenshot", format="png")
        path = self.screenshots / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@contextlib.asynccontextmanager
async def admin_page(tmp_path: Path) -> AsyncIterator[AdminPage]:
    with run_chromium() as chromium:
        async with (
            open_cdp(chromium.ws_url, "browser") as browser,
            open_page(browser, chromium, "admin ui") as page,
        ):
            await page.cdp.send(
                "Emulation.setDeviceMetricsOverride",
                width=1400,
                height=900,
                deviceScaleFactor=1,
                mobile=False,
            )
            yield AdminPage(page, tmp_path)


def row_with(rows: list[str], text: str) -> str | None:
    return next((row for row in rows if text in row), None)


# -- one server: the page lists the sockets, the rooms and the server, and disconnects a socket ------------------


async def test_the_page_shows_our_server_and_disconnects_a_socket(
    server_factory: Start, tmp_path: Path
) -> None:
    server = server_factory(ADMIN_APP, "--password-hash", HASH, "--server-id", "py-solo")
    async with (
        asyncio.timeout(scaled(90.0)),
        admin_of(server.url) as observer,
        user(server.url, "alice", "garden") as alice,
        user(server.url, "bob", "garden,kitchen") as bob,
        admin_page(tmp_path) as ui,
    ):
        alice_id, bob_id = alice.get_sid("/"), bob.get_sid("/")
        await ui.open(f"{server.url}/admin/")
        await ui.screenshot("login")
        await ui.log_in(server.url)

        # The page's own connection: polling first, then the upgrade to WebSocket, reported as it happens.
        connected = await observer.wait_for(
            "socket_connected",
            lambda a: a[0]["nsp"] == "/admin" and a[0]["transport"] == "polling",
            "the page",
        )
        page_sid = connected[0]["id"]
        await observer.wait_for(
            "socket_updated",
            lambda a: a[0] == {"id": page_sid, "nsp": "/admin", "transport": "websocket"},
            "upgrade",
        )

        await ui.show("#/sockets/")
        rows = await ui.wait_for_rows(
            "alice's and bob's sockets",
            lambda rows: bool(row_with(rows, alice_id) and row_with(rows, bob_id)),
        )
        assert len(rows) == 2, rows  # the sockets of "/" (the admin namespace is another choice of the page)
        assert "127.0.0.1" in row_with(rows, bob_id)  # type: ignore[operator]
        await ui.screenshot("sockets")

        await ui.show("#/rooms/")
        await ui.wait_for_rows(
            "the rooms garden (alice and bob) and kitchen (bob)",  # the sockets' own rooms are hidden
            lambda rows: sorted(rows) == ["garden PUBLIC 2", "kitchen PUBLIC 1"],
        )
        await ui.screenshot("rooms")

        await ui.show("#/servers/")
        rows = await ui.wait_for_rows("our server", lambda rows: bool(row_with(rows, "py-solo")))
        assert len(rows) == 1, rows
        # clients: alice, bob, the observer and the page itself
        assert " 4 " in f" {row_with(rows, 'py-solo')} ", rows
        await ui.screenshot("servers")

        await ui.show("#/")
        # The server's stats: two sockets in each namespace (the admin ones are the observer and the page), the
        # four connections over WebSocket, one healthy server.
        rows = await ui.wait_for_rows(
            "the dashboard's counts", lambda rows: {"/ 2", "/admin 2", "WebSocket 4 100.0 %"} <= set(rows)
        )
        assert "HEALTHY 1 100.0 %" in rows, rows
        await asyncio.sleep(1)  # the cards fade in
        await ui.screenshot("dashboard")

        # Bob's disconnect button (the row's only button), as a person would click it.
        await ui.show("#/sockets/")
        await ui.wait_for_rows("bob's socket", lambda rows: bool(row_with(rows, bob_id)))
        clicked = await ui.page.evaluate(
            f"""(() => {{
                const row = [...document.querySelectorAll('main tbody tr')].find((tr) => tr.innerText.includes({json.dumps(bob_id)}));
                const button = row && row.querySelector('button');
                if (!button) return false;
                button.click();
                return true;
            }})()"""
        )
        assert clicked, "no disconnect button in bob's row"
        await until(lambda: not bob.connected, "bob's disconnection")
        assert alice.connected
        # The click also reached the row, which opens the socket's details (as with a mouse): it shows bob's
        # socket disconnected; the list no longer has it.
        await ui.page.wait_for(
            "document.querySelector('main').innerText",
            "bob's socket shown as disconnected",
            lambda text: bob_id in text and "DISCONNECTED" in text.upper(),
        )
        await ui.screenshot("socket-details")
        await ui.show("#/sockets/")
        await ui.wait_for_rows("bob's row going away", lambda rows: len(rows) == 1 and alice_id in rows[0])
        await ui.screenshot("after-disconnect")
        ui.page.check_no_errors()
    await until(
        lambda: ["DISCONNECT", bob_id, "server", "namespace", "disconnect"] in server.lines("DISCONNECT"),
        "the server's report of bob's disconnection",
    )
    for name in ("login", "sockets", "rooms", "servers", "dashboard", "socket-details", "after-disconnect"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000


# -- a mixed cluster: two of ours and the npm package's own instrumentation on Node.js -----------------------------


async def test_a_mixed_cluster_appears_as_three_servers(
    server_factory: Start, redis_url: str, tmp_path: Path
) -> None:
    key = f"admin-{uuid.uuid4().hex[:8]}"
    cluster = ("--redis", redis_url, "--key", key)
    py1 = server_factory(ADMIN_APP, "--password-hash", HASH, "--server-id", "py-1", *cluster)
    py2 = server_factory(
        ADMIN_APP, "--password-hash", HASH, "--server-id", "py-2", *cluster, frontend="uvicorn"
    )
    node = server_factory(ADMIN_NODE, redis_url, key, "node-1", HASH)
    servers = {"py-1", "py-2", "node-1"}
    async with (
        asyncio.timeout(scaled(120.0)),
        user(py1.url, "ann", "red") as ann,
        user(py2.url, "ben", "red,blue") as ben,
        user(node.url, "cat", "blue") as cat,
        admin_of(py1.url) as on_py1,
        admin_of(node.url) as on_node,
    ):
        ids = {"ann": ann.get_sid("/"), "ben": ben.get_sid("/"), "cat": cat.get_sid("/")}
        # Every server's stats reach the admin clients of every server, through the adapter.
        for admin, where in ((on_py1, "py-1"), (on_node, "node-1")):
            seen: set[str] = set()

            def collect(args: tuple[Any, ...], seen: set[str] = seen) -> bool:
                seen.add(args[0]["serverId"])
                return seen >= servers

            await admin.wait_for("server_stats", collect, f"the stats of the three servers on {where}")
            assert seen == servers

        # all_sockets is fetched from the whole cluster, whoever is asked, with what each side knows of a socket.
        for admin in (on_py1, on_node):
            (sockets,) = await admin.wait_for("all_sockets", lambda _: True, "the sockets of the cluster")
            users = {s["data"]["nick"]: s for s in sockets if s["nsp"] == "/"}
            assert set(users) == {"ann", "ben", "cat"}, sockets
            for nick, sid in ids.items():
                entry = users[nick]
                assert entry["id"] == sid
                assert len(entry["clientId"]) == 12  # the _admin data each instrumented server adds
                assert entry["transport"] == "websocket"
                assert entry["data"] == {"nick": nick}
            assert sorted(users["ben"]["rooms"]) == sorted([ids["ben"], "red", "blue"])

        # Live events from the other servers arrive too.
        async with user(node.url, "dan") as dan:
            dan_id = dan.get_sid("/")
            await on_py1.wait_for(
                "socket_connected", lambda a: a[0]["id"] == dan_id, "dan on node, seen from py-1"
            )
        async with user(py2.url, "eve") as eve:
            eve_id = eve.get_sid("/")
            await on_node.wait_for(
                "socket_connected", lambda a: a[0]["id"] == eve_id, "eve on py-2, seen from node"
            )

        # The actions reach the sockets of the other servers: py-1's admin disconnects cat (on Node.js), Node's
        # admin makes ben (on py-2) join a room, then disconnects him.
        await on_py1.emit("_disconnect", "/", False, ids["cat"])
        await until(lambda: not cat.connected, "cat's disconnection from py-1's admin")
        await on_node.emit("join", "/", "green", ids["ben"])
        await on_py1.wait_for(
            "room_joined", lambda a: a[:3] == ("/", "green", ids["ben"]), "ben joining green"
        )
        await on_node.emit("_disconnect", "/", False, ids["ben"])
        await until(lambda: not ben.connected, "ben's disconnection from node's admin")
        assert ann.connected

        # The page, served by py-1, lists the three servers.
        async with admin_page(tmp_path) as ui:
            await ui.open(f"{py1.url}/admin/")
            await ui.log_in(py1.url)
            await ui.show("#/servers/")
            rows = await ui.wait_for_rows(
                "the three servers", lambda rows: all(row_with(rows, server) for server in servers)
            )
            assert len(rows) == 3, rows
            await ui.screenshot("cluster-servers")
            await ui.show("#/sockets/")
            await ui.wait_for_rows("ann's socket", lambda rows: bool(row_with(rows, ids["ann"])))
            await ui.screenshot("cluster-sockets")
            ui.page.check_no_errors()
    assert (tmp_path / "cluster-servers.png").stat().st_size > 1000


async def test_a_postgres_cluster_appears_as_two_servers(server_factory: Start, postgres_url: str) -> None:
    """Two of our servers on one PostgreSQL (the runner and uvicorn): an admin client of either gets the stats of
    both and the sockets of both, and its actions reach the sockets of the other server."""
    cluster = ("--postgres", postgres_url, "--key", f"admin-{uuid.uuid4().hex[:8]}")
    pg1 = server_factory(ADMIN_APP, "--password-hash", HASH, "--server-id", "pg-1", *cluster)
    pg2 = server_factory(
        ADMIN_APP, "--password-hash", HASH, "--server-id", "pg-2", *cluster, frontend="uvicorn"
    )
    async with (
        asyncio.timeout(scaled(60.0)),
        user(pg1.url, "ann", "red") as ann,
        user(pg2.url, "ben", "red,blue") as ben,
        admin_of(pg1.url) as on_pg1,
        admin_of(pg2.url) as on_pg2,
    ):
        ids = {"ann": ann.get_sid("/"), "ben": ben.get_sid("/")}
        for admin, where in ((on_pg1, "pg-1"), (on_pg2, "pg-2")):
            seen: set[str] = set()

            def collect(args: tuple[Any, ...], seen: set[str] = seen) -> bool:
                seen.add(args[0]["serverId"])
                return seen >= {"pg-1", "pg-2"}

            await admin.wait_for("server_stats", collect, f"the stats of both servers on {where}")
            assert seen == {"pg-1", "pg-2"}
            (sockets,) = await admin.wait_for("all_sockets", lambda _: True, f"the sockets on {where}")
            users = {s["data"]["nick"]: s for s in sockets if s["nsp"] == "/"}
            assert {nick: entry["id"] for nick, entry in users.items()} == ids, sockets
            assert sorted(users["ben"]["rooms"]) == sorted([ids["ben"], "red", "blue"])

        await on_pg1.emit("join", "/", "green", ids["ben"])
        await on_pg2.wait_for(
            "room_joined", lambda a: a[:3] == ("/", "green", ids["ben"]), "ben joining green"
        )
        await on_pg1.emit("_disconnect", "/", False, ids["ben"])
        await until(lambda: not ben.connected, "ben's disconnection from pg-1's admin")
        assert ann.connected
