"""chat.changes: what changed after a rev, each message once at its current state, by rev; and
who is told of a change live (those who can see the message, viewing the chat)."""

from __future__ import annotations

import pytest


@pytest.fixture
def chat(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob", "carol")
    for i in range(1, 6):
        a.send("message.send", chat_id=chat_id, client_msg_id=f"k{i}", text=f"m{i}")
    return a, b, chat_id


def _changes(client, chat_id, after_rev=0, **fields):
    reply = client.send("chat.changes", chat_id=chat_id, after_rev=after_rev, **fields)
    assert reply["event"] == "chat:changes", reply
    return reply


def test_no_changes_yet(chat):
    _, b, chat_id = chat
    assert _changes(b, chat_id) == {
        "event": "chat:changes",
        "req": b.last_req,
        "chat_id": chat_id,
        "messages": [],
        "last_rev": 0,
        "has_more": False,
    }


def test_each_changed_message_once_at_its_current_state_by_rev(chat):
    a, b, chat_id = chat
    a.send("message.edit", chat_id=chat_id, seq=2, text="m2 edited")  # rev 1
    b.send("reaction.set", chat_id=chat_id, seq=4, emoji="👍")  # rev 2
    a.send("message.edit", chat_id=chat_id, seq=2, text="m2 again")  # rev 3
    a.send("message.delete", chat_id=chat_id, seq=5)  # rev 4
    reply = _changes(b, chat_id)
    assert [(m["seq"], m["rev"]) for m in reply["messages"]] == [(4, 2), (2, 3), (5, 4)]
    assert reply["messages"][1]["text"] == "m2 again" and reply["messages"][2]["deleted"] is True
    assert reply["last_rev"] == 4 and reply["has_more"] is False
    after = _changes(b, chat_id, after_rev=3)
    assert [m["seq"] for m in after["messages"]] == [5] and after["last_rev"] == 4
    assert _changes(b, chat_id, after_rev=4)["messages"] == []


def test_pages_by_limit_and_resuming_from_the_last_rev_seen_gets_everything(chat):
    a, b, chat_id = chat
    for seq in range(1, 6):
        a.send("message.edit", chat_id=chat_id, seq=seq, text=f"e{seq}")
    first = _changes(b, chat_id, limit=2)
    assert [m["rev"] for m in first["messages"]] == [1, 2] and first["has_more"] is True
    assert first["last_rev"] == 5
    second = _changes(b, chat_id, after_rev=first["messages"][-1]["rev"], limit=2)
    third = _changes(b, chat_id, after_rev=second["messages"][-1]["rev"], limit=2)
    assert [m["rev"] for m in second["messages"] + third["messages"]] == [3, 4, 5]
    assert third["has_more"] is False


def test_a_late_member_sees_only_changes_of_messages_after_they_joined(harness, chat):
    a, _, chat_id = chat
    for seq in (1, 2, 3):
        a.send("message.edit", chat_id=chat_id, seq=seq, text="before dave")  # revs 1-3
    a.send("chat.add", chat_id=chat_id, members=["dave"])  # seq 6
    a.send("message.send", chat_id=chat_id, client_msg_id="k7", text="hi dave")  # seq 7
    a.send("message.edit", chat_id=chat_id, seq=4, text="old, edited after dave came")  # rev 4
    a.send("message.edit", chat_id=chat_id, seq=7, text="hi dave!")  # rev 5
    dave = harness.connect("dave")
    reply = _changes(dave, chat_id, limit=1)
    assert [(m["seq"], m["rev"]) for m in reply["messages"]] == [(7, 5)]
    assert reply["has_more"] is False and reply["last_rev"] == 5


def test_refusals(harness, chat):
    _, b, chat_id = chat
    for fields in (
        {},
        {"after_rev": -1},
        {"after_rev": "0"},
        {"after_rev": 0, "limit": 0},
        {"after_rev": 0, "limit": 101},
    ):
        assert b.send("chat.changes", chat_id=chat_id, **fields)["code"] == "bad_request", fields
    assert harness.connect("zed").send("chat.changes", chat_id=chat_id, after_rev=0)["code"] == "forbidden"


def test_a_change_reaches_only_those_who_can_see_the_message(harness, chat):
    a, b, chat_id = chat
    a.send("chat.add", chat_id=chat_id, members=["dave"])  # seq 6: dave sees 7 onwards
    dave = harness.connect("dave")
    for x in (b, dave):
        x.send("chat.open", chat_id=chat_id)
        x.frames()
    a.send("message.edit", chat_id=chat_id, seq=1, text="old news")
    assert [f["message"]["seq"] for f in b.frames()] == [1]
    assert dave.frames() == []  # not visible to dave: nothing said
    a.send("message.send", chat_id=chat_id, client_msg_id="k7", text="new")
    b.frames(), dave.frames()
    a.send("message.edit", chat_id=chat_id, seq=7, text="new!")
    assert [f["event"] for f in dave.frames()] == ["chat:message:updated"]


def test_members_not_viewing_the_chat_learn_of_changes_from_the_feed(chat):
    a, b, chat_id = chat
    b.send("chat.open", chat_id=chat_id)
    b.send("chat.close", chat_id=chat_id)
    b.frames()
    a.send("message.edit", chat_id=chat_id, seq=3, text="quiet edit")
    assert b.frames() == []
    assert [m["text"] for m in _changes(b, chat_id)["messages"]] == ["quiet edit"]


def test_a_large_chat_is_told_by_the_roster(harness):
    """Above 50 members the chat item lists none: the roster says who views and who sees."""
    users = [f"u{i:03d}" for i in range(60)]
    owner = harness.connect("u000")
    chat_id = harness.chat(owner, *users[1:])
    owner.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hello all")
    viewers = [harness.connect(u) for u in users[1:4]]
    for v in viewers:
        v.send("chat.open", chat_id=chat_id)
        v.frames()
    owner.send("message.edit", chat_id=chat_id, seq=1, text="hello everyone")
    assert all([f["message"]["text"] for f in v.frames()] == ["hello everyone"] for v in viewers)
    owner.send("chat.add", chat_id=chat_id, members=["late"])  # seq 2
    late = harness.connect("late")
    late.send("chat.open", chat_id=chat_id)
    for x in (late, *viewers):
        x.frames()
    viewers[0].send("reaction.set", chat_id=chat_id, seq=1, emoji="👋")
    assert late.frames() == []
    assert [f["event"] for f in viewers[1].frames()] == ["chat:message:updated"]
