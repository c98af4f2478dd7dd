"""Issue 26: the v3 changes at their floors, on busy tables, at N = 2, 10, 50, 100, 1,000.

- ``message.edit``, ``message.delete``, ``reaction.set`` (adding and taking back a reaction):
  at most 4 + ceil(N/100) DynamoDB requests in the ``$default`` invocation (the turn, the one
  read, the one transaction, the presence of the members in batches of 100, and the roster
  above 50 members); nothing in any worker, no SQS, no SNS; the only writes the turn and the
  transaction; one frame per other connection viewing the chat.
- ``chat.changes``: one Query per page (plus the turn and the membership check), for every page
  of a walk, and for a member who joined after changes they cannot see.
"""

from __future__ import annotations

import math

import pytest

from tests.functional.costs.metering import DEFAULT, Requests
from tests.functional.costs.world import build_chat

SIZES = [2, 10, 50, 100, 1000]
VIEWERS = 4  # the first members view the chat (the creator among them)
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def _act(world, client, action: str, **fields) -> tuple[dict, Requests]:
    with world.meter.measure() as requests:
        reply = client.send(action, **fields)
        world.drain_fanout()  # nothing should be queued: a change posts to viewers only
    assert reply is not None and reply["event"] != "error", reply
    return reply, requests


@pytest.mark.parametrize("size", SIZES)
def test_edit_delete_and_reactions_cost_at_most_4_plus_a_request_per_100_members(world, size, capsys):
    chat = build_chat(world.harness, size, viewing=min(VIEWERS, size))
    owner, member = chat.owner, chat.clients[chat.users[1]]
    assert owner.send("message.send", chat_id=chat.chat_id, client_msg_id="k1", text="first")["seq"] == 1
    world.drain_fanout()
    viewers = [chat.clients[u] for u in chat.users[:VIEWERS]]
    for v in viewers:
        v.frames()
    bound = 4 + math.ceil(size / 100)
    measured = {}
    for client, action, fields in (
        (owner, "message.edit", {"text": "first, edited"}),
        (member, "reaction.set", {"emoji": "👍"}),
        (member, "reaction.set", {"emoji": None}),
        (owner, "message.delete", {}),
    ):
        reply, requests = _act(world, client, action, chat_id=chat.chat_id, seq=1, **fields)
        assert reply["event"] == "message:updated"
        dynamo = requests.of(DEFAULT)
        label = f"{action}({fields.get('emoji', '')})" if action == "reaction.set" else action
        measured[label] = f"{len(dynamo)} req {dynamo.wru:g} WRU {dynamo.rru:g} RRU"
        assert len(dynamo) <= bound, (action, size, dynamo.summary())
        assert requests.of(service="dynamodb") == dynamo  # no worker, no driver request
        assert [r for r in requests.of(service=None) if r.function and r.service != "dynamodb"] == []
        assert [op for op in dynamo.ops() if op in WRITES] == ["UpdateItem", "TransactWriteItems"]
        for v in viewers:
            expected = [] if v is client else ["chat:message:updated"]
            assert [f["event"] for f in v.frames()] == expected, (action, v.user_id)
    with capsys.disabled():
        print(f"\n  changes N={size:>4} (bound {bound} req): {measured}")


def _changed_messages(world, chat, count: int) -> None:
    owner = chat.owner
    for i in range(count):
        owner.send("message.send", chat_id=chat.chat_id, client_msg_id=f"m{i}", text=f"m{i}")
        owner.send("message.edit", chat_id=chat.chat_id, seq=i + 1, text=f"m{i}, edited")


def _walk(world, client, chat_id: str, limit: int) -> list[tuple[int, Requests]]:
    """Every page of a chat.changes walk from rev 0, as the protocol tells clients to walk."""
    pages, after = [], 0
    while True:
        reply, requests = _act(world, client, "chat.changes", chat_id=chat_id, after_rev=after, limit=limit)
        pages.append((len(reply["messages"]), requests.of(DEFAULT)))
        if not reply["has_more"]:
            return pages
        after = max(m["rev"] for m in reply["messages"])


@pytest.mark.parametrize("size", SIZES)
def test_chat_changes_is_one_query_per_page(world, size, capsys):
    chat = build_chat(world.harness, size, connected=2, viewing=1)  # the others are offline
    _changed_messages(world, chat, 5)
    reader = chat.clients[chat.users[1]]
    pages = _walk(world, reader, chat.chat_id, limit=2)
    assert [n for n, _ in pages] == [2, 2, 1]
    for _, requests in pages:
        assert requests.ops().count("Query") == 1 and len(requests) <= 4, requests.summary()
    with capsys.disabled():
        print(f"\n  chat.changes N={size:>4}: per page {[r.summary() for _, r in pages[:1]]}")


def test_chat_changes_for_a_member_who_joined_after_changes_is_one_query_per_page(world, capsys):
    """Changes of messages from before a member joined are hidden from them: a page must still
    be one Query, however many hidden changes come first."""
    chat = build_chat(world.harness, 10, connected=2, viewing=1)
    _changed_messages(world, chat, 6)
    newcomer = world.harness.connect(f"{chat.users[0]}-late")
    added = chat.owner.send("chat.add", chat_id=chat.chat_id, members=[newcomer.user_id])
    assert added["event"] != "error", added
    chat.owner.send("message.send", chat_id=chat.chat_id, client_msg_id="after", text="after")
    last = chat.owner.send("chat.open", chat_id=chat.chat_id)["chat"]["last_seq"]
    chat.owner.send("message.edit", chat_id=chat.chat_id, seq=last, text="after, edited")
    pages = _walk(world, newcomer, chat.chat_id, limit=2)
    with capsys.disabled():
        print(f"\n  chat.changes for a late joiner: {[(n, r.summary()) for n, r in pages]}")
    assert [n for n, _ in pages] == [1]
    assert [r.ops().count("Query") for _, r in pages] == [1]
