"""Notification levels (PROTOCOL v3): "all", "mentions" (only messages that mention the member
or reply to one of theirs) and "none"; chat.mute is the two-level shorthand; the badge counts
chats not at "none"; changes to messages never notify."""

from __future__ import annotations

import pytest

from chalicelib.storage.tables import PresenceItem
from tests.functional.push.test_push import notifications_for, register


@pytest.fixture
def group(push):
    """alice and carol online; bob offline with an iPhone, in a group with them."""
    a, c = push.harness.connect("alice"), push.harness.connect("carol")
    b = push.harness.connect("bob")
    chat_id = push.harness.chat(a, "bob", "carol", title="Team")
    register(b, "apns")
    return a, b, c, chat_id


def _level(client, chat_id, level):
    reply = client.send("chat.notify", chat_id=chat_id, level=level)
    assert reply == {
        "event": "chat:notify",
        "req": client.last_req,
        "chat_id": chat_id,
        "notify": level,
        "muted": level == "none",
    }


def _pushed_seqs(push, user="bob"):
    push.drain()
    return sorted(n.seq for _, n in notifications_for(push, user))


def test_the_level_shows_on_the_chat_and_mute_is_its_shorthand(group):
    _, b, _, chat_id = group
    [chat] = b.send("chat.list")["chats"]
    assert (chat["notify"], chat["muted"]) == ("all", False)
    _level(b, chat_id, "mentions")
    assert {k: b.send("chat.list")["chats"][0][k] for k in ("notify", "muted")} == {
        "notify": "mentions",
        "muted": False,
    }
    b.send("chat.mute", chat_id=chat_id, muted=True)
    assert b.send("chat.open", chat_id=chat_id)["chat"]["notify"] == "none"
    b.send("chat.mute", chat_id=chat_id, muted=False)
    assert b.send("chat.list")["chats"][0]["notify"] == "all"


def test_mentions_level_notifies_for_a_mention_and_a_reply_to_ones_message_only(push, group):
    a, b, c, chat_id = group
    b.send("message.send", chat_id=chat_id, client_msg_id="b1", text="my question")  # seq 1
    _level(b, chat_id, "mentions")
    b.disconnect()
    a.send("message.send", chat_id=chat_id, client_msg_id="a2", text="chatter")  # 2: nothing
    a.send("message.send", chat_id=chat_id, client_msg_id="a3", text="@bob", mentions=["bob"])  # 3
    c.send("message.send", chat_id=chat_id, client_msg_id="c4", text="answer", reply_to=1)  # 4
    c.send("message.send", chat_id=chat_id, client_msg_id="c5", text="to alice", reply_to=2)  # 5: nothing
    a.send(
        "message.send", chat_id=chat_id, client_msg_id="a6", text="@carol", mentions=["carol"]
    )  # 6: nothing
    assert _pushed_seqs(push) == [3, 4]


def test_none_level_notifies_of_nothing_not_even_a_mention(push, group):
    a, b, _, chat_id = group
    _level(b, chat_id, "none")
    b.disconnect()
    a.send("message.send", chat_id=chat_id, client_msg_id="a1", text="@bob", mentions=["bob"])
    assert _pushed_seqs(push) == []


def test_a_live_member_at_mentions_level_is_checked_later_only_for_what_notifies_them(push, group):
    a, b, _, chat_id = group
    _level(b, chat_id, "mentions")  # bob stays connected and never confirms
    a.send("message.send", chat_id=chat_id, client_msg_id="a1", text="chatter")
    a.send("message.send", chat_id=chat_id, client_msg_id="a2", text="@bob", mentions=["bob"])
    push.pass_delay()
    assert _pushed_seqs(push) == [2]


def test_the_badge_counts_chats_at_mentions_but_not_at_none(push, group):
    a, b, _, chat_id = group
    quiet = push.harness.chat(a, "bob", title="Quiet")
    _level(b, chat_id, "mentions")
    _level(b, quiet, "none")
    b.disconnect()
    a.send("message.send", chat_id=quiet, client_msg_id="q1", text="shh")
    a.send("message.send", chat_id=chat_id, client_msg_id="t1", text="chatter")
    a.send("message.send", chat_id=chat_id, client_msg_id="t2", text="@bob", mentions=["bob"])
    push.drain()
    [(_, n)] = notifications_for(push, "bob")
    assert n.seq == 2 and n.badge == 2  # both unread in Team; none of Quiet's


def test_changes_never_notify(push, group):
    a, b, _, chat_id = group
    b.disconnect()
    a.send("message.send", chat_id=chat_id, client_msg_id="a1", text="hi @bob", mentions=["bob"])
    assert _pushed_seqs(push) == [1]
    push.sent.clear()
    a.send("message.edit", chat_id=chat_id, seq=1, text="hello @bob", mentions=["bob"])
    a.send("reaction.set", chat_id=chat_id, seq=1, emoji="👍")
    a.send("message.delete", chat_id=chat_id, seq=1)
    push.pass_delay()
    assert _pushed_seqs(push) == []


def test_bad_levels_and_non_members_are_refused_and_change_nothing(push, group):
    _, b, _, chat_id = group
    for level in ("All", "some", None, 1, True):
        assert b.send("chat.notify", chat_id=chat_id, level=level)["code"] == "bad_request"
    assert (
        push.harness.connect("zed").send("chat.notify", chat_id=chat_id, level="none")["code"] == "forbidden"
    )
    assert b.send("chat.list")["chats"][0]["notify"] == "all"


def test_leaving_forgets_the_level(push, group):
    a, b, _, chat_id = group
    _level(b, chat_id, "mentions")
    b.send("chat.leave", chat_id=chat_id)
    assert chat_id not in (PresenceItem.get("bob").mentions_only or set())
    a.send("chat.add", chat_id=chat_id, members=["bob"])
    assert b.send("chat.list")["chats"][0]["notify"] == "all"
