"""Naming a chat in a command."""

from __future__ import annotations

import pytest

from chatclient import Chat
from chatclient.cli.arguments import UsageError
from chatclient.cli.commands import find_chat, mentions_in
from tests.unit.chatclient.fake_server import ME, FakeServer


def test_find_chat_prefers_an_id_over_a_number_and_refuses_ambiguity():
    wire = FakeServer().chat("c1")
    chats = [Chat.from_wire(wire), Chat.from_wire({**wire, "chat_id": "12"})]
    assert find_chat("12", chats, ME).chat_id == "12"  # an id that looks like a number
    assert find_chat("1", chats, ME).chat_id == "12"  # "1" is an id prefix before a number
    with pytest.raises(UsageError, match="matches 2 chats"):
        find_chat("bob", chats, ME)


def test_mentions_are_the_at_names_of_a_text_each_once_and_not_addresses():
    text = "@bob see @carol.smith's note, mail bob@example.com; thanks @bob. @dave-2!"
    assert mentions_in(text) == ["bob", "carol.smith", "dave-2"]
    assert mentions_in("no one") == [] and mentions_in("@") == []
