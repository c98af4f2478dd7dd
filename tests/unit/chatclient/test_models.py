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


def test_v3_message_fields_and_their_v2_defaults():
    base = _message("c1", 4, "alice", "k4")
    v2 = Message.from_wire(
        {
            k: v
            for k, v in base.items()
            if k in ("chat_id", "seq", "message_id", "sender_id", "text", "sent_at")
        }
    )
    assert (v2.reply_to, v2.mentions, v2.attachments, dict(v2.reactions)) == (None, (), (), {})
    assert (v2.edited_at, v2.deleted, v2.rev, v2.edited) == (None, False, 0, False)
    v3 = Message.from_wire(
        {
            **base,
            "reply_to": 2,
            "mentions": ["bob", "carol"],
            "attachments": [
                {"attachment_id": "a1", "name": "x.png", "content_type": "image/png", "size": 3, "url": "u1"}
            ],
            "reactions": {"👍": ["bob", "carol"], "❤️": ["alice"], "🎉": []},
            "edited_at": "2026-12-06T10:00:00.000Z",
            "rev": 7,
        }
    )
    assert v3.reply_to == 2 and v3.mentions == ("bob", "carol") and v3.rev == 7 and v3.edited
    assert dict(v3.reactions) == {"👍": ("bob", "carol"), "❤️": ("alice",)}  # an empty emoji is absent
    assert v3.reaction_counts() == [("👍", 2), ("❤️", 1)]
    assert v3.reaction_of("alice") == "❤️" and v3.reaction_of("dave") is None
    (attachment,) = v3.attachments
    assert (attachment.name, attachment.size) == ("x.png", 3)
    # a fresh download URL with every history page: the same file either way
    again = Message.from_wire(
        {
            **base,
            "attachments": [
                {"attachment_id": "a1", "name": "x.png", "content_type": "image/png", "size": 3, "url": "u2"}
            ],
        }
    )
    assert again.attachments == v3.attachments
    hash(v3)  # reactions do not make it unhashable


def test_a_deleted_message_is_not_shown_as_edited():
    deleted = Message.from_wire(
        {**_message("c1", 4), "text": "", "deleted": True, "edited_at": "2026-12-06T10:00:00.000Z", "rev": 3}
    )
    assert deleted.deleted and not deleted.edited


def test_chat_notify_and_last_rev_with_their_v2_defaults():
    v2_muted = Chat.from_wire({"chat_id": "c1", "title": None, "muted": True})
    v2 = Chat.from_wire({"chat_id": "c1", "title": None})
    v3 = Chat.from_wire(
        {"chat_id": "c1", "title": None, "notify": "mentions", "muted": False, "last_rev": 12}
    )
    assert (v2_muted.notify, v2.notify, v2.last_rev) == ("none", "all", 0)
    assert (v3.notify, v3.muted, v3.last_rev) == ("mentions", False, 12)
