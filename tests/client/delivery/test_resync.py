"""The client's promises over real sockets: missed messages arrive once and in order after a
reconnect; a send whose connection dies before the ack is retried and stored once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.client.conftest import connection_ids, make_client, wait_for
from tests.integration.conftest import run
from tests.stack import LocalStack


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """The stack in its default mode (moto and the functions in processes of their own, as
    ``make run`` starts it): the resync is a core scenario, covered in that mode."""
    with LocalStack(CHAT_JWT_SECRET="resync-secret-" * 3) as running:
        yield running


def test_dropped_connection_reconnects_and_gets_exactly_the_missed_messages(stack, user):
    async def scenario():
        alice_id, bob_id = user("alice"), user("bob")
        async with make_client(stack, alice_id) as alice, make_client(stack, bob_id) as bob:
            got = []
            bob.on_background = got.append
            chat = await alice.create_chat([bob_id])
            await alice.send(chat.chat_id, "before")
            await wait_for(lambda: [m.text for m in got] == ["before"])

            (bob_conn,) = connection_ids(stack, bob_id)
            stack.drop(bob_conn)  # no close frame: the network just went away
            await wait_for(lambda: bob.state != "online" or bob_conn not in connection_ids(stack, bob_id))
            await wait_for(lambda: bob_conn not in connection_ids(stack, bob_id))
            for n in range(5):
                await alice.send(chat.chat_id, f"missed {n}")

            await wait_for(lambda: bob.connects >= 2 and bob.state == "online")
            await wait_for(lambda: len(got) >= 6)
            await asyncio.sleep(0.5)  # anything duplicated would show up now
            assert [m.text for m in got] == ["before"] + [f"missed {n}" for n in range(5)]
            assert [m.seq for m in got] == [1, 2, 3, 4, 5, 6]

    run(scenario())


def test_send_retried_across_a_dropped_connection_is_stored_once(stack, user):
    async def scenario():
        alice_id, bob_id = user("alice"), user("bob")
        async with make_client(stack, alice_id) as alice, make_client(stack, bob_id) as bob:
            chat = await alice.create_chat([bob_id])
            received = []
            bob.on_background = received.append
            dropped = []

            async def drop_before_ack(frame):
                if dropped:
                    return
                # The frame reached the gateway; cut the connection before the ack can come back.
                # Polled without yielding to the event loop (the client cannot take the ack in
                # between), so the cut comes a poll's round trip after the frame's arrival, well
                # before its invocation in a worker process answers.
                (conn,) = connection_ids(stack, alice_id)
                while stack.get_json("/dev/stats")["messages"] == before:
                    pass
                stack.drop(conn)  # synchronous: the event loop cannot read an ack meanwhile
                dropped.append(conn)

            before = stack.get_json("/dev/stats")["messages"]  # frames the gateway has received
            alice.after_send_frame = drop_before_ack
            ack = await alice.send(chat.chat_id, "exactly once")
            assert dropped and alice.connects >= 2  # it really went through a reconnect
            history, _ = await alice.history(chat.chat_id)
            assert [(m.seq, m.text) for m in history] == [(1, "exactly once")]
            assert ack.seq == 1 and ack.message_id == history[0].message_id
            await wait_for(lambda: len(received) == 1)
            await asyncio.sleep(0.3)
            assert [m.text for m in received] == ["exactly once"]

    run(scenario())
