"""The deployment guide's nginx configuration, run for real in front of two server processes on one Redis.

The configuration under test is the one printed in ``docs/operations/deployment.md`` (the block after its
``<!-- nginx: NAME -->`` comment), with only its addresses changed: ``listen 80`` becomes a free loopback port and
the servers' ports 3001 and 3002 become those of the two servers started here. So the page cannot drift from what
works. The app behind it, the clients and the checks are those of every proxy (:mod:`proxied`).

Debian's nginx runs as an ordinary child process with a prefix, temporary folders, pid file and logs of its own in
a temporary folder.

Also: a client whose server crashes is moved to the other one and kept there; the page's by-address variant keeps
each client on one server; and, with a plain round-robin upstream instead, long-polling clients fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
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

#: How long nginx leaves a server alone after a failed attempt (``fail_timeout``, 10 s unless configured).
NGINX_FAIL_TIMEOUT = 10.0
LISTEN = "listen 80;"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    assert found, (
        "nginx is needed for the deployment guide's test: apt-get install nginx (.ci/run installs it)"
    )
    return found


def nginx_site(name: str, backends: tuple[int, int]) -> str:
    """The page's nginx block ``name`` with the test's addresses."""
    return localise(doc_config("nginx", name), LISTEN, backends)


@contextlib.contextmanager
def run_nginx(site: str) -> Iterator[int]:
    """nginx serving ``site`` (the content of an ``http`` block) on a free loopback port, stopped at the end."""
    binary = nginx_binary()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="aiosocketio-nginx-") as name:
        folder = Path(name)
        # When the tests run as root, nginx's workers run as nobody: they must be able to use the temporary folders.
        folder.chmod(0o755)
        temps = {kind: folder / kind for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for path in temps.values():
            path.mkdir()
            path.chmod(0o777)
        conf = folder / "nginx.conf"
        conf.write_text(
            f"daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log notice;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"    access_log {folder}/access.log;\n"
            + "".join(f"    {kind}_temp_path {path};\n" for kind, path in temps.items())
            + f"{site.replace('$PORT', str(port))}\n}}\n",
            encoding="utf-8",
        )
        argv = [binary, "-p", f"{folder}/", "-e", f"{folder}/error.log", "-c", str(conf)]
        with run_proxy_process("nginx", argv, port, folder, conf, ("stderr.log", "error.log", "access.log")):
            yield port


@pytest.fixture(scope="module")
def backends(redis_url: str) -> Iterator[tuple[AppProcess, AppProcess]]:
    """The test app served twice on one Redis: the built-in server (the command) and uvicorn."""
    with serve_twice(redis_url) as both:
        yield both


async def test_the_guides_nginx_config_keeps_every_client_on_its_server(
    backends: tuple[AppProcess, AppProcess],
) -> None:
    """Through the page's configuration, clients of every transport connect to both servers, stay connected for
    several heartbeats, and get a broadcast of each server exactly once."""
    a, b = backends
    with run_nginx(nginx_site("sticky-cookie", (a.port, b.port))) as port:
        await check_sticky(port, a, b)


async def test_without_stickiness_long_polling_fails(backends: tuple[AppProcess, AppProcess]) -> None:
    """The same configuration with a plain round-robin upstream: long-polling clients cannot stay connected, while
    WebSocket-only clients still can."""
    a, b = backends
    site = nginx_site("sticky-cookie", (a.port, b.port))
    sticky = "proxy_pass http://$socketio_upstream;"
    assert sticky in site
    with run_nginx(site.replace(sticky, "proxy_pass http://socketio_any;")) as port:
        await check_not_sticky(port)


async def test_the_guides_by_address_variant(backends: tuple[AppProcess, AppProcess]) -> None:
    """The page's ``hash $remote_addr consistent`` group in place of the cookie: every request of a client goes
    to one server."""
    a, b = backends
    cookie_site = doc_config("nginx", "sticky-cookie")
    sticky = "proxy_pass http://$socketio_upstream;"
    assert sticky in cookie_site
    config = (
        doc_config("nginx", "sticky-address")
        + "\n"
        + cookie_site.replace(sticky, "proxy_pass http://socketio_by_address;")
    )
    with run_nginx(localise(config, LISTEN, (a.port, b.port))) as port:
        await check_by_address(port, a, b)


async def test_the_guides_nginx_config_moves_the_clients_of_a_server_that_fails(redis_url: str) -> None:
    """A server crashes: its long-polling client is sent to the other server (the ``backup`` of its group), and
    the cookie follows it there, so that it stays on that server even once the first one is back."""

    def run_proxy(ports: tuple[int, int]) -> contextlib.AbstractContextManager[int]:
        return run_nginx(nginx_site("sticky-cookie", ports))

    # nginx sends nothing to a server for 10 s after it failed (fail_timeout).
    await check_failover(redis_url, run_proxy, lambda since_crash: NGINX_FAIL_TIMEOUT + 1.0 - since_crash)
