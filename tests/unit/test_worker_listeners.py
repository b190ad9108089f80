"""The listening sockets of ``workers=N`` (docs/deployment.md#how-it-works): one set per worker on one port, and
the kernel spreads new connections over the sets, so that each worker accepts its share itself."""

from __future__ import annotations

import functools
import os
import select
import socket
from collections import Counter

import pytest

import aiosocketio
from aiosocketio.runner.workers import bind_worker_listeners


def test_every_set_listens_on_the_same_port_and_gets_a_share_of_the_connections() -> None:
    sets = bind_worker_listeners("127.0.0.1", 0, 3, backlog=64)
    try:
        assert len(sets) == 3
        ports = {sock.getsockname()[1] for listeners in sets for sock in listeners}
        assert len(ports) == 1  # port 0: every set on the port the first one got
        (port,) = ports
        owner = {sock: index for index, listeners in enumerate(sets) for sock in listeners}
        accepted: Counter[int] = Counter()
        for _ in range(90):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(b"GET / HTTP/1.1\r\n\r\n")  # TCP_DEFER_ACCEPT: ready once bytes came
                readable, _, _ = select.select(list(owner), [], [], 5)
                assert len(readable) == 1, readable  # one set got it, the others did not hear of it
                conn, _ = readable[0].accept()
                conn.close()
                accepted[owner[readable[0]]] += 1
        # At random (a hash of the addresses): a set gets none of 90 with a probability of about 1e-15.
        assert set(accepted) == {0, 1, 2}, accepted
    finally:
        for listeners in sets:
            for sock in listeners:
                sock.close()


def test_a_port_in_use_is_an_error_and_nothing_stays_open() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = len(os.listdir("/proc/self/fd"))
        with pytest.raises(OSError, match="in use"):
            bind_worker_listeners("127.0.0.1", port, 2, backlog=8)
        assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize("tls", [{"ssl_certfile": "cert.pem"}, {"ssl": True}], ids=["ssl_certfile", "ssl"])
@pytest.mark.parametrize("how", ["io.run", "aiosocketio.run"])
def test_tls_with_workers_is_refused_at_once_with_the_fix(how: str, tls: dict[str, object]) -> None:
    """Nothing is bound or forked: the call fails before, and its message says what to do instead."""
    io = aiosocketio.Server()
    serve = io.run if how == "io.run" else functools.partial(aiosocketio.run, io)
    with pytest.raises(ValueError, match="cannot serve TLS") as caught:
        serve(port=0, workers=2, **tls)
    assert "terminate TLS in a proxy in front, or serve with one worker" in str(caught.value)
