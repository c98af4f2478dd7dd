"""chat.create, chat.list, chat.open, chat.close and chat.history."""

from __future__ import annotations

import re

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_create_adds_creator_sorts_members_and_announces(harness):
    a, b1, b2, c = (
        harness.connect("alice"),
        harness.connect("bob"),
        harness.connect("bob"),
        harness.connect("carol"),
    )
    a2 = harness.connect("alice")
    reply = a.send("chat.create", members=["carol", "bob", "bob"], title="Weekend")
    chat = reply["chat"]
    assert reply["event"] == "chat:created"
    assert chat["members"] == ["alice", "bob", "carol"] and chat["title"] == "Weekend"
    assert chat["created_by"] == "alice" and ISO.match(chat["created_at"])
    assert (chat["last_seq"], chat["last_message"], chat["unread"]) == (0, None, 0)
    assert chat["chat_id"].startswith("c_")
    for other in (b1, b2, c):
        assert other.frames() == [{"event": "chat:added", "chat": chat}]
    assert a2.frames() == []  # the protocol announces to every *other* member


def test_create_without_title_or_others(harness):
    a = harness.connect("alice")
    chat = a.send("chat.create", members=[])["chat"]
    assert chat["members"] == ["alice"] and chat["title"] is None
    assert a.send("message.send", chat_id=chat["chat_id"], client_msg_id="k", text="note to self")["seq"] == 1


def test_list_is_newest_activity_first_with_own_counts(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    old = harness.chat(a, "bob", title="old")
    new = harness.chat(a, "bob", title="new")
    harness.chat(a, "carol", title="quiet")
    a.send("message.send", chat_id=new, client_msg_id="k1", text="x")
    a.send("message.send", chat_id=old, client_msg_id="k2", text="y")  # old is now the most recent
    titles = [c["title"] for c in a.send("chat.list")["chats"]]
    assert titles == ["old", "new", "quiet"]
    bob = {c["title"]: c for c in b.send("chat.list")["chats"]}
    assert set(bob) == {"old", "new"}  # never a chat bob is not in
    assert bob["old"]["unread"] == 1 and bob["old"]["last_message"]["text"] == "y"


def test_list_when_in_no_chat(harness):
    assert harness.connect("nobody").send("chat.list")["chats"] == []


def test_open_returns_latest_50_ascending_and_receipts(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    for i in range(55):
        a.send("message.send", chat_id=chat_id, client_msg_id=f"k{i}", text=f"m{i}")
    opened = b.send("chat.open", chat_id=chat_id)
    assert [m["seq"] for m in opened["messages"]] == list(range(6, 56))
    assert opened["receipts"] == {
        "alice": {"delivered_seq": 55, "read_seq": 55},
        "bob": {"delivered_seq": 0, "read_seq": 0},
    }
    assert opened["chat"]["unread"] == 55


def test_opening_another_chat_replaces_the_view(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    first = harness.chat(a, "bob")
    second = harness.chat(a, "bob")
    b.send("chat.open", chat_id=first)
    b.send("chat.open", chat_id=second)
    b.frames()
    a.send("message.send", chat_id=first, client_msg_id="k1", text="to first")
    a.send("message.send", chat_id=second, client_msg_id="k2", text="to second")
    assert [f["event"] for f in b.frames()] == ["chat:message:background", "chat:message"]


def test_closing_a_chat_not_viewed_keeps_the_current_view(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    first = harness.chat(a, "bob")
    second = harness.chat(a, "bob")
    b.send("chat.open", chat_id=second)
    assert b.send("chat.close", chat_id=first)["event"] == "chat:closed"
    b.frames()
    a.send("message.send", chat_id=second, client_msg_id="k", text="still viewing")
    assert [f["event"] for f in b.frames()] == ["chat:message"]


def test_history_pages_before_and_after(harness):
    a = harness.connect("alice")
    chat_id = harness.chat(a, "bob")
    for i in range(30):
        a.send("message.send", chat_id=chat_id, client_msg_id=f"k{i}", text=f"m{i}")

    def page(**kw):
        reply = a.send("chat.history", chat_id=chat_id, **kw)
        assert reply["event"] == "chat:history" and reply["chat_id"] == chat_id
        return [m["seq"] for m in reply["messages"]], reply["has_more"]

    assert page() == (list(range(1, 31)), False)
    assert page(limit=10) == (list(range(21, 31)), True)
    assert page(before=21, limit=10) == (list(range(11, 21)), True)
    assert page(before=11, limit=10) == (list(range(1, 11)), False)
    assert page(after=25) == (list(range(26, 31)), False)
    assert page(after=0, limit=10) == (list(range(1, 11)), True)
    assert page(after=5, before=9) == ([6, 7, 8], False)
    assert page(after=5, before=20, limit=3) == ([6, 7, 8], True)
    assert page(after=5, before=6) == ([], False)
    assert page(after=30) == ([], False)
    assert page(before=1) == ([], False)


def test_ping_costs_only_the_connections_rate_limit_turn(harness, aws_calls):
    a = harness.connect("alice")
    mark = aws_calls.mark()
    assert a.send("ping")["event"] == "pong"
    assert [(op, params["TableName"]) for _, op, params in aws_calls.since(mark)] == [
        ("UpdateItem", "test-connections")
    ]
