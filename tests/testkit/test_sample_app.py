"""The sample chat application, tested with nothing but ``aiosocketio.testing`` and its pytest fixtures.

Every client goes through the server's real Engine.IO and Socket.IO layers in process; the server runs on a
``FakeClock``, so heartbeats and ack timeouts come when the test says, and the module runs in a fraction of a
second.
"""

from __future__ import annotations

import asyncio

import pytest
from sample_app import Chat, create_chat

from aiosocketio.testing import ConnectError, FakeClock, InMemoryCluster, TestClient


@pytest.fixture
def chat(aiosocketio_clock: FakeClock) -> Chat:
    return create_chat(clock=aiosocketio_clock)


async def test_an_unknown_token_is_refused_with_the_middlewares_message(chat: Chat) -> None:
    with pytest.raises(ConnectError) as refused:
        async with TestClient(chat.io, auth={"token": "forged"}):
            pass
    assert refused.value.message == "unauthorized"
    assert refused.value.data == {"hint": "sign in with a valid token"}


async def test_a_known_token_connects_and_an_event_is_acknowledged(chat: Chat, aiosocketio_client) -> None:
    alice = await aiosocketio_client(chat.io, auth={"token": "alice-token"})
    assert alice.id in chat.io.sockets.sockets
    assert await alice.emit_with_ack("join", "lobby") == "joined lobby"


async def test_a_message_to_a_room_reaches_everyone_in_it_and_no_one_else(
    chat: Chat, aiosocketio_client
) -> None:
    alice = await aiosocketio_client(chat.io, auth={"token": "alice-token"})
    bob = await aiosocketio_client(chat.io, auth={"token": "bob-token"})
    carol = await aiosocketio_client(chat.io, auth={"token": "carol-token"})
    await alice.emit("join", "lobby")
    await bob.emit("join", "lobby")
    assert await alice.emit_with_ack("say", "lobby", "hello") == "sent"
    expected = [{"from": "alice", "text": "hello"}]
    assert await alice.received("message") == expected
    assert await bob.received("message") == expected
    assert carol.pending("message") == []


async def test_the_server_asks_and_the_client_answers_through_an_ack(chat: Chat, aiosocketio_client) -> None:
    alice = await aiosocketio_client(chat.io, auth={"token": "alice-token"})
    alice.on("question", lambda question: 4 if question == "2 + 2?" else None)
    assert await alice.emit_with_ack("quiz") == 4


async def test_an_unanswered_question_times_out_on_the_servers_clock(
    chat: Chat, aiosocketio_client, aiosocketio_clock: FakeClock
) -> None:
    bob = await aiosocketio_client(chat.io, auth={"token": "bob-token"})  # bob answers nothing
    quiz = asyncio.ensure_future(bob.emit_with_ack("quiz"))
    await aiosocketio_clock.advance(29)
    assert not quiz.done()
    await aiosocketio_clock.advance(1)
    assert await quiz == "no answer"


async def test_a_dropped_connection_recovers_its_id_rooms_and_missed_messages(
    chat: Chat, aiosocketio_client
) -> None:
    alice = await aiosocketio_client(chat.io, auth={"token": "alice-token"})
    bob = await aiosocketio_client(chat.io, auth={"token": "bob-token"})
    await alice.emit("join", "lobby")
    await bob.emit("join", "lobby")
    await alice.emit_with_ack("say", "lobby", "hi")
    assert await bob.received("message") == [{"from": "alice", "text": "hi"}]  # bob's last offset
    bob.transport_close()  # the network fails under bob
    await alice.emit_with_ack("say", "lobby", "while you were away")
    assert ("bob", "transport close") in chat.departures
    async with bob.reconnect() as again:
        assert again.recovered
        assert again.id == bob.id
        assert await again.received("message") == [{"from": "alice", "text": "while you were away"}]
        await alice.emit_with_ack("say", "lobby", "welcome back")  # still in the room
        assert await again.received("message") == [{"from": "alice", "text": "welcome back"}]


async def test_a_client_that_stops_answering_pings_times_out(
    chat: Chat, aiosocketio_client, aiosocketio_clock: FakeClock
) -> None:
    alice = await aiosocketio_client(chat.io, auth={"token": "alice-token"})
    silent = await aiosocketio_client(chat.io, auth={"token": "bob-token"}, answer_pings=False)
    await aiosocketio_clock.advance(10 + 5)  # ping_interval, then ping_timeout without a pong
    assert await silent.disconnected() == "transport close"
    assert chat.departures == [("bob", "ping timeout")]
    assert alice.connected  # alice answered her ping
    await aiosocketio_clock.advance(60)
    assert alice.connected


async def test_two_servers_of_a_cluster_share_a_room(
    aiosocketio_cluster: InMemoryCluster, aiosocketio_client
) -> None:
    one = create_chat(adapter=aiosocketio_cluster.adapter())
    other = create_chat(adapter=aiosocketio_cluster.adapter())
    alice = await aiosocketio_client(one.io, auth={"token": "alice-token"})
    bob = await aiosocketio_client(other.io, auth={"token": "bob-token"})
    await alice.emit_with_ack("join", "lobby")
    await bob.emit_with_ack("join", "lobby")
    assert await alice.emit_with_ack("say", "lobby", "across servers") == "sent"
    assert await bob.received("message") == [{"from": "alice", "text": "across servers"}]
    assert await alice.received("message") == [{"from": "alice", "text": "across servers"}]
    assert len(await one.io.fetch_sockets()) == 2
    await one.io.close()
    await other.io.close()
