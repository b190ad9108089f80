"""Every code sample of ``README.md`` and ``docs/`` runs, as its reader would run it, and does what the text says.

:mod:`docsamples` finds the fenced blocks and their markers. Each server sample is written to ``app.py`` in a
fresh folder and started each way it names (``python app.py``, ``uvicorn app:app``, ..., and the documented
commands such as ``aiosocketio run app:io``); its Python client sample (python-socketio's ``AsyncClient``, or
plain HTTP) then runs against it and must print exactly the documented output, and its HTML page, if any, is
opened in headless Chromium with the official JavaScript client. The cluster samples need two servers, a
Redis or a PostgreSQL and an emitter in a third process: the scenarios below run them.

A python block that is neither run nor marked as a fragment (with a reason) fails
:func:`test_every_sample_is_accounted_for`; the last tests show that the runner does fail on a broken sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import socketio
from apps import run_program
from docsamples import (
    DOCS,
    Program,
    Run,
    SampleError,
    Services,
    catalog,
    check,
    localise,
    needs,
    run_pytest,
    start,
)
from test_demo_browser import open_cdp, open_page, run_chromium

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")
PROMPTLY = 5.0 * FACTOR

pytestmark = pytest.mark.node  # serve_client=True and the browser page use the npm socket.io-client


# -- what a cluster sample promises -------------------------------------------------------------------------


class Chat:
    """A python-socketio client of a cluster sample that records every ``chat`` and ``news`` it receives."""

    def __init__(self, transport: str) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.transport = transport
        self.received: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.client.on("chat", lambda *args: self.received.put_nowait(("chat", *args)))
        self.client.on("news", lambda *args: self.received.put_nowait(("news", *args)))

    async def next(self) -> tuple[Any, ...]:
        return await asyncio.wait_for(self.received.get(), PROMPTLY)


@contextlib.asynccontextmanager
async def chats(*urls_and_transports: tuple[str, str]) -> AsyncIterator[list[Chat]]:
    clients = [Chat(transport) for _, transport in urls_and_transports]
    try:
        for chat, (url, transport) in zip(clients, urls_and_transports, strict=True):
            await chat.client.connect(url, transports=[transport], wait_timeout=PROMPTLY)
        yield clients
    finally:
        for chat in clients:
            await chat.client.disconnect()


async def _cross_servers(one: str, other: str, *, retry: bool) -> None:
    """A chat sent on server ``one`` reaches room1 on both servers; and the other way round.

    ``retry``: the sharded adapter subscribes to a new room's channel in the background (as the page says), and
    workers connect to each other in their first moments, so the first messages may miss the other server:
    send again until one arrives.
    """
    async with chats((one, "websocket"), (other, "polling")) as (alice, bob):
        for attempt in range(20 if retry else 1):
            assert await alice.client.call("chat", f"hello {attempt}", timeout=PROMPTLY) == "received"
            assert (await alice.next())[:2] == ("chat", f"hello {attempt}")
            try:
                got = await asyncio.wait_for(bob.received.get(), 0.5 if retry else PROMPTLY)
            except TimeoutError:
                continue
            # (With connection state recovery, an event carries its offset as a last argument.)
            assert got[:2] == ("chat", f"hello {attempt}")
            break
        else:
            raise AssertionError("no chat crossed the servers")
        if retry:  # a first message that arrived late is not the one awaited next
            await asyncio.sleep(0.5)
            for chat in (alice, bob):
                while not chat.received.empty():
                    chat.received.get_nowait()
        assert await bob.client.call("chat", "back", timeout=PROMPTLY) == "received"
        assert (await bob.next())[:2] == ("chat", "back")
        assert (await alice.next())[:2] == ("chat", "back")


async def cluster(program: Program, run: Run, services: Services) -> None:
    """Two servers of the sample on one bus (``python app.py`` and ``uvicorn app:app``) share room1; the
    emitter scripts of the page reach the clients of both (``news`` 1, then 2)."""
    first, second = Run(run.name, run.variant, "python"), Run(run.name, run.variant, "uvicorn")
    with start(program, first, services) as port_a, start(program, second, services) as port_b:
        one, other = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        await _cross_servers(one, other, retry=run.variant == "sharded")
        if run.variant:
            return
        for script in program.scripts:
            async with chats((one, "websocket"), (other, "websocket")) as (alice, bob):
                await asyncio.to_thread(run_program, localise(script.code, {}, services))
                for chat in (alice, bob):
                    assert await chat.next() == ("news", 1)
                    assert await chat.next() == ("news", 2)


async def workers(program: Program, run: Run, services: Services) -> None:
    """Two workers of the sample, ``python app.py`` and ``uvicorn app:app``, with the settings the ``workers=N``
    supervisor gives each worker in its environment, share room1. (Chats are sent again until one crosses: the
    workers connect to each other in the first moments.)"""
    first, second = Run(run.name, run.variant, "python"), Run(run.name, run.variant, "uvicorn")
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="aiosocketio-workers-") as directory:
        try:
            with contextlib.ExitStack() as stack:
                ports = []
                for index, way in enumerate((first, second)):
                    os.environ.update(
                        AIOSOCKETIO_WORKER_INDEX=str(index),
                        AIOSOCKETIO_WORKERS="2",
                        AIOSOCKETIO_WORKER_DIR=directory,
                    )
                    ports.append(stack.enter_context(start(program, way, services)))
                os.environ.clear()
                os.environ.update(saved)
                one, other = (f"http://127.0.0.1:{port}" for port in ports)
                await _cross_servers(one, other, retry=True)
        finally:
            os.environ.clear()
            os.environ.update(saved)


async def admin_cluster(program: Program, run: Run, services: Services) -> None:
    """Two servers of the Admin UI's cluster sample (``python app.py`` and ``uvicorn app:app``): an admin client of
    either gets the stats of both, and a session id given by one logs in on the other (the ``RedisStore``)."""
    first, second = Run(run.name, run.variant, "python"), Run(run.name, run.variant, "uvicorn")
    with start(program, first, services) as port_a, start(program, second, services) as port_b:
        urls = [f"http://127.0.0.1:{port}" for port in (port_a, port_b)]
        session_id = None
        for url in urls:
            admin = socketio.AsyncClient(reconnection=False)
            stats: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            sessions: asyncio.Queue[str] = asyncio.Queue()
            admin.on("server_stats", stats.put_nowait, namespace="/admin")
            admin.on("session", sessions.put_nowait, namespace="/admin")
            auth = {"sessionId": session_id} if session_id else {"username": "admin", "password": "changeit"}
            await admin.connect(url, namespaces=["/admin"], auth=auth, wait_timeout=PROMPTLY)
            try:
                if session_id is None:
                    session_id = await asyncio.wait_for(sessions.get(), PROMPTLY)
                servers: set[str] = set()
                async with asyncio.timeout(3 * PROMPTLY):
                    while len(servers) < 2:
                        servers.add((await stats.get())["serverId"])
                assert all("#" in server for server in servers), servers  # host#pid: one id per process
            finally:
                await admin.disconnect()


async def admin_workers(program: Program, run: Run, services: Services) -> None:
    """The Admin UI's workers sample, ``python app.py`` (two workers): an admin client gets the stats of both
    workers, each named ``host#pid`` with its own pid, and the sockets of the users of both."""
    with start(program, Run(run.name, run.variant, "python"), services) as port:
        url = f"http://127.0.0.1:{port}"
        auth = {"username": "admin", "password": "changeit"}
        stats: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        admin = socketio.AsyncClient(reconnection=False)
        admin.on("server_stats", stats.put_nowait, namespace="/admin")
        await admin.connect(url, namespaces=["/admin"], auth=auth, wait_timeout=PROMPTLY)
        try:
            servers: dict[str, int] = {}
            async with asyncio.timeout(3 * PROMPTLY):
                while len(servers) < 2:
                    stat = await stats.get()
                    servers[stat["serverId"]] = stat["pid"]
        finally:
            await admin.disconnect()
        assert len(set(servers.values())) == 2, servers
        for server, pid in servers.items():
            assert server.endswith(f"#{pid}"), servers

        # Users spread over the workers (the kernel gives each new connection to one of them at random: twelve
        # all reach the same one with a probability of 1 in 2,048); a new admin client lists them all.
        users = [socketio.AsyncClient(reconnection=False) for _ in range(12)]
        sockets: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        try:
            for user in users:
                await user.connect(url, transports=["websocket"], wait_timeout=PROMPTLY)
            admin = socketio.AsyncClient(reconnection=False)
            admin.on("all_sockets", sockets.put_nowait, namespace="/admin")
            await admin.connect(url, namespaces=["/admin"], auth=auth, wait_timeout=PROMPTLY)
            try:
                listed = await asyncio.wait_for(sockets.get(), PROMPTLY)
            finally:
                await admin.disconnect()
            assert {s["id"] for s in listed if s["nsp"] == "/"} == {user.get_sid("/") for user in users}
        finally:
            for user in users:
                await user.disconnect()


Scenario = Callable[[Program, Run, Services], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {
    "clusters-redis": cluster,
    "clusters-postgres": cluster,
    "clusters-workers": workers,
    "admin-ui-cluster": admin_cluster,
    "admin-ui-workers": admin_workers,
}


# -- collecting ---------------------------------------------------------------------------------------------


def _collect() -> tuple[dict[str, Program], str]:
    try:
        return catalog(DOCS, scenarios=frozenset(SCENARIOS)), ""
    except SampleError as exc:
        return {}, str(exc)


PROGRAMS, PROBLEMS = _collect()


def _runs() -> list[Run]:
    runs: list[Run] = []
    for name, program in sorted(PROGRAMS.items()):
        if name in SCENARIOS:
            runs += [Run(name, variant, "cluster") for variant in ["", *(a.variant for a in program.alts)]]
        elif program.server is not None:
            runs += program.runs()
        elif program.pytest_files:
            runs.append(Run(name, "", "pytest"))
    return runs


RUNS = _runs()
#: When the samples cannot be sorted out, one run that fails with the reason (rather than a collection error).
PARAMETERS = RUNS or [Run("(no samples)", "", "none")]


def test_every_sample_is_accounted_for() -> None:
    """Every python block of README.md and docs/ is run, or marked as a fragment with a reason."""
    assert not PROBLEMS, "the documentation's samples:\n" + PROBLEMS
    assert RUNS


def services_for(program: Program, request: pytest.FixtureRequest) -> Services:
    services = Services()
    wanted = needs(program)
    if "redis" in wanted:
        services.replacements["127.0.0.1:6379"] = urlsplit(request.getfixturevalue("redis_url")).netloc
    if "postgres" in wanted:
        address = urlsplit(request.getfixturevalue("postgres_url"))
        services.replacements["127.0.0.1:5432"] = f"127.0.0.1:{address.port}"
    return services


async def browse(url: str, expected: list[str]) -> None:
    """Open ``url`` in headless Chromium; its ``#log`` items must come to read ``expected``, with no error in
    its console."""
    items = "[...document.querySelectorAll('#log li')].map((li) => li.textContent)"
    with run_chromium() as chromium:
        async with (
            asyncio.timeout(60 * FACTOR),
            open_cdp(chromium.ws_url, "browser") as browser,
            open_page(browser, chromium, "the page") as page,
        ):
            result = await page.cdp.send("Page.navigate", url=url)
            assert not result.get("errorText"), result
            await page.wait_for(items, f"the page to show {expected}", lambda shown: shown == expected)
            page.check_no_errors()


@pytest.mark.parametrize("run", PARAMETERS, ids=[run.id for run in PARAMETERS])
async def test_sample(run: Run, request: pytest.FixtureRequest) -> None:
    """The sample, started this way, does what its page says (its client prints the documented output)."""
    assert not PROBLEMS, "the documentation's samples:\n" + PROBLEMS
    program = PROGRAMS[run.name]
    services = services_for(program, request)
    scenario = SCENARIOS.get(run.name)
    if run.way == "pytest":
        await asyncio.to_thread(run_pytest, program)
    elif scenario is not None:
        await scenario(program, run, services)
    else:
        await check(program, run, services, browse)


# -- the runner fails on a broken sample --------------------------------------------------------------------

SERVER = """\
import aiosocketio

io = aiosocketio.Server()

@io.on("connection")
def on_connection(socket):
    @socket.on("double")
    def double(n):
        return n * 2

app = io.asgi_app()

if __name__ == "__main__":
    io.run(host="127.0.0.1", port=3000)
"""

CLIENT = """\
import asyncio
import socketio

async def main():
    client = socketio.AsyncClient()
    await client.connect("http://127.0.0.1:3000")
    print(await client.call("double", 21))
    await client.disconnect()

asyncio.run(main())
"""


def _page(tmp_path: Path, server: str, output: str, *, marked: bool = True) -> Path:
    marker = "<!-- sample: server double -->\n" if marked else ""
    text = (
        f"# A page\n\n{marker}```python\n{server}```\n\nText.\n\n<!-- sample: client double -->\n\n"
        f"```python\n{CLIENT}```\n\n<!-- sample: output double -->\n```text\n{output}\n```\n"
    )
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return page


async def test_a_correct_sample_passes(tmp_path: Path) -> None:
    programs = catalog([_page(tmp_path, SERVER, "42")])
    (run,) = [run for run in programs["double"].runs() if run.way == "python"]
    await check(programs["double"], run, Services(), None)


async def test_a_sample_whose_output_differs_fails(tmp_path: Path) -> None:
    programs = catalog([_page(tmp_path, SERVER, "43")])
    (run,) = [run for run in programs["double"].runs() if run.way == "uvicorn"]
    with pytest.raises(AssertionError, match="the client printed"):
        await check(programs["double"], run, Services(), None)


async def test_a_broken_server_sample_fails(tmp_path: Path) -> None:
    broken = SERVER.replace("aiosocketio.Server()", "aiosocketio.Server(ping_interval=25000)")
    programs = catalog([_page(tmp_path, broken, "42")])
    (run,) = [run for run in programs["double"].runs() if run.way == "python"]
    with pytest.raises(RuntimeError, match="exited with 1 before listening"):
        await check(programs["double"], run, Services(), None)


def test_an_unmarked_python_block_fails(tmp_path: Path) -> None:
    with pytest.raises(SampleError, match=r"page\.md:3: a python block with no <!-- sample"):
        catalog([_page(tmp_path, SERVER, "42", marked=False)])


def test_a_fragment_needs_a_reason(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- sample: fragment -->\n```python\nx = 1\n```\n", encoding="utf-8")
    with pytest.raises(SampleError, match="a fragment needs a reason"):
        catalog([page])
    page.write_text("<!-- sample: fragment -- one line of a larger program -->\n```python\nx = 1\n```\n")
    assert catalog([page]) == {}


def _pytest_page(tmp_path: Path, test: str, *, test_name: str = "test_app") -> Path:
    page = tmp_path / "testing.md"
    page.write_text(
        "<!-- sample: pytest kit/app -->\n```python\nANSWER = 42\n```\n\n"
        f"<!-- sample: pytest kit/{test_name} -->\n```python\n{test}```\n",
        encoding="utf-8",
    )
    return page


def test_a_pytest_sample_passes_only_when_its_tests_do(tmp_path: Path) -> None:
    passing = "from app import ANSWER\n\n\ndef test_answer():\n    assert ANSWER == 42\n"
    assert "1 passed" in run_pytest(catalog([_pytest_page(tmp_path, passing)])["kit"])
    failing = passing.replace("42", "43")
    with pytest.raises(AssertionError, match="pytest failed"):
        run_pytest(catalog([_pytest_page(tmp_path, failing)])["kit"])
    skipping = "import pytest\n\n\n@pytest.mark.skip\ndef test_answer():\n    pass\n"
    with pytest.raises(AssertionError, match=r"no test ran|not a clean pass"):
        run_pytest(catalog([_pytest_page(tmp_path, skipping)])["kit"])


def test_a_pytest_sample_needs_a_test_file(tmp_path: Path) -> None:
    with pytest.raises(SampleError, match="a pytest project with no test_"):
        catalog([_pytest_page(tmp_path, "x = 1\n", test_name="helpers")])


def test_a_port_is_changed_only_where_it_is_one() -> None:
    assert localise("port=3000, 30001, 13000, :3000/x", {3000: 4123}, Services()) == (
        "port=4123, 30001, 13000, :4123/x"
    )
