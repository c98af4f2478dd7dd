"""Adversarial probes: tokens an attacker could forge or bend, and a connection reaching into
chats that are not its own. Each refusal must leave every table as it was and send no frame.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.auth import CLOCK_LEEWAY_SECONDS, MAX_TOKEN_LENGTH
from chalicelib.testing import SECRET
from tests.functional.snapshot import table_snapshot

NOW = int(time.time())
LATER = NOW + 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forged(header: dict[str, Any], claims: Any, key: bytes | None = None, signature: bytes = b"") -> str:
    """A JWT assembled by hand (PyJWT refuses to sign some of these)."""
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claims).encode())
    if key is not None:
        signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


def signed(claims: dict[str, Any], algorithm: str = "HS256", key: Any = SECRET) -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_public_pem = _rsa.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)

FORGED_TOKENS = [
    ("alg none, no signature", forged({"alg": "none", "typ": "JWT"}, {"sub": "alice", "exp": LATER})),
    ("alg None, no signature", forged({"alg": "None"}, {"sub": "alice", "exp": LATER})),
    (
        "alg none, the real signature kept",
        forged({"alg": "none"}, {"sub": "alice", "exp": LATER}, key=SECRET.encode()),
    ),
    ("RS256 with an attacker's key", signed({"sub": "alice", "exp": LATER}, "RS256", _rsa)),
    (
        "HS256 keyed with an RSA public key (HS/RS confusion)",
        forged({"alg": "HS256"}, {"sub": "alice", "exp": LATER}, key=_public_pem),
    ),
    ("HS512 with the right secret", signed({"sub": "alice", "exp": LATER}, "HS512")),
    ("HS256 with another secret", signed({"sub": "alice", "exp": LATER}, key="x" * 40)),
    ("signature stripped", signed({"sub": "alice", "exp": LATER}).rsplit(".", 1)[0] + "."),
    ("claims swapped under a valid signature", "tampered"),
    ("missing exp", signed({"sub": "alice"})),
    ("exp a string", forged({"alg": "HS256"}, {"sub": "alice", "exp": str(LATER)}, key=SECRET.encode())),
    ("exp null", forged({"alg": "HS256"}, {"sub": "alice", "exp": None}, key=SECRET.encode())),
    ("exp Infinity", forged({"alg": "HS256"}, {"sub": "alice", "exp": float("inf")}, key=SECRET.encode())),
    ("exp NaN", forged({"alg": "HS256"}, {"sub": "alice", "exp": float("nan")}, key=SECRET.encode())),
    ("exp true", forged({"alg": "HS256"}, {"sub": "alice", "exp": True}, key=SECRET.encode())),
    ("exp in the past", signed({"sub": "alice", "exp": NOW - 1})),
    ("exp 10**30: never expires", signed({"sub": "alice", "exp": 10**30})),
    ("exp 31 days past iat", signed({"sub": "alice", "iat": NOW, "exp": NOW + 31 * 86400})),
    ("nbf past the leeway", signed({"sub": "alice", "exp": LATER, "nbf": NOW + CLOCK_LEEWAY_SECONDS + 1800})),
    ("iat past the leeway", signed({"sub": "alice", "exp": LATER, "iat": NOW + CLOCK_LEEWAY_SECONDS + 1800})),
    ("nbf a string", signed({"sub": "alice", "exp": LATER, "nbf": "0"})),
    ("missing sub", signed({"exp": LATER})),
    ("sub empty", signed({"sub": "", "exp": LATER})),
    ("sub with a trailing newline", signed({"sub": "alice\n", "exp": LATER})),
    ("sub with a newline inside", signed({"sub": "ali\nce", "exp": LATER})),
    ("sub 10 KB", signed({"sub": "a" * 10_000, "exp": LATER})),
    ("sub a number", forged({"alg": "HS256"}, {"sub": 42, "exp": LATER}, key=SECRET.encode())),
    ("sub a list", forged({"alg": "HS256"}, {"sub": ["alice"], "exp": LATER}, key=SECRET.encode())),
    ("sub null", forged({"alg": "HS256"}, {"sub": None, "exp": LATER}, key=SECRET.encode())),
    ("sub a look-alike (Cyrillic o)", signed({"sub": "b\u043eb", "exp": LATER})),
    ("sub with a space", signed({"sub": " alice", "exp": LATER})),
    ("claims not an object", forged({"alg": "HS256"}, ["alice"], key=SECRET.encode())),
    ("100 KB token", signed({"sub": "alice", "exp": LATER, "pad": "x" * 100_000})),
    ("just over the size limit", signed({"sub": "alice", "exp": LATER, "pad": "x" * MAX_TOKEN_LENGTH})),
    ("not base64", "!!!.???.***"),
]


def _tampered() -> str:
    """A valid token's signature over someone else's claims."""
    head, _, sig = signed({"sub": "alice", "exp": LATER}).split(".")
    body = b64url(json.dumps({"sub": "bob", "exp": LATER}).encode())
    return f"{head}.{body}.{sig}"


@pytest.mark.parametrize(("case", "token"), FORGED_TOKENS, ids=[c[0] for c in FORGED_TOKENS])
def test_a_forged_or_bent_token_is_refused_with_401_and_nothing_written(harness, case, token):
    token = _tampered() if token == "tampered" else token
    before = table_snapshot()
    response = harness.call("$connect", "probe=", query={"token": token})
    assert response["statusCode"] == 401, case
    assert table_snapshot() == before
    reply = harness.api.frames  # and the connection cannot act either
    harness.call("$default", "probe=", body={"action": "chat.list", "req": "1"})
    assert [f["code"] for f in reply["probe="]] == ["forbidden"]


def test_the_clock_leeway_accepts_a_token_from_a_clock_slightly_ahead(harness):
    """iat and nbf may be up to CLOCK_LEEWAY_SECONDS ahead (documented); exp has no leeway."""
    ahead = NOW + CLOCK_LEEWAY_SECONDS - 5
    token = signed({"sub": "alice", "exp": LATER, "iat": ahead, "nbf": ahead})
    assert harness.call("$connect", "ahead=", query={"token": token})["statusCode"] == 200


def test_the_token_decides_who_a_connection_is_not_the_frame(harness):
    alice, bob = harness.connect("alice"), harness.connect("bob")
    chat_id = harness.chat(alice, "bob")
    bob.frames()
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="hi", sender_id="bob", user_id="bob")
    [frame] = bob.frames()
    assert frame["message"]["sender_id"] == "alice"


# ---------------------------------------------------------------- other people's chats

CHAT_ACTIONS = [
    ("chat.open", {}),
    ("chat.close", {}),
    ("chat.history", {}),
    ("chat.history", {"after": 0}),
    ("chat.members", {}),
    ("message.send", {"client_msg_id": "sneak", "text": "let me in"}),
    ("message.delivered", {"seq": 1}),
    ("message.read", {"seq": 1}),
    ("typing", {"typing": True}),
    ("chat.add", {"members": ["mallory"]}),
    ("chat.remove", {"members": ["bob"]}),
    ("chat.leave", {}),
    ("chat.update", {"title": "owned"}),
    ("chat.update", {"admins": ["mallory"]}),
    ("chat.mute", {"muted": True}),
    ("message.report", {"seq": 1}),
]


@pytest.fixture
def outsider(harness):
    """alice and bob share a group with a message; mallory was in it and left; eve never was."""
    alice, bob = harness.connect("alice"), harness.connect("bob")
    mallory, eve = harness.connect("mallory"), harness.connect("eve")
    chat_id = harness.chat(alice, "bob", "mallory", title="private")
    alice.send("message.send", chat_id=chat_id, client_msg_id="k0", text="secret")
    assert mallory.send("chat.leave", chat_id=chat_id)["event"] == "chat:left"
    for client in (alice, bob, mallory, eve):
        client.frames()
    return alice, bob, mallory, eve, chat_id


@pytest.mark.parametrize(
    ("action", "fields"), CHAT_ACTIONS, ids=[f"{a} {sorted(f)}" for a, f in CHAT_ACTIONS]
)
def test_a_connection_cannot_act_on_a_chat_it_is_not_in(harness, outsider, action, fields):
    alice, bob, mallory, eve, chat_id = outsider
    before = table_snapshot()
    for who, chat in (
        (eve, chat_id),  # never a member
        (mallory, chat_id),  # a member once
        (eve, "c_01JD3W8Q5R9T2V7X4Y6Z8A0B1C"),  # no such chat: the same answer, word for word
        (eve, "d_" + "0" * 40),
    ):
        reply = who.send(action, chat_id=chat, **fields)
        assert reply is not None and reply["event"] == "error", (action, reply)
        assert reply["code"] == "forbidden", (action, reply)
        assert reply["message"] == f"not a member of chat {chat}", (action, reply)
        assert "secret" not in json.dumps(reply)
    assert table_snapshot() == before
    assert [c.frames() for c in (alice, bob, mallory, eve)] == [[], [], [], []]


def test_a_member_who_left_hears_nothing_more_of_the_chat(harness, outsider):
    alice, _, mallory, eve, chat_id = outsider
    alice.send("message.send", chat_id=chat_id, client_msg_id="k1", text="after mallory left")
    alice.send("message.read", chat_id=chat_id, seq=3)
    alice.send("typing", chat_id=chat_id, typing=True)
    assert mallory.frames() == [] and eve.frames() == []
    listed = [c["chat_id"] for c in mallory.send("chat.list")["chats"]]
    assert chat_id not in listed


def _sha256_pair_id(user_a: str, user_b: str) -> str:
    """How anyone could compute a direct chat id before ids were keyed."""
    first, second = sorted((user_a, user_b))
    return "d_" + hashlib.sha256(f"{first}\n{second}".encode()).hexdigest()[:40]


@pytest.mark.parametrize(
    ("action", "fields"), CHAT_ACTIONS, ids=[f"{a} {sorted(f)}" for a, f in CHAT_ACTIONS]
)
def test_a_non_member_cannot_tell_whether_two_others_have_a_direct_chat(harness, action, fields):
    """The oracle: alice and bob have a direct chat, carol and dave do not. eve computes the ids
    she can (the SHA-256 of the pair) and asks: every answer is the same, and the real id is
    none she can compute."""
    alice, bob, eve = harness.connect("alice"), harness.connect("bob"), harness.connect("eve")
    real = alice.send("chat.create", members=["bob"], direct=True)["chat"]["chat_id"]
    alice.send("message.send", chat_id=real, client_msg_id="k0", text="secret")
    assert real != _sha256_pair_id("alice", "bob")  # not computable without the stack's secret
    for client in (alice, bob, eve):
        client.frames()
    before = table_snapshot()
    answers = []
    for pair in (("alice", "bob"), ("carol", "dave")):
        for chat_id in (_sha256_pair_id(*pair), real if pair == ("alice", "bob") else None):
            if chat_id is None:
                continue
            reply = eve.send(action, chat_id=chat_id, **fields)
            assert reply is not None and reply["event"] == "error", (action, reply)
            answers.append((reply["code"], reply["message"].replace(chat_id, "ID")))
    assert len(set(answers)) == 1 and answers[0][0] == "forbidden", answers
    assert table_snapshot() == before
    assert [c.frames() for c in (alice, bob, eve)] == [[], [], []]
