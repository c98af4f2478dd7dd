"""The lines the CLI prints."""

from __future__ import annotations

from chatclient.cli.output import plural


def test_plural_says_one_message_and_two_messages():
    assert [plural(n, "message") for n in (0, 1, 2)] == ["0 messages", "1 message", "2 messages"]
