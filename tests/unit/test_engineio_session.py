"""The pure session machine with a fake clock: heartbeat, close reasons, the upgrade (docs/protocol/engineio.md#upgrade, docs/protocol/engineio.md#heartbeat, docs/protocol/engineio.md#closing)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosocketio.engineio.packet import Packet, PacketType, decode
from aiosocketio.engineio.session import (
    PING_BATCH_SHARE,
    Action,
    CloseReason,
    EngineSession,
    ReadyState,
    UpgradeState,
)


def make(now: float = 100.0) -> EngineSession:
    return EngineSession(ping_interval=25.0, ping_timeout=20.0, upgrade_timeout=10.0, now=now)


def test_first_ping_is_due_one_interval_after_open() -> None:
    session = make(now=100.0)
    assert session.next_deadline() == 125.0
    assert session.on_timer(124.9) is Action.NOTHING
    assert session.on_timer(125.0) is Action.SEND_PING
    assert session.next_deadline() == 145.0  # the pong is due ping_timeout later


def test_a_late_ping_does_not_make_the_ping_timeout_later() -> None:
    """The pong is due ``ping_timeout`` after the ping was due, not after the (late) moment it went out: lateness
    does not add up from one deadline to the next."""
    session = make(now=100.0)
    assert session.on_timer(125.0123) is Action.SEND_PING  # 12.3 ms late (a busy loop)
    assert session.next_deadline() == 145.0
    assert session.on_timer(144.9999) is Action.NOTHING
    assert session.on_timer(145.0) is Action.CLOSE
    assert session.close_reason is CloseReason.PING_TIMEOUT


def test_a_ping_sent_after_a_long_stall_still_leaves_half_the_timeout() -> None:
    """A loop blocked longer than half the ping timeout: the client gets half of it from the ping itself, rather
    than a ping timeout already past when the ping goes out."""
    session = make(now=100.0)
    assert session.on_timer(140.0) is Action.SEND_PING  # 15 s late: 145 would leave the client 5 s
    assert session.next_deadline() == pytest.approx(150.0)
    assert session.on_timer(149.9) is Action.NOTHING
    assert session.on_timer(150.0) is Action.CLOSE


def test_a_deadline_counts_as_come_up_to_float_noise() -> None:
    session = make(now=100.004)
    assert session.on_timer(125.004) is Action.SEND_PING
    deadline = session.next_deadline()
    assert deadline is not None
    assert deadline > 145.004  # 100.004 + 25 + 20 carries binary noise
    assert session.on_timer(145004 / 1000) is Action.CLOSE  # a clock counting whole milliseconds


def test_pings_due_close_together_go_out_together() -> None:
    """Pings start at the beginning of their slice of 1/500 of the interval (50 ms here): never late, at most
    that early; the pong's timeout still counts from the ping's own deadline."""
    sessions = [make(now=100.0 + offset) for offset in (0.0, 0.003, 0.0499)]
    assert [s.next_deadline() for s in sessions] == [pytest.approx(125.0)] * 3
    for session in sessions:
        assert session.on_timer(124.9999) is Action.NOTHING
        assert session.on_timer(125.0) is Action.SEND_PING
    assert [s.next_deadline() for s in sessions] == [
        pytest.approx(145.0),
        pytest.approx(145.003),
        pytest.approx(145.0499),
    ]
    assert make(now=100.051).next_deadline() == pytest.approx(125.05)  # the next slice


def test_short_intervals_batch_pings_over_a_share_of_themselves() -> None:
    session = EngineSession(ping_interval=0.3, ping_timeout=0.2, upgrade_timeout=10.0, now=10.0001)
    deadline = session.next_deadline()
    assert deadline is not None
    assert 10.3001 - 0.0006 < deadline <= 10.3001  # slices of 0.6 ms
    v3 = EngineSession(ping_interval=25.0, ping_timeout=20.0, upgrade_timeout=10.0, now=100.01, protocol=3)
    assert v3.next_deadline() == pytest.approx(145.01)  # protocol 3: a timeout, never early


def test_pong_restarts_the_interval_from_the_pong() -> None:
    session = make(now=0.0)
    assert session.on_timer(25.0) is Action.SEND_PING
    assert session.receive(decode("3"), 30.0) is Action.NOTHING
    assert session.next_deadline() == 55.0
    assert session.on_timer(55.0) is Action.SEND_PING


def test_missing_pong_closes_with_ping_timeout() -> None:
    session = make(now=0.0)
    assert session.on_timer(25.0) is Action.SEND_PING
    assert session.on_timer(44.9) is Action.NOTHING
    assert session.on_timer(45.0) is Action.CLOSE
    assert session.close_reason is CloseReason.PING_TIMEOUT
    assert session.ready_state is ReadyState.CLOSED
    assert session.next_deadline() is None


def test_other_traffic_does_not_count_as_a_pong() -> None:
    session = make(now=0.0)
    assert session.receive(decode("4hello"), 10.0) is Action.DELIVER  # no ping out: nothing moves
    assert session.next_deadline() == 25.0
    session.on_timer(25.0)
    assert session.receive(decode("4hello"), 30.0) is Action.DELIVER
    # The first packet after a ping restarts the pong's timeout (engine.io 6.6), once: 30 + 20
    assert session.next_deadline() == 50.0
    assert session.receive(decode("4again"), 40.0) is Action.DELIVER
    assert session.next_deadline() == 50.0
    assert session.on_timer(49.9) is Action.NOTHING
    assert session.on_timer(50.0) is Action.CLOSE
    assert session.close_reason is CloseReason.PING_TIMEOUT


def test_the_timeout_restarts_once_per_ping() -> None:
    session = make(now=0.0)
    assert session.on_timer(25.0) is Action.SEND_PING
    session.receive(decode("6"), 26.0)  # any packet but a pong, a noop too
    assert session.next_deadline() == 46.0
    assert session.receive(decode("3"), 27.0) is Action.NOTHING  # the pong
    assert session.next_deadline() == 52.0
    assert session.on_timer(52.0) is Action.SEND_PING
    session.receive(decode("4x"), 60.0)  # a new ping: a new restart
    assert session.next_deadline() == 80.0


@pytest.mark.parametrize(
    ("encoded", "action", "reason"),
    [
        ("4hello", Action.DELIVER, None),
        ("3", Action.NOTHING, None),
        ("2", Action.CLOSE, CloseReason.TRANSPORT_ERROR),  # E13: a v4 client must not ping
        ("1", Action.CLOSE, CloseReason.TRANSPORT_CLOSE),
        ("0", Action.NOTHING, None),
        ("5", Action.NOTHING, None),
        ("6", Action.NOTHING, None),
        ("", Action.CLOSE, CloseReason.PARSE_ERROR),  # E14
        ("7", Action.CLOSE, CloseReason.PARSE_ERROR),  # E15
        ("x4hello", Action.CLOSE, CloseReason.PARSE_ERROR),
    ],
)
def test_received_packets(encoded: str, action: Action, reason: CloseReason | None) -> None:
    session = make()
    assert session.receive(decode(encoded), 101.0) is action
    assert session.close_reason is reason


def test_ping_from_client_has_a_description() -> None:
    session = make()
    session.receive(decode("2"), 101.0)
    assert session.close_description == "invalid heartbeat direction"


def test_nothing_happens_after_close() -> None:
    session = make()
    session.receive(decode("1"), 101.0)
    assert session.receive(decode("4late"), 102.0) is Action.NOTHING
    assert session.on_timer(1000.0) is Action.NOTHING
    assert session.close(CloseReason.FORCED_CLOSE) is Action.NOTHING
    assert session.close_reason is CloseReason.TRANSPORT_CLOSE  # the first reason stays


def test_upgrade_happy_path() -> None:
    session = make(now=0.0)
    assert session.can_upgrade()
    session.upgrade_started(1.0)
    assert session.upgrading
    assert not session.can_upgrade()
    assert session.next_deadline() == 11.0  # the upgrade timeout comes before the first ping
    assert session.receive_on_candidate(decode("2probe")) is Action.SEND_PROBE_PONG
    assert session.upgrade_state is UpgradeState.PROBED
    assert session.receive_on_candidate(decode("5")) is Action.COMPLETE_UPGRADE
    assert session.upgraded
    assert not session.upgrading
    assert session.next_deadline() == 25.0


@pytest.mark.parametrize(
    "packets",
    [
        ["4hello"],  # anything but the probe first
        ["2"],  # a ping without "probe"
        ["2probe", "2probe"],  # a second probe
        ["2probe", "4x"],  # anything but the upgrade after the probe
        ["5"],  # the upgrade before the probe
        ["garbage"],
    ],
)
def test_upgrade_aborts_on_unexpected_packets(packets: list[str]) -> None:
    session = make(now=0.0)
    session.upgrade_started(0.0)
    actions = [session.receive_on_candidate(decode(p)) for p in packets]
    assert actions[-1] is Action.ABORT_UPGRADE
    assert session.upgrade_state is UpgradeState.NONE
    assert session.ready_state is ReadyState.OPEN  # the session stays on polling
    assert session.can_upgrade()


def test_upgrade_times_out() -> None:
    session = make(now=0.0)
    session.upgrade_started(0.0)
    session.receive_on_candidate(decode("2probe"))
    assert session.on_timer(9.9) is Action.NOTHING
    assert session.on_timer(10.0) is Action.ABORT_UPGRADE
    assert session.ready_state is ReadyState.OPEN
    assert session.next_deadline() == 25.0


def test_candidate_lost_aborts_but_not_after_completion() -> None:
    session = make(now=0.0)
    session.upgrade_started(0.0)
    assert session.candidate_lost() is Action.ABORT_UPGRADE
    session.upgrade_started(1.0)
    session.receive_on_candidate(decode("2probe"))
    session.receive_on_candidate(decode("5"))
    assert session.candidate_lost() is Action.NOTHING
    assert session.upgraded


def test_upgrade_after_close_is_refused() -> None:
    session = make(now=0.0)
    session.upgrade_started(0.0)
    session.receive_on_candidate(decode("2probe"))
    session.close(CloseReason.PING_TIMEOUT)
    assert session.receive_on_candidate(decode("5")) is Action.ABORT_UPGRADE
    assert not session.upgraded


def test_server_close_waits_for_the_drain() -> None:
    session = make()
    assert session.start_closing(CloseReason.FORCED_CLOSE)
    assert session.ready_state is ReadyState.CLOSING
    assert not session.start_closing(CloseReason.FORCED_CLOSE)
    assert not session.can_upgrade()
    session.closed()
    assert session.ready_state is ReadyState.CLOSED
    assert session.close_reason is CloseReason.FORCED_CLOSE


def test_binary_message_is_delivered() -> None:
    session = make()
    assert session.receive(Packet(PacketType.MESSAGE, b"\x01"), 101.0) is Action.DELIVER


def make_v3(now: float = 0.0) -> EngineSession:
    return EngineSession(ping_interval=25.0, ping_timeout=20.0, upgrade_timeout=10.0, now=now, protocol=3)


def test_protocol_3_the_client_pings_and_the_server_pongs() -> None:  # docs/protocol/engineio-v3.md
    session = make_v3(now=0.0)
    assert session.next_deadline() == 45.0  # interval + timeout without a ping
    assert session.on_timer(44.9) is Action.NOTHING  # the server never pings
    assert session.receive(decode("2"), 30.0) is Action.SEND_PONG
    assert session.next_deadline() == 75.0
    assert session.receive(decode("2"), 70.0) is Action.SEND_PONG
    assert session.on_timer(114.9) is Action.NOTHING
    assert session.on_timer(115.0) is Action.CLOSE
    assert session.close_reason is CloseReason.PING_TIMEOUT


def test_protocol_3_a_pong_from_the_client_is_an_error() -> None:
    session = make_v3()
    assert session.receive(decode("3"), 1.0) is Action.CLOSE
    assert session.close_reason is CloseReason.TRANSPORT_ERROR
    assert session.close_description == "invalid heartbeat direction"


def test_protocol_3_messages_do_not_count_as_pings() -> None:
    session = make_v3(now=0.0)
    assert session.receive(decode("4hi"), 40.0) is Action.DELIVER
    assert session.on_timer(45.0) is Action.CLOSE


# ----------------------------------------------------------------------------------------------------------
# The timelines the end-to-end heartbeat checks measure with wall clocks (test_engineio_protocol.py,
# test_socketio_protocol.py, tests/component), here at the protocol suites' settings (300 ms / 200 ms) on a clock
# the test moves: every deadline exact, nothing a hair early (pings excepted: they may go out up to their batch's
# slice early, see PING_BATCH_SHARE). The wall-clock checks only add the real event loop's lateness.

SUITE_INTERVAL, SUITE_TIMEOUT = 0.3, 0.2


def suite_session(now: float = 0.0, protocol: int = 4) -> EngineSession:
    return EngineSession(
        ping_interval=SUITE_INTERVAL,
        ping_timeout=SUITE_TIMEOUT,
        upgrade_timeout=10.0,
        now=now,
        protocol=protocol,
    )


#: The session counts a deadline as come 1 µs before it (float noise in sums such as ``start + interval``), so "a
#: hair early" here is ten times that: still far below any real clock's grain.
HAIR = 1e-5


def just_before(when: float) -> float:
    return when - HAIR


@given(
    opened=st.floats(0.0, 1e6),
    # one round per item: the pong's delay after the ping, or None for a ping that is never answered
    rounds=st.lists(st.none() | st.floats(0.0, SUITE_TIMEOUT, exclude_max=True), max_size=8),
    late=st.floats(0.0, 0.05),
)
def test_heartbeat_timeline(opened: float, rounds: list[float | None], late: float) -> None:
    """Pings pingInterval after the handshake (up to their batch's slice early), then after each pong; the session
    dies pingTimeout after an unanswered ping was due. A timer that fires ``late`` (as a busy loop does) does not
    push the timeout later: lateness never adds up from one deadline to the next."""
    session = suite_session(now=opened)
    batch = SUITE_INTERVAL * PING_BATCH_SHARE
    ping_due = opened + SUITE_INTERVAL
    for delay in rounds:
        due = session.next_deadline()
        assert due is not None
        assert ping_due - batch - HAIR <= due <= ping_due + HAIR  # float noise of the slice arithmetic
        assert session.on_timer(just_before(due)) is Action.NOTHING
        sent = ping_due + late
        assert session.on_timer(sent) is Action.SEND_PING
        assert session.next_deadline() == ping_due + SUITE_TIMEOUT  # late < timeout / 2: from the due time
        if delay is None:
            assert session.on_timer(just_before(ping_due + SUITE_TIMEOUT)) is Action.NOTHING
            assert session.on_timer(ping_due + SUITE_TIMEOUT) is Action.CLOSE
            assert session.close_reason is CloseReason.PING_TIMEOUT
            assert session.next_deadline() is None
            return
        pong = sent + delay
        assert session.receive(decode("3"), pong) is Action.NOTHING
        ping_due = pong + SUITE_INTERVAL
    assert session.ready_state is ReadyState.OPEN
    due = session.next_deadline()
    assert due is not None
    assert ping_due - batch - HAIR <= due <= ping_due + HAIR


@given(gaps=st.lists(st.floats(0.0, SUITE_INTERVAL + SUITE_TIMEOUT, exclude_max=True), max_size=8))
def test_protocol_3_timeline(gaps: list[float]) -> None:
    """Protocol 3: each client ping (``gaps`` apart) is answered and gives pingInterval + pingTimeout more; the
    session dies exactly that long after the last one."""
    session = suite_session(protocol=3)
    last = 0.0
    for gap in gaps:
        assert session.on_timer(just_before(last + SUITE_INTERVAL + SUITE_TIMEOUT)) is Action.NOTHING
        last += gap
        assert session.receive(decode("2"), last) is Action.SEND_PONG
    assert session.next_deadline() == last + SUITE_INTERVAL + SUITE_TIMEOUT
    assert session.on_timer(just_before(last + SUITE_INTERVAL + SUITE_TIMEOUT)) is Action.NOTHING
    assert session.on_timer(last + SUITE_INTERVAL + SUITE_TIMEOUT) is Action.CLOSE
    assert session.close_reason is CloseReason.PING_TIMEOUT


@pytest.mark.parametrize("packet", ["4busy", "6"])
def test_traffic_after_a_ping_restarts_the_pong_timeout_once(packet: str) -> None:
    """What tests/component/test_quick_answers.py's wall-clock check drives through both request paths: a
    packet while the pong is awaited gives the pong its full timeout from that packet, once per ping."""
    session = EngineSession(ping_interval=0.2, ping_timeout=0.5, upgrade_timeout=10.0, now=0.0)
    assert session.on_timer(0.2) is Action.SEND_PING
    session.receive(decode(packet), 0.5)
    assert session.next_deadline() == 1.0
    assert session.on_timer(0.85) is Action.NOTHING  # past the first deadline (0.7)
    session.receive(decode(packet), 0.9)  # a second packet does not push it again
    assert session.on_timer(just_before(1.0)) is Action.NOTHING
    assert session.on_timer(1.0) is Action.CLOSE
    assert session.close_reason is CloseReason.PING_TIMEOUT
