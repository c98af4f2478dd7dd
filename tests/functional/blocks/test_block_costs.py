"""What blocking costs in DynamoDB requests (issue 24), counted at the botocore level: a block or
an unblock at most 3, the list 2, and a send in a chat where no block stands exactly what it
cost before blocking existed (the block state it needs is on the chat item it reads anyway)."""

from __future__ import annotations

import pytest

# A send before blocks: the connection's turn, the chat, the store transaction, the members'
# presence, the send key marked fanned out.
SEND = ["UpdateItem", "GetItem", "TransactWriteItems", "BatchGetItem", "UpdateItem"]


def _dynamo(aws_calls, client, action, **fields):
    mark = aws_calls.mark()
    reply = client.send(action, **fields)
    assert reply["event"] != "error", reply
    return aws_calls.operations_since(mark)


@pytest.mark.parametrize("with_direct_chat", [False, True])
def test_block_and_unblock_cost_at_most_3_requests(harness, aws_calls, with_direct_chat):
    a = harness.connect("alice")
    if with_direct_chat:
        a.send("chat.create", members=["bob"], direct=True)
    for action in ("user.block", "user.block", "user.unblock", "user.unblock"):  # twice: no change
        ops = _dynamo(aws_calls, a, action, user_id="bob")
        assert ops == ["UpdateItem", "BatchGetItem", "TransactWriteItems"], (action, ops)


def test_the_list_is_one_query(harness, aws_calls):
    a = harness.connect("alice")
    a.send("user.block", user_id="bob")
    assert _dynamo(aws_calls, a, "user.blocks") == ["UpdateItem", "Query"]


@pytest.mark.parametrize("kind", ["direct", "group"])
def test_a_send_where_no_block_stands_costs_what_it_cost_before(harness, aws_calls, kind):
    a, b = harness.connect("alice"), harness.connect("bob")
    if kind == "direct":
        chat_id = a.send("chat.create", members=["bob"], direct=True)["chat"]["chat_id"]
    else:
        chat_id = harness.chat(a, "bob", "carol", title="G")
    ops = _dynamo(aws_calls, a, "message.send", chat_id=chat_id, client_msg_id="k1", text="hi")
    assert ops == SEND
    # others' blocks, and a block that was lifted, change nothing either
    harness.connect("carol").send("user.block", user_id="alice")
    a.send("user.block", user_id="bob")
    a.send("user.unblock", user_id="bob")
    ops = _dynamo(aws_calls, b, "message.send", chat_id=chat_id, client_msg_id="k2", text="hi")
    assert ops == SEND


def test_a_refused_send_in_a_blocked_direct_chat_costs_two_requests(harness, aws_calls):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = a.send("chat.create", members=["bob"], direct=True)["chat"]["chat_id"]
    a.send("user.block", user_id="bob")
    mark = aws_calls.mark()
    assert b.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi")["code"] == "forbidden"
    assert aws_calls.operations_since(mark) == ["UpdateItem", "GetItem"]
