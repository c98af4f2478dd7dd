"""Blocking (PROTOCOL v3, "Blocking and reporting") over real sockets through the local stack,
as ``make run`` starts it (one stack for the session): the direct chat closed both ways, no new
direct chat, group create and add by the blocked user skipping the blocker, group messages
still reaching the blocker, and no push to the blocker from the blocked user."""

from __future__ import annotations

from tests.integration.conftest import run
from tests.integration.peer import Peer
from tests.integration.push.push_support import connect, offline, pushes, register, wait_for_pushes


def test_a_blocked_direct_chat_refuses_both_ways_until_unblocked(stack, user):
    async def scenario():
        a_id, b_id = user("alice"), user("bob")
        a, b = await Peer.connect(stack.ws_url(a_id), a_id), await Peer.connect(stack.ws_url(b_id), b_id)
        chat_id = (await a.request("chat.create", members=[b_id], direct=True))["chat"]["chat_id"]
        await b.expect("chat:added")
        blocked = await a.request("user.block", user_id=b_id)
        assert (blocked["event"], blocked["user_id"], blocked["blocked"]) == ("user:blocked", b_id, True)
        assert (await a.request("user.blocks"))["users"] == [b_id]
        for peer in (b, a):
            refused = await peer.send_text(chat_id, "hello?")
            assert (refused["event"], refused["code"]) == ("error", "forbidden"), refused
        again = await b.request("chat.create", members=[a_id], direct=True)
        assert again["event"] == "chat:created" and again["chat"]["chat_id"] == chat_id  # unchanged
        assert (await a.request("user.block", user_id=a_id))["code"] == "bad_request"

        assert (await a.request("user.unblock", user_id=b_id))["blocked"] is False
        ack = await b.send_text(chat_id, "sorry")
        assert ack["event"] == "message:ack" and ack["seq"] == 1
        await a.expect("chat:message:background")
        for peer in (a, b):
            await peer.close()

    run(scenario())


def test_no_new_direct_chat_and_groups_skip_the_blocker(stack, user):
    async def scenario():
        a_id, b_id, c_id = user("alice"), user("bob"), user("carol")
        a, b, c = [await Peer.connect(stack.ws_url(n), n) for n in (a_id, b_id, c_id)]
        await a.request("user.block", user_id=b_id)
        refused = await b.request("chat.create", members=[a_id], direct=True)
        assert (refused["event"], refused["code"]) == ("error", "forbidden")

        group = await b.request("chat.create", members=[a_id, c_id], title="Party")
        assert group["chat"]["members"] == sorted([b_id, c_id])
        chat_id = group["chat"]["chat_id"]
        await c.expect("chat:added", timeout=10)
        nobody = await b.request("chat.add", chat_id=chat_id, members=[a_id])
        assert nobody["event"] == "chat:updated" and nobody["chat"]["last_seq"] == 0  # no system message

        # carol adds alice; bob's messages there still reach alice's connection
        await b.request("chat.update", chat_id=chat_id, admins=[b_id, c_id])
        await c.request("chat.add", chat_id=chat_id, members=[a_id])
        await a.expect("chat:added")
        await b.send_text(chat_id, "hi all")
        frame = await a.expect("chat:message:background")
        assert frame["message"]["sender_id"] == b_id and frame["message"]["text"] == "hi all"
        assert [e for e in a.events() if e == "chat:added"] == []  # never added by bob
        for peer in (a, b, c):
            await peer.close()

    run(scenario())


def test_no_push_to_the_blocker_from_the_blocked_user(stack, user):
    async def scenario():
        a_id, b_id, c_id = user("alice"), user("bob"), user("carol")
        a = await connect(stack, a_id)
        b = await connect(stack, b_id)
        c = await connect(stack, c_id)
        await register(b, "fcm", f"{b_id}-pixel")
        await register(c, "fcm", f"{c_id}-pixel")
        chat_id = (await a.request("chat.create", members=[b_id, c_id], title="G"))["chat"]["chat_id"]
        await b.request("user.block", user_id=a_id)
        await offline(stack, b, c)

        await a.send_text(chat_id, "first")
        assert [p["notification"]["seq"] for p in await wait_for_pushes(stack, c_id, 1, timeout=30)] == [1]

        b = await connect(stack, b_id)
        await b.request("user.unblock", user_id=a_id)
        await offline(stack, b)
        await a.send_text(chat_id, "second")
        await wait_for_pushes(stack, b_id, 1, timeout=30)
        assert [p["notification"]["seq"] for p in await pushes(stack, b_id)] == [2]  # none for 1
        await a.close()

    run(scenario())
