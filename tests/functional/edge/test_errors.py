"""Bad input gets the protocol's error frame and changes nothing."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.protocol import MAX_FRAME_BYTES
from chalicelib.testing import SECRET
from tests.functional.snapshot import table_snapshot


@pytest.fixture
def world(harness):
    """alice and bob share a chat with one message; carol is in none of it."""
    a, b, c = harness.connect("alice"), harness.connect("bob"), harness.connect("carol")
    chat_id = harness.chat(a, "bob")
    a.send("message.send", chat_id=chat_id, client_msg_id="k0", text="hello")
    for x in (a, b, c):
        x.frames()
    return a, b, c, chat_id


def only_error(client, body) -> dict:
    client.raw(body)
    [frame] = client.frames()
    assert frame["event"] == "error", frame
    assert set(frame) <= {"event", "req", "code", "message"} and frame["message"]
    return frame


BAD_FRAMES = [
    ("not json", "{nope", "bad_request"),
    ("json but not an object", "[1, 2]", "bad_request"),
    ("a bare string", '"ping"', "bad_request"),
    ("null", "null", "bad_request"),
    ("no action", {"req": "1"}, "bad_request"),
    ("action not a string", {"action": 7}, "bad_request"),
    ("unknown action", {"action": "chat.delete"}, "bad_request"),
    ("req too long", {"action": "ping", "req": "x" * 65}, "bad_request"),
    ("req not a string", {"action": "ping", "req": 5}, "bad_request"),
    ("create: members missing", {"action": "chat.create"}, "bad_request"),
    ("create: members not a list", {"action": "chat.create", "members": "bob"}, "bad_request"),
    ("create: bad user id", {"action": "chat.create", "members": ["bob smith"]}, "bad_request"),
    ("create: title not a string", {"action": "chat.create", "members": [], "title": 5}, "bad_request"),
    ("create: title too long", {"action": "chat.create", "members": [], "title": "t" * 201}, "too_large"),
    (
        "create: too many members",
        {"action": "chat.create", "members": [f"u{i}" for i in range(1001)]},
        "too_large",
    ),
    (
        "create: 1,000 others + creator",
        {"action": "chat.create", "members": [f"u{i}" for i in range(1000)]},
        "too_large",
    ),
    ("open: chat_id missing", {"action": "chat.open"}, "bad_request"),
    ("open: chat_id not a string", {"action": "chat.open", "chat_id": 3}, "bad_request"),
    ("open: chat_id empty", {"action": "chat.open", "chat_id": ""}, "bad_request"),
    ("history: limit 0", {"action": "chat.history", "chat_id": "CHAT", "limit": 0}, "bad_request"),
    ("history: limit 101", {"action": "chat.history", "chat_id": "CHAT", "limit": 101}, "bad_request"),
    ("history: before a string", {"action": "chat.history", "chat_id": "CHAT", "before": "5"}, "bad_request"),
    ("history: after negative", {"action": "chat.history", "chat_id": "CHAT", "after": -1}, "bad_request"),
    ("history: limit a float", {"action": "chat.history", "chat_id": "CHAT", "limit": 2.5}, "bad_request"),
    (
        "send: text missing",
        {"action": "message.send", "chat_id": "CHAT", "client_msg_id": "k"},
        "bad_request",
    ),
    (
        "send: text empty",
        {"action": "message.send", "chat_id": "CHAT", "client_msg_id": "k", "text": ""},
        "bad_request",
    ),
    (
        "send: text not a string",
        {"action": "message.send", "chat_id": "CHAT", "client_msg_id": "k", "text": 1},
        "bad_request",
    ),
    (
        "send: text over 4096",
        {"action": "message.send", "chat_id": "CHAT", "client_msg_id": "k", "text": "x" * 4097},
        "too_large",
    ),
    (
        "send: client_msg_id missing",
        {"action": "message.send", "chat_id": "CHAT", "text": "hi"},
        "bad_request",
    ),
    (
        "send: client_msg_id bad",
        {"action": "message.send", "chat_id": "CHAT", "client_msg_id": "a b", "text": "hi"},
        "bad_request",
    ),
    (
        "send: client_msg_id too long",
        {"action": "message.send", "chat_id": "CHAT", "client_msg_id": "k" * 65, "text": "hi"},
        "bad_request",
    ),
    (
        "send: lone surrogate",
        '{"action":"message.send","chat_id":"CHAT","client_msg_id":"k","text":"\\ud800"}',
        "bad_request",
    ),
    ("read: seq missing", {"action": "message.read", "chat_id": "CHAT"}, "bad_request"),
    ("read: seq boolean", {"action": "message.read", "chat_id": "CHAT", "seq": True}, "bad_request"),
    ("delivered: seq negative", {"action": "message.delivered", "chat_id": "CHAT", "seq": -1}, "bad_request"),
    ("typing: flag missing", {"action": "typing", "chat_id": "CHAT"}, "bad_request"),
    ("typing: flag not bool", {"action": "typing", "chat_id": "CHAT", "typing": 1}, "bad_request"),
    ("frame over 128 KiB", {"action": "ping", "pad": "x" * MAX_FRAME_BYTES}, "too_large"),
    # version 2: groups that change, direct chats, paged lists
    ("create: direct not a bool", {"action": "chat.create", "members": ["bob"], "direct": 1}, "bad_request"),
    (
        "create: direct with a title",
        {"action": "chat.create", "members": ["bob"], "direct": True, "title": "t"},
        "bad_request",
    ),
    (
        "create: direct with two",
        {"action": "chat.create", "members": ["bob", "carol"], "direct": True},
        "bad_request",
    ),
    (
        "create: direct with self",
        {"action": "chat.create", "members": ["alice"], "direct": True},
        "bad_request",
    ),
    ("create: trailing newline id", {"action": "chat.create", "members": ["bob\n"]}, "bad_request"),
    ("list: limit 0", {"action": "chat.list", "limit": 0}, "bad_request"),
    ("list: limit 101", {"action": "chat.list", "limit": 101}, "bad_request"),
    ("list: cursor a number", {"action": "chat.list", "cursor": 5}, "bad_request"),
    ("list: cursor garbage", {"action": "chat.list", "cursor": "garbage"}, "bad_request"),
    ("members: chat_id missing", {"action": "chat.members"}, "bad_request"),
    ("members: unknown chat", {"action": "chat.members", "chat_id": "c_none"}, "forbidden"),
    ("add: members missing", {"action": "chat.add", "chat_id": "CHAT"}, "bad_request"),
    ("add: members not a list", {"action": "chat.add", "chat_id": "CHAT", "members": "carol"}, "bad_request"),
    ("add: bad user id", {"action": "chat.add", "chat_id": "CHAT", "members": ["a b"]}, "bad_request"),
    (
        "add: past 1,000",
        {"action": "chat.add", "chat_id": "CHAT", "members": [f"u{i}" for i in range(999)]},
        "too_large",
    ),
    ("add: unknown chat", {"action": "chat.add", "chat_id": "c_none", "members": ["carol"]}, "forbidden"),
    ("remove: yourself", {"action": "chat.remove", "chat_id": "CHAT", "members": ["alice"]}, "bad_request"),
    ("remove: members missing", {"action": "chat.remove", "chat_id": "CHAT"}, "bad_request"),
    ("leave: chat_id missing", {"action": "chat.leave"}, "bad_request"),
    ("update: nothing to update", {"action": "chat.update", "chat_id": "CHAT"}, "bad_request"),
    ("update: title not a string", {"action": "chat.update", "chat_id": "CHAT", "title": 3}, "bad_request"),
    ("update: title too long", {"action": "chat.update", "chat_id": "CHAT", "title": "t" * 201}, "too_large"),
    (
        "update: admins not a list",
        {"action": "chat.update", "chat_id": "CHAT", "admins": "bob"},
        "bad_request",
    ),
    ("update: admins empty", {"action": "chat.update", "chat_id": "CHAT", "admins": []}, "bad_request"),
    (
        "update: admin not a member",
        {"action": "chat.update", "chat_id": "CHAT", "admins": ["carol"]},
        "bad_request",
    ),
    (
        "update: too many admins",
        {"action": "chat.update", "chat_id": "CHAT", "admins": [f"u{i}" for i in range(101)]},
        "too_large",
    ),
]


@pytest.mark.parametrize(("case", "body", "code"), BAD_FRAMES, ids=[c[0] for c in BAD_FRAMES])
def test_bad_frames_get_one_error_and_change_nothing(world, case, body, code):
    a, b, _, chat_id = world
    if isinstance(body, dict):
        body = json.loads(json.dumps(body).replace("CHAT", chat_id))
    else:
        body = body.replace("CHAT", chat_id)
    before = table_snapshot()
    frame = only_error(a, body)
    assert frame["code"] == code, frame
    assert table_snapshot() == before
    assert b.frames() == []


def test_error_echoes_req_when_readable(world):
    a, *_ = world
    frame = only_error(a, {"action": "chat.open", "req": "abc"})
    assert frame["req"] == "abc"
    assert "req" not in only_error(a, "{nope")


@pytest.mark.parametrize(
    "action,fields",
    [
        ("chat.open", {}),
        ("chat.close", {}),
        ("chat.history", {}),
        ("message.send", {"client_msg_id": "k1", "text": "let me in"}),
        ("message.delivered", {"seq": 1}),
        ("message.read", {"seq": 1}),
        ("typing", {"typing": True}),
    ],
)
def test_non_member_and_unknown_chat_get_the_same_forbidden(world, action, fields):
    """A non-member cannot tell a chat that exists from one that does not."""
    a, b, carol, chat_id = world
    before = table_snapshot()
    reply = carol.send(action, chat_id=chat_id, **fields)
    assert reply["event"] == "error" and reply["code"] == "forbidden"
    missing = carol.send(action, chat_id="c_doesnotexist", **fields)
    assert missing["event"] == "error" and missing["code"] == "forbidden"
    assert reply["message"].replace(chat_id, "ID") == missing["message"].replace("c_doesnotexist", "ID")
    assert table_snapshot() == before
    assert a.frames() == [] and b.frames() == [] and carol.frames() == []


def test_binary_frame_is_refused(harness):
    a = harness.connect("alice")
    event_body = "eyJhY3Rpb24iOiJwaW5nIn0="  # base64 of {"action":"ping"}
    from chalicelib.testing import ws_event

    event = ws_event("$default", a.connection_id, body=event_body)
    event["isBase64Encoded"] = True
    import app as chalice_app

    chalice_app.message(event, None)
    [frame] = a.frames()
    assert frame["event"] == "error" and frame["code"] == "bad_request"


def test_unregistered_connection_gets_forbidden(harness, api):
    harness.call("$default", "ghost=", body={"action": "chat.list", "req": "1"})
    [frame] = api.take("ghost=")
    assert frame == {
        "event": "error",
        "req": "1",
        "code": "forbidden",
        "message": "this connection is not registered; reconnect",
        "reason": "unregistered",  # tells clients it is not about a chat
    }


def test_a_non_member_gets_forbidden_without_a_reason(harness):
    a, c = harness.connect("alice"), harness.connect("carol")
    chat_id = harness.chat(a, "bob")
    reply = c.send("chat.open", chat_id=chat_id)
    assert reply["code"] == "forbidden" and "reason" not in reply


# ---------------------------------------------------------------- $connect


def _token(**claims) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


NOW = int(time.time())
BAD_TOKENS = [
    ("missing", None),
    ("empty", ""),
    ("malformed", "not-a-jwt"),
    (
        "badly signed",
        jwt.encode({"sub": "alice", "exp": NOW + 60}, "another-secret-of-sufficient-len", "HS256"),
    ),
    ("expired", _token(sub="alice", exp=NOW - 10)),
    ("no exp", _token(sub="alice")),
    ("no sub", _token(exp=NOW + 60)),
    ("sub not a user id", _token(sub="alice smith", exp=NOW + 60)),
    ("sub too long", _token(sub="a" * 65, exp=NOW + 60)),
    ("alg none", jwt.encode({"sub": "alice", "exp": NOW + 60}, None, algorithm="none")),
]


@pytest.mark.parametrize(("case", "token"), BAD_TOKENS, ids=[c[0] for c in BAD_TOKENS])
def test_bad_token_is_refused_with_401_and_no_record(harness, case, token):
    before = table_snapshot()
    query = None if token is None else {"token": token}
    response = harness.call("$connect", "refused=", query=query)
    assert response["statusCode"] == 401
    assert table_snapshot() == before


def test_connect_records_the_connection_with_a_ttl(harness):
    from chalicelib.storage.tables import ConnectionItem, PresenceItem

    a = harness.connect("alice")
    item = ConnectionItem.get(a.connection_id)
    assert item.user_id == "alice"
    assert 7000 < item.expires_at.timestamp() - time.time() <= 7500
    assert a.connection_id in PresenceItem.get("alice").conns.as_dict()


# ---------------------------------------------------------------- property: $default never breaks

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
ACTIONS = [
    "ping", "chat.create", "chat.list", "chat.open", "chat.close", "chat.history",
    "message.send", "message.delivered", "message.read", "typing", "nope",
]  # fmt: skip
frames = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"action": st.sampled_from(ACTIONS)},
        optional={
            "req": st.one_of(st.text(max_size=70), st.integers()),
            "chat_id": st.one_of(st.just("CHAT"), st.text(max_size=10), st.integers()),
            "members": st.lists(st.sampled_from(["bob", "carol", "x y", ""]), max_size=3) | json_values,
            "title": json_values,
            "text": st.text(max_size=30) | json_values,
            "client_msg_id": st.text(max_size=10) | json_values,
            "seq": st.integers(-3, 10) | json_values,
            "before": st.integers(-1, 10) | json_values,
            "after": st.integers(-1, 10) | json_values,
            "limit": st.integers(-1, 200) | json_values,
            "typing": st.booleans() | json_values,
        },
    ).map(json.dumps),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=frames)
def test_any_frame_gets_exactly_one_reply_and_never_crashes(world, body):
    a, _, _, chat_id = world
    body = body.replace("CHAT", chat_id)
    a.raw(body)  # an unhandled exception here fails the test
    replies = a.frames()
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    valid_typing = (
        isinstance(parsed, dict)
        and parsed.get("action") == "typing"
        and parsed.get("chat_id") == chat_id
        and isinstance(parsed.get("typing"), bool)
        and (parsed.get("req") is None or (isinstance(parsed.get("req"), str) and len(parsed["req"]) <= 64))
    )
    if valid_typing:
        assert replies == []
    else:
        assert len(replies) == 1, (body, replies)
        assert replies[0]["event"] != "error" or replies[0]["code"] in {
            "bad_request", "forbidden", "not_found", "too_large",
        }  # fmt: skip
