"""Frame parsing is pure: every frame becomes a request or one protocol error."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import ERROR_CODES, BadRequest, TooLarge
from chalicelib.domain.protocol import (
    ChatCreate,
    ChatHistory,
    FrameError,
    MessageSend,
    Ping,
    Receipt,
    Typing,
    encode,
    error_frame,
    frame,
    parse_request,
)


def parse(body):
    return parse_request(json.dumps(body))


def test_ping_and_req_echo():
    env = parse({"action": "ping", "req": "r1"})
    assert env.request == Ping() and env.req == "r1"


def test_send_is_parsed_and_unknown_fields_ignored():
    env = parse({"action": "message.send", "chat_id": "c_1", "client_msg_id": "k-1_", "text": "hé", "x": 1})
    assert env.request == MessageSend(chat_id="c_1", client_msg_id="k-1_", text="hé")


def test_text_limit_counts_characters_not_bytes():
    assert parse({"action": "message.send", "chat_id": "c", "client_msg_id": "k", "text": "é" * 4096})
    with pytest.raises(FrameError) as err:
        parse({"action": "message.send", "chat_id": "c", "client_msg_id": "k", "text": "é" * 4097})
    assert isinstance(err.value.error, TooLarge)


def test_create_defaults_and_title():
    assert parse({"action": "chat.create", "members": ["bob"]}).request == ChatCreate(("bob",), None)
    assert parse({"action": "chat.create", "members": [], "title": None}).request.title is None


def test_history_defaults():
    assert parse({"action": "chat.history", "chat_id": "c"}).request == ChatHistory("c", None, None, 50)


def test_receipts_and_typing():
    assert parse({"action": "message.read", "chat_id": "c", "seq": 3}).request == Receipt("c", 3, read=True)
    assert parse({"action": "message.delivered", "chat_id": "c", "seq": 0}).request == Receipt("c", 0, False)
    assert parse({"action": "typing", "chat_id": "c", "typing": False}).request == Typing("c", False)


@pytest.mark.parametrize(
    "raw",
    ["", "{", "[]", "1", "null", '{"action": null}', '{"action": "x"}', '{"action": "ping", "req": 1}'],
)
def test_refusals_are_bad_requests(raw):
    with pytest.raises(FrameError) as err:
        parse_request(raw)
    assert isinstance(err.value.error, BadRequest)


def test_oversized_frame_is_too_large():
    with pytest.raises(FrameError) as err:
        parse_request('{"action":"ping","x":"' + "a" * (128 * 1024) + '"}')
    assert isinstance(err.value.error, TooLarge)


def test_deeply_nested_json_is_a_bad_request_not_a_crash():
    with pytest.raises(FrameError):
        parse_request("[" * 100_000 + "]" * 100_000)


def test_frames_render():
    assert frame("pong", "r") == {"event": "pong", "req": "r"}
    assert frame("pong") == {"event": "pong"}
    assert error_frame(TooLarge("big"), "r") == {
        "event": "error",
        "req": "r",
        "code": "too_large",
        "message": "big",
    }
    assert json.loads(encode({"t": "é"})) == {"t": "é"}


@given(st.text(max_size=300))
def test_any_text_parses_or_fails_with_a_protocol_code(raw):
    try:
        parse_request(raw)
    except FrameError as exc:
        assert exc.error.code in ERROR_CODES


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(constant):
    with pytest.raises(FrameError) as caught:
        parse_request('{"action": "message.read", "chat_id": "c1", "seq": ' + constant + "}")
    assert caught.value.error.code == "bad_request"


# ---------------------------------------------------------------- v3: messages that change


def test_v3_requests_are_parsed():
    from chalicelib.domain.requests import ChatChanges, ChatNotify, MessageDelete, MessageEdit, ReactionSet

    send = {"action": "message.send", "chat_id": "c", "client_msg_id": "k", "text": "hi"}
    assert parse({**send, "reply_to": 3, "mentions": ["b", "a"]}).request == MessageSend(
        chat_id="c", client_msg_id="k", text="hi", reply_to=3, mentions=("b", "a")
    )
    assert parse({"action": "message.edit", "chat_id": "c", "seq": 2, "text": "x"}).request == MessageEdit(
        "c", 2, "x", None
    )
    assert parse(
        {"action": "message.edit", "chat_id": "c", "seq": 2, "text": "x", "mentions": []}
    ).request == (MessageEdit("c", 2, "x", ()))
    assert parse({"action": "message.delete", "chat_id": "c", "seq": 2}).request == MessageDelete("c", 2)
    assert parse({"action": "reaction.set", "chat_id": "c", "seq": 2, "emoji": None}).request == ReactionSet(
        "c", 2, None
    )
    assert parse({"action": "chat.changes", "chat_id": "c", "after_rev": 0}).request == ChatChanges(
        "c", 0, 50
    )
    assert parse({"action": "chat.notify", "chat_id": "c", "level": "mentions"}).request == ChatNotify(
        "c", "mentions"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"action": "message.send", "chat_id": "c", "client_msg_id": "k", "text": "x", "reply_to": 0},
        {"action": "message.send", "chat_id": "c", "client_msg_id": "k", "text": "x", "mentions": ["a"] * 51},
        {"action": "message.edit", "chat_id": "c", "seq": 1},
        {"action": "message.edit", "chat_id": "c", "text": "x"},
        {"action": "message.delete", "chat_id": "c", "seq": -1},
        {"action": "reaction.set", "chat_id": "c", "seq": 1},
        {"action": "reaction.set", "chat_id": "c", "seq": 1, "emoji": " "},
        {"action": "reaction.set", "chat_id": "c", "seq": 1, "emoji": "a\u2028"},
        {"action": "reaction.set", "chat_id": "c", "seq": 1, "emoji": "x" * 17},
        {"action": "chat.changes", "chat_id": "c"},
        {"action": "chat.changes", "chat_id": "c", "after_rev": 0, "limit": 101},
        {"action": "chat.notify", "chat_id": "c", "level": "off"},
    ],
)
def test_v3_refusals_are_bad_requests(body):
    with pytest.raises(FrameError) as err:
        parse(body)
    assert isinstance(err.value.error, BadRequest)


def test_attachments_parse_and_text_is_optional_with_files():
    from chalicelib.domain.requests import AttachmentCreate

    body = {"action": "attachment.create", "chat_id": "c", "name": "Ünïcode 📎.pdf", "size": 1}
    assert parse({**body, "content_type": "Application/PDF"}).request == AttachmentCreate(
        "c", "Ünïcode 📎.pdf", "application/pdf", 1
    )
    send = {"action": "message.send", "chat_id": "c", "client_msg_id": "k", "attachments": ["a_1", "a_2"]}
    assert parse(send).request == MessageSend("c", "k", "", attachments=("a_1", "a_2"))
    assert parse({**send, "text": ""}).request.text == ""


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "content_type": "a/b", "size": 1},
        {"name": "a\tb", "content_type": "a/b", "size": 1},
        {"name": "ok", "content_type": "a/b/c", "size": 1},
        {"name": "ok", "content_type": "/b", "size": 1},
        {"name": "ok", "content_type": "a/b", "size": 0},
        {"name": "ok", "content_type": "a/b", "size": 1.5},
        {"name": "ok", "content_type": "a/b"},
    ],
)
def test_attachment_refusals(body):
    with pytest.raises(FrameError) as err:
        parse({"action": "attachment.create", "chat_id": "c", **body})
    assert isinstance(err.value.error, BadRequest)
    with pytest.raises(FrameError) as err:
        parse(
            {
                "action": "attachment.create",
                "chat_id": "c",
                "name": "x",
                "content_type": "a/b",
                "size": 26214401,
            }
        )
    assert isinstance(err.value.error, TooLarge)
