"""The protocol's objects and errors as the client reads them off the wire."""

from __future__ import annotations

import pytest

from chatclient import Chat, ChatError, Message, Opened, Pointers
from tests.unit.chatclient.fake_server import _message


def test_system_messages_parse_with_their_event_and_a_cleared_title_is_not_an_absent_one():
    base = _message("c1", 4, "alice", "sys-4")
    cleared = Message.from_wire(
        {**base, "kind": "system", "system": {"type": "updated", "users": [], "title": None}}
    )
    added = Message.from_wire({**base, "kind": "system", "system": {"type": "added", "users": ["carol"]}})
    text = Message.from_wire({k: v for k, v in base.items() if k != "kind"})
    assert cleared.is_system and cleared.system is not None
    assert cleared.system.title_changed and cleared.system.title is None and cleared.system.admins is None
    assert added.system is not None and added.system.users == ("carol",) and not added.system.title_changed
    assert text.kind == "text" and text.system is None and not text.is_system


def test_chat_v2_fields_members_absent_above_50_and_display_names():
    small = Chat.from_wire(
        {"chat_id": "d1", "title": None, "members": ["alice", "bob"], "kind": "direct", "joined_seq": 0}
    )
    big = Chat.from_wire(
        {
            "chat_id": "g1",
            "title": None,
            "member_count": 120,
            "admins": ["zed", "amy"],
            "joined_seq": 7,
            "muted": True,
        }
    )
    assert small.is_direct and small.member_count == 2 and small.display_name("alice") == "bob"
    assert small.display_name("bob") == "alice"
    assert big.members is None and big.member_count == 120 and big.display_name("alice") == "120 members"
    assert big.admins == ("zed", "amy") and big.joined_seq == 7 and big.muted and big.kind == "group"


def test_opened_reads_has_more_and_receipts_min_and_absent_receipts_stay_absent():
    opened = Opened.from_wire(
        {
            "chat": {"chat_id": "g1", "member_count": 60},
            "messages": [_message("g1", 9)],
            "has_more": True,
            "receipts_min": {"delivered_seq": 8, "read_seq": 5},
        }
    )
    assert opened.has_more and opened.receipts is None
    assert opened.receipts_min == Pointers(delivered_seq=8, read_seq=5)
    assert [m.seq for m in opened.messages] == [9]


@pytest.mark.parametrize(
    ("frame", "unregistered", "not_a_member"),
    [
        (
            {
                "code": "forbidden",
                "message": "this connection is not registered; reconnect",
                "reason": "unregistered",
            },
            True,
            False,
        ),
        # A server without the reason field: told by the message's beginning.
        ({"code": "forbidden", "message": "this connection is not registered; reconnect"}, True, False),
        # The reason decides when there is one, whatever the message says.
        (
            {"code": "forbidden", "message": "this connection is not registered", "reason": "other"},
            False,
            True,
        ),
        ({"code": "forbidden", "message": "not a member of chat c1"}, False, True),
        ({"code": "not_found", "message": "no such chat", "reason": "unregistered"}, False, True),
        ({"code": "internal", "message": "this connection is not registered"}, False, False),
    ],
)
def test_an_unregistered_connection_is_not_taken_for_leaving_a_chat(frame, unregistered, not_a_member):
    error = ChatError.from_frame({"event": "error", **frame})
    assert (error.means_unregistered, error.means_not_a_member) == (unregistered, not_a_member)
