from __future__ import annotations

import time

import jwt
import pytest

from chalicelib.auth import InvalidToken, issue_token, verify_token

SECRET = "unit-secret-" * 6  # 66 bytes: long enough for HS512 too


def test_round_trip_with_name():
    identity = verify_token(issue_token("alice@x.io", SECRET, name="Alice"), SECRET)
    assert (identity.user_id, identity.name) == ("alice@x.io", "Alice")


def test_expired_and_wrong_secret_and_wrong_alg():
    expired = jwt.encode({"sub": "a", "exp": int(time.time()) - 1}, SECRET, "HS256")
    with pytest.raises(InvalidToken):
        verify_token(expired, SECRET)
    with pytest.raises(InvalidToken):
        verify_token(issue_token("a", "another-secret-another-secret-123"), SECRET)
    hs512 = jwt.encode({"sub": "a", "exp": int(time.time()) + 60}, SECRET, "HS512")
    with pytest.raises(InvalidToken):
        verify_token(hs512, SECRET)


def test_issue_refuses_invalid_user_ids():
    with pytest.raises(ValueError):
        issue_token("bad user", SECRET)


def test_blank_name_is_none():
    token = jwt.encode({"sub": "a", "exp": int(time.time()) + 60, "name": "  "}, SECRET, "HS256")
    assert verify_token(token, SECRET).name is None
