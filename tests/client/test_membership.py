"""Membership changes over real sockets: a removed user's client stops getting frames about the
chat; removed while offline, it drops the chat on resync; added while offline, it gets only what
follows the message that added it."""

from __future__ import annotations

import asyncio

import pytest

from chatclient import ChatError
from tests.client.conftest import connection_ids, make_client, wait_for
from tests.integration.conftest import run


def test_removed_user_gets_no_more_frames_about_the_chat(stack, user):
    async def scenario():
        alice_id, bob_id, carol_id = user("alice"), user("bob"), user("carol")
        async with (
            make_client(stack, alice_id) as alice,
            make_client(stack, bob_id) as bob,
            make_client(stack, carol_id) as carol,
        ):
            bob_got, carol_in_chat, carol_got, carol_removed, carol_typing = [], [], [], [], []
            bob.on_background = bob_got.append
            carol.on_background = carol_got.append  # a frame of an unknown chat would land here
            carol.on_chat_removed = carol_removed.append
            carol.on_typing = carol_typing.append
            chat = await alice.create_chat([bob_id, carol_id], title="Team")
            await carol.open_chat(chat.chat_id, carol_in_chat.append)  # viewing it: real time
            await alice.send(chat.chat_id, "one")
            await wait_for(lambda: [m.text for m in carol_in_chat] == ["one"])

            await alice.remove_members(chat.chat_id, [carol_id])
            await wait_for(lambda: carol_removed == [chat.chat_id])
            assert carol.open_chats == []
            await wait_for(lambda: [m.kind for m in bob_got] == ["text", "system"])
            assert bob_got[1].system is not None and bob_got[1].system.type == "removed"
            assert bob_got[1].system.users == (carol_id,)

            await alice.open_chat(chat.chat_id, lambda m: None)
            await alice.typing(chat.chat_id)
            await alice.send(chat.chat_id, "two")
            await wait_for(lambda: [m.text for m in bob_got][-1:] == ["two"])
            await asyncio.sleep(0.5)  # anything sent to carol would have arrived by now
            assert [m.text for m in carol_in_chat] == ["one"]
            assert carol_got == [] and carol_typing == []
            with pytest.raises(ChatError) as refused:
                await carol.open_chat(chat.chat_id, lambda m: None)
            assert refused.value.code == "forbidden" and carol.open_chats == []
            assert chat.chat_id not in [c.chat_id for c in await carol.list_chats()]

    run(scenario())


def test_removed_while_offline_the_client_drops_the_chat_on_resync(stack, user):
    async def scenario():
        alice_id, bob_id, carol_id = user("alice"), user("bob"), user("carol")
        carol_may_connect = asyncio.Event()
        carol_may_connect.set()
        async with (
            make_client(stack, alice_id) as alice,
            make_client(stack, carol_id, gate=carol_may_connect) as carol,
        ):
            in_chat, background, removed = [], [], []
            carol.on_background = background.append
            carol.on_chat_removed = removed.append
            team = await alice.create_chat([bob_id, carol_id], title="Team")
            earlier = await alice.create_chat([bob_id], title="Earlier")
            await alice.send(earlier.chat_id, "before carol")
            await carol.open_chat(team.chat_id, in_chat.append)

            carol_may_connect.clear()
            (conn,) = connection_ids(stack, carol_id)
            stack.drop(conn)  # no close frame: carol's network went away
            await wait_for(lambda: carol.state != "online")

            await alice.send(team.chat_id, "while carol is away")
            await alice.remove_members(team.chat_id, [carol_id])
            await alice.send(team.chat_id, "after carol left")
            fresh = await alice.create_chat([carol_id], title="Fresh")  # created while she is away
            await alice.send(fresh.chat_id, "welcome")
            await alice.add_members(earlier.chat_id, [carol_id])  # she sees from here on
            await alice.send(earlier.chat_id, "hello carol")

            carol_may_connect.set()
            await wait_for(lambda: carol.connects >= 2 and carol.state == "online")
            await wait_for(lambda: len(background) >= 2)
            await asyncio.sleep(0.5)  # anything more would show up now
            assert removed == [team.chat_id] and carol.open_chats == []
            assert in_chat == []  # the team chat's messages after she left never reached her
            assert sorted((m.chat_id, m.text) for m in background) == sorted(
                [(fresh.chat_id, "welcome"), (earlier.chat_id, "hello carol")]
            )
            history, _ = await carol.history(earlier.chat_id)
            assert [m.text for m in history] == ["hello carol"]  # nothing from before she joined

    run(scenario())
