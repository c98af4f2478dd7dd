"""The pure rules of membership changes: who, which pages, admins, hand-over, summaries."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import BadRequest, Forbidden, TooLarge
from chalicelib.domain.membership import PAGE_CAPACITY, Roster, plan_add, plan_leave, plan_remove, plan_update
from chalicelib.domain.records import ChatRecord


def group(members: dict[str, int], admins: tuple[str, ...] = ("alice",), last_seq: int = 5) -> tuple:
    chat = ChatRecord(
        chat_id="c_1",
        title="T",
        members=tuple(sorted(members)) if len(members) <= 50 else None,
        created_by="alice",
        created_at="2026-11-27T00:00:00.000Z",
        last_seq=last_seq,
        admins=admins,
        member_count=len(members),
    )
    return chat, Roster.of(members)


def test_roster_pages_hold_at_most_a_hundred_and_fill_holes_first():
    roster = Roster.of({f"u{i:04d}": 0 for i in range(250)})
    assert sorted(len(p) for p in roster.pages.values()) == [50, PAGE_CAPACITY, PAGE_CAPACITY]
    touched = roster.remove(["u0000", "u0001"])
    assert touched == {0}
    assert roster.add(["new1", "new2", "new3"], 9) == {0, 2}
    assert len(roster) == 251 and roster.joined()["new3"] == 9


def test_add_takes_the_next_seq_and_reports_new_users_only():
    chat, roster = group({"alice": 0, "bob": 0})
    change = plan_add(chat, roster, "alice", ["bob", "carol", "carol", "dave"])
    assert change is not None
    assert change.added == ("carol", "dave") and change.message.seq == 6
    assert change.chat.last_seq == change.chat.members_seq == 6
    assert change.chat.members == ("alice", "bob", "carol", "dave") and change.chat.member_count == 4
    assert change.roster.joined()["carol"] == 6 and roster.joined().keys() == {"alice", "bob"}
    assert change.message.text == "alice added carol and dave"
    assert change.message.system is not None and change.message.system.to_wire() == {
        "type": "added",
        "users": ["carol", "dave"],
    }
    assert plan_add(chat, roster, "alice", ["bob"]) is None


def test_a_large_chat_keeps_no_member_list_on_its_item():
    chat, roster = group({f"u{i}": 0 for i in range(50)}, admins=("u0",))
    change = plan_add(chat, roster, "u0", ["one-more"])
    assert change is not None and change.chat.members is None and change.chat.member_count == 51


def test_limits_and_permissions():
    chat, roster = group({f"u{i}": 0 for i in range(999)} | {"alice": 0})
    with pytest.raises(TooLarge):
        plan_add(chat, roster, "alice", ["x"])
    with pytest.raises(Forbidden):
        plan_add(chat, roster, "u1", ["x"])
    direct = ChatRecord("d_1", None, ("a", "b"), "a", "t", kind="direct", member_count=2)
    with pytest.raises(BadRequest):
        plan_add(direct, Roster.of({"a": 0, "b": 0}), "a", ["c"])


def test_hand_over_goes_to_the_earliest_joined_then_smallest_id():
    chat, roster = group({"alice": 0, "zed": 0, "bob": 3, "amy": 4})
    change = plan_leave(chat, roster, "alice")
    assert change.chat.admins == ("zed",) and change.removed == ("alice",)
    assert change.message.text == "alice left; zed is now an admin"
    assert not change.actor_stays


def test_remove_drops_admins_and_names_many_briefly():
    chat, roster = group({"alice": 0, "bob": 0, "carol": 0, "dave": 0, "erin": 0}, admins=("alice", "bob"))
    change = plan_remove(chat, roster, "alice", ["bob", "carol", "dave", "erin", "nobody"])
    assert change is not None and change.chat.admins == ("alice",)
    assert change.message.text == "alice removed bob, carol and 2 others"
    assert change.message.system is not None and change.message.system.admins == ("alice",)


def test_update_validates_admins_and_skips_no_ops():
    chat, roster = group({"alice": 0, "bob": 0})
    assert plan_update(chat, roster, "alice", "T", True, None) is None
    with pytest.raises(BadRequest):
        plan_update(chat, roster, "alice", None, False, ["carol"])
    with pytest.raises(TooLarge):
        plan_update(chat, roster, "alice", None, False, [f"u{i}" for i in range(101)])
    change = plan_update(chat, roster, "alice", None, True, None)
    assert (
        change is not None and change.chat.title is None and change.message.text == "alice removed the title"
    )


def test_an_operator_removes_without_being_an_admin_and_moves_no_pointers():
    from chalicelib.domain.membership import plan_operator_remove

    chat, roster = group({"alice": 0, "bob": 0, "carol": 0}, admins=("bob",))
    change = plan_operator_remove(chat, roster, "moderator", ["bob"])
    assert change is not None and change.removed == ("bob",) and change.message.sender_id == "moderator"
    assert change.message.text == "moderator removed bob; alice is now an admin"
    assert not change.actor_was_member  # the operator has no membership to move
    assert plan_operator_remove(chat, roster, "moderator", ["zed"]) is None


def test_an_operator_cannot_remove_from_a_direct_chat():
    import dataclasses

    from chalicelib.domain.membership import plan_operator_remove

    chat, roster = group({"alice": 0, "bob": 0}, admins=())
    with pytest.raises(BadRequest):
        plan_operator_remove(dataclasses.replace(chat, kind="direct"), roster, "moderator", ["bob"])
