"""Receipts only move forward, are capped at last_seq, imply delivery; typing reaches viewers."""

from __future__ import annotations

import pytest


@pytest.fixture
def chat(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    for i in range(3):
        a.send("message.send", chat_id=chat_id, client_msg_id=f"k{i}", text=f"m{i}")
    a.send("chat.open", chat_id=chat_id)
    for x in (a, b):
        x.frames()
    return a, b, chat_id


def test_delivered_receipt_advances_and_notifies_viewers(chat):
    a, b, chat_id = chat
    ok = b.send("message.delivered", chat_id=chat_id, seq=2)
    assert ok == {
        "event": "receipt:ok",
        "req": ok["req"],
        "chat_id": chat_id,
        "delivered_seq": 2,
        "read_seq": 0,
    }
    assert a.frames() == [
        {"event": "chat:receipt", "chat_id": chat_id, "user_id": "bob", "delivered_seq": 2, "read_seq": 0}
    ]
    assert b.frames() == []  # not sent to the reader's own connections


def test_read_implies_delivered_and_clears_unread(chat):
    a, b, chat_id = chat
    ok = b.send("message.read", chat_id=chat_id, seq=3)
    assert (ok["delivered_seq"], ok["read_seq"]) == (3, 3)
    [view] = b.send("chat.list")["chats"]
    assert view["unread"] == 0
    opened = a.send("chat.open", chat_id=chat_id)
    assert opened["receipts"]["bob"] == {"delivered_seq": 3, "read_seq": 3}
    assert opened["receipts"]["alice"] == {"delivered_seq": 3, "read_seq": 3}


def test_pointers_never_move_back_and_lower_values_change_nothing(chat):
    a, b, chat_id = chat
    b.send("message.read", chat_id=chat_id, seq=2)
    a.frames()
    ok = b.send("message.read", chat_id=chat_id, seq=1)
    assert (ok["delivered_seq"], ok["read_seq"]) == (2, 2)
    ok = b.send("message.delivered", chat_id=chat_id, seq=0)
    assert (ok["delivered_seq"], ok["read_seq"]) == (2, 2)
    assert a.frames() == []  # nothing changed, nothing announced


def test_pointers_are_capped_at_last_seq(chat):
    _, b, chat_id = chat
    ok = b.send("message.read", chat_id=chat_id, seq=999)
    assert (ok["delivered_seq"], ok["read_seq"]) == (3, 3)
    [view] = b.send("chat.list")["chats"]
    assert view["unread"] == 0 and view["read_seq"] == 3


def test_delivered_after_read_keeps_delivered_at_least_read(chat):
    _, b, chat_id = chat
    b.send("message.read", chat_id=chat_id, seq=2)
    ok = b.send("message.delivered", chat_id=chat_id, seq=3)
    assert (ok["delivered_seq"], ok["read_seq"]) == (3, 2)


def test_receipt_reaches_only_connections_viewing_the_chat(harness, chat):
    a, b, chat_id = chat
    a_elsewhere = harness.connect("alice")
    b.send("message.read", chat_id=chat_id, seq=3)
    assert [f["event"] for f in a.frames()] == ["chat:receipt"]
    assert a_elsewhere.frames() == []


def test_typing_reaches_other_members_viewing_the_chat_without_reply(harness, chat):
    a, b, chat_id = chat
    b_elsewhere = harness.connect("bob")
    b.send("chat.open", chat_id=chat_id)
    b.frames()
    a_second = harness.connect("alice")
    a_second.send("chat.open", chat_id=chat_id)

    assert a.send("typing", chat_id=chat_id, typing=True) is None  # typing has no reply
    assert b.frames() == [{"event": "chat:typing", "chat_id": chat_id, "user_id": "alice", "typing": True}]
    assert b_elsewhere.frames() == []
    assert a_second.frames() == []  # the typist's own devices are not "other members"
    assert a.frames() == []


def test_receipt_that_keeps_losing_its_race_is_unavailable_and_changes_nothing(chat, monkeypatch):
    from chalicelib import runtime
    from chalicelib.storage.dynamo import DynamoStore
    from tests.fake_time import FakeClock
    from tests.functional.snapshot import table_snapshot

    a, b, chat_id = chat
    runtime.service().actions.contention = FakeClock().contention(budget_seconds=0.5)
    monkeypatch.setattr(DynamoStore, "advance_pointers", lambda self, *args: False)
    before = table_snapshot()

    reply = b.send("message.read", chat_id=chat_id, seq=3)

    assert reply["event"] == "error" and reply["code"] == "unavailable"
    assert table_snapshot() == before
    assert a.frames() == [] and b.frames() == []
