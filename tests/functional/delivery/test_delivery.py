"""The heart of the protocol: a message reaches every member wherever they are."""

from __future__ import annotations

import itertools

_cmids = itertools.count(1)


def send(client, chat_id, text, cmid=None):
    reply = client.send("message.send", chat_id=chat_id, client_msg_id=cmid or f"k{next(_cmids)}", text=text)
    assert reply["event"] == "message:ack", reply
    return reply


def test_viewing_member_gets_chat_message(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    assert a.send("chat.open", chat_id=chat_id)["event"] == "chat:opened"
    assert b.send("chat.open", chat_id=chat_id)["event"] == "chat:opened"
    b.frames()  # chat:added from the create

    ack = send(a, chat_id, "hi")

    assert ack["seq"] == 1 and ack["duplicate"] is False
    [received] = b.frames()
    assert received["event"] == "chat:message"
    message = received["message"]
    assert message["text"] == "hi" and message["sender_id"] == "alice" and message["seq"] == 1
    assert message["message_id"] == ack["message_id"] and message["sent_at"] == ack["sent_at"]
    assert a.frames() == []  # the sender gets its ack, not a copy


def test_member_elsewhere_gets_background_then_finds_it_on_open(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    other = harness.chat(b, "carol")
    b.send("chat.open", chat_id=other)
    b.frames()

    send(a, chat_id, "while you were elsewhere")

    [received] = b.frames()
    assert received["event"] == "chat:message:background"
    assert received["message"]["text"] == "while you were elsewhere"
    opened = b.send("chat.open", chat_id=chat_id)
    assert [m["text"] for m in opened["messages"]] == ["while you were elsewhere"]
    assert opened["chat"]["unread"] == 1


def test_member_viewing_nothing_gets_background(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    b.frames()
    send(a, chat_id, "hello")
    assert [f["event"] for f in b.frames()] == ["chat:message:background"]


def test_closed_chat_means_background(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    b.send("chat.open", chat_id=chat_id)
    closed = b.send("chat.close", chat_id=chat_id)
    assert closed["event"] == "chat:closed" and closed["chat_id"] == chat_id
    b.frames()
    send(a, chat_id, "after close")
    assert [f["event"] for f in b.frames()] == ["chat:message:background"]


def test_offline_member_finds_message_stored_with_unread(harness, api):
    a = harness.connect("alice")
    chat_id = harness.chat(a, "bob")
    posts_before = len(api.posts)

    send(a, chat_id, "you were offline")

    assert len(api.posts) == posts_before + 1  # only alice's ack: nothing for bob
    b = harness.connect("bob")
    [chat] = b.send("chat.list")["chats"]
    assert chat["chat_id"] == chat_id
    assert chat["unread"] == 1 and chat["last_seq"] == 1 and chat["read_seq"] == 0
    assert chat["last_message"]["text"] == "you were offline"
    opened = b.send("chat.open", chat_id=chat_id)
    assert [m["text"] for m in opened["messages"]] == ["you were offline"]


def test_multi_device_exactly_one_frame_per_connection(harness):
    a1, a2 = harness.connect("alice"), harness.connect("alice")
    b1, b2 = harness.connect("bob"), harness.connect("bob")
    chat_id = harness.chat(a1, "bob")
    b1.send("chat.open", chat_id=chat_id)
    for c in (a1, a2, b1, b2):
        c.frames()

    send(a1, chat_id, "to all devices")

    assert a1.frames() == []
    assert [f["event"] for f in a2.frames()] == ["chat:message:background"]
    assert [f["event"] for f in b1.frames()] == ["chat:message"]
    assert [f["event"] for f in b2.frames()] == ["chat:message:background"]


def test_stale_connection_is_forgotten_and_others_still_receive(harness, api):
    a = harness.connect("alice")
    b1, b2 = harness.connect("bob"), harness.connect("bob")
    c = harness.connect("carol")
    chat_id = harness.chat(a, "bob", "carol")
    for x in (b1, b2, c):
        x.frames()
    b1.vanish()

    send(a, chat_id, "one")

    assert [f["event"] for f in b2.frames()] == ["chat:message:background"]
    assert [f["event"] for f in c.frames()] == ["chat:message:background"]
    from chalicelib.storage.tables import ConnectionItem, PresenceItem

    assert ConnectionItem.count(b1.connection_id) == 0
    assert b1.connection_id not in PresenceItem.get("bob").conns.as_dict()

    posts_to_b1 = api.posts.count(b1.connection_id)
    send(a, chat_id, "two")
    assert api.posts.count(b1.connection_id) == posts_to_b1
    assert [f["message"]["text"] for f in b2.frames()] == ["two"]


def test_disconnect_forgets_the_connection(harness, api):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    b.disconnect()
    send(a, chat_id, "gone")
    assert b.connection_id not in api.posts[-1:]
    assert api.posts.count(b.connection_id) == 1  # only the chat:added before disconnecting
