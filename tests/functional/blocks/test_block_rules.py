"""While A blocks B (PROTOCOL v3, "Blocking and reporting"): no messages in their direct chat
either way, no new direct chat between them, B's group create and add skip A. Races: a block
landing between a send's read and its write, and a block racing a direct chat's creation."""

from __future__ import annotations

from chalicelib.storage.dynamo import DynamoStore
from chalicelib.storage.tables import ChatItem, MessageItem


def direct(client, other: str) -> dict:
    reply = client.send("chat.create", members=[other], direct=True)
    return reply


def send(client, chat_id: str, key: str, text: str = "hi") -> dict:
    return client.send("message.send", chat_id=chat_id, client_msg_id=key, text=text)


def test_no_message_either_way_in_a_blocked_direct_chat_until_unblocked(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = direct(a, "bob")["chat"]["chat_id"]
    assert send(a, chat_id, "k1")["event"] == "message:ack"
    b.frames()
    a.send("user.block", user_id="bob")
    for client, key in ((b, "k2"), (a, "k3")):
        refused = send(client, chat_id, key)
        assert refused["event"] == "error" and refused["code"] == "forbidden", refused
    assert MessageItem.count(chat_id) == 1 and b.frames() == []
    assert ChatItem.get(chat_id).last_seq == 1
    a.send("user.unblock", user_id="bob")
    assert send(b, chat_id, "k2")["seq"] == 2


def test_both_blocking_needs_both_to_unblock(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = direct(a, "bob")["chat"]["chat_id"]
    a.send("user.block", user_id="bob")
    b.send("user.block", user_id="alice")
    a.send("user.unblock", user_id="bob")
    assert send(a, chat_id, "k1")["code"] == "forbidden"
    b.send("user.unblock", user_id="alice")
    assert send(a, chat_id, "k1")["event"] == "message:ack"


def test_a_block_in_a_group_stops_nothing_there(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    group = harness.chat(a, "bob", title="G")
    a.send("user.block", user_id="bob")
    assert send(b, group, "k1")["event"] == "message:ack"
    assert [f["event"] for f in a.frames()] == ["chat:message:background"]  # still reaches A


def test_a_block_landing_between_the_sends_read_and_its_write_is_honoured(harness, monkeypatch):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = direct(a, "bob")["chat"]["chat_id"]
    real = DynamoStore.append_message
    landed = []

    def block_first(self, chat, message):
        if not landed:  # the chat was read unblocked; alice blocks bob before the write
            landed.append(a.send("user.block", user_id="bob"))
        return real(self, chat, message)

    monkeypatch.setattr(DynamoStore, "append_message", block_first)
    refused = send(b, chat_id, "k1")
    assert landed[0]["blocked"] is True
    assert refused["event"] == "error" and refused["code"] == "forbidden", refused
    assert MessageItem.count(chat_id) == 0 and a.frames() == []


def test_a_new_direct_chat_is_forbidden_either_way(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    a.send("user.block", user_id="bob")
    for client, other in ((b, "alice"), (a, "bob")):
        refused = direct(client, other)
        assert refused["event"] == "error" and refused["code"] == "forbidden", refused
    assert a.send("chat.list")["chats"] == [] and b.send("chat.list")["chats"] == []
    assert a.frames() == [] and b.frames() == []
    a.send("user.unblock", user_id="bob")
    assert direct(b, "alice")["event"] == "chat:created"


def test_an_existing_direct_chat_is_returned_unchanged(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = direct(a, "bob")["chat"]["chat_id"]
    send(a, chat_id, "k1")
    assert b.send("chat.leave", chat_id=chat_id)["event"] == "chat:left"
    a.frames(), b.frames()
    a.send("user.block", user_id="bob")
    before = ChatItem.get(chat_id).serialize()
    for client, other in ((b, "alice"), (a, "bob")):
        found = direct(client, other)
        assert found["event"] == "chat:created" and found["chat"]["chat_id"] == chat_id
        assert found["chat"]["members"] == ["alice"]  # bob, who left, is not taken back
    assert ChatItem.get(chat_id).serialize() == before
    assert a.frames() == [] and b.frames() == []


def test_a_block_racing_a_direct_chats_creation_one_of_them_fails(harness, monkeypatch):
    """The create's transaction checks that no block stands: a block stored between the
    create's read and its write makes the create forbidden, and stores no chat."""
    a, b = harness.connect("alice"), harness.connect("bob")
    real = DynamoStore.create_chat

    def block_first(self, chat, roster, unblocked=None):
        a.send("user.block", user_id="bob")
        return real(self, chat, roster, unblocked)

    monkeypatch.setattr(DynamoStore, "create_chat", block_first)
    refused = direct(b, "alice")
    assert refused["event"] == "error" and refused["code"] == "forbidden", refused
    monkeypatch.setattr(DynamoStore, "create_chat", real)
    assert b.send("chat.list")["chats"] == [] and a.send("user.blocks")["users"] == ["bob"]


def test_a_direct_chat_created_while_a_block_is_stored_gets_the_block(harness, monkeypatch):
    """The block read no chat; the chat is created before the block's transaction, whose check
    that the chat does not exist fails: the block reads again and marks the chat."""
    a, b = harness.connect("alice"), harness.connect("bob")
    real = DynamoStore.block
    created = []

    def create_first(self, user_id, other_id, chat, absent_chat_id):
        if not created:
            created.append(direct(b, "alice")["chat"]["chat_id"])
        return real(self, user_id, other_id, chat, absent_chat_id)

    monkeypatch.setattr(DynamoStore, "block", create_first)
    assert a.send("user.block", user_id="bob")["blocked"] is True
    assert ChatItem.get(created[0]).blocked_by == {"alice"}
    assert send(b, created[0], "k1")["code"] == "forbidden"


def test_a_group_created_by_the_blocked_user_skips_the_blocker_silently(harness):
    a, b, c = harness.connect("alice"), harness.connect("bob"), harness.connect("carol")
    a.send("user.block", user_id="bob")
    reply = b.send("chat.create", members=["alice", "carol"], title="Party")
    assert reply["event"] == "chat:created"
    assert reply["chat"]["members"] == ["bob", "carol"] and reply["chat"]["member_count"] == 2
    assert a.frames() == [] and [f["event"] for f in c.frames()] == ["chat:added"]
    # alice may still make a group with bob in it: her block limits what bob does
    mine = a.send("chat.create", members=["bob"], title="Mine")
    assert mine["chat"]["members"] == ["alice", "bob"]


def test_chat_add_by_the_blocked_user_skips_the_blocker(harness):
    a, b, _c, d = (harness.connect(u) for u in ("alice", "bob", "carol", "dave"))
    group = harness.chat(b, "carol", title="G")
    a.send("user.block", user_id="bob")
    seq = ChatItem.get(group).last_seq
    reply = b.send("chat.add", chat_id=group, members=["alice", "dave"])
    assert reply["event"] == "chat:updated" and reply["chat"]["members"] == ["bob", "carol", "dave"]
    last = b.send("chat.history", chat_id=group)["messages"][-1]
    assert last["system"] == {"type": "added", "users": ["dave"]}
    assert a.frames() == [] and [f["event"] for f in d.frames()] == ["chat:added"]
    assert ChatItem.get(group).last_seq == seq + 1


def test_chat_add_that_adds_nobody_changes_nothing_and_stores_no_system_message(harness):
    a, b, c = harness.connect("alice"), harness.connect("bob"), harness.connect("carol")
    group = harness.chat(b, "carol", title="G")
    c.frames()
    a.send("user.block", user_id="bob")
    before = ChatItem.get(group).serialize()
    reply = b.send("chat.add", chat_id=group, members=["alice"])
    assert reply["event"] == "chat:updated" and reply["chat"]["members"] == ["bob", "carol"]
    assert ChatItem.get(group).serialize() == before
    assert MessageItem.count(group) == 0
    assert a.frames() == [] and c.frames() == []
    # someone else may add alice: her block is about bob
    assert c.send("chat.update", chat_id=group, admins=["bob", "carol"])["event"] == "error"  # not admin
    assert b.send("chat.update", chat_id=group, admins=["bob", "carol"])["event"] == "chat:updated"
    assert c.send("chat.add", chat_id=group, members=["alice"])["chat"]["member_count"] == 3


def test_a_large_group_checks_blocks_in_batches_of_100(harness, aws_calls):
    a = harness.connect("alice")
    others = [f"u{i:03d}" for i in range(250)]
    harness.connect("u007").send("user.block", user_id="alice")
    harness.connect("u242").send("user.block", user_id="alice")
    mark = aws_calls.mark()
    reply = a.send("chat.create", members=others, title="Big")
    assert reply["chat"]["member_count"] == 249
    batch = [
        p for _, op, p in aws_calls.since(mark) if op == "BatchGetItem" and "test-blocks" in p["RequestItems"]
    ]
    assert len(batch) == 3
    chat_id = reply["chat"]["chat_id"]
    members = a.send("chat.members", chat_id=chat_id)["members"]
    assert "u007" not in members and "u242" not in members and "u008" in members
