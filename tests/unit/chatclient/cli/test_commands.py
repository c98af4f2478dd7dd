"""Naming a chat in a command."""

from __future__ import annotations

import pytest

from chatclient import Chat
from chatclient.cli.arguments import UsageError
from chatclient.cli.commands import find_chat
from tests.unit.chatclient.fake_server import ME, FakeServer


def test_find_chat_prefers_an_id_over_a_number_and_refuses_ambiguity():
    wire = FakeServer().chat("c1")
    chats = [Chat.from_wire(wire), Chat.from_wire({**wire, "chat_id": "12"})]
    assert find_chat("12", chats, ME).chat_id == "12"  # an id that looks like a number
    assert find_chat("1", chats, ME).chat_id == "12"  # "1" is an id prefix before a number
    with pytest.raises(UsageError, match="matches 2 chats"):
        find_chat("bob", chats, ME)
