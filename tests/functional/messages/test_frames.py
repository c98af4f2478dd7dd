"""Every frame the backend posts fits in 128 KiB (API Gateway refuses larger posts with 413).

The fake management API refuses a post over the limit as API Gateway does; these tests fill
chats with the largest messages the protocol allows and check that no reply was refused, that
pages are cut between messages, and that ``has_more``/``next_cursor`` stay honest.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.testing import MAX_POST_BYTES

EMOJI = "\U0001f600"  # four bytes in UTF-8
QUOTE = '"'  # two bytes in JSON: the costliest printable character
CONTROL = "\x01"  # six bytes in JSON (\u0001)


def fill(client, chat_id: str, count: int, text: str, start: int = 0) -> None:
    for i in range(start, start + count):
        ack = client.send("message.send", chat_id=chat_id, client_msg_id=f"k{i}", text=text)
        assert ack["event"] == "message:ack", ack


def page_back(client, chat_id: str, first: dict) -> list[int]:
    """Every seq from an open reply back to the first, following has_more with before."""
    seqs = [m["seq"] for m in first["messages"]]
    reply = first
    while reply["has_more"]:
        reply = client.send("chat.history", chat_id=chat_id, before=seqs[0], limit=100)
        assert reply["event"] == "chat:history" and reply["messages"], reply
        seqs = [m["seq"] for m in reply["messages"]] + seqs
    return seqs


def test_forty_of_the_largest_messages_open_and_page_back_to_seq_1(harness, api):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    fill(a, chat_id, 40, EMOJI * 4096)

    opened = b.send("chat.open", chat_id=chat_id)
    assert opened["event"] == "chat:opened"
    assert 0 < len(opened["messages"]) < 40 and opened["has_more"] is True
    assert opened["messages"][-1]["seq"] == 40  # the newest are the ones kept
    assert page_back(b, chat_id, opened) == list(range(1, 41))
    forward = b.send("chat.history", chat_id=chat_id, after=0, limit=100)
    assert forward["messages"][0]["seq"] == 1 and forward["has_more"] is True
    assert api.too_large == [] and max(api.sizes) <= MAX_POST_BYTES


def test_json_escaping_counts_towards_the_budget(harness, api):
    a = harness.connect("alice")
    chat_id = harness.chat(a, "bob")
    fill(a, chat_id, 30, CONTROL * 4096)
    opened = a.send("chat.open", chat_id=chat_id)
    assert opened["has_more"] and page_back(a, chat_id, opened) == list(range(1, 31))
    assert api.too_large == []


def test_a_list_of_chats_with_long_last_messages_pages_with_a_cursor(harness, api):
    """The attack from the issue: chats with a victim, one long message in each."""
    victim = harness.connect("victim")
    for i in range(12):
        attacker = harness.connect(f"attacker{i}")
        chat_id = harness.chat(attacker, "victim")
        fill(attacker, chat_id, 1, EMOJI * 4096, start=i)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        fields = {"cursor": cursor} if cursor else {}
        reply = victim.send("chat.list", **fields)
        assert reply["event"] == "chat:list", reply
        seen += [c["chat_id"] for c in reply["chats"]]
        pages += 1
        cursor = reply["next_cursor"]
        if cursor is None:
            break
    assert pages > 1 and len(seen) == len(set(seen)) == 12
    assert api.too_large == []


def test_list_pages_by_limit_newest_first(harness):
    a = harness.connect("alice")
    chats = [harness.chat(a, "bob", title=f"t{i}") for i in range(7)]
    for i, chat_id in enumerate(chats):
        a.send("message.send", chat_id=chat_id, client_msg_id=f"k{i}", text="x")
    titles, cursor = [], None
    while True:
        reply = a.send("chat.list", limit=3, **({"cursor": cursor} if cursor else {}))
        assert len(reply["chats"]) <= 3
        titles += [c["title"] for c in reply["chats"]]
        cursor = reply["next_cursor"]
        if cursor is None:
            break
    assert titles == [f"t{i}" for i in reversed(range(7))]


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "WzEsMl0", "x" * 600])
def test_a_bad_cursor_is_a_bad_request(harness, cursor):
    a = harness.connect("alice")
    harness.chat(a, "bob")
    assert a.send("chat.list", cursor=cursor)["code"] == "bad_request"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=4096), min_size=1, max_size=60),
    char=st.sampled_from(["a", EMOJI, QUOTE, CONTROL, "é"]),
    limit=st.integers(min_value=1, max_value=100),
)
def test_no_reply_exceeds_the_budget_whatever_the_sizes(harness, api, sizes, char, limit):
    a = harness.connect("alice")
    chat_id = harness.chat(a, "bob", title=char * 200)
    for i, size in enumerate(sizes):
        a.send("message.send", chat_id=chat_id, client_msg_id=f"k{i}", text=char * size)
    opened = a.send("chat.open", chat_id=chat_id)
    assert page_back(a, chat_id, opened) == list(range(1, len(sizes) + 1))
    history = a.send("chat.history", chat_id=chat_id, after=0, limit=limit)
    assert history["messages"][0]["seq"] == 1
    assert history["has_more"] == (len(history["messages"]) < len(sizes))
    assert a.send("chat.list")["event"] == "chat:list"
    assert api.too_large == []


def test_a_chat_that_moves_while_paging_is_never_missed(harness):
    a = harness.connect("alice")
    chats = [harness.chat(a, "bob", title=f"t{i}") for i in range(6)]
    for i, chat_id in enumerate(chats):
        a.send("message.send", chat_id=chat_id, client_msg_id=f"k{i}", text="x")
    first = a.send("chat.list", limit=2)
    assert [c["title"] for c in first["chats"]] == ["t5", "t4"]
    a.send("message.send", chat_id=chats[0], client_msg_id="bump", text="t0 moves to the top")
    seen = [c["title"] for c in first["chats"]]
    cursor = first["next_cursor"]
    while cursor:
        page = a.send("chat.list", limit=2, cursor=cursor)
        seen += [c["title"] for c in page["chats"]]
        cursor = page["next_cursor"]
    assert set(seen) == {f"t{i}" for i in range(6)}  # t0 is not lost by moving above the cursor
