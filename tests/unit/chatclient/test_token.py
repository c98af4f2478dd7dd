"""What the client reads from its own token."""

from __future__ import annotations

from chatclient.token import token_subject
from tests.unit.chatclient.fake_server import _b64, fake_jwt


def test_token_subject_reads_the_jwt_sub_and_rejects_anything_else():
    assert token_subject(fake_jwt("alice@example.com")) == "alice@example.com"
    assert token_subject("not a jwt") is None
    assert token_subject("a.!!!.c") is None
    assert token_subject(f"{_b64({})}.{_b64({'exp': 1})}.sig") is None
