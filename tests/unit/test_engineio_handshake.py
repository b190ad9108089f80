"""Request verification in the reference's order, the error bodies and the OPEN packet (docs/protocol/engineio.md#handshake, docs/protocol/engineio.md#verification, docs/protocol/engineio.md#examples-http)."""

from __future__ import annotations

import os
import threading
import warnings

import orjson
import pytest

from aiosocketio.engineio.handshake import (
    EngineError,
    ErrorCode,
    SidGenerator,
    check_protocol,
    error_response_body,
    open_packet,
    protocol_revision,
    status_for,
    verify,
)

BOTH = ("polling", "websocket")


def check(
    query: dict[str, str],
    *,
    method: str = "GET",
    origin: str | None = None,
    upgrade: bool = False,
    session: str | None = None,
    transports: tuple[str, ...] = BOTH,
    protocol: int = 4,
) -> EngineError | None:
    return verify(
        session_protocol=protocol,
        method=method,
        query=query,
        origin=origin,
        is_upgrade=upgrade,
        transports=transports,
        session_transport=session,
    )


@pytest.mark.parametrize(
    ("query", "kwargs", "code", "context"),
    [
        ({"EIO": "4"}, {}, 0, {"transport": None}),  # H4
        ({"EIO": "4", "transport": "flash"}, {}, 0, {"transport": "flash"}),  # H5
        ({"EIO": "4", "transport": "constructor"}, {}, 0, {"transport": "constructor"}),
        ({"EIO": "4", "transport": "websocket"}, {"transports": ("polling",), "upgrade": True}, 0, None),
        ({}, {}, 0, {"transport": None}),  # docs/protocol/engineio.md#verification: no transport beats no EIO
        ({"EIO": "4", "transport": "polling", "sid": "nope"}, {}, 1, {"sid": "nope"}),  # H6
        ({"EIO": "4", "transport": "polling"}, {"method": "POST"}, 2, {"method": "POST"}),  # H7
        ({"EIO": "4", "transport": "polling"}, {"method": "PUT"}, 2, {"method": "PUT"}),  # H8
        ({"EIO": "4", "transport": "polling"}, {"method": "OPTIONS"}, 2, {"method": "OPTIONS"}),  # H9
        ({"EIO": "4", "transport": "websocket"}, {}, 3, {"name": "TRANSPORT_HANDSHAKE_ERROR"}),  # H10
        ({"EIO": "4", "transport": "polling"}, {"origin": "https://a\x01"}, 3, None),
        ({"EIO": "4", "transport": "polling", "sid": "S"}, {"session": "websocket"}, 3, None),  # H18
    ],
)
def test_refusals(query: dict[str, str], kwargs: dict[str, object], code: int, context: object) -> None:
    error = check(query, **kwargs)  # type: ignore[arg-type]
    assert error is not None
    assert error.code == code
    if context is not None:
        assert error.context == context


def test_mismatch_context_names_both_transports() -> None:
    error = check({"EIO": "4", "transport": "polling", "sid": "S"}, session="websocket")
    assert error is not None
    assert error.context["name"] == "TRANSPORT_MISMATCH"
    assert error.message == "Bad request"


def test_invalid_origin_context() -> None:
    error = check({"EIO": "4", "transport": "polling"}, origin="x\x7f")
    assert error is not None
    assert error.context["name"] == "INVALID_ORIGIN"


@pytest.mark.parametrize(
    ("query", "kwargs"),
    [
        ({"EIO": "4", "transport": "polling"}, {}),
        ({"EIO": "4", "transport": "polling"}, {"origin": "https://app.example\tx"}),  # TAB is allowed
        ({"EIO": "4", "transport": "websocket"}, {"upgrade": True}),
        ({"EIO": "4", "transport": "polling", "sid": "S"}, {"session": "polling", "method": "POST"}),
        ({"EIO": "4", "transport": "websocket", "sid": "S"}, {"session": "polling", "upgrade": True}),
        ({"EIO": "4", "transport": "polling", "sid": "S"}, {"session": "polling", "method": "DELETE"}),
    ],
)
def test_accepted(query: dict[str, str], kwargs: dict[str, object]) -> None:
    assert check(query, **kwargs) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("eio", [None, "3", "abc", "40", " 4"])
def test_protocol_version(eio: str | None) -> None:  # H2, H3
    query = {"transport": "polling"} | ({"EIO": eio} if eio is not None else {})
    error = check_protocol(query, allow_eio3=False)
    assert error is not None
    assert (error.code, error.message, error.context) == (
        5,
        "Unsupported protocol version",
        {"protocol": eio},
    )
    assert check_protocol({"EIO": "4"}, allow_eio3=False) is None


@pytest.mark.parametrize(
    ("code", "message", "status"),
    [
        (ErrorCode.UNKNOWN_TRANSPORT, "Transport unknown", 400),
        (ErrorCode.UNKNOWN_SID, "Session ID unknown", 400),
        (ErrorCode.BAD_HANDSHAKE_METHOD, "Bad handshake method", 400),
        (ErrorCode.BAD_REQUEST, "Bad request", 400),
        (ErrorCode.FORBIDDEN, "Forbidden", 403),
        (ErrorCode.UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version", 400),
    ],
)
def test_error_bodies(code: ErrorCode, message: str, status: int) -> None:
    error = EngineError.of(code, {})
    assert error.message == message
    assert status_for(code) == status
    assert error_response_body(error) == f'{{"code":{int(code)},"message":"{message}"}}'.encode()


def test_forbidden_message_can_be_replaced() -> None:  # H11
    error = EngineError.of(ErrorCode.FORBIDDEN, {}, "origin not allowed")
    assert error_response_body(error) == b'{"code":4,"message":"origin not allowed"}'


def test_open_packet_matches_e1() -> None:
    text = open_packet("Qm3fZ2xY8kLp0aRtAAAB", ["websocket"], 25.0, 20.0, 1_000_000)
    assert text == (
        '0{"sid":"Qm3fZ2xY8kLp0aRtAAAB","upgrades":["websocket"],"pingInterval":25000,'
        '"pingTimeout":20000,"maxPayload":1000000}'
    )
    body = orjson.loads(open_packet("s", [], 0.3, 0.2, 5)[1:])
    assert body == {"sid": "s", "upgrades": [], "pingInterval": 300, "pingTimeout": 200, "maxPayload": 5}
    assert all(type(body[k]) is int for k in ("pingInterval", "pingTimeout", "maxPayload"))


def test_session_ids_are_unique_url_safe_and_20_chars() -> None:
    generate = SidGenerator()
    ids = {generate() for _ in range(5000)}
    assert len(ids) == 5000
    for sid in list(ids)[:200]:
        assert len(sid) == 20
        assert set(sid) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_threads_sharing_a_generator_never_get_the_same_random_part() -> None:
    """The random parts come from a pool that threads take from one list.pop() at a time."""
    generate = SidGenerator()
    made: list[list[str]] = []

    def make() -> None:
        made.append([generate() for _ in range(5000)])

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [sid for batch in made for sid in batch]
    assert len(ids) == 20000
    assert len({sid[:16] for sid in ids}) == 20000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_process_makes_other_session_ids_than_its_parent() -> None:
    """The random bytes are taken 256 ids at a time; a worker forked from the parent must not reuse the parent's
    pool (the counter part is the same on both sides of a fork, so only the random part tells them apart)."""
    generate = SidGenerator()
    generate()  # the pool is filled before the fork
    read, write = os.pipe()
    with (
        warnings.catch_warnings()
    ):  # Python 3.12+ warns about fork() in a process with threads; the child only writes
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: its next ids, then out without running the parent's cleanup
        try:
            os.write(write, " ".join(generate() for _ in range(50)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [generate() for _ in range(50)]
    assert len(child) == 50
    assert child[0] != parent[0]
    random_parts = {sid[:16] for sid in parent}  # the first 12 bytes are the first 16 base64 characters
    assert not random_parts & {sid[:16] for sid in child}


@pytest.mark.parametrize(
    ("eio", "revision"), [("4", 4), ("3", 3), (None, 3), ("abc", 3), ("40", 3), (" 4", 3)]
)
# docs/protocol/engineio-v3.md: anything but "4" is protocol 3
def test_protocol_revision(eio: str | None, revision: int) -> None:
    assert protocol_revision({"EIO": eio} if eio is not None else {}) == revision


@pytest.mark.parametrize(("eio", "session", "request_revision"), [("3", 4, 3), ("4", 3, 4), (None, 4, 3)])
def test_a_request_of_another_revision_than_its_session_is_refused(
    eio: str | None, session: int, request_revision: int
) -> None:
    query = {"transport": "polling", "sid": "S"} | ({"EIO": eio} if eio is not None else {})
    error = check(query, session="polling", protocol=session)
    assert error is not None
    assert (error.code, error.message) == (3, "Bad request")
    assert error.context == {
        "name": "PROTOCOL_MISMATCH",
        "protocol": request_revision,
        "previousProtocol": session,
    }
    assert check(query, session="polling", protocol=request_revision) is None


def test_protocol_3_handshakes_pass_when_allowed() -> None:
    for eio in (None, "3", "garbage"):
        query = {"transport": "polling"} | ({"EIO": eio} if eio is not None else {})
        assert check_protocol(query, allow_eio3=True) is None


def test_an_empty_sid_is_no_sid() -> None:
    # The reference tests the sid for truth: "sid=" is a handshake, not an unknown session.
    assert check({"EIO": "4", "transport": "polling", "sid": ""}) is None
    error = check({"EIO": "4", "transport": "polling", "sid": ""}, method="POST")
    assert error is not None
    assert error.code == 2  # a handshake must be a GET
