"""The lines the CLI prints."""

from __future__ import annotations

from chatclient import Chat, Message
from chatclient.cli.output import chat_line, message_line, message_text, plural
from tests.unit.chatclient.fake_server import ME, FakeServer
from tests.unit.chatclient.fake_server import _message as _wire


def test_plural_says_one_message_and_two_messages():
    assert [plural(n, "message") for n in (0, 1, 2)] == ["0 messages", "1 message", "2 messages"]


def _message(**fields: object) -> Message:
    return Message.from_wire({**_wire("c1", 5, "alice", "k5"), "text": "sounds good", **fields})


def test_a_message_line_has_its_number_edited_mentions_and_reactions_with_counts():
    message = _message(
        edited_at="2026-12-06T10:00:00.000Z",
        mentions=["bob", "carol"],
        reactions={"❤️": ["bob"], "👍": ["bob", "carol"]},
        rev=4,
    )
    assert message_line(message, "carol") == "5 alice: sounds good (edited) (mentions bob, you) [👍 2, ❤️ 1]"
    assert message_text(message) == "alice: sounds good (edited) (mentions bob, carol) [👍 2, ❤️ 1]"


def test_a_deleted_message_says_so_and_nothing_else():
    deleted = _message(text="", deleted=True, edited_at="2026-12-06T10:00:00.000Z", rev=3)
    assert message_line(deleted) == "5 alice: (deleted)"


def test_a_reply_quotes_the_start_of_what_it_answers_or_its_number():
    reply = _message(reply_to=3)
    original = Message.from_wire(
        {**_wire("c1", 3, "bob", "k3"), "text": "how about\nsaturday at ten, at the usual place?"}
    )
    assert (
        message_text(reply, quote=original)
        == 'alice: (re 3 bob: "how about saturday at ten, at the usual…") sounds good'
    )
    assert message_text(reply) == "alice: (re 3) sounds good"  # not seen by this client
    gone = Message.from_wire({**_wire("c1", 3, "bob", "k3"), "text": "", "deleted": True, "rev": 1})
    assert message_text(reply, quote=gone) == "alice: (re 3: deleted) sounds good"


def test_the_further_lines_of_a_multi_line_message_are_indented():
    assert message_line(_message(text="first\nsecond\r\nthird")) == "5 alice: first\n    second\n    third"


def test_chat_lines_say_the_notification_level():
    wire = FakeServer().chat("c1")
    assert chat_line(Chat.from_wire({**wire, "notify": "mentions"}), ME) == "c1 bob (mentions only)"
    assert chat_line(Chat.from_wire({**wire, "notify": "none", "muted": True}), ME) == "c1 bob (muted)"
    assert chat_line(Chat.from_wire({**wire, "notify": "all"}), ME) == "c1 bob"
