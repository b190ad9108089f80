"""The demo (``examples/chat.py`` and its page) in a real browser: two headless Chromium pages chat in one room.

The demo runs as ``scripts/demo`` starts it (a subprocess on a free port, the built-in runner, the official
browser bundle from ``/socket.io/socket.io.js``). Debian's ``chromium`` (``apt-get install -y chromium``) is driven
through the Chrome DevTools Protocol, spoken directly over WebSocket with the ``websockets`` client: no Playwright,
no browser download. A missing Chromium fails the test, it never skips it.

Each page collects what would show in its DevTools console: ``console.error`` and ``console.assert`` calls
(``Runtime.consoleAPICalled``), uncaught exceptions (``Runtime.exceptionThrown``) and the browser's own error
entries such as a failed request (``Log.entryAdded``). Any of them fails the test.

Every wait has a timeout (scaled by ``AIOSOCKETIO_TEST_TIMEOUT_FACTOR``); the browser and the server are always
stopped, the browser first. ``AIOSOCKETIO_CHROMIUM`` names another Chromium binary.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

pytestmark = (
    pytest.mark.node
)  # the demo serves the socket.io-client bundle installed under tests/node_modules

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
PROMPTLY = 10.0 * FACTOR  # upper bound for anything that should happen at once
START_TIMEOUT = 30.0 * FACTOR  # the server or the browser getting ready
TEST_TIMEOUT = 90.0 * FACTOR
HOST = "127.0.0.1"
DEMO = Path(__file__).resolve().parents[2] / "examples" / "chat.py"
CHROMIUM = os.environ.get("AIOSOCKETIO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--mute-audio",
    "--password-store=basic",
    "--remote-debugging-port=0",  # Chromium picks a free port and writes it to DevToolsActivePort
)

# What the tests read from the page (ids and classes of examples/chat.html).
STATUS = "document.getElementById('status')?.dataset.state"
STATUS_TEXT = "document.getElementById('status').textContent"
ROOM_TITLE = "document.getElementById('room-title').textContent"
USERS = "[...document.querySelectorAll('#users li')].map((li) => li.dataset.nick)"
TYPING = "document.getElementById('typing').textContent"
NOTICES = (
    "[...document.querySelectorAll('#log li.notice')].map((li) => li.querySelector('.text').textContent)"
)
THEIRS = """[...document.querySelectorAll('#log li.theirs')]
    .map((li) => [li.dataset.from, li.querySelector('.text').textContent])"""
MINE = """[...document.querySelectorAll('#log li.mine')]
    .map((li) => [li.querySelector('.text').textContent, li.querySelector('.state').textContent])"""
# Records every text the typing indicator shows, so that a short-lived one is not missed between two polls.
WATCH_TYPING = """(() => {
    const typing = document.getElementById('typing');
    window.typingSeen = [];
    new MutationObserver(() => window.typingSeen.push(typing.textContent))
        .observe(typing, {childList: true, characterData: true, subtree: true});
})()"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to ``proc``, SIGKILL if it lingers, then SIGKILL to whatever is left of its process group
    (Chromium's helpers; ``proc`` was started with ``start_new_session=True``, so the group is its own)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


@dataclass
class Demo:
    url: str
    stdout: Path
    stderr: Path
    stderr_text: str = ""  # all of stderr, once the demo has stopped


@dataclass
class Chromium:
    ws_url: str  # the browser target
    port: int
    stderr: Path


@contextlib.contextmanager
def run_demo() -> Iterator[Demo]:
    """``examples/chat.py`` on a free port, as ``scripts/demo`` runs it; stopped at the end."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="aiosocketio-demo-") as folder:
        info = Demo(f"http://{HOST}:{port}/", Path(folder) / "stdout.log", Path(folder) / "stderr.log")
        command = [sys.executable, str(DEMO), "--host", HOST, "--port", str(port)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with info.stdout.open("wb") as out, info.stderr.open("wb") as err:
            proc = subprocess.Popen(
                command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, start_new_session=True
            )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"the demo exited with status {proc.returncode}:\n{tail(info.stderr)}")
                with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
                    break
                if time.monotonic() > deadline:
                    pytest.fail(f"the demo did not listen within {START_TIMEOUT:.0f} s:\n{tail(info.stderr)}")
                time.sleep(0.05)
            yield info
        finally:
            stop(proc, 5.0 * FACTOR)
            info.stderr_text = info.stderr.read_text(errors="replace")
            print(
                f"----- demo stdout -----\n{tail(info.stdout)}\n----- demo stderr -----\n{tail(info.stderr)}"
            )


@contextlib.contextmanager
def run_chromium() -> Iterator[Chromium]:
    """Headless Chromium with a fresh profile and the DevTools endpoint on a free port; stopped at the end."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is needed for the demo's browser test and {CHROMIUM} is missing: install it with "
            "`apt-get update && apt-get install -y chromium` (or point AIOSOCKETIO_CHROMIUM to one)"
        )
    with tempfile.TemporaryDirectory(prefix="aiosocketio-chromium-", ignore_cleanup_errors=True) as folder:
        profile, stderr = Path(folder) / "profile", Path(folder) / "stderr.log"
        command = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"]
        with stderr.open("wb") as err:
            proc = subprocess.Popen(
                command, stdout=err, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
            )
        try:
            active_port = profile / "DevToolsActivePort"
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"Chromium exited with status {proc.returncode}:\n{tail(stderr)}")
                with contextlib.suppress(OSError):
                    lines = active_port.read_text().split()
                    if len(lines) == 2:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"Chromium's DevTools endpoint was not up within {START_TIMEOUT:.0f} s:\n{tail(stderr)}"
                    )
                time.sleep(0.05)
            port = int(lines[0])
            yield Chromium(f"ws://{HOST}:{port}{lines[1]}", port, stderr)
        finally:
            stop(proc, 5.0 * FACTOR)
            print(f"----- chromium output -----\n{tail(stderr, 20)}")


class CdpError(AssertionError):
    pass


class Cdp:
    """One DevTools Protocol connection: commands answered by id, events handed to ``listeners``."""

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.name = name
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                message = json.loads(raw)
                if "id" in message:
                    future = self._pending.pop(message["id"], None)
                    if future is None or future.done():
                        continue
                    if "error" in message:
                        future.set_exception(CdpError(f"{self.name}: {message['error']}"))
                    else:
                        future.set_result(message.get("result", {}))
                else:
                    for listener in self.listeners:
                        listener(message["method"], message.get("params", {}))
        except ConnectionClosed:
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(CdpError(f"{self.name}: the DevTools connection closed"))

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        try:
            async with asyncio.timeout(PROMPTLY):
                return await future
        except TimeoutError:
            raise CdpError(f"{self.name}: no answer to {method} within {PROMPTLY:.0f} s") from None
        finally:
            self._pending.pop(ident, None)

    async def close(self) -> None:
        await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def open_cdp(url: str, name: str) -> AsyncIterator[Cdp]:
    async with asyncio.timeout(PROMPTLY):
        ws = await connect(url, max_size=None, ping_interval=None, open_timeout=None)
    cdp = Cdp(ws, name)
    try:
        yield cdp
    finally:
        await cdp.close()


def _remote_text(value: dict[str, Any]) -> str:
    return str(value["value"]) if "value" in value else str(value.get("description", value.get("type")))


class Page:
    """A browser tab: evaluates JavaScript, types, clicks, waits, and records console errors."""

    def __init__(self, cdp: Cdp, name: str) -> None:
        self.cdp = cdp
        self.name = name
        self.errors: list[str] = []
        self.console: list[str] = []
        cdp.listeners.append(self._on_event)

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled":
            text = " ".join(_remote_text(arg) for arg in params.get("args", []))
            self.console.append(f"console.{params['type']}: {text}")
            if params["type"] in ("error", "assert"):
                self.errors.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            self.errors.append(f"uncaught exception: {text}")
        elif method == "Log.entryAdded":
            entry = params["entry"]
            text = (
                f"{entry['level']} ({entry.get('source')}): {entry['text']} {entry.get('url', '')}".rstrip()
            )
            self.console.append(text)
            if entry["level"] == "error":
                self.errors.append(text)

    def check_no_errors(self) -> None:
        assert not self.errors, f"{self.name}'s console shows errors:\n" + "\n".join(self.errors)

    async def evaluate(self, expression: str) -> Any:
        result = await self.cdp.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CdpError(f"{self.name}: {expression} threw {details.get('exception', details)}")
        return result["result"].get("value")

    async def wait_for(
        self, expression: str, what: str, check: Callable[[Any], bool] = bool, timeout: float = PROMPTLY
    ) -> Any:
        """Poll ``expression`` until ``check`` accepts its value; fail after ``timeout`` seconds saying ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_no_errors()
            value = await self.evaluate(expression)
            if check(value):
                return value
            if time.monotonic() > deadline:
                shown = await self.evaluate("document.body ? document.body.innerText : ''")
                raise AssertionError(
                    f"{self.name}: {what} did not happen within {timeout:.0f} s; last value {value!r}\n"
                    f"----- the page shows -----\n{shown}\n----- console -----\n" + "\n".join(self.console)
                )
            await asyncio.sleep(0.05)

    async def open(self, url: str) -> None:
        result = await self.cdp.send("Page.navigate", url=url)
        assert not result.get("errorText"), f"{self.name}: loading {url} failed: {result['errorText']}"
        await self.wait_for(STATUS, "connecting to the server", lambda state: state == "connected")

    async def type_into(self, element_id: str, text: str) -> None:
        """Replace the content of an input with ``text``, as typing would (``input`` events included)."""
        await self.evaluate(
            f"(() => {{ const e = document.getElementById('{element_id}'); e.focus(); e.select(); }})()"
        )
        await self.cdp.send("Input.insertText", text=text)

    async def click(self, element_id: str) -> None:
        await self.evaluate(f"document.getElementById('{element_id}').click()")

    async def join(self, nick: str, room: str) -> None:
        await self.type_into("nick", nick)
        await self.type_into("room", room)
        await self.click("join-button")
        await self.wait_for(ROOM_TITLE, f"joining #{room}", lambda title: title == f"#{room}")


@contextlib.asynccontextmanager
async def open_page(browser: Cdp, chromium: Chromium, name: str) -> AsyncIterator[Page]:
    """A new tab, with its own DevTools connection; closed at the end."""
    target_id = (await browser.send("Target.createTarget", url="about:blank"))["targetId"]
    try:
        async with open_cdp(f"ws://{HOST}:{chromium.port}/devtools/page/{target_id}", name) as cdp:
            page = Page(cdp, name)
            for domain in ("Runtime", "Log", "Page"):  # before loading anything, so that no message is missed
                await cdp.send(f"{domain}.enable")
            yield page
    finally:
        with contextlib.suppress(CdpError):
            await browser.send("Target.closeTarget", targetId=target_id)


async def test_two_people_chat_in_a_room() -> None:
    # Context managers rather than fixtures, so that a missing Chromium fails the test itself.
    with run_demo() as demo, run_chromium() as chromium:  # the browser stops first
        await chat(demo, chromium)
    server_errors = demo.stderr_text
    assert "Traceback" not in server_errors, f"the demo logged an error:\n{server_errors}"


async def chat(demo: Demo, chromium: Chromium) -> None:
    async with (
        asyncio.timeout(TEST_TIMEOUT),
        open_cdp(chromium.ws_url, "browser") as browser,
        open_page(browser, chromium, "page A (alice)") as alice,
        open_page(browser, chromium, "page B (bob)") as bob,
    ):
        for page in (alice, bob):
            await page.open(demo.url)
            # The page loaded /socket.io/socket.io.js, connected over long-polling and upgraded.
            await page.wait_for(
                STATUS_TEXT, "the upgrade to WebSocket", lambda text: text == "connected (websocket)"
            )

        await alice.join("alice", "garden")
        await alice.wait_for(USERS, "alice alone in the user list", lambda users: users == ["alice"])
        await bob.join("bob", "garden")
        for page in (alice, bob):
            await page.wait_for(
                USERS, "both nicknames in the user list", lambda users: users == ["alice", "bob"]
            )
        await alice.wait_for(
            NOTICES, "the notice that bob joined", lambda notices: "bob joined #garden" in notices
        )

        # Alice says something: bob sees it, alice sees it delivered (the server's ack).
        text = "hello bob, ça va? 👋"
        await alice.type_into("text", text)
        await alice.click("send-button")
        await bob.wait_for(THEIRS, "alice's message", lambda lines: ["alice", text] in lines)
        await alice.wait_for(MINE, "the 'delivered' mark", lambda lines: [text, "delivered"] in lines)

        # Bob types: alice sees the typing indicator (volatile broadcasts), and it goes away when he sends.
        await alice.evaluate(WATCH_TYPING)
        await bob.type_into("text", "hi ali")
        await alice.wait_for(
            "window.typingSeen", "bob's typing indicator", lambda seen: "bob is typing…" in seen
        )
        await bob.type_into("text", "hi alice!")
        await bob.click("send-button")
        await alice.wait_for(THEIRS, "bob's message", lambda lines: ["bob", "hi alice!"] in lines)
        await alice.wait_for(TYPING, "the typing indicator to clear", lambda typing: typing == "")
        await bob.wait_for(MINE, "the 'delivered' mark", lambda lines: ["hi alice!", "delivered"] in lines)

        # Bob leaves: alice gets the notice and a user list without him.
        await bob.click("leave")
        await bob.wait_for(USERS, "an empty user list after leaving", lambda users: users == [])
        await alice.wait_for(
            NOTICES, "the notice that bob left", lambda notices: "bob left #garden" in notices
        )
        await alice.wait_for(USERS, "alice alone again", lambda users: users == ["alice"])

        for page in (alice, bob):
            page.check_no_errors()
