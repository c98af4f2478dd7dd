"""Groups that change: add, remove, leave, update, admins, visibility from joined_seq."""

from __future__ import annotations

import pytest

from tests.functional.snapshot import table_snapshot


def events(client) -> list[str]:
    return [f["event"] for f in client.frames()]


@pytest.fixture
def group(harness):
    """alice (admin) and bob in a group 'Weekend' with one message; carol and dave outside."""
    a, b = harness.connect("alice"), harness.connect("bob")
    c, d = harness.connect("carol"), harness.connect("dave")
    chat_id = harness.chat(a, "bob", title="Weekend")
    a.send("message.send", chat_id=chat_id, client_msg_id="k1", text="before carol")
    for x in (a, b, c, d):
        x.frames()
    return a, b, c, d, chat_id


def test_created_group_has_kind_admins_and_counts(harness):
    a = harness.connect("alice")
    chat = a.send("chat.create", members=["bob"], title="T")["chat"]
    assert chat["kind"] == "group" and chat["admins"] == ["alice"] and chat["member_count"] == 2
    assert chat["joined_seq"] == 0 and chat["muted"] is False and chat["members"] == ["alice", "bob"]


def test_add_sends_added_to_new_member_and_system_message_to_the_rest(harness, group):
    a, b, c, _, chat_id = group
    a2 = harness.connect("alice")
    reply = a.send("chat.add", chat_id=chat_id, members=["carol"])
    assert reply["event"] == "chat:updated"
    chat = reply["chat"]
    assert chat["members"] == ["alice", "bob", "carol"] and chat["member_count"] == 3
    assert chat["last_seq"] == 2 and chat["unread"] == 0  # the actor has read their own change
    [added] = c.frames()
    assert added["event"] == "chat:added"
    assert added["chat"]["joined_seq"] == 2 and added["chat"]["unread"] == 0
    assert added["chat"]["last_message"] is None  # the message that added carol is not hers to see
    [system] = b.frames()
    assert system["event"] == "chat:message:background"
    message = system["message"]
    assert message["kind"] == "system" and message["seq"] == 2 and message["sender_id"] == "alice"
    assert message["system"] == {"type": "added", "users": ["carol"]}
    assert message["text"] == "alice added carol"
    assert [f["event"] for f in a2.frames()] == ["chat:message:background"]  # the actor's other device
    assert a.frames() == []  # the acting connection got only its reply


def test_new_member_sees_only_what_came_after_joining(harness, group):
    a, b, c, _, chat_id = group
    a.send("chat.add", chat_id=chat_id, members=["carol"])
    [bobs] = b.send("chat.list")["chats"]
    assert bobs["unread"] == 2  # alice's message and the system message both count
    b.send("message.send", chat_id=chat_id, client_msg_id="k2", text="after carol")
    opened = c.send("chat.open", chat_id=chat_id)
    assert [m["text"] for m in opened["messages"]] == ["after carol"]
    assert opened["has_more"] is False
    assert c.send("chat.history", chat_id=chat_id, before=3)["messages"] == []
    history = c.send("chat.history", chat_id=chat_id, after=0)
    assert [m["seq"] for m in history["messages"]] == [3]
    [listed] = c.send("chat.list")["chats"]
    assert listed["joined_seq"] == 2 and listed["unread"] == 1 and listed["last_message"]["seq"] == 3


def test_remove_tells_the_removed_and_they_lose_access_at_once(harness, group):
    a, b, _, _, chat_id = group
    b.send("chat.open", chat_id=chat_id)  # bob is viewing the chat as he is removed
    b2 = harness.connect("bob")
    reply = a.send("chat.remove", chat_id=chat_id, members=["bob"])
    assert reply["event"] == "chat:updated" and reply["chat"]["members"] == ["alice"]
    assert b.frames() == [{"event": "chat:removed", "chat_id": chat_id, "reason": "removed"}]
    assert b2.frames() == [{"event": "chat:removed", "chat_id": chat_id, "reason": "removed"}]
    a.send("message.send", chat_id=chat_id, client_msg_id="k9", text="bob is gone")
    assert b.frames() == [] and b2.frames() == []
    for action, fields in [
        ("chat.open", {}),
        ("chat.history", {}),
        ("message.send", {"client_msg_id": "x", "text": "let me in"}),
        ("message.read", {"seq": 1}),
        ("chat.members", {}),
        ("chat.leave", {}),
    ]:
        assert b.send(action, chat_id=chat_id, **fields)["code"] == "forbidden", action
    assert b.send("chat.list")["chats"] == []


def test_removed_then_added_again_gets_a_new_joined_seq(harness, group):
    a, b, _, _, chat_id = group
    a.send("chat.remove", chat_id=chat_id, members=["bob"])
    a.send("message.send", chat_id=chat_id, client_msg_id="k2", text="while bob was out")
    a.send("chat.add", chat_id=chat_id, members=["bob"])
    [bobs] = b.send("chat.list")["chats"]
    assert bobs["joined_seq"] == 4 and bobs["unread"] == 0 and bobs["last_message"] is None
    assert b.send("chat.open", chat_id=chat_id)["messages"] == []


def test_only_admins_change_a_group_and_forbidden_changes_nothing(harness, group):
    a, b, _, _, chat_id = group
    before = table_snapshot()
    for action, fields in [
        ("chat.add", {"members": ["carol"]}),
        ("chat.remove", {"members": ["alice"]}),
        ("chat.update", {"title": "mine now"}),
        ("chat.update", {"admins": ["bob"]}),
    ]:
        reply = b.send(action, chat_id=chat_id, **fields)
        assert reply["event"] == "error" and reply["code"] == "forbidden", (action, reply)
    assert table_snapshot() == before
    assert a.frames() == []


def test_outsiders_and_unknown_chats_are_forbidden_alike(harness, group):
    _, _, c, _, chat_id = group
    assert c.send("chat.add", chat_id=chat_id, members=["carol"])["code"] == "forbidden"
    assert c.send("chat.members", chat_id=chat_id)["code"] == "forbidden"
    assert c.send("chat.leave", chat_id=chat_id)["code"] == "forbidden"
    assert c.send("chat.add", chat_id="c_nope", members=["carol"])["code"] == "forbidden"


def test_changes_that_change_nothing_store_nothing(harness, group):
    a, b, _, _, chat_id = group
    before = table_snapshot()
    assert a.send("chat.add", chat_id=chat_id, members=["bob"])["event"] == "chat:updated"
    assert a.send("chat.remove", chat_id=chat_id, members=["zed"])["event"] == "chat:updated"
    assert a.send("chat.update", chat_id=chat_id, title="Weekend")["event"] == "chat:updated"
    assert a.send("chat.update", chat_id=chat_id, admins=["alice"])["chat"]["last_seq"] == 1
    assert table_snapshot() == before
    assert b.frames() == []


def test_update_title_and_admins(harness, group):
    a, b, _, _, chat_id = group
    reply = a.send("chat.update", chat_id=chat_id, title="Trip", admins=["alice", "bob"])
    chat = reply["chat"]
    assert chat["title"] == "Trip" and chat["admins"] == ["alice", "bob"]
    [frame] = b.frames()
    assert frame["message"]["system"] == {
        "type": "updated",
        "users": ["bob"],
        "title": "Trip",
        "admins": ["alice", "bob"],
    }
    cleared = a.send("chat.update", chat_id=chat_id, title=None)["chat"]
    assert cleared["title"] is None
    assert b.frames()[0]["message"]["system"] == {"type": "updated", "users": [], "title": None}
    assert b.send("chat.update", chat_id=chat_id, title="bob can now")["chat"]["title"] == "bob can now"


def test_admins_must_be_members(harness, group):
    a, _, _, _, chat_id = group
    assert a.send("chat.update", chat_id=chat_id, admins=["carol"])["code"] == "bad_request"
    assert a.send("chat.update", chat_id=chat_id, admins=[])["code"] == "bad_request"


def test_last_admin_leaving_hands_over_to_the_earliest_member(harness):
    a, b, c, d = (harness.connect(u) for u in ("alice", "bob", "carol", "dave"))
    chat_id = harness.chat(a, "dave", "carol")
    a.send("chat.add", chat_id=chat_id, members=["bob"])  # bob joins later than carol and dave
    for x in (b, c, d):
        x.frames()
    assert a.send("chat.leave", chat_id=chat_id) == {
        "event": "chat:left",
        "req": a.last_req,
        "chat_id": chat_id,
    }
    members = c.send("chat.members", chat_id=chat_id)
    assert members["members"] == ["bob", "carol", "dave"] and members["admins"] == ["carol"]
    [frame] = d.frames()
    assert frame["message"]["system"] == {"type": "left", "users": ["alice"], "admins": ["carol"]}
    assert frame["message"]["text"] == "alice left; carol is now an admin"


def test_leave_tells_own_other_devices(harness, group):
    a, b, _, _, chat_id = group
    b2 = harness.connect("bob")
    assert b.send("chat.leave", chat_id=chat_id)["event"] == "chat:left"
    assert b2.frames() == [{"event": "chat:removed", "chat_id": chat_id, "reason": "left"}]
    assert b.frames() == []
    assert a.frames()[0]["message"]["system"] == {"type": "left", "users": ["bob"]}


def test_admin_cannot_remove_self(harness, group):
    a, _, _, _, chat_id = group
    assert a.send("chat.remove", chat_id=chat_id, members=["alice"])["code"] == "bad_request"


def test_member_limit_counts_distinct_users(harness):
    a = harness.connect("alice")
    chat = a.send("chat.create", members=["bob"] * 1500)["chat"]
    assert chat["member_count"] == 2
    reply = a.send("chat.add", chat_id=chat["chat_id"], members=[f"u{i}" for i in range(999)])
    assert reply["event"] == "error" and reply["code"] == "too_large"
    reply = a.send("chat.add", chat_id=chat["chat_id"], members=[f"u{i}" for i in range(998)])
    assert reply["chat"]["member_count"] == 1000 and "members" not in reply["chat"]
    assert a.send("chat.add", chat_id=chat["chat_id"], members=["one-more"])["code"] == "too_large"
    members = a.send("chat.members", chat_id=chat["chat_id"])
    assert len(members["members"]) == 1000 and members["members"] == sorted(members["members"])


def test_the_last_member_leaving_empties_the_roster(harness):
    a = harness.connect("alice")
    chat_id = harness.chat(a)
    assert a.send("chat.leave", chat_id=chat_id)["event"] == "chat:left"
    from chalicelib.storage.tables import ChatMembersItem

    assert list(ChatMembersItem.query(chat_id)) == []  # the empty page is deleted, not kept empty
    assert a.send("chat.list")["chats"] == []
    assert a.send("chat.open", chat_id=chat_id)["code"] == "forbidden"
