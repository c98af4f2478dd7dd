"""Items <-> records: a Message is laid out by one function for both containers, and comes
back unchanged from either, text or system, in the exact DynamoDB JSON it always had."""

from __future__ import annotations

from pynamodb.attributes import Attribute

from chalicelib.domain.records import ChatRecord, Message, SystemEvent
from chalicelib.storage.mapping import chat_change_actions, chat_from, message_attributes, message_from
from chalicelib.storage.tables import ChatItem, MessageAttributes, MessageItem, MessageMap

TEXT = Message("c_1", 7, "m_1", "k1", "alice", "héllo", "2026-01-01T00:00:00.000Z")
SYSTEM = Message(
    "c_1",
    8,
    "m_2",
    "k2",
    "alice",
    "",
    "2026-01-01T00:00:01.000Z",
    system=SystemEvent("updated", users=("bob",), title="Tea", title_changed=True, admins=("alice",)),
)


def _item(message: Message) -> MessageItem:
    return MessageItem(message.chat_id, **message_attributes(message))


def test_one_function_fills_every_message_attribute():
    declared = {name for name, value in vars(MessageAttributes).items() if isinstance(value, Attribute)}
    assert set(message_attributes(TEXT)) == set(message_attributes(SYSTEM)) == declared


def test_a_text_message_is_stored_as_it_always_was_and_read_back_unchanged():
    raw = _item(TEXT).serialize()
    assert raw == {
        "chat_id": {"S": "c_1"},
        "client_msg_id": {"S": "k1"},
        "message_id": {"S": "m_1"},
        "sender_id": {"S": "alice"},
        "sent_at": {"S": "2026-01-01T00:00:00.000Z"},
        "seq": {"N": "7"},
        "text": {"S": "héllo"},
    }  # no "system" attribute on a text message
    assert message_from(MessageItem.from_raw_data(raw), "c_1") == TEXT


def test_a_system_message_keeps_its_event_as_compact_json_and_reads_back_unchanged():
    raw = _item(SYSTEM).serialize()
    assert raw["system"] == {"S": '{"type":"updated","users":["bob"],"title":"Tea","admins":["alice"]}'}
    assert raw["text"] == {"S": ""}
    back = MessageItem.from_raw_data(raw)
    assert message_from(back, "c_1") == SYSTEM
    assert back.serialize() == raw


def test_a_chats_last_message_holds_the_same_attributes_but_the_chat_id():
    for message in (TEXT, SYSTEM):
        item_raw = _item(message).serialize()
        map_raw = ChatItem.last_message.serialize(MessageMap(**message_attributes(message)))
        assert map_raw == {k: v for k, v in item_raw.items() if k != "chat_id"}


def test_a_chat_item_round_trips_its_last_message():
    for message in (TEXT, SYSTEM):
        item = ChatItem(
            "c_1",
            created_by="alice",
            created_at="2026-01-01T00:00:00.000Z",
            last_seq=message.seq,
            last_message=MessageMap(**message_attributes(message)),
        )
        chat = chat_from(ChatItem.from_raw_data(item.serialize()))
        assert chat.last_message == message


def test_a_membership_change_sets_the_last_message_as_a_map():
    chat = ChatRecord(
        chat_id="c_1",
        title=None,
        members=("alice", "bob"),
        created_by="alice",
        created_at="2026-01-01T00:00:00.000Z",
        last_seq=8,
        last_message=SYSTEM,
    )
    (action,) = [a for a in chat_change_actions(chat) if "last_message" in str(a)]
    names: dict = {}
    values: dict = {}
    assert action.serialize(names, values) == "#0 = :0"
    assert names == {"last_message": "#0"}
    assert values[":0"] == {"M": {k: v for k, v in _item(SYSTEM).serialize().items() if k != "chat_id"}}
