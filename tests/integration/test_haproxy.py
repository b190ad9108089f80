"""The deployment guide's HAProxy configuration, run for real in front of two server processes on one Redis.

As for nginx (``test_nginx.py``): the configuration under test is the block printed in
``docs/operations/deployment.md`` after its ``<!-- haproxy: NAME -->`` comment, with only its addresses changed
(``bind :80`` becomes a free loopback port, the servers' ports 3001 and 3002 those of the two servers started
here), and the app behind it, the clients and the checks are those of every proxy (:mod:`proxied`).

Debian's HAProxy runs in the foreground (``-db``) as a child process, its configuration in a temporary folder, with
a ``global`` section of the test's own (nothing but where its messages go) in front of the page's text.

Covered: every client stays on its server through the page's cookie configuration and gets each broadcast once;
without the cookie, long-polling clients fail; the page's ``balance source`` variant keeps a client on one server;
a client whose server crashes is sent to the other one (``option redispatch``, then the health check) and the
cookie keeps it there once the first one is back.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from apps import AppProcess
from conftest import free_port
from proxied import (
    check_by_address,
    check_failover,
    check_not_sticky,
    check_sticky,
    doc_config,
    localise,
    run_proxy_process,
    serve_twice,
)

pytestmark = pytest.mark.node

BIND = "bind :80"
COOKIE = "cookie io_server insert indirect nocache httponly"
#: HAProxy's health checks with the page's ``check`` and no other setting: one every 2 s, a server is up again
#: after 2 good ones.
CHECK_INTERVAL = 2.0
CHECK_RISE = 2


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None
    )
    assert found, (
        "HAProxy is needed for the deployment guide's test: apt-get install haproxy (.ci/run installs it)"
    )
    return found


def haproxy_config(name: str, backends: tuple[int, int]) -> str:
    """The page's HAProxy block ``name`` with the test's addresses."""
    return localise(doc_config("haproxy", name), BIND, backends)


@contextlib.contextmanager
def run_haproxy(config: str) -> Iterator[int]:
    """HAProxy running ``config`` (with ``$PORT`` for the port it binds) on a free loopback port, stopped at the
    end."""
    binary = haproxy_binary()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="aiosocketio-haproxy-") as name:
        folder = Path(name)
        conf = folder / "haproxy.cfg"
        conf.write_text(
            "global\n    log stderr format raw daemon warning\n\n" + config.replace("$PORT", str(port)),
            encoding="utf-8",
        )
        # Checked first: a configuration HAProxy refuses is reported as such, not as a proxy that never listened.
        checked = subprocess.run([binary, "-c", "-f", str(conf)], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, f"HAProxy refuses the configuration:\n{conf.read_text()}\n{checked}"
        argv = [binary, "-db", "-f", str(conf)]
        with run_proxy_process("HAProxy", argv, port, folder, conf, ("stderr.log",)):
            yield port


@pytest.fixture(scope="module")
def backends(redis_url: str) -> Iterator[tuple[AppProcess, AppProcess]]:
    """The test app served twice on one Redis: the built-in server (the command) and uvicorn."""
    with serve_twice(redis_url) as both:
        yield both


async def test_the_guides_haproxy_config_keeps_every_client_on_its_server(
    backends: tuple[AppProcess, AppProcess],
) -> None:
    """Through the page's configuration, clients of every transport connect to both servers, stay connected for
    several heartbeats, and get a broadcast of each server exactly once."""
    a, b = backends
    with run_haproxy(haproxy_config("sticky-cookie", (a.port, b.port))) as port:
        await check_sticky(port, a, b)


async def test_without_the_cookie_long_polling_fails(backends: tuple[AppProcess, AppProcess]) -> None:
    """The same configuration without its ``cookie`` line (plain round robin): long-polling clients cannot stay
    connected, while WebSocket-only clients still can."""
    a, b = backends
    config = haproxy_config("sticky-cookie", (a.port, b.port))
    assert COOKIE in config
    config = re.sub(r" cookie s\d\b", "", config.replace(COOKIE, ""))
    with run_haproxy(config) as port:
        await check_not_sticky(port)


async def test_the_guides_by_address_variant(backends: tuple[AppProcess, AppProcess]) -> None:
    """The page's ``balance source`` backend in place of the cookie one: every request of a client goes to one
    server."""
    a, b = backends
    config = doc_config("haproxy", "sticky-cookie")
    start = config.index("\nbackend socketio\n")
    config = config[: start + 1] + doc_config("haproxy", "sticky-address")
    with run_haproxy(localise(config, BIND, (a.port, b.port))) as port:
        await check_by_address(port, a, b)


async def test_the_guides_haproxy_config_moves_the_clients_of_a_server_that_fails(redis_url: str) -> None:
    """A server crashes: its long-polling client is sent to the other server (``option redispatch`` on the failed
    connection, then the health check that marks the server down), and HAProxy's cookie follows it there, so that
    it stays on that server even once the first one is back and seen healthy again."""

    def run_proxy(ports: tuple[int, int]) -> contextlib.AbstractContextManager[int]:
        return run_haproxy(haproxy_config("sticky-cookie", ports))

    # Once the server is back, the health checks see it up within CHECK_RISE intervals (and one more to start).
    await check_failover(redis_url, run_proxy, lambda _since_crash: (CHECK_RISE + 1) * CHECK_INTERVAL + 1.0)
