"""What one message.send costs in DynamoDB requests, counted at the botocore level.

Target (DESIGN.md): at most 6 + ceil(N/100) requests for a chat of N members, independent of
everything else in the tables, with a small constant number of writes and none per recipient.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.storage.tables import ChatItem, ConnectionItem, MembershipItem, MessageItem, PresenceItem

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def fill_unrelated(count: int) -> None:
    """``count`` users with a live connection, a chat each and a message in it."""
    expires = datetime.now(UTC) + timedelta(hours=2)
    exp = int(expires.timestamp())
    with ConnectionItem.batch_write() as conns, PresenceItem.batch_write() as presence:
        for i in range(count):
            conns.save(ConnectionItem(f"noise{i}=", user_id=f"noise{i}", connected_at=0, expires_at=expires))
            presence.save(PresenceItem(f"noise{i}", conns={f"noise{i}=": {"exp": exp}}, expires_at=expires))
    with ChatItem.batch_write() as chats, MembershipItem.batch_write() as members:
        with MessageItem.batch_write() as messages:
            for i in range(count):
                chat_id = f"c_noise{i}"
                chats.save(
                    ChatItem(
                        chat_id, members=[f"noise{i}"], created_by=f"noise{i}", created_at="x", last_seq=1
                    )
                )
                members.save(MembershipItem(f"noise{i}", chat_id, joined_at="x"))
                messages.save(
                    MessageItem(
                        chat_id,
                        1,
                        message_id="m",
                        client_msg_id="k",
                        sender_id=f"noise{i}",
                        text="t",
                        sent_at="x",
                    )
                )


def measure_send(harness, api, aws_calls, members: int) -> tuple[list[str], list[dict], int]:
    alice = harness.connect("alice")
    others = [f"user{i}" for i in range(members - 1)]
    connections = [harness.connect(u) for u in others]
    chat_id = harness.chat(alice, *others)
    alice.send("message.send", chat_id=chat_id, client_msg_id="warm", text="first")  # warm-up send
    posts_before = len(api.posts)

    mark = aws_calls.mark()
    ack = alice.send("message.send", chat_id=chat_id, client_msg_id="measured", text="counted")
    calls = aws_calls.since(mark)

    assert ack["event"] == "message:ack" and ack["seq"] == 2
    posts = api.posts[posts_before:]
    assert sorted(posts) == sorted([alice.connection_id] + [c.connection_id for c in connections])
    return [op for _, op, _ in calls], [params for _, _, params in calls], len(posts)


@pytest.mark.parametrize("members", [2, 10, 100])
@pytest.mark.parametrize("unrelated", [0, 1000], ids=["empty", "1000-unrelated"])
def test_send_cost_is_bounded_and_independent_of_other_data(
    harness, api, aws_calls, members, unrelated, capsys
):
    if unrelated:
        fill_unrelated(unrelated)
    ops, params, posts = measure_send(harness, api, aws_calls, members)

    budget = 6 + math.ceil(members / 100)
    assert len(ops) <= budget, ops
    # The floor of the design: who is this connection (its rate-limit turn, which returns the
    # record), read the chat (and above 50 members its roster), one transaction, presence
    # batches; then the mark on the send key that the fan-out happened (a retry of a send that
    # died before fanning out delivers it: tests/functional/messages/test_send_crashes.py).
    roster = ["Query"] if members > 50 else []
    presence = ["BatchGetItem"] * math.ceil(members / 100)
    assert ops == ["UpdateItem", "GetItem", *roster, "TransactWriteItems", *presence, "UpdateItem"]
    writes = [p for op, p in zip(ops, params, strict=True) if op in WRITES]
    turn, store, mark = writes
    assert turn["TableName"].endswith("-connections") and turn["ReturnValues"] == "ALL_NEW"
    assert len(store["TransactItems"]) == 4  # message, send key, chat, sender
    assert mark["TableName"].endswith("-send_keys")
    assert "Scan" not in ops
    assert posts == members  # one post per recipient connection + the sender's ack
    with capsys.disabled():
        print(
            f"\n  send to {members:>3} members, {unrelated:>4} unrelated: {len(ops)} DynamoDB requests {ops}"
        )
