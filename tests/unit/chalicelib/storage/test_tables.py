"""The schema: a message's attributes are declared once (``MessageAttributes``) and both
containers that hold a message, a ``MessageItem`` and a chat's ``last_message``, are exactly
those attributes plus their own keys, under the attribute names and paths they always had."""

from __future__ import annotations

import dataclasses

from pynamodb.attributes import Attribute
from pynamodb.expressions.update import Update

from chalicelib.domain.records import Message
from chalicelib.storage.tables import ChatItem, MessageAttributes, MessageItem, MessageMap

# The message's own fields: all of Message's but the chat, which the item keys and the chat holds.
MESSAGE_FIELDS = {f.name for f in dataclasses.fields(Message)} - {"chat_id"}


def _declared(cls: type) -> set[str]:
    """The attributes a class declares itself (not those it inherits)."""
    return {name for name, value in vars(cls).items() if isinstance(value, Attribute)}


def test_a_message_map_is_the_message_fields_and_nothing_else():
    assert set(MessageMap.get_attributes()) == MESSAGE_FIELDS
    assert _declared(MessageAttributes) == MESSAGE_FIELDS
    assert not _declared(MessageMap)  # declared once: the map adds nothing


def test_a_message_item_is_the_message_fields_keyed_by_chat_and_seq():
    assert set(MessageItem.get_attributes()) == MESSAGE_FIELDS | {"chat_id"}
    assert _declared(MessageItem) == {"chat_id", "seq"}  # its keys; the rest is inherited
    assert (MessageItem._hash_keyname, MessageItem._range_keyname) == ("chat_id", "seq")
    assert not MessageMap.seq.is_range_key  # the item's range key is its own attribute
    for name in MESSAGE_FIELDS - {"seq"}:
        assert MessageItem.get_attributes()[name] is MessageAttributes.__dict__[name]


def test_attribute_names_and_nullability_are_as_stored():
    for cls in (MessageItem, MessageMap):
        attributes = cls.get_attributes()
        assert {name: a.attr_name for name, a in attributes.items()} == {n: n for n in attributes}
        # Absent until used: the system event, what v3 lets change, and files (an unchanged
        # message without files is stored as it was before v3).
        assert {name for name, a in attributes.items() if a.null} == {
            "system",
            "reply_to",
            "mentions",
            "reactions",
            "edited_at",
            "deleted",
            "rev",
            "attachments",
        }


def _serialized(expression) -> tuple[str, dict, dict]:
    names: dict = {}
    values: dict = {}
    return expression.serialize(names, values), names, values


def test_conditions_on_an_item_and_on_a_chats_last_message_name_their_own_paths():
    assert _serialized(MessageItem.text == "x") == ("#0 = :0", {"text": "#0"}, {":0": {"S": "x"}})
    assert _serialized(ChatItem.last_message.text == "x") == (
        "#0.#1 = :0",
        {"last_message": "#0", "text": "#1"},
        {":0": {"S": "x"}},
    )
    assert _serialized(ChatItem.last_message["system"].exists()) == (
        "attribute_exists (#0.#1)",
        {"last_message": "#0", "system": "#1"},
        {},
    )
    # The class attributes the two containers share keep their top-level path.
    assert _serialized(Update(MessageItem.text.set("w"), ChatItem.last_message.text.set("z"))) == (
        "SET #0 = :0, #1.#0 = :1",
        {"text": "#0", "last_message": "#1"},
        {":0": {"S": "w"}, ":1": {"S": "z"}},
    )
