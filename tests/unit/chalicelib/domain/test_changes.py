"""The rules of messages that change (chalicelib/domain/changes.py), and the largest message."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.domain import changes
from chalicelib.domain.errors import BadRequest, Forbidden, NotFound, TooLarge
from chalicelib.domain.frames import MAX_FRAME_BYTES, encode
from chalicelib.domain.protocol import frame
from chalicelib.domain.records import Message, SystemEvent

NOW = "2026-12-06T10:00:00.000Z"


def message(**fields) -> Message:
    base = dict(
        chat_id="c1",
        seq=3,
        message_id="m_1",
        client_msg_id="k1",
        sender_id="alice",
        text="hello",
        sent_at="2026-12-06T09:00:00.000Z",
    )
    return Message(**{**base, **fields})


def test_visibility_is_after_joining_up_to_the_last_seq():
    changes.check_visible(3, joined_seq=2, last_seq=3)
    for seq, joined, last in ((2, 2, 5), (6, 0, 5), (0, 0, 5)):
        with pytest.raises(NotFound):
            changes.check_visible(seq, joined, last)
    with pytest.raises(BadRequest):
        changes.check_reply(2, joined_seq=2, last_seq=5)


def test_kept_mentions_are_members_but_the_sender_sorted_once():
    assert changes.kept_mentions(["c", "a", "zed", "c", "b"], "b", {"a", "b", "c"}) == ("a", "c")


def test_edit_sets_edited_at_only_when_the_text_changes():
    edited = changes.edit(message(), "alice", "hello!", None, NOW)
    assert edited is not None and edited.text == "hello!" and edited.edited_at == NOW
    mentioned = changes.edit(message(), "alice", "hello", ("bob",), NOW)
    assert mentioned is not None and mentioned.edited_at is None and mentioned.mentions == ("bob",)
    assert changes.edit(message(mentions=("bob",)), "alice", "hello", None, NOW) is None


@pytest.mark.parametrize(
    ("target", "actor", "error"),
    [
        (message(), "bob", Forbidden),
        (message(deleted=True, text=""), "alice", BadRequest),
        (message(system=SystemEvent("added", ("bob",))), "alice", BadRequest),
    ],
)
def test_edit_refusals(target, actor, error):
    with pytest.raises(error):
        changes.edit(target, actor, "x", None, NOW)


def test_delete_empties_everything_but_what_identifies_the_message():
    full = message(mentions=("bob",), reactions=(("bob", "👍"),), reply_to=1, edited_at=NOW, rev=4)
    deleted = changes.delete(full, "alice", ())
    assert deleted == dataclasses.replace(
        full, text="", mentions=(), reactions=(), reply_to=None, deleted=True
    )
    assert changes.delete(deleted, "alice", ()) is None  # again: nothing to do
    assert changes.delete(full, "carol", ("carol",)) is not None  # a group admin
    with pytest.raises(Forbidden):
        changes.delete(full, "bob", ("carol",))


def test_react_replaces_the_users_one_reaction_and_takes_it_back():
    once = changes.react(message(), "bob", "👍")
    assert once is not None and once.reactions_wire() == {"👍": ["bob"]}
    swapped = changes.react(once, "bob", "🎉")
    assert swapped is not None and swapped.reactions_wire() == {"🎉": ["bob"]}
    assert changes.react(swapped, "bob", "🎉") is None
    back = changes.react(swapped, "bob", None)
    assert back is not None and back.reactions == ()
    assert changes.react(back, "bob", None) is None


def test_the_21st_distinct_emoji_is_too_large_but_one_already_there_is_fine():
    full = message(reactions=tuple((f"u{i:02d}", chr(0x1F600 + i)) for i in range(20)))
    with pytest.raises(TooLarge):
        changes.react(full, "new", "🦄")
    assert changes.react(full, "new", chr(0x1F600)) is not None
    assert changes.react(full, "u00", "🦄") is not None  # swapping one's own keeps 20


def test_the_largest_possible_message_fits_one_frame_as_the_backend_writes_it():
    """PROTOCOL v3: 4,096 astral characters, a reaction from each of 1,000 members with
    64-character ids over 20 emoji, 50 mentions and 10 attachments with presigned URLs."""
    users = [f"{i:04d}".ljust(64, "x") for i in range(1000)]
    largest = message(
        text="😀" * 4096,
        mentions=tuple(users[:50]),
        reactions=tuple((u, chr(0x1F600 + i % 20) * 4) for i, u in enumerate(users)),
        reply_to=1,
        edited_at=NOW,
        rev=2**40,
        chat_id="c_" + "x" * 62,
        message_id="m_" + "x" * 62,
        client_msg_id="k" * 64,
        sender_id="s" * 64,
    )
    wire = largest.to_wire()
    url = "https://chat-prod-attachments.s3.amazonaws.com/" + "a" * 1900  # a presigned GET's length
    wire["attachments"] = [
        {
            "attachment_id": "a_" + "x" * 62,
            "name": "n" * 200,
            "content_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "size": 26214400,
            "url": url,
        }
    ] * 10
    for event in ("chat:message", "chat:message:background", "chat:message:updated"):
        size = len(encode(frame(event, message=wire)))
        assert size < MAX_FRAME_BYTES, (event, size)
    reply = frame("message:updated", "r" * 64, chat_id=largest.chat_id, message=wire)
    assert len(encode(reply)) < MAX_FRAME_BYTES
    # Written as UTF-8: the text's 4,096 emoji take 16 KiB, not the 48 KiB of \\u escapes.
    assert "\\ud83d" not in encode(reply).decode()
