"""Messages that change and notification levels (PROTOCOL v3) over real sockets through the local
stack, as ``make run`` starts it: replies, mentions, edits, deletes, reactions, chat.changes,
chat.notify, and a push for a mention at the "mentions" level (none for other messages)."""

from __future__ import annotations

import asyncio

from tests.integration.conftest import run
from tests.integration.peer import Peer
from tests.integration.push.push_support import connect, offline, pushes, register, wait_for_pushes


async def _group(stack, user):
    names = user("alice"), user("bob"), user("carol")
    a, b, c = [await Peer.connect(stack.ws_url(n), n) for n in names]
    created = await a.request("chat.create", members=list(names[1:]), title="Live")
    chat_id = created["chat"]["chat_id"]
    for peer in (b, c):
        await peer.expect("chat:added")
    return a, b, c, chat_id


def test_every_change_over_real_sockets(stack, user):
    async def scenario():
        a, b, c, chat_id = await _group(stack, user)
        for peer in (a, b, c):
            await peer.request("chat.open", chat_id=chat_id)
        ack = await a.request(
            "message.send",
            chat_id=chat_id,
            client_msg_id="k1",
            text=f"hi @{b.user}",
            mentions=[b.user, "nobody"],
        )
        first = (await b.expect("chat:message"))["message"]
        assert first["mentions"] == [b.user] and first["rev"] == 0 and ack["seq"] == 1
        await c.expect("chat:message")

        reply = await b.request("message.send", chat_id=chat_id, client_msg_id="k2", text="hey", reply_to=1)
        assert reply["event"] == "message:ack"
        assert (await a.expect("chat:message"))["message"]["reply_to"] == 1
        await c.expect("chat:message")

        edited = await a.request("message.edit", chat_id=chat_id, seq=1, text="hello everyone")
        assert edited["event"] == "message:updated" and edited["message"]["rev"] == 1
        for peer in (b, c):
            frame = await peer.expect("chat:message:updated")
            assert frame["message"] == edited["message"]

        reacted = await c.request("reaction.set", chat_id=chat_id, seq=1, emoji="🎉")
        assert reacted["message"]["reactions"] == {"🎉": [c.user]}
        await a.expect("chat:message:updated")
        await b.expect("chat:message:updated")

        deleted = await b.request("message.delete", chat_id=chat_id, seq=2)
        assert deleted["message"]["deleted"] is True and deleted["message"]["text"] == ""
        refused = await c.request("message.delete", chat_id=chat_id, seq=1)  # not hers, not admin
        assert refused["event"] == "error" and refused["code"] == "forbidden"
        refused = await b.request("message.edit", chat_id=chat_id, seq=9, text="x")
        assert refused["code"] == "not_found"

        changes = await c.request("chat.changes", chat_id=chat_id, after_rev=0)
        assert [(m["seq"], m["rev"]) for m in changes["messages"]] == [(1, 2), (2, 3)]
        assert changes["last_rev"] == 3 and changes["has_more"] is False
        for peer in (a, b, c):
            await peer.close()

    run(scenario())


def test_a_member_offline_during_changes_catches_up_from_the_feed(stack, user):
    async def scenario():
        a, b, c, chat_id = await _group(stack, user)
        for i in range(1, 4):
            await a.request("message.send", chat_id=chat_id, client_msg_id=f"k{i}", text=f"m{i}")
        opened = await b.request("chat.open", chat_id=chat_id)
        seen = {m["seq"]: m for m in opened["messages"]}
        last_rev = opened["chat"]["last_rev"]
        await b.close()  # bob goes away
        await a.request("message.edit", chat_id=chat_id, seq=1, text="m1 edited")
        await c.request("reaction.set", chat_id=chat_id, seq=2, emoji="👍")
        await a.request("message.delete", chat_id=chat_id, seq=3)
        back = await Peer.connect(stack.ws_url(b.user), b.user)
        changes = await back.request("chat.changes", chat_id=chat_id, after_rev=last_rev)
        for message in changes["messages"]:
            seen[message["seq"]] = message
        fresh = await back.request("chat.history", chat_id=chat_id)
        assert [seen[m["seq"]] for m in fresh["messages"]] == fresh["messages"]
        assert seen[1]["text"] == "m1 edited" and seen[2]["reactions"] == {"👍": [c.user]}
        assert seen[3]["deleted"] is True
        for peer in (a, back, c):
            await peer.close()

    run(scenario())


def test_the_mentions_level_pushes_for_a_mention_and_a_reply_only(stack, user):
    async def scenario():
        alice, bob = user("alice"), user("bob")
        a = await connect(stack, alice)
        b = await connect(stack, bob)
        chat_id = (await a.request("chat.create", members=[bob, user("carol")]))["chat"]["chat_id"]
        await b.request("message.send", chat_id=chat_id, client_msg_id="b1", text="question")  # 1
        level = await b.request("chat.notify", chat_id=chat_id, level="mentions")
        assert level == {
            "event": "chat:notify",
            "req": level["req"],
            "chat_id": chat_id,
            "notify": "mentions",
            "muted": False,
        }
        await register(b, "apns", f"{bob}-iphone")
        await offline(stack, b)
        await a.request("message.send", chat_id=chat_id, client_msg_id="a2", text="chatter")  # 2
        await a.request("message.send", chat_id=chat_id, client_msg_id="a3", text="answer", reply_to=1)  # 3
        await a.request("message.send", chat_id=chat_id, client_msg_id="a4", text="more chatter")  # 4
        await a.request("message.send", chat_id=chat_id, client_msg_id="a5", text="@bob", mentions=[bob])  # 5
        found = await wait_for_pushes(stack, bob, 2)
        await asyncio.sleep(1.0)  # anything else would have come with the others
        found = await pushes(stack, bob)
        assert sorted(p["notification"]["seq"] for p in found) == [3, 5]
        await a.close()

    run(scenario())
