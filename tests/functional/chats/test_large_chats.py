"""Chats of up to 1,000 members: a send to a chat of more than 50 costs 4 DynamoDB requests in
the sending invocation whatever its size, and 3 per roster page of 100 in the fan-out worker,
with no write per recipient; every live connection gets exactly one frame."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from tests.functional.bench.test_cost import fill_unrelated

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def big_chat(harness, members: int):
    alice = harness.connect("alice")
    others = [f"user{i:04d}" for i in range(members - 1)]
    connections = [harness.connect(u) for u in others]
    reply = alice.send("chat.create", members=others, title="Big")
    assert reply["event"] == "chat:created", reply
    chat_id = reply["chat"]["chat_id"]
    harness.drain_fanout()
    return alice, connections, chat_id


@pytest.mark.slow
@pytest.mark.parametrize("members", [2, 100, 1000])
def test_send_cost_and_one_frame_per_connection(sharded, api, aws_calls, members, capsys):
    if members == 1000:
        fill_unrelated(1000)  # the cost does not grow with what else is stored
    alice, connections, chat_id = big_chat(sharded, members)
    alice.send("message.send", chat_id=chat_id, client_msg_id="warm", text="first")
    sharded.drain_fanout()
    for c in connections:
        c.frames()

    mark = aws_calls.mark()
    ack = alice.send("message.send", chat_id=chat_id, client_msg_id="measured", text="counted")
    send_calls = aws_calls.since(mark, service=None)
    shards = sharded.drain_fanout()
    worker_calls = aws_calls.since(mark + len(send_calls), service="dynamodb")

    ops = [op for service, op, _ in send_calls if service == "dynamodb"]
    sqs = [op for service, op, _ in send_calls if service == "sqs"]
    assert ack["event"] == "message:ack" and ack["seq"] == 2
    # the first: the connection's rate-limit turn, which returns the connection record;
    # the last: the send key marked fanned out once the posts are made or the slices queued
    if members > 50:
        # A large chat's send reads no roster and no presence: it queues one slice per roster
        # page (the chat item numbers them), and each slice, in the fan-out worker, claims
        # itself, reads its page and its members' presence: 3 requests per 100 members.
        pages = math.ceil(members / 100)
        assert ops == ["UpdateItem", "GetItem", "TransactWriteItems", "UpdateItem"]
        assert len(ops) <= 3 + math.ceil(members / 100)
        assert shards == pages and sqs == ["SendMessageBatch"] * math.ceil(pages / 10)
        assert [op[1] for op in worker_calls] == ["PutItem", "GetItem", "BatchGetItem"] * pages
    else:
        assert ops == ["UpdateItem", "GetItem", "TransactWriteItems", "BatchGetItem", "UpdateItem"]
        assert shards == 0 and sqs == [] and worker_calls == []
    # nothing written per recipient
    assert [op for op in ops if op in WRITES] == ["UpdateItem", "TransactWriteItems", "UpdateItem"]
    frames = Counter()
    for c in connections:
        got = c.frames()
        assert [f["message"]["seq"] for f in got] == [2], (c.connection_id, got)
        frames[got[0]["event"]] += 1
    assert frames == {"chat:message:background": members - 1}
    with capsys.disabled():
        print(f"\n  send to {members:>4} members: {len(ops)} DynamoDB requests, {shards} shards, {sqs}")


@pytest.mark.slow
def test_membership_events_in_a_large_chat_reach_everyone_once(sharded):
    alice, connections, chat_id = big_chat(sharded, 400)
    for c in connections:
        c.frames()
    newcomer = sharded.connect("newcomer")
    reply = alice.send("chat.add", chat_id=chat_id, members=["newcomer"])
    assert reply["chat"]["member_count"] == 401 and "members" not in reply["chat"]
    sharded.drain_fanout()
    assert [f["event"] for f in newcomer.frames()] == ["chat:added"]
    for c in connections:
        [frame] = c.frames()
        assert frame["message"]["system"] == {"type": "added", "users": ["newcomer"]}
    opened = newcomer.send("chat.open", chat_id=chat_id)
    assert "receipts" not in opened and opened["receipts_min"] == {"delivered_seq": 0, "read_seq": 0}
    members = newcomer.send("chat.members", chat_id=chat_id)
    assert len(members["members"]) == 401 and members["admins"] == ["alice"]
