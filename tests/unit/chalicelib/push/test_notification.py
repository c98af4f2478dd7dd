"""The notification a message becomes (chalicelib/push/notification.py): a message of files only
shows a paperclip and its first file's name, as text would, and nothing with preview off."""

from __future__ import annotations

from chalicelib.push.notification import PRIVATE_BODY, build


def message(text: str, *names: str) -> dict:
    return {
        "chat_id": "c1",
        "seq": 4,
        "message_id": "m1",
        "sender_id": "alice",
        "text": text,
        "kind": "text",
        "attachments": [{"attachment_id": f"a{i}", "name": n} for i, n in enumerate(names)],
    }


def test_a_message_of_files_only_shows_its_first_files_name():
    group = build(message("", "beach.jpg", "notes.pdf"), "Trip", "group", "Alice", 1, True)
    assert group.body == "Alice: 📎 beach.jpg"
    direct = build(message("", "beach.jpg"), None, "direct", "Alice", 1, True)
    assert direct.body == "📎 beach.jpg" and direct.title == "Alice"


def test_text_wins_over_files_and_preview_off_shows_neither():
    assert build(message("look!", "beach.jpg"), "Trip", "group", "Alice", 1, True).body == "Alice: look!"
    private = build(message("", "beach.jpg"), "Trip", "group", "Alice", 1, False)
    assert private.body == PRIVATE_BODY and private.text is None
