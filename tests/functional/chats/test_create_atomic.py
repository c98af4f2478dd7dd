"""chat.create is all or nothing as far as anyone can see: one transaction up to 98 members;
above that the memberships first and the chat item last, so a crash in between leaves only
memberships of a chat that does not exist, which every reader skips and chat.list forgets."""

from __future__ import annotations

import pytest

from chalicelib import runtime
from chalicelib.storage import dynamo
from chalicelib.storage.tables import MembershipItem
from tests.functional.snapshot import table_snapshot

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


class LambdaKilled(BaseException):
    """The invocation ends here, as a Lambda timeout or crash ends it: nothing after runs."""


def _kill_at_the_transaction(monkeypatch):
    """The next transaction is never sent: the invocation dies just before it."""
    doomed = iter([True])
    real_commit = dynamo.TransactWrite._commit

    def commit(self):
        if next(doomed, False):
            raise LambdaKilled()
        return real_commit(self)

    monkeypatch.setattr(dynamo.TransactWrite, "_commit", commit)


def _data_writes(calls) -> list[str]:
    """Writes other than the connection's rate-limit turn."""
    return [
        op
        for _, op, params in calls
        if op in WRITES and not params.get("TableName", "").endswith("-connections")
    ]


@pytest.mark.parametrize("members", [2, 98])
def test_a_chat_of_up_to_98_members_is_created_by_one_transaction(harness, aws_calls, members):
    alice = harness.connect("alice")
    mark = aws_calls.mark()
    reply = alice.send("chat.create", members=[f"user{i:03d}" for i in range(members - 1)])
    assert reply["event"] == "chat:created" and reply["chat"]["member_count"] == members
    calls = aws_calls.since(mark)
    assert _data_writes(calls) == ["TransactWriteItems"]
    [transaction] = [params for _, op, params in calls if op == "TransactWriteItems"]
    # the chat item, one roster page, every membership
    assert len(transaction["TransactItems"]) == 1 + 1 + members


def test_a_crash_before_the_transaction_leaves_nothing(harness, monkeypatch):
    alice = harness.connect("alice")
    before = table_snapshot()
    _kill_at_the_transaction(monkeypatch)
    with pytest.raises(LambdaKilled):
        alice.raw({"action": "chat.create", "members": ["bob", "carol"], "req": "c1"})
    assert table_snapshot() == before
    assert alice.send("chat.list")["chats"] == []


def test_a_large_create_killed_between_its_writes_shows_nothing_and_its_orphans_are_forgotten(
    harness, monkeypatch
):
    alice, member = harness.connect("alice"), harness.connect("user007")
    direct = alice.send("chat.create", members=["user007"], direct=True)["chat"]["chat_id"]
    others = [f"user{i:03d}" for i in range(149)]
    _kill_at_the_transaction(monkeypatch)
    with pytest.raises(LambdaKilled):  # the memberships are written, the chat item never is
        alice.raw({"action": "chat.create", "members": others, "title": "Big", "req": "c1"})
    assert MembershipItem.count("alice") == 2 and MembershipItem.count("user007") == 2

    def listed(client, **fields):
        return [c["chat_id"] for c in client.send("chat.list", **fields)["chats"]]

    # Nobody sees the chat that was never stored; a young orphan is kept (its create might
    # still be on its way), an old one is forgotten by its user's next chat.list.
    assert listed(alice) == [direct] and listed(member) == [direct]
    assert MembershipItem.count("alice") == 2
    runtime.service().actions.chats.orphan_grace_seconds = 0.0
    assert listed(member, limit=1) == [direct]  # the paged path (more chats than the limit)
    assert listed(alice) == [direct]
    assert MembershipItem.count("alice") == 1 and MembershipItem.count("user007") == 1

    # The client's retry creates the chat whole.
    created = alice.send("chat.create", members=others, title="Big")
    assert created["event"] == "chat:created" and created["chat"]["member_count"] == 150
    assert created["chat"]["chat_id"] in listed(member)


def test_chat_list_answers_when_forgetting_orphans_fails(harness, monkeypatch):
    from chalicelib.domain.errors import Unavailable
    from chalicelib.storage.dynamo import DynamoStore

    alice = harness.connect("alice")
    _kill_at_the_transaction(monkeypatch)
    with pytest.raises(LambdaKilled):
        alice.raw({"action": "chat.create", "members": [f"u{i:03d}" for i in range(120)], "req": "c1"})
    runtime.service().actions.chats.orphan_grace_seconds = 0.0

    def storage_down(self, user_id, chat_ids):
        raise Unavailable()

    monkeypatch.setattr(DynamoStore, "forget_memberships", storage_down)
    reply = alice.send("chat.list")
    assert reply["event"] == "chat:list" and reply["chats"] == []
    assert MembershipItem.count("alice") == 1  # still there, still harmless: the next list retries
