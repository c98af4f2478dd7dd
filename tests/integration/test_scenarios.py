"""The design's three scenarios and multi-device delivery, over real WebSockets."""

from __future__ import annotations

from tests.integration.conftest import run
from tests.integration.peer import Peer


async def _pair(stack, alice: str, bob: str):
    a = await Peer.connect(stack.ws_url(alice), alice)
    b = await Peer.connect(stack.ws_url(bob), bob)
    created = await a.request("chat.create", members=[bob], title="Weekend")
    assert created["event"] == "chat:created"
    chat_id = created["chat"]["chat_id"]
    await b.expect("chat:added")
    return a, b, chat_id


def test_both_viewing_get_chat_message(stack, user):
    async def scenario():
        a, b, chat_id = await _pair(stack, user("alice"), user("bob"))
        assert (await a.request("chat.open", chat_id=chat_id))["event"] == "chat:opened"
        assert (await b.request("chat.open", chat_id=chat_id))["event"] == "chat:opened"

        ack = await a.send_text(chat_id, "hello bob")
        assert ack["event"] == "message:ack" and ack["seq"] == 1 and ack["duplicate"] is False

        frame = await b.expect("chat:message")
        assert frame["message"]["text"] == "hello bob"
        assert frame["message"]["sender_id"] == a.user and frame["message"]["seq"] == 1
        await a.settle()
        assert a.events() == []  # the sender gets its ack, not a copy
        await a.close()
        await b.close()

    run(scenario())


def test_connected_elsewhere_gets_background_then_opens(stack, user):
    async def scenario():
        a, b, chat_id = await _pair(stack, user("alice"), user("bob"))
        await a.request("chat.open", chat_id=chat_id)
        # bob views another chat
        other = await b.request("chat.create", members=[user("carol")])
        await b.request("chat.open", chat_id=other["chat"]["chat_id"])

        ack = await a.send_text(chat_id, "while you were away")
        background = await b.expect("chat:message:background")
        assert background["message"]["seq"] == ack["seq"]
        assert background["message"]["text"] == "while you were away"

        opened = await b.request("chat.open", chat_id=chat_id)
        assert [m["text"] for m in opened["messages"]] == ["while you were away"]
        assert opened["chat"]["unread"] == 1
        await a.close()
        await b.close()

    run(scenario())


def test_offline_member_finds_it_stored(stack, user):
    async def scenario():
        alice, bob = user("alice"), user("bob")
        a = await Peer.connect(stack.ws_url(alice), alice)
        created = await a.request("chat.create", members=[bob])
        chat_id = created["chat"]["chat_id"]
        before = len(stack.connections())
        await a.send_text(chat_id, "see you later")
        assert len(stack.connections()) == before  # nobody was connected as bob

        b = await Peer.connect(stack.ws_url(bob), bob)
        listed = await b.request("chat.list")
        (chat,) = [c for c in listed["chats"] if c["chat_id"] == chat_id]
        assert chat["unread"] == 1
        assert chat["last_message"]["text"] == "see you later"
        opened = await b.request("chat.open", chat_id=chat_id)
        assert [m["text"] for m in opened["messages"]] == ["see you later"]
        await a.close()
        await b.close()

    run(scenario())


def test_multi_device_one_frame_per_connection(stack, user):
    async def scenario():
        alice, bob = user("alice"), user("bob")
        a1, b_viewing, chat_id = await _pair(stack, alice, bob)
        a2 = await Peer.connect(stack.ws_url(alice), alice)
        b_elsewhere = await Peer.connect(stack.ws_url(bob), bob)
        await b_viewing.request("chat.open", chat_id=chat_id)

        ack = await a1.send_text(chat_id, "to every device")
        assert ack["event"] == "message:ack"
        await b_viewing.expect("chat:message")
        await b_elsewhere.expect("chat:message:background")
        await a2.expect("chat:message:background")
        await a1.settle()
        for peer in (a1, a2, b_viewing, b_elsewhere):
            assert peer.events() == [], f"{peer.user} got extra frames: {peer.pushed}"
        for peer in (a1, a2, b_viewing, b_elsewhere):
            await peer.close()

    run(scenario())


def test_retried_send_is_stored_once(stack, user):
    async def scenario():
        a, b, chat_id = await _pair(stack, user("alice"), user("bob"))
        await b.request("chat.open", chat_id=chat_id)
        first = await a.send_text(chat_id, "once", client_msg_id="retry-1")
        again = await a.send_text(chat_id, "once", client_msg_id="retry-1")
        assert again["duplicate"] is True and again["seq"] == first["seq"]
        assert again["message_id"] == first["message_id"]
        await b.expect("chat:message")
        await b.settle()
        assert b.events() == []
        history = await b.request("chat.history", chat_id=chat_id)
        assert [m["seq"] for m in history["messages"]] == [1]
        await a.close()
        await b.close()

    run(scenario())
