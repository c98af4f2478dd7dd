"""ChatClient and messages that change (protocol v3), against the scripted server: the requests
of reply, mentions, edit, delete, react, set_notify and changes and their refusals; the local
copy following ``chat:message:updated`` frames and, after a reconnect, ``chat.changes`` (every
page), so a client offline during changes ends with the server's state."""

from __future__ import annotations

import asyncio

import pytest

from chatclient import ChatError, Message
from tests.unit.chatclient.fake_server import ME, FakeServer, client_for, reconnect, requests, run, settle


def stored(server: FakeServer, chat_id: str = "c1") -> list[Message]:
    """The server's messages of a chat, as a fresh client would read them."""
    return [Message.from_wire(m) for m in server.messages[chat_id]]


def test_reply_and_mentions_go_out_with_the_send_and_only_when_given():
    server = FakeServer()
    server.store("c1")

    async def scenario():
        client = client_for(server)
        await client.start()
        plain = await client.send("c1", "plain")
        answer = await client.reply("c1", 1, "answer", mentions=["bob"])
        await client.send("c1", "hey", mentions=["bob", "carol"])
        await client.close()
        return plain, answer

    plain, answer = run(scenario())
    sent = [
        {k: v for k, v in r.items() if k not in ("req", "client_msg_id")}
        for r in requests(server, "message.send")
    ]
    assert sent == [
        {"action": "message.send", "chat_id": "c1", "text": "plain"},  # a v2 server sees a v2 send
        {"action": "message.send", "chat_id": "c1", "text": "answer", "reply_to": 1, "mentions": ["bob"]},
        {"action": "message.send", "chat_id": "c1", "text": "hey", "mentions": ["bob", "carol"]},
    ]
    assert (plain.seq, answer.seq) == (2, 3)
    assert stored(server)[2].reply_to == 1 and stored(server)[2].mentions == ("bob",)


def test_edit_delete_and_react_return_the_message_as_it_now_stands_and_keep_it_in_the_copy():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        updated: list[Message] = []
        client.on_message_updated = updated.append
        await client.start()
        ack = await client.send("c1", "helo")
        edited = await client.edit("c1", ack.seq, "hello", mentions=["bob"])
        reacted = await client.react("c1", ack.seq, "👍")
        changed_mind = await client.react("c1", ack.seq, "🎉")
        taken_back = await client.react("c1", ack.seq, None)
        deleted = await client.delete("c1", ack.seq)
        again = await client.delete("c1", ack.seq)
        copy = client.local_messages("c1")
        await client.close()
        return edited, reacted, changed_mind, taken_back, deleted, again, copy, updated

    edited, reacted, changed_mind, taken_back, deleted, again, copy, updated = run(scenario())
    assert (edited.text, edited.mentions, edited.edited, edited.rev) == ("hello", ("bob",), True, 1)
    assert dict(reacted.reactions) == {"👍": (ME,)} and reacted.rev == 2
    assert dict(changed_mind.reactions) == {"🎉": (ME,)}  # one reaction per user: replaced
    assert dict(taken_back.reactions) == {}
    assert deleted.deleted and deleted.text == "" and deleted.mentions == () and deleted.rev == 5
    assert again == deleted  # deleting again changes nothing
    assert copy == [deleted] == stored(server)
    assert updated == []  # the application made these changes: it has them as results
    edits = requests(server, "message.edit")
    assert [{k: v for k, v in r.items() if k != "req"} for r in edits] == [
        {"action": "message.edit", "chat_id": "c1", "seq": 1, "text": "hello", "mentions": ["bob"]}
    ]
    assert [r["emoji"] for r in requests(server, "reaction.set")] == ["👍", "🎉", None]


def test_an_edit_without_mentions_leaves_them_out_of_the_request():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        await client.start()
        await client.send("c1", "hi @bob", mentions=["bob"])
        edited = await client.edit("c1", 1, "hi @bob!")
        await client.close()
        return edited

    assert run(scenario()).mentions == ("bob",)
    assert "mentions" not in requests(server, "message.edit")[0]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.edit("c1", "1", "x"), TypeError),
        (lambda c: c.edit("c1", 0, "x"), ValueError),
        (lambda c: c.edit("c1", True, "x"), TypeError),
        (lambda c: c.edit("c1", 1, None), TypeError),
        (lambda c: c.edit("c1", 1, "x", mentions="bob"), TypeError),
        (lambda c: c.delete("c1", -1), ValueError),
        (lambda c: c.react("c1", 1, ""), ValueError),
        (lambda c: c.react("c1", 1, 5), ValueError),
        (lambda c: c.reply("c1", 0, "x"), ValueError),
        (lambda c: c.send("c1", "x", mentions="bob"), TypeError),
        (lambda c: c.set_notify("c1", "some"), ValueError),
        (lambda c: c.set_notify("c1", None), ValueError),
        (lambda c: c.changes("c1", after_rev=-1), ValueError),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(call, error):
    server = FakeServer()
    server.store("c1")

    async def scenario():
        client = client_for(server)
        await client.start()
        before = len(server.requests)
        with pytest.raises(error):
            await call(client)
        await client.close()
        return server.requests[before:]

    assert [r for r in run(scenario()) if r["action"] != "chat.close"] == []


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.edit("c1", 1, "mine now"), "forbidden"),  # bob's message
        (lambda c: c.edit("c1", 9, "x"), "not_found"),
        (lambda c: c.react("c1", 9, "👍"), "not_found"),
        (lambda c: c.delete("c9", 1), "not_found"),
    ],
)
def test_refusals_raise_chat_error_with_the_code_and_change_nothing(call, code):
    server = FakeServer()
    server.store("c1")

    async def scenario():
        client = client_for(server)
        await client.start()
        with pytest.raises(ChatError) as refused:
            await call(client)
        copy = client.local_messages("c1")
        await client.close()
        return refused.value.code, copy

    got, copy = run(scenario())
    assert got == code and server.last_rev.get("c1", 0) == 0 and all(m.rev == 0 for m in copy)


def test_set_notify_returns_the_level_and_lists_show_it():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        await client.start()
        levels = [await client.set_notify("c1", level) for level in ("mentions", "none", "all", "mentions")]
        (listed,) = await client.list_chats()
        await client.close()
        return levels, listed

    levels, listed = run(scenario())
    assert levels == ["mentions", "none", "all", "mentions"]
    assert (listed.notify, listed.muted) == ("mentions", False)


def test_a_live_update_replaces_the_held_message_by_rev_and_a_stale_one_is_ignored():
    server = FakeServer()
    server.store("c1")

    async def scenario():
        client = client_for(server)
        updated: list[Message] = []
        client.on_message_updated = updated.append
        await client.start()
        await client.open_chat("c1", lambda m: None)
        ws = server.connections[-1]
        first = server.change("c1", 1, text="edited once", edited_at="2026-12-06T10:00:01.000Z")
        second = server.change("c1", 1, reactions={"👍": ["bob"]})
        ws.push({"event": "chat:message:updated", "message": second})
        ws.push({"event": "chat:message:updated", "message": first})  # overtaken: older
        await settle()
        copy = client.local_messages("c1")
        await client.close()
        return updated, copy

    updated, copy = run(scenario())
    assert [m.rev for m in updated] == [2]
    assert (
        copy == stored(server)
        and copy[0].text == "edited once"
        and dict(copy[0].reactions) == {"👍": ("bob",)}
    )


def test_a_message_whose_change_came_first_is_handed_over_as_changed():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        got: list[Message] = []
        client.on_background = got.append
        updated: list[Message] = []
        client.on_message_updated = updated.append
        await client.start()
        ws = server.connections[-1]
        raw = server.store("c1")
        changed = server.change("c1", 1, text="fixed", edited_at="2026-12-06T10:00:01.000Z")
        ws.push({"event": "chat:message:updated", "message": changed})
        ws.push({"event": "chat:message:background", "message": raw | {"text": "text 1", "rev": 0}})
        await settle()
        await client.close()
        return got, updated

    got, updated = run(scenario())
    assert [(m.seq, m.text, m.rev) for m in got] == [(1, "fixed", 1)]
    assert updated == []  # the application had not had the message yet: it got it as it stands


def test_a_client_offline_during_changes_converges_after_the_reconnect_page_by_page():
    server = FakeServer()
    server.changes_cap = 2  # the walk takes several pages
    server.add_chat("c2", [ME, "bob"])
    for _ in range(4):
        server.store("c1")
    server.store("c2")

    async def scenario():
        client = client_for(server)
        updated: list[Message] = []
        client.on_message_updated = updated.append
        await client.start()
        await client.history("c1")  # the copy holds c1's 4 messages
        await client.history("c2")

        def offline_changes():
            server.change("c1", 1, text="edited", edited_at="2026-12-06T10:00:01.000Z")
            server.change("c1", 2, deleted=True)
            server.change("c1", 3, reactions={"👍": ["bob", "carol"]})
            server.change("c1", 3, reactions={"👍": ["bob"]})
            server.change("c1", 4, reactions={"❤️": ["bob"]})

        await reconnect(client, server, offline_changes)
        copy = client.local_messages("c1")
        first_walk = [r["after_rev"] for r in requests(server, "chat.changes")]
        await reconnect(client, server)  # nothing changed since: nothing asked
        await client.close()
        return copy, updated, first_walk

    copy, updated, first_walk = run(scenario())
    assert copy == stored(server)
    assert copy[1].deleted and copy[0].text == "edited" and dict(copy[2].reactions) == {"👍": ("bob",)}
    assert sorted(m.seq for m in updated) == [1, 2, 3, 4]
    assert first_walk == [0, 2]  # c1 only (c2 did not change), two pages: after 0, then after rev 2
    assert [r["chat_id"] for r in requests(server, "chat.changes")] == ["c1", "c1"]


def test_opening_a_chat_that_changed_while_not_viewed_brings_the_copy_up_to_date():
    server = FakeServer()
    server.store("c1")
    server.store("c1")

    async def scenario():
        client = client_for(server)
        await client.start()
        await client.history("c1")
        server.change("c1", 1, reactions={"🎉": ["bob"]})  # not viewing c1: no frame
        await asyncio.sleep(0)
        opened = await client.open_chat("c1", lambda m: None)
        copy = client.local_messages("c1")
        await client.close()
        return opened, copy

    opened, copy = run(scenario())
    assert copy == stored(server) and opened.messages == stored(server)
    assert [r["after_rev"] for r in requests(server, "chat.changes")] == [0]


def test_changes_reads_one_page_and_a_v2_server_is_never_asked():
    server = FakeServer()
    server.store("c1")
    server.change("c1", 1, text="x", edited_at="2026-12-06T10:00:01.000Z")

    async def scenario():
        client = client_for(server)
        await client.start()
        page = await client.changes("c1", after_rev=0, limit=10)
        await client.close()
        return page

    page = run(scenario())
    assert page.chat_id == "c1" and page.last_rev == 1 and not page.has_more
    assert [(m.seq, m.text) for m in page.messages] == [(1, "x")]
    assert requests(server, "chat.changes")[0]["limit"] == 10


def test_a_viewed_chat_that_changed_while_offline_tells_the_application_of_each_change_once():
    server = FakeServer()
    for _ in range(3):
        server.store("c1")

    async def scenario():
        client = client_for(server)
        updated: list[Message] = []
        client.on_message_updated = updated.append
        await client.start()
        await client.open_chat("c1", lambda m: None)  # re-opened after the reconnect

        def offline_changes():
            server.change("c1", 1, text="edited", edited_at="2026-12-06T10:00:01.000Z")
            server.change("c1", 3, reactions={"👍": ["bob"]})

        await reconnect(client, server, offline_changes)
        copy = client.local_messages("c1")
        await client.close()
        return updated, copy

    updated, copy = run(scenario())
    assert [(m.seq, m.rev) for m in updated] == [(1, 1), (3, 2)]  # not message 2: it did not change
    assert copy == stored(server)


def test_a_change_between_the_open_s_read_and_its_viewing_is_fetched_and_not_lost():
    """The server reads the chat for chat.open before the connection counts as viewing it: a
    change in between is in neither the reply nor a frame. The client asks chat.changes after
    every open, by the application or after a reconnect."""
    server = FakeServer()
    server.store("c1")
    server.store("c1")

    async def scenario():
        client = client_for(server)
        updated: list[Message] = []
        client.on_message_updated = updated.append
        await client.start()
        await client.history("c1")
        server.after_open_read = lambda: server.change("c1", 1, reactions={"👍": ["bob"]})
        await client.open_chat("c1", lambda m: None)
        after_open = client.local_messages("c1") == stored(server)
        server.after_open_read = lambda: server.change(
            "c1", 2, text="edited", edited_at="2026-12-06T10:00:01.000Z"
        )
        await reconnect(client, server)
        copy = client.local_messages("c1")
        await client.close()
        return updated, after_open, copy

    updated, after_open, copy = run(scenario())
    assert after_open  # at once, not at the next reconnect
    assert copy == stored(server)
    assert [(m.seq, m.rev) for m in updated] == [(1, 1), (2, 2)]
