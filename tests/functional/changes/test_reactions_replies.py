"""reaction.set, and replies and mentions on message.send (PROTOCOL v3)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.storage.tables import MessageItem


@pytest.fixture
def group(harness):
    a, b, c = harness.connect("alice"), harness.connect("bob"), harness.connect("carol")
    chat_id = harness.chat(a, "bob", "carol")
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="lunch?")
    for x in (a, b, c):
        x.send("chat.open", chat_id=chat_id)
        x.frames()
    return a, b, c, chat_id


def test_reactions_group_by_emoji_with_sorted_users_one_per_user(group):
    a, b, c, chat_id = group
    b.send("reaction.set", chat_id=chat_id, seq=1, emoji="👍")
    c.send("reaction.set", chat_id=chat_id, seq=1, emoji="👍")
    reply = a.send("reaction.set", chat_id=chat_id, seq=1, emoji="🎉")
    assert reply["message"]["reactions"] == {"👍": ["bob", "carol"], "🎉": ["alice"]}
    replaced = c.send("reaction.set", chat_id=chat_id, seq=1, emoji="🎉")["message"]
    assert replaced["reactions"] == {"👍": ["bob"], "🎉": ["alice", "carol"]}
    gone = b.send("reaction.set", chat_id=chat_id, seq=1, emoji=None)["message"]
    assert gone["reactions"] == {"🎉": ["alice", "carol"]}  # nobody uses 👍: absent
    assert gone["rev"] == 5 and gone["edited_at"] is None  # a reaction is not an edit


def test_a_reaction_reaches_viewers_but_the_actor(group):
    a, b, c, chat_id = group
    reply = b.send("reaction.set", chat_id=chat_id, seq=1, emoji="❤️")
    frame = {"event": "chat:message:updated", "message": reply["message"]}
    assert a.frames() == [frame] and c.frames() == [frame] and b.frames() == []


def test_the_same_reaction_again_and_taking_back_none_change_nothing(group):
    a, b, c, chat_id = group
    b.send("reaction.set", chat_id=chat_id, seq=1, emoji="👍")
    a.frames(), c.frames()
    again = b.send("reaction.set", chat_id=chat_id, seq=1, emoji="👍")
    assert again["message"]["rev"] == 1
    assert c.send("reaction.set", chat_id=chat_id, seq=1, emoji=None)["message"]["rev"] == 1
    assert a.frames() == [] and c.frames() == []


def test_a_21st_distinct_emoji_is_too_large_and_changes_nothing(harness):
    users = [f"u{i:02d}" for i in range(22)]
    clients = {u: harness.connect(u) for u in users}
    chat_id = harness.chat(clients["u00"], *users[1:])
    clients["u00"].send("message.send", chat_id=chat_id, client_msg_id="k", text="vote")
    emoji = [chr(0x1F600 + i) for i in range(21)]
    for user, e in zip(users[:20], emoji, strict=False):
        assert (
            clients[user].send("reaction.set", chat_id=chat_id, seq=1, emoji=e)["event"] == "message:updated"
        )
    refused = clients["u20"].send("reaction.set", chat_id=chat_id, seq=1, emoji=emoji[20])
    assert refused["code"] == "too_large"
    # An emoji already there is fine, and so is swapping one's own for a 21st.
    assert (
        clients["u20"].send("reaction.set", chat_id=chat_id, seq=1, emoji=emoji[0])["event"]
        == "message:updated"
    )
    swapped = clients["u01"].send("reaction.set", chat_id=chat_id, seq=1, emoji=emoji[20])["message"]
    assert len(swapped["reactions"]) == 20 and emoji[1] not in swapped["reactions"]


@pytest.mark.parametrize("emoji", ["", "a b", "👍\n", "x" * 17, 5, ["👍"], "\u0007", "\ud83d"])
def test_bad_emoji_are_refused(group, emoji):
    _, b, _, chat_id = group
    reply = b.send("reaction.set", chat_id=chat_id, seq=1, emoji=emoji)
    assert reply["code"] == "bad_request"
    assert "reactions" not in MessageItem.get(chat_id, 1, consistent_read=True).attribute_values


def test_emoji_sequences_with_joiners_and_skin_tones_are_one_reaction(group):
    _, b, _, chat_id = group
    family = "👨\u200d👩\u200d👧"
    assert b.send("reaction.set", chat_id=chat_id, seq=1, emoji=family)["message"]["reactions"] == {
        family: ["bob"]
    }
    assert b.send("reaction.set", chat_id=chat_id, seq=1, emoji="👍🏽")["event"] == "message:updated"


def test_the_emoji_field_is_required(group):
    _, b, _, chat_id = group
    assert b.send("reaction.set", chat_id=chat_id, seq=1)["code"] == "bad_request"


def test_reactions_racing_all_count(harness):
    users = [f"r{i}" for i in range(8)]
    clients = {u: harness.connect(u) for u in users}
    chat_id = harness.chat(clients["r0"], *users[1:])
    clients["r0"].send("message.send", chat_id=chat_id, client_msg_id="k", text="race")
    with ThreadPoolExecutor(8) as pool:
        replies = list(
            pool.map(lambda u: clients[u].send("reaction.set", chat_id=chat_id, seq=1, emoji="🔥"), users)
        )
    assert all(r["event"] == "message:updated" for r in replies), replies
    final = clients["r0"].send("chat.history", chat_id=chat_id)["messages"][0]
    assert final["reactions"] == {"🔥": sorted(users)}
    assert sorted(r["message"]["rev"] for r in replies) == list(range(1, 9))  # one rev each, in order


def test_an_edit_racing_a_delete_ends_deleted(harness):
    a, b = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(a, "bob")
    for round_ in range(4):
        a.send("message.send", chat_id=chat_id, client_msg_id=f"k{round_}", text="typo")
        seq = round_ + 1
        with ThreadPoolExecutor(2) as pool:
            edit = pool.submit(a.send, "message.edit", chat_id=chat_id, seq=seq, text="fixed")
            delete = pool.submit(a.send, "message.delete", chat_id=chat_id, seq=seq)
            edited, deleted = edit.result(), delete.result()
        assert deleted["message"]["deleted"] is True
        assert edited["event"] == "message:updated" or edited["code"] == "bad_request"
        final = b.send("chat.history", chat_id=chat_id)["messages"][-1]
        assert final["deleted"] is True and final["text"] == ""


def test_concurrent_edits_last_writer_wins_and_rev_orders_them(harness):
    a = harness.connect("alice")
    chat_id = harness.chat(a, "bob")
    a.send("message.send", chat_id=chat_id, client_msg_id="k", text="v0")
    with ThreadPoolExecutor(4) as pool:
        replies = list(
            pool.map(lambda i: a.send("message.edit", chat_id=chat_id, seq=1, text=f"v{i}"), range(1, 5))
        )
    latest = max((r["message"] for r in replies), key=lambda m: m["rev"])
    stored = a.send("chat.history", chat_id=chat_id)["messages"][0]
    assert stored["text"] == latest["text"] and stored["rev"] == latest["rev"] == 4


# ---------------------------------------------------------------- replies and mentions


def test_a_reply_names_a_seq_the_sender_can_see(group):
    a, b, _c, chat_id = group
    ack = b.send("message.send", chat_id=chat_id, client_msg_id="r1", text="yes!", reply_to=1)
    assert ack["event"] == "message:ack"
    [frame] = a.frames()
    assert frame["message"]["reply_to"] == 1
    for bad in (0, 3, 99, "1", True):
        reply = b.send("message.send", chat_id=chat_id, client_msg_id=f"bad{bad}", text="x", reply_to=bad)
        assert reply["code"] == "bad_request", (bad, reply)
    assert b.send("chat.list")["chats"][0]["last_seq"] == 2  # nothing stored


def test_a_reply_to_a_message_from_before_one_joined_is_refused(harness, group):
    a, _, _, chat_id = group
    a.send("chat.add", chat_id=chat_id, members=["dave"])  # seq 2
    dave = harness.connect("dave")
    refused = dave.send("message.send", chat_id=chat_id, client_msg_id="d1", text="late", reply_to=1)
    assert refused["code"] == "bad_request"
    assert a.send("chat.list")["chats"][0]["last_seq"] == 2
    # The message that added them is not theirs to see either (joined_seq is its seq).
    assert (
        dave.send("message.send", chat_id=chat_id, client_msg_id="d2", text="x", reply_to=2)["code"]
        == "bad_request"
    )
    a.send("message.send", chat_id=chat_id, client_msg_id="a3", text="welcome dave")  # seq 3
    ok = dave.send("message.send", chat_id=chat_id, client_msg_id="d3", text="thanks", reply_to=3)
    assert ok["event"] == "message:ack" and ok["seq"] == 4


def test_a_reply_may_point_at_a_deleted_message(group):
    a, b, _, chat_id = group
    a.send("message.delete", chat_id=chat_id, seq=1)
    assert (
        b.send("message.send", chat_id=chat_id, client_msg_id="r", text="?", reply_to=1)["event"]
        == "message:ack"
    )


def test_a_retried_reply_is_a_duplicate(group):
    _, b, _, chat_id = group
    first = b.send("message.send", chat_id=chat_id, client_msg_id="same", text="yes", reply_to=1)
    again = b.send("message.send", chat_id=chat_id, client_msg_id="same", text="yes", reply_to=1)
    assert again["duplicate"] is True and again["seq"] == first["seq"]


def test_mentions_keep_members_only_sorted_unique_and_not_the_sender(group):
    a, b, _, chat_id = group
    b.send(
        "message.send",
        chat_id=chat_id,
        client_msg_id="m",
        text="@carol @alice",
        mentions=["carol", "bob", "alice", "carol", "stranger"],
    )
    [frame] = a.frames()
    assert frame["message"]["mentions"] == ["alice", "carol"]


@pytest.mark.parametrize("mentions", [["x"] * 51, "alice", [1], ["bad id"]])
def test_bad_mentions_are_refused(group, mentions):
    _, b, _, chat_id = group
    reply = b.send("message.send", chat_id=chat_id, client_msg_id="m", text="hi", mentions=mentions)
    assert reply["code"] == "bad_request"


def test_every_message_carries_the_v3_fields(group):
    _a, b, _, chat_id = group
    [message] = b.send("chat.history", chat_id=chat_id)["messages"]
    assert {
        k: message[k]
        for k in ("reply_to", "mentions", "attachments", "reactions", "edited_at", "deleted", "rev")
    } == {
        "reply_to": None,
        "mentions": [],
        "attachments": [],
        "reactions": {},
        "edited_at": None,
        "deleted": False,
        "rev": 0,
    }
