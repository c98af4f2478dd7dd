"""What a change costs in DynamoDB requests (issue 22): edit, delete and reaction.set on a chat of
N members at most 4 + ceil(N/100), one post per connection viewing the chat, no write per
member and no push; chat.changes one Query plus the membership check; a send with a reply and
mentions as many requests as a plain send. Counted at the botocore level; no timings."""

from __future__ import annotations

import math

import pytest

from chalicelib.storage.tables import ChangeItem

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}


def _chat_of(harness, size: int):
    users = [f"m{i:04d}" for i in range(size)]
    owner = harness.connect(users[0])
    chat_id = harness.chat(owner, *users[1:])
    owner.send("message.send", chat_id=chat_id, client_msg_id="k1", text="first")
    viewers = [harness.connect(u) for u in users[1:4]] + [harness.connect(users[0])]
    elsewhere = [harness.connect(u) for u in users[4:6]]  # connected, viewing no chat
    for v in viewers:
        v.send("chat.open", chat_id=chat_id)
    for x in (owner, *viewers, *elsewhere):
        x.frames()
    return owner, viewers, elsewhere, chat_id


def _measure(aws_calls, harness, client, action, **fields):
    mark = aws_calls.mark()
    reply = client.send(action, **fields)
    assert reply["event"] != "error", reply
    dynamo = aws_calls.operations_since(mark)
    others = [c for c in aws_calls.since(mark, service=None) if c[0] not in ("dynamodb", "execute-api")]
    return dynamo, others


@pytest.mark.parametrize("size", [2, 10, 50, 100, 1000])
def test_a_change_costs_at_most_4_plus_a_request_per_100_members(harness, aws_calls, size, capsys):
    owner, viewers, elsewhere, chat_id = _chat_of(harness, size)
    bound = 4 + math.ceil(size / 100)
    counts = {}
    for action, fields in (
        ("message.edit", {"text": "first, edited"}),
        ("reaction.set", {"emoji": "👍"}),
        ("message.delete", {}),
    ):
        dynamo, others = _measure(aws_calls, harness, owner, action, chat_id=chat_id, seq=1, **fields)
        counts[action] = len(dynamo)
        assert len(dynamo) <= bound, (action, dynamo)
        assert [op for op in dynamo if op in WRITES] in ([], ["UpdateItem"]), dynamo  # the turn only
        assert dynamo.count("TransactWriteItems") == 1
        assert others == []  # no SQS (no push job), no SNS
        # one frame per connection viewing the chat, the acting connection excepted
        assert all(len(v.frames()) == 1 for v in viewers if v.connection_id != owner.connection_id)
        assert owner.frames() == [] and all(e.frames() == [] for e in elsewhere)
    with capsys.disabled():
        print(f"\n  N={size:>4}: requests per change {counts} (bound {bound})")


def test_chat_changes_is_one_query_plus_the_membership_check(harness, aws_calls):
    owner, viewers, _, chat_id = _chat_of(harness, 10)
    for i in range(3):
        owner.send("message.edit", chat_id=chat_id, seq=1, text=f"v{i}")
    dynamo, _ = _measure(aws_calls, harness, viewers[0], "chat.changes", chat_id=chat_id, after_rev=0)
    assert dynamo.count("Query") == 1 and dynamo.count("Scan") == 0
    assert len(dynamo) == 4  # the turn, the chat, the membership, the page
    assert len(list(ChangeItem.query(chat_id))) == 1  # one entry however often it changed


def test_a_reply_with_mentions_costs_what_a_plain_send_costs(harness, aws_calls):
    owner, _viewers, _, chat_id = _chat_of(harness, 10)
    plain, _ = _measure(
        aws_calls, harness, owner, "message.send", chat_id=chat_id, client_msg_id="p", text="x"
    )
    reply, _ = _measure(
        aws_calls,
        harness,
        owner,
        "message.send",
        chat_id=chat_id,
        client_msg_id="r",
        text="@m0001 yes",
        reply_to=1,
        mentions=["m0001", "m0002"],
    )
    # as many requests: the chat is read together with the mentioned users' memberships (one
    # BatchGetItem over both tables, so that a large chat's send need not read its roster)
    assert len(reply) == len(plain)
    assert [op if op != "BatchGetItem" or i != 1 else "GetItem" for i, op in enumerate(reply)] == plain
