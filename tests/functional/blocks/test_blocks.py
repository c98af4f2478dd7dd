"""user.block, user.unblock, user.blocks (PROTOCOL v3, "Blocking and reporting"): the replies,
the refusals, idempotence, the limit of 1,000, and where the state is kept."""

from __future__ import annotations

import pytest

from chalicelib.domain import ids
from chalicelib.domain.membership import Roster
from chalicelib.domain.records import ChatRecord
from chalicelib.storage.dynamo import DynamoStore
from chalicelib.storage.tables import BLOCK_COUNT_KEY, BlockItem, ChatItem


def blocks_of(client) -> list[str]:
    reply = client.send("user.blocks")
    assert reply["event"] == "user:blocks", reply
    return reply["users"]


def test_block_unblock_and_the_list_sorted(harness):
    a = harness.connect("alice")
    for user in ("zed", "bob", "carol"):
        assert a.send("user.block", user_id=user) == {
            "event": "user:blocked",
            "req": a.last_req,
            "user_id": user,
            "blocked": True,
        }
    assert blocks_of(a) == ["bob", "carol", "zed"]
    assert a.send("user.unblock", user_id="carol") == {
        "event": "user:blocked",
        "req": a.last_req,
        "user_id": "carol",
        "blocked": False,
    }
    assert blocks_of(a) == ["bob", "zed"]
    assert blocks_of(harness.connect("bob")) == []  # a block is the blocker's own


def test_blocking_twice_or_unblocking_a_user_not_blocked_changes_nothing(harness):
    a = harness.connect("alice")
    assert a.send("user.block", user_id="bob")["blocked"] is True
    assert a.send("user.block", user_id="bob")["blocked"] is True
    assert blocks_of(a) == ["bob"]
    assert BlockItem.get("alice", BLOCK_COUNT_KEY).total == 1  # counted once
    assert a.send("user.unblock", user_id="carol")["blocked"] is False
    assert a.send("user.unblock", user_id="bob")["blocked"] is False
    assert a.send("user.unblock", user_id="bob")["blocked"] is False
    assert blocks_of(a) == []
    assert BlockItem.get("alice", BLOCK_COUNT_KEY).total == 0


@pytest.mark.parametrize(
    "fields",
    [{}, {"user_id": None}, {"user_id": 7}, {"user_id": ""}, {"user_id": "bad id"}, {"user_id": "x" * 65}],
)
@pytest.mark.parametrize("action", ["user.block", "user.unblock"])
def test_a_missing_or_bad_user_id_is_bad_request(harness, action, fields):
    a = harness.connect("alice")
    reply = a.send(action, **fields)
    assert reply["event"] == "error" and reply["code"] == "bad_request", reply
    assert blocks_of(a) == []


def test_blocking_yourself_is_bad_request_and_stores_nothing(harness):
    a = harness.connect("alice")
    reply = a.send("user.block", user_id="alice")
    assert reply["code"] == "bad_request" and "yourself" in reply["message"]
    assert blocks_of(a) == [] and BlockItem.count("alice") == 0


def _fill_blocks(user: str, count: int) -> list[str]:
    """``user`` blocks ``count`` users, written straight to the table (as the action would)."""
    others = [f"u{i:04d}" for i in range(count)]
    with BlockItem.batch_write() as batch:
        for other in others:
            batch.save(BlockItem(user, other, blocked_at=ids.iso_now()))
        batch.save(BlockItem(user, BLOCK_COUNT_KEY, total=count))
    return others


def test_at_most_1000_blocked_users(harness):
    a = harness.connect("alice")
    others = _fill_blocks("alice", 999)
    assert a.send("user.block", user_id="one-thousandth")["blocked"] is True
    refused = a.send("user.block", user_id="one-too-many")
    assert refused["event"] == "error" and refused["code"] == "too_large", refused
    listed = blocks_of(a)
    assert len(listed) == 1000 and "one-too-many" not in listed and listed == sorted(listed)
    assert BlockItem.get("alice", BLOCK_COUNT_KEY).total == 1000
    # blocking one already blocked still answers (nothing changes); unblocking makes room
    assert a.send("user.block", user_id=others[0])["blocked"] is True
    assert a.send("user.unblock", user_id=others[0])["blocked"] is False
    assert a.send("user.block", user_id="one-too-many")["blocked"] is True
    assert len(blocks_of(a)) == 1000


def test_the_block_is_kept_on_the_direct_chat_item_when_the_chat_exists(harness):
    a, _ = harness.connect("alice"), harness.connect("bob")
    chat_id = a.send("chat.create", members=["bob"], direct=True)["chat"]["chat_id"]
    a.send("user.block", user_id="bob")
    assert ChatItem.get(chat_id).blocked_by == {"alice"}
    harness.connect("bob").send("user.block", user_id="alice")
    assert ChatItem.get(chat_id).blocked_by == {"alice", "bob"}
    a.send("user.unblock", user_id="bob")
    assert ChatItem.get(chat_id).blocked_by == {"bob"}
    harness.connect("bob").send("user.unblock", user_id="alice")
    assert "blocked_by" not in ChatItem.get(chat_id).attribute_values  # absent again: sends go


def test_a_direct_chat_made_before_ids_were_keyed_is_blocked_too(harness):
    old_id = ids.legacy_direct_chat_id("alice", "bob")
    now = ids.iso_now()
    old = ChatRecord(
        chat_id=old_id,
        kind="direct",
        title=None,
        members=("alice", "bob"),
        member_count=2,
        created_by="alice",
        created_at=now,
        last_activity=now,
    )
    assert DynamoStore().create_chat(old, Roster.of({"alice": 0, "bob": 0}))
    a, b = harness.connect("alice"), harness.connect("bob")
    a.send("user.block", user_id="bob")
    assert ChatItem.get(old_id).blocked_by == {"alice"}
    reply = b.send("message.send", chat_id=old_id, client_msg_id="k1", text="hi")
    assert reply["code"] == "forbidden"
