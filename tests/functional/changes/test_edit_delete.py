"""message.edit and message.delete (PROTOCOL v3, "Messages that change"): who may, what is
stored, who is told, and that every refusal changes nothing."""

from __future__ import annotations

import pytest

from chalicelib.storage.tables import ChangeItem, ChatItem, MessageItem


@pytest.fixture
def group(harness):
    """alice (admin), bob and carol in a group; alice and carol view it, bob is elsewhere."""
    a, b, c = harness.connect("alice"), harness.connect("bob"), harness.connect("carol")
    chat_id = harness.chat(a, "bob", "carol", title="Weekend")
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello @bob", mentions=["bob"])
    b.send("message.send", chat_id=chat_id, client_msg_id="k2", text="hi alice")
    for x in (a, c):
        x.send("chat.open", chat_id=chat_id)
    for x in (a, b, c):
        x.frames()
    return a, b, c, chat_id


def _message(chat_id: str, seq: int) -> dict:
    return MessageItem.get(chat_id, seq, consistent_read=True).attribute_values


def test_an_edit_changes_the_text_takes_the_next_rev_and_tells_viewers_but_the_actor(harness, group):
    a, b, c, chat_id = group
    a2 = harness.connect("alice")
    a2.send("chat.open", chat_id=chat_id)
    reply = a.send("message.edit", chat_id=chat_id, seq=1, text="hello @bob!")
    assert reply["event"] == "message:updated" and reply["chat_id"] == chat_id
    edited = reply["message"]
    assert edited["text"] == "hello @bob!" and edited["rev"] == 1 and edited["edited_at"]
    assert edited["mentions"] == ["bob"]  # absent from the edit: they stay
    assert edited["seq"] == 1 and edited["deleted"] is False
    updated = {"event": "chat:message:updated", "message": edited}
    assert c.frames() == [updated]  # viewing
    assert a2.frames() == [updated]  # the actor's other device viewing the chat
    assert a.frames() == [] and b.frames() == []  # the acting connection; bob is not viewing
    chat = b.send("chat.list")["chats"][0]
    assert chat["last_rev"] == 1
    assert b.send("chat.history", chat_id=chat_id)["messages"][0]["text"] == "hello @bob!"


def test_an_edit_moves_no_seq_no_unread_and_sends_no_message(harness, group):
    a, b, _, chat_id = group
    before = b.send("chat.list")["chats"][0]
    a.send("message.edit", chat_id=chat_id, seq=1, text="changed")
    after = b.send("chat.list")["chats"][0]
    assert (after["last_seq"], after["unread"]) == (before["last_seq"], before["unread"])
    assert b.frames() == []


def test_mentions_given_on_an_edit_replace_them_filtered_as_on_send(group):
    a, _, _, chat_id = group
    reply = a.send(
        "message.edit", chat_id=chat_id, seq=1, text="hello", mentions=["carol", "alice", "zed", "carol"]
    )
    assert reply["message"]["mentions"] == ["carol"]  # not the sender, not a non-member, once


def test_editing_the_last_message_updates_the_chat_lists_copy(group):
    a, b, _, chat_id = group
    b.send("message.edit", chat_id=chat_id, seq=2, text="hi alice, fixed")
    [listed] = a.send("chat.list")["chats"]
    assert listed["last_message"]["text"] == "hi alice, fixed" and listed["last_message"]["rev"] == 1


def test_the_same_text_changes_nothing(group):
    a, _, c, chat_id = group
    reply = a.send("message.edit", chat_id=chat_id, seq=1, text="hello @bob")
    assert reply["message"]["rev"] == 0 and reply["message"]["edited_at"] is None
    assert c.frames() == []
    assert ChatItem.get(chat_id, consistent_read=True).last_rev is None


@pytest.mark.parametrize(
    ("who", "fields", "code"),
    [
        ("bob", {"seq": 1, "text": "mine now"}, "forbidden"),  # not the sender
        ("alice", {"seq": 9, "text": "x"}, "not_found"),  # past last_seq
        ("alice", {"seq": 0, "text": "x"}, "bad_request"),  # not a seq
        ("alice", {"seq": 1, "text": ""}, "bad_request"),
        ("alice", {"seq": 1, "text": "x" * 4097}, "too_large"),
        ("alice", {"seq": 1}, "bad_request"),
        ("alice", {"seq": "1", "text": "x"}, "bad_request"),
        ("alice", {"seq": 1, "text": "x", "mentions": ["bob"] * 51}, "bad_request"),
        ("alice", {"seq": 1, "text": "x", "mentions": "bob"}, "bad_request"),
    ],
)
def test_refused_edits_change_nothing(harness, group, who, fields, code):
    a, b, c, chat_id = group
    actor = {"alice": a, "bob": b}[who]
    before = _message(chat_id, 1)
    reply = actor.send("message.edit", chat_id=chat_id, **fields)
    assert reply["event"] == "error" and reply["code"] == code, reply
    assert _message(chat_id, 1) == before
    assert c.frames() == []
    assert ChatItem.get(chat_id, consistent_read=True).last_rev is None


def test_a_non_member_may_not_edit_and_learns_nothing(harness, group):
    _, _, _, chat_id = group
    dave = harness.connect("dave")
    assert dave.send("message.edit", chat_id=chat_id, seq=1, text="x")["code"] == "forbidden"
    assert dave.send("message.edit", chat_id="c_nope", seq=1, text="x")["code"] == "forbidden"


def test_a_system_message_cannot_be_edited_deleted_or_reacted_to(harness, group):
    a, _, _, chat_id = group
    a.send("chat.add", chat_id=chat_id, members=["dave"])  # seq 3: a system message
    for action, fields in (
        ("message.edit", {"text": "x"}),
        ("message.delete", {}),
        ("reaction.set", {"emoji": "👍"}),
    ):
        reply = a.send(action, chat_id=chat_id, seq=3, **fields)
        assert reply["code"] == "bad_request", (action, reply)
    assert _message(chat_id, 3)["text"] == "alice added dave"


def test_a_member_cannot_touch_messages_from_before_they_joined(harness, group):
    a, _, _, chat_id = group
    a.send("chat.add", chat_id=chat_id, members=["dave"])
    dave = harness.connect("dave")
    for action, fields in (("message.delete", {}), ("reaction.set", {"emoji": "👍"})):
        assert dave.send(action, chat_id=chat_id, seq=2, **fields)["code"] == "not_found"


def test_delete_removes_the_content_from_storage_and_keeps_what_identifies_it(harness, group):
    a, b, c, chat_id = group
    b.send("reaction.set", chat_id=chat_id, seq=1, emoji="👍")
    c.frames()
    reply = a.send("message.delete", chat_id=chat_id, seq=1)
    deleted = reply["message"]
    assert deleted["deleted"] is True and deleted["text"] == ""
    assert deleted["mentions"] == [] and deleted["reactions"] == {} and deleted["reply_to"] is None
    assert deleted["sender_id"] == "alice" and deleted["seq"] == 1 and deleted["message_id"]
    assert deleted["rev"] == 2
    assert c.frames() == [{"event": "chat:message:updated", "message": deleted}]
    stored = _message(chat_id, 1)
    assert stored["text"] == "" and "mentions" not in stored and "reactions" not in stored
    assert "hello" not in repr(stored)
    # The change feed holds it once, at its latest rev, without the text either.
    changes = [item.attribute_values for item in ChangeItem.query(chat_id, consistent_read=True)]
    assert [(c["seq"], c["rev"]) for c in changes] == [(1, 2)]
    assert "hello" not in repr(changes) and "👍" not in repr(changes)


def test_a_group_admin_deletes_anyones_message_others_only_their_own(group):
    a, b, c, chat_id = group
    assert c.send("message.delete", chat_id=chat_id, seq=2)["code"] == "forbidden"
    assert b.send("message.delete", chat_id=chat_id, seq=1)["code"] == "forbidden"
    assert _message(chat_id, 2)["text"] == "hi alice"
    assert a.send("message.delete", chat_id=chat_id, seq=2)["message"]["deleted"] is True


def test_in_a_direct_chat_nobody_deletes_the_others_message(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = a.send("chat.create", members=["bob"], direct=True)["chat"]["chat_id"]
    a.send("message.send", chat_id=chat_id, client_msg_id="k", text="hi")
    assert b.send("message.delete", chat_id=chat_id, seq=1)["code"] == "forbidden"


def test_deleting_twice_changes_nothing_the_second_time(group):
    a, _, c, chat_id = group
    first = a.send("message.delete", chat_id=chat_id, seq=1)["message"]
    c.frames()
    again = a.send("message.delete", chat_id=chat_id, seq=1)
    assert again["event"] == "message:updated" and again["message"] == first
    assert c.frames() == []


def test_a_deleted_message_cannot_be_edited_or_reacted_to(group):
    a, b, _, chat_id = group
    a.send("message.delete", chat_id=chat_id, seq=1)
    assert a.send("message.edit", chat_id=chat_id, seq=1, text="back")["code"] == "bad_request"
    assert b.send("reaction.set", chat_id=chat_id, seq=1, emoji="👍")["code"] == "bad_request"


def test_deleting_the_last_message_erases_the_chat_items_copy(group):
    a, b, _, chat_id = group
    b.send("message.delete", chat_id=chat_id, seq=2)
    item = ChatItem.get(chat_id, consistent_read=True)
    assert item.last_message.text == "" and item.last_message.deleted is True
    [listed] = a.send("chat.list")["chats"]
    assert listed["last_message"]["deleted"] is True


def test_views_show_messages_as_they_are_now(group):
    a, b, _, chat_id = group
    a.send("message.edit", chat_id=chat_id, seq=1, text="edited")
    b.send("message.delete", chat_id=chat_id, seq=2)
    opened = b.send("chat.open", chat_id=chat_id)
    assert [(m["text"], m["deleted"]) for m in opened["messages"]] == [("edited", False), ("", True)]
    assert opened["chat"]["last_rev"] == 2
