"""Messages that change (protocol v3), through the client against the local stack: replies and
mentions, edits, deletes, reactions and notification levels, each call and its refusals; the
viewers' local copies follow every change live, and a client offline while messages are
edited, deleted and reacted to shows, after its reconnect, exactly what an online one shows
and what is stored."""

from __future__ import annotations

import asyncio

import pytest

from chatclient import ChatClient, ChatError, Message
from tests.client.conftest import connection_ids, make_client, wait_for
from tests.integration.conftest import run


async def stored(client: ChatClient, chat_id: str) -> dict[int, Message]:
    """The chat as the server has it now: every page of ``chat.history``, by seq."""
    messages: dict[int, Message] = {}
    async for page in client.history_pages(chat_id, limit=100):
        messages.update((m.seq, m) for m in page)
    return messages


async def fresh_view(stack, user_id: str, chat_id: str) -> dict[int, Message]:  # type: ignore[no-untyped-def]
    """What a client that just started sees of the chat."""
    async with make_client(stack, user_id) as fresh:
        return await stored(fresh, chat_id)


def copy_of(client: ChatClient, chat_id: str) -> dict[int, Message]:
    return {m.seq: m for m in client.local_messages(chat_id)}


def test_a_reply_with_mentions_is_stored_and_delivered_with_them(stack, user):
    async def scenario():
        alice_id, bob_id, carol_id = user("alice"), user("bob"), user("carol")
        async with make_client(stack, alice_id) as alice, make_client(stack, bob_id) as bob:
            got: list[Message] = []
            bob.on_background = got.append
            chat = await alice.create_chat([bob_id, carol_id], title="Plans")
            first = await alice.send(chat.chat_id, "saturday?")
            await wait_for(lambda: len(got) == 1)
            ack = await bob.reply(
                chat.chat_id, first.seq, "yes @alice", mentions=[alice_id, "nobody-here", bob_id]
            )
            plain = await bob.send(chat.chat_id, "and @carol?", mentions=[carol_id])

            history = await stored(alice, chat.chat_id)
            reply = history[ack.seq]
            assert (reply.reply_to, reply.mentions, reply.text) == (first.seq, (alice_id,), "yes @alice")
            assert history[plain.seq].reply_to is None and history[plain.seq].mentions == (carol_id,)
            assert history[first.seq].reply_to is None and history[first.seq].mentions == ()
            assert got[0].reply_to is None and got[0].rev == 0  # what bob's client was handed

            with pytest.raises(ChatError) as refused:  # a seq past the chat's last
                await bob.reply(chat.chat_id, plain.seq + 5, "to nothing")
            assert refused.value.code == "bad_request"
            with pytest.raises(ChatError) as refused:
                await bob.send(chat.chat_id, "too many", mentions=[f"user{n}" for n in range(51)])
            assert refused.value.code == "bad_request"
            assert sorted(await stored(alice, chat.chat_id)) == [1, 2, 3]  # nothing stored

    run(scenario())


def test_edit_delete_and_react_reach_the_viewers_copies_and_match_what_is_stored(stack, user):
    async def scenario():
        alice_id, bob_id, carol_id = user("alice"), user("bob"), user("carol")
        async with (
            make_client(stack, alice_id) as alice,
            make_client(stack, bob_id) as bob,
            make_client(stack, carol_id) as carol,
        ):
            chat = await alice.create_chat([bob_id, carol_id], title="Live")
            updates: dict[str, list[Message]] = {bob_id: [], carol_id: []}
            bob.on_message_updated = updates[bob_id].append
            carol.on_message_updated = updates[carol_id].append
            for client in (alice, bob, carol):
                await client.open_chat(chat.chat_id, lambda m: None)
            one = await alice.send(chat.chat_id, "helo all")
            two = await bob.send(chat.chat_id, "hi @alice", mentions=[alice_id])
            await wait_for(lambda: {1, 2} <= set(copy_of(carol, chat.chat_id)))

            edited = await alice.edit(chat.chat_id, one.seq, "hello all")
            assert edited.text == "hello all" and edited.edited_at is not None and edited.rev > 0
            reacted = await carol.react(chat.chat_id, one.seq, "👍")
            assert dict(reacted.reactions) == {"👍": (carol_id,)}
            both = await bob.react(chat.chat_id, one.seq, "👍")
            assert dict(both.reactions) == {"👍": tuple(sorted([bob_id, carol_id]))}
            gone = await bob.delete(chat.chat_id, two.seq)
            assert gone.deleted and gone.text == "" and gone.mentions == () and gone.rev > both.rev

            now = await stored(alice, chat.chat_id)
            assert now[one.seq].rev == both.rev and now[two.seq].deleted
            for client in (alice, bob, carol):
                await wait_for(lambda c=client: copy_of(c, chat.chat_id) == now)
            # Nobody hears of their own change; each hears of the others', at most once each and
            # by rev (a frame that comes after a newer view of its message is stale: dropped).
            for who, expected in ((bob_id, [edited, reacted]), (carol_id, [edited, both, gone])):
                heard = updates[who]
                assert all(m in expected for m in heard), who
                assert [m.rev for m in heard] == sorted({m.rev for m in heard}), who
            # carol's own change came before bob's: his are news to her whatever the timing
            assert {m.seq: m for m in updates[carol_id]} == {one.seq: both, two.seq: gone}

    run(scenario())


def test_refused_changes_say_why_and_change_nothing(stack, user):
    async def scenario():
        alice_id, bob_id = user("alice"), user("bob")
        async with make_client(stack, alice_id) as alice, make_client(stack, bob_id) as bob:
            chat = await alice.create_chat([bob_id], title="Rules")
            sent = await alice.send(chat.chat_id, "mine")
            await alice.add_members(chat.chat_id, [user("carol")])  # a system message: seq 2
            refusals = [
                (lambda: bob.edit(chat.chat_id, sent.seq, "not yours"), {"forbidden"}),
                (lambda: bob.delete(chat.chat_id, sent.seq), {"forbidden"}),  # not an admin
                (lambda: alice.edit(chat.chat_id, 2, "system"), {"bad_request"}),
                (lambda: alice.delete(chat.chat_id, 2), {"bad_request"}),
                (lambda: alice.react(chat.chat_id, 2, "👍"), {"bad_request"}),
                (lambda: alice.edit(chat.chat_id, 9, "nothing there"), {"not_found"}),
                (lambda: bob.react(chat.chat_id, 9, "👍"), {"not_found"}),
                (lambda: bob.react(chat.chat_id, sent.seq, "two words"), {"bad_request"}),
                (lambda: bob.react(chat.chat_id, sent.seq, "x" * 17), {"bad_request"}),
                (lambda: alice.edit(chat.chat_id, sent.seq, "x" * 4097), {"bad_request", "too_large"}),
                (lambda: alice.set_notify("c_nope", "all"), {"forbidden", "not_found"}),  # as not mine
            ]
            for call, codes in refusals:
                with pytest.raises(ChatError) as refused:
                    await call()
                assert refused.value.code in codes, (refused.value, codes)
            before = await stored(alice, chat.chat_id)
            assert before[sent.seq].rev == 0 and before[sent.seq].text == "mine"
            (listed,) = [c for c in await alice.list_chats() if c.chat_id == chat.chat_id]
            assert listed.last_rev == 0

            deleted = await alice.delete(chat.chat_id, sent.seq)
            again = await alice.delete(chat.chat_id, sent.seq)  # changes nothing
            assert again == deleted
            with pytest.raises(ChatError) as refused:
                await alice.edit(chat.chat_id, sent.seq, "back from the dead")
            assert refused.value.code == "bad_request"
            with pytest.raises(ChatError) as refused:
                await bob.react(chat.chat_id, sent.seq, "👍")
            assert refused.value.code == "bad_request"
            assert (await stored(bob, chat.chat_id))[sent.seq] == deleted

    run(scenario())


def test_notification_levels_are_per_user_and_shown_in_lists(stack, user):
    async def scenario():
        alice_id, bob_id = user("alice"), user("bob")
        async with make_client(stack, alice_id) as alice, make_client(stack, bob_id) as bob:
            chat = await alice.create_chat([bob_id], title="Levels")

            async def listed(client: ChatClient):  # type: ignore[no-untyped-def]
                (found,) = [c for c in await client.list_chats() if c.chat_id == chat.chat_id]
                return found.notify, found.muted

            assert await listed(alice) == ("all", False)
            assert await alice.set_notify(chat.chat_id, "mentions") == "mentions"
            assert await listed(alice) == ("mentions", False)
            assert await listed(bob) == ("all", False)  # alice's level is hers alone
            assert await alice.set_notify(chat.chat_id, "none") == "none"
            assert await listed(alice) == ("none", True)
            assert await alice.mute(chat.chat_id, False) is False  # chat.mute: the two-level shorthand
            assert await listed(alice) == ("all", False)
            await alice.mute(chat.chat_id, True)
            assert await listed(alice) == ("none", True)
            opened = await alice.open_chat(chat.chat_id, lambda m: None)
            assert opened.chat.notify == "none"

    run(scenario())


def test_changes_pages_by_rev_and_a_newcomer_sees_only_what_follows_their_joining(stack, user):
    async def scenario():
        alice_id, bob_id, carol_id = user("alice"), user("bob"), user("carol")
        async with make_client(stack, alice_id) as alice, make_client(stack, carol_id) as carol:
            chat = await alice.create_chat([bob_id], title="Revs")
            for n in range(4):
                await alice.send(chat.chat_id, f"m{n}")
            for seq in (1, 2, 3):
                await alice.edit(chat.chat_id, seq, f"m{seq - 1} edited")
            await alice.react(chat.chat_id, 1, "🎉")  # 1 changes again: listed once, at its last rev
            first = await alice.changes(chat.chat_id, after_rev=0, limit=2)
            assert [m.seq for m in first.messages] == [2, 3] and first.has_more
            assert [m.rev for m in first.messages] == sorted(m.rev for m in first.messages)
            rest = await alice.changes(chat.chat_id, after_rev=first.messages[-1].rev, limit=2)
            assert [m.seq for m in rest.messages] == [1] and not rest.has_more
            assert rest.last_rev == first.last_rev == rest.messages[-1].rev

            await alice.add_members(chat.chat_id, [carol_id])  # seq 5
            await alice.send(chat.chat_id, "welcome carol")  # seq 6
            await alice.edit(chat.chat_id, 6, "welcome, carol")
            seen = await carol.changes(chat.chat_id, after_rev=0)
            assert [m.seq for m in seen.messages] == [6]  # nothing from before she joined
            with pytest.raises(ChatError) as refused:
                await carol.changes(chat.chat_id, after_rev=0, limit=101)
            assert refused.value.code == "bad_request"

    run(scenario())


def test_a_client_offline_during_edits_deletes_and_reactions_shows_what_an_online_one_shows(stack, user):
    """Acceptance point 2: carol's connection goes away without a close frame and stays away
    while the chat changes; after her reconnect her copy equals bob's (online throughout) and
    what is stored, and her application heard of each changed message."""

    async def scenario():
        alice_id, bob_id, carol_id = user("alice"), user("bob"), user("carol")
        carol_may_connect = asyncio.Event()
        carol_may_connect.set()
        async with (
            make_client(stack, alice_id) as alice,
            make_client(stack, bob_id) as bob,
            make_client(stack, carol_id, gate=carol_may_connect) as carol,
        ):
            chat = await alice.create_chat([bob_id, carol_id], title="Away")
            carol_heard: list[Message] = []
            carol.on_message_updated = carol_heard.append
            await bob.open_chat(chat.chat_id, lambda m: None)
            await carol.open_chat(chat.chat_id, lambda m: None)
            acks = [await alice.send(chat.chat_id, f"draft {n}") for n in range(6)]
            acks.append(await carol.send(chat.chat_id, "carol's own"))
            await wait_for(lambda: len(carol.local_messages(chat.chat_id)) == 6)
            await alice.edit(chat.chat_id, acks[0].seq, "before the cut")
            await wait_for(lambda: carol.local_message(chat.chat_id, acks[0].seq).rev > 0)  # type: ignore[union-attr]

            carol_may_connect.clear()
            (conn,) = connection_ids(stack, carol_id)
            stack.drop(conn)
            await wait_for(lambda: carol.state != "online")

            await alice.edit(chat.chat_id, acks[1].seq, "final 1")
            await alice.edit(chat.chat_id, acks[1].seq, "final 1, again")
            await alice.delete(chat.chat_id, acks[2].seq)
            await bob.react(chat.chat_id, acks[3].seq, "👍")
            await alice.react(chat.chat_id, acks[3].seq, "👍")
            await bob.react(chat.chat_id, acks[3].seq, "❤️")  # replaces bob's 👍
            await alice.react(chat.chat_id, acks[4].seq, "🎉")
            await alice.react(chat.chat_id, acks[4].seq, None)  # and takes it back
            await alice.edit(chat.chat_id, acks[5].seq, "edited, then deleted")
            await alice.delete(chat.chat_id, acks[5].seq)
            await bob.react(chat.chat_id, acks[6].seq, "🙂")  # carol's own message
            await alice.send(chat.chat_id, "new while away")

            now = await stored(alice, chat.chat_id)
            await wait_for(lambda: copy_of(bob, chat.chat_id) == now)  # online throughout
            assert copy_of(carol, chat.chat_id) != now  # she missed it all

            carol_may_connect.set()
            await wait_for(lambda: carol.connects >= 2 and carol.state == "online")
            await wait_for(lambda: set(copy_of(carol, chat.chat_id)) >= set(now))
            assert copy_of(carol, chat.chat_id) == now == copy_of(bob, chat.chat_id)
            assert now == await fresh_view(stack, carol_id, chat.chat_id)
            assert now[acks[2].seq].deleted and now[acks[5].seq].deleted
            assert dict(now[acks[3].seq].reactions) == {"👍": (alice_id,), "❤️": (bob_id,)}
            assert dict(now[acks[4].seq].reactions) == {} and now[acks[4].seq].rev > 0
            assert {m.seq for m in carol_heard} == {a.seq for a in acks}  # each changed message
            assert all(carol_heard.count(m) == 1 for m in carol_heard)

    run(scenario())
