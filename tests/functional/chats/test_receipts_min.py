"""chat.open of a large chat in a constant number of DynamoDB requests (issue 26): its
``receipts_min`` comes from a summary kept beside the roster (``domain/receipts.py``), not from
every member's pointers. Counted at the botocore level at 60, 200 and 1,000 members; the value
is compared with the minimum computed here from every membership, after each change that can
move it. Sends and receipts cost what they cost before. No timings."""

from __future__ import annotations

import math

import pytest

from chalicelib.actions.chats import ChatActions
from chalicelib.domain import ids
from chalicelib.domain.errors import Unavailable
from chalicelib.storage.dynamo import DynamoStore
from chalicelib.storage.tables import RECEIPTS_PAGE, ChatMembersItem, MembershipItem

SIZES = (60, 200, 1000)
STEADY = 7  # the turn, the chat, the membership, viewing, the page, the roster, the listed members


def recompute(size: int) -> int:
    """An open that reads every other member's pointers and saves the summary: the worst case."""
    return STEADY + math.ceil((size - 1) / 100) + 1


def joined_of(chat_id: str) -> dict[str, int]:
    """The roster as stored: every page but the summary."""
    joined: dict[str, int] = {}
    for item in ChatMembersItem.query(chat_id, consistent_read=True):
        if int(item.page) != RECEIPTS_PAGE:
            joined.update({str(u): int(s) for u, s in item.users.as_dict().items()})
    return joined


def brute_min(chat_id: str, viewer: str) -> dict[str, int]:
    """The lowest pointers over the other members, each raised to its joined_seq, from every
    membership (the definition, the way chat.open read it before)."""
    joined = joined_of(chat_id)
    others = sorted(u for u in joined if u != viewer)
    found = {
        i.user_id: i for i in MembershipItem.batch_get([(u, chat_id) for u in others], consistent_read=True)
    }
    delivered = [max(int(found[u].delivered_seq or 0), joined[u]) for u in others]
    read = [max(int(found[u].read_seq or 0), joined[u]) for u in others]
    return {"delivered_seq": min(delivered), "read_seq": min(read)}


def read_up_to(chat_id: str, users, seq: int) -> None:
    """These members delivered and read up to ``seq`` (pointers only move forward)."""
    items = list(MembershipItem.batch_get([(u, chat_id) for u in users], consistent_read=True))
    with MembershipItem.batch_write() as batch:
        for item in items:
            item.delivered_seq = max(int(item.delivered_seq or 0), seq)
            item.read_seq = max(int(item.read_seq or 0), seq)
            batch.save(item)


class Viewer:
    def __init__(self, harness, aws_calls, size: int) -> None:
        self.aws_calls = aws_calls
        self.client = harness.connect("alice")
        self.others = [f"u{i:04d}" for i in range(size - 1)]
        self.chat_id = harness.chat(self.client, *self.others)
        self.size = size

    def send(self, text: str) -> int:
        ack = self.client.send("message.send", chat_id=self.chat_id, client_msg_id=text, text=text)
        assert ack["event"] == "message:ack", ack
        return int(ack["seq"])

    def act(self, action: str, **fields) -> int:
        reply = self.client.send(action, chat_id=self.chat_id, **fields)
        assert reply["event"] == "chat:updated", reply
        return int(reply["chat"]["last_seq"])

    def open(self) -> tuple[int, dict[str, int]]:
        mark = self.aws_calls.mark()
        reply = self.client.send("chat.open", chat_id=self.chat_id)
        ops = self.aws_calls.operations_since(mark)
        assert reply["event"] == "chat:opened" and "receipts" not in reply, reply
        assert "Scan" not in ops
        assert reply["receipts_min"] == brute_min(self.chat_id, "alice"), len(ops)
        return len(ops), reply["receipts_min"]


def walk(harness, aws_calls, size: int) -> dict[str, int]:
    """Every step that moves the minimum; each open's count by step (``*2``: the open right
    after, which must be the steady one). Every open's value is checked against brute force."""
    v = Viewer(harness, aws_calls, size)
    counts: dict[str, int] = {}

    def step(name: str) -> int:
        counts[name], value = v.open()
        counts[name + "*2"], again = v.open()
        assert again == value
        return value["read_seq"]

    s1 = v.send("one")
    step("first open")  # no summary yet: computed and saved
    assert step("nobody read") == 0
    laggard, second = v.others[-1], v.others[-2]  # last by id: listed only once they lag
    read_up_to(v.chat_id, [u for u in v.others if u != laggard], s1)
    assert step("all read but one laggard") == 0
    read_up_to(v.chat_id, [laggard], s1)
    assert step("the laggard reads") == s1
    s2 = v.send("two")
    assert step("a new message nobody read") == s1
    read_up_to(v.chat_id, [u for u in v.others if u != second], s2)
    assert step("all read it but another") == s1
    s3 = v.act("chat.remove", members=[second, *v.others[:2]])  # room for three at 1,000
    assert step("that one removed") == s2
    s4 = v.act("chat.add", members=["new1", "new2", "new3"])
    assert step("members added") == s2  # the newcomers count from s4
    read_up_to(v.chat_id, v.others[2:-2] + v.others[-1:], s4)
    s5 = v.send("five")
    assert step("all read up to the newcomers") == s4
    assert (s1, s2, s3, s4, s5) == (s1, s1 + 1, s1 + 2, s1 + 3, s1 + 4)
    return counts


@pytest.mark.slow
def test_chat_open_of_a_large_chat_costs_the_same_at_60_200_and_1000_members(
    harness, aws_calls, monkeypatch, capsys
):
    monkeypatch.setattr(ChatActions, "receipts_recompute_seconds", 0.0)  # recompute whenever needed
    walks = {size: walk(harness, aws_calls, size) for size in SIZES}
    # Guaranteed steady: the listed members hold the minimum, or the bound covers the viewer's
    # own messages, or the change only raised it (removed) or joined above it (added).
    steady = {
        "nobody read",
        "the laggard reads",
        "a new message nobody read",
        "that one removed",
        "members added",
    }
    for size, counts in walks.items():
        assert counts["first open"] == recompute(size) - 1  # no summary: no listed members to re-read
        for name, count in counts.items():
            if name == "first open":
                continue
            if name.endswith("*2") or name in steady:
                assert count == STEADY, (size, name, counts)
            else:  # the chat moved past the summary: recomputed once, at most
                assert count in (STEADY, recompute(size)), (size, name, counts)
    # Where the laggard was listed from the start (all 59 others fit the summary), never again.
    assert {n: c for n, c in walks[60].items() if n != "first open"} == dict.fromkeys(
        [n for n in walks[60] if n != "first open"], STEADY
    )
    with capsys.disabled():
        for size, counts in walks.items():
            print(f"\n  chat.open N={size:>4}: {counts}")


def test_before_its_interval_an_open_answers_the_bound_which_is_never_above_the_minimum(
    harness, aws_calls, monkeypatch
):
    v = Viewer(harness, aws_calls, 200)
    s1 = v.send("one")
    v.open()  # the summary: everyone at 0, listed by id, u0198 beyond it
    read_up_to(v.chat_id, v.others[:-1], s1)
    mark = aws_calls.mark()
    reply = v.client.send("chat.open", chat_id=v.chat_id)
    assert len(aws_calls.operations_since(mark)) == STEADY  # within 30 s: no recompute
    assert reply["receipts_min"] == {"delivered_seq": 0, "read_seq": 0} == brute_min(v.chat_id, "alice")
    read_up_to(v.chat_id, v.others[-1:], s1)  # the last one reads: the bound (0) lags behind
    mark = aws_calls.mark()
    reply = v.client.send("chat.open", chat_id=v.chat_id)
    assert len(aws_calls.operations_since(mark)) == STEADY
    assert reply["receipts_min"] == {"delivered_seq": 0, "read_seq": 0}  # below the minimum, s1
    assert brute_min(v.chat_id, "alice") == {"delivered_seq": s1, "read_seq": s1}
    real_now = ids.now_ms
    monkeypatch.setattr(ids, "now_ms", lambda: real_now() + 31_000)  # the interval is over
    count, value = v.open()  # checked against brute force: exact again
    assert count == recompute(200) and value == {"delivered_seq": s1, "read_seq": s1}
    assert v.open()[0] == STEADY


@pytest.mark.parametrize("size", SIZES)
def test_chat_history_is_constant_too(harness, aws_calls, size):
    v = Viewer(harness, aws_calls, size)
    for i in range(3):
        v.send(f"m{i}")
    mark = aws_calls.mark()
    reply = v.client.send("chat.history", chat_id=v.chat_id, before=3, limit=10)
    assert reply["event"] == "chat:history" and [m["seq"] for m in reply["messages"]] == [1, 2]
    assert aws_calls.operations_since(mark) == ["UpdateItem", "GetItem", "GetItem", "Query"]


def test_the_summary_is_no_page_and_survives_membership_changes(harness, aws_calls, monkeypatch):
    monkeypatch.setattr(ChatActions, "receipts_recompute_seconds", 0.0)
    v = Viewer(harness, aws_calls, 120)
    v.send("one")
    v.open()
    assert ChatMembersItem.get(v.chat_id, RECEIPTS_PAGE).users.as_dict() == {}
    members = v.client.send("chat.members", chat_id=v.chat_id)["members"]
    assert members == sorted(["alice", *v.others])
    v.act("chat.remove", members=v.others[:3])
    v.act("chat.add", members=[f"n{i:03d}" for i in range(30)])  # a new page
    assert ChatMembersItem.get(v.chat_id, RECEIPTS_PAGE).listed  # kept as it was
    members = v.client.send("chat.members", chat_id=v.chat_id)["members"]
    assert len(members) == 120 - 3 + 30 and v.others[0] not in members
    assert sorted(joined_of(v.chat_id)) == members
    v.open()  # checked against brute force


def test_a_stranger_opening_a_large_chat_is_refused_and_writes_nothing(harness, aws_calls):
    v = Viewer(harness, aws_calls, 60)
    stranger = harness.connect("mallory")
    mark = aws_calls.mark()
    reply = stranger.send("chat.open", chat_id=v.chat_id)
    assert reply["event"] == "error" and reply["code"] == "forbidden"
    assert "PutItem" not in aws_calls.operations_since(mark)
    assert ChatMembersItem.count(v.chat_id, ChatMembersItem.page == RECEIPTS_PAGE) == 0


# What a send and a receipt cost before the summary existed (measured on the code before it, at
# 200 members): the summary is kept by chat.open alone, so these must not move.
SEND = ["UpdateItem", "GetItem", "Query", "TransactWriteItems", "BatchGetItem", "BatchGetItem", "UpdateItem"]
RECEIPT = ["UpdateItem", "GetItem", "GetItem", "UpdateItem", "Query", "BatchGetItem", "BatchGetItem"]


def test_sends_and_receipts_cost_what_they_cost_before(harness, aws_calls):
    v = Viewer(harness, aws_calls, 200)
    v.send("warm")
    v.open()  # a summary exists
    member = harness.connect(v.others[0])
    for action, client, fields, expected in (
        ("message.send", v.client, {"client_msg_id": "measured", "text": "x"}, SEND),
        ("message.delivered", member, {"seq": 2}, RECEIPT),
        ("message.read", member, {"seq": 2}, RECEIPT),
    ):
        mark = aws_calls.mark()
        reply = client.send(action, chat_id=v.chat_id, **fields)
        assert reply["event"] in ("message:ack", "receipt:ok"), reply
        calls = aws_calls.since(mark)
        assert [op for _, op, _ in calls] == expected, action
        writes = [p for _, op, p in calls if op not in ("GetItem", "BatchGetItem", "Query")]
        assert not [p for p in writes if "chat_members" in str(p)], action  # no summary kept here


def test_a_summary_that_cannot_be_saved_fails_no_open(harness, aws_calls, monkeypatch):
    def unavailable(self, chat_id, summary):
        raise Unavailable("storage is down")

    v = Viewer(harness, aws_calls, 120)
    s1 = v.send("one")
    read_up_to(v.chat_id, v.others, s1)
    with monkeypatch.context() as patched:
        patched.setattr(DynamoStore, "save_receipts", unavailable)
        count, value = v.open()  # exact, from every member, though nothing was saved
    assert value == {"delivered_seq": s1, "read_seq": s1}
    assert count == recompute(120) - 2  # no summary to re-read, and the put never made
    assert ChatMembersItem.count(v.chat_id, ChatMembersItem.page == RECEIPTS_PAGE) == 0
    assert v.open()[0] == recompute(120) - 1  # the next open computes it again, and saves it
    assert v.open()[0] == STEADY
