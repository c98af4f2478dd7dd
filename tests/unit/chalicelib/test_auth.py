from __future__ import annotations

import time

import jwt
import pytest

from chalicelib.auth import (
    CLOCK_LEEWAY_SECONDS,
    MAX_TOKEN_LIFETIME_SECONDS,
    InvalidToken,
    issue_token,
    verify_token,
)

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


def test_a_token_issued_by_a_clock_slightly_ahead_is_accepted():
    now = int(time.time())
    ahead = jwt.encode(
        {"sub": "alice", "exp": now + 60, "iat": now + 5, "nbf": now + 5}, SECRET, algorithm="HS256"
    )
    assert verify_token(ahead, SECRET).user_id == "alice"
    far = jwt.encode({"sub": "alice", "exp": now + 600, "nbf": now + 120}, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify_token(far, SECRET)


@pytest.mark.parametrize("exp", ["tomorrow", None, "9999999999", True])
def test_exp_must_be_a_number(exp):
    token = jwt.encode({"sub": "alice", "exp": exp}, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify_token(token, SECRET)


def test_a_user_id_with_a_trailing_newline_is_not_a_user_id():
    with pytest.raises(ValueError):
        issue_token("bob\n", SECRET)


def test_a_token_past_the_size_limit_is_refused_before_it_is_decoded():
    from chalicelib.auth import MAX_TOKEN_LENGTH

    token = jwt.encode({"sub": "alice", "exp": 9_999_999_999, "pad": "x" * MAX_TOKEN_LENGTH}, SECRET)
    with pytest.raises(InvalidToken, match="longer than"):
        verify_token(token, SECRET)
    later = int(time.time()) + 60
    assert verify_token(jwt.encode({"sub": "alice", "exp": later, "pad": "x" * 2000}, SECRET), SECRET)


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": 10**30},  # never expires
        {"exp": 10**30, "iat": 0},
        {"exp": 9_999_999_999},  # the year 2286
        {"exp": "now + 31 days"},
        {"exp": "now + 31 days", "iat": "now"},
        {"exp": "now + 10 days", "iat": "now - 21 days"},  # 31 days of life, 10 left: still too long
    ],
)
def test_a_token_living_longer_than_the_cap_is_refused(claims):
    now = int(time.time())
    moments = {"now": now, "now - 21 days": now - 21 * 86400, "now + 10 days": now + 10 * 86400}
    moments["now + 31 days"] = now + 31 * 86400
    resolved = {k: moments.get(v, v) if isinstance(v, str) else v for k, v in claims.items()}
    token = jwt.encode({"sub": "alice", **resolved}, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken, match="longer than 30 days"):
        verify_token(token, SECRET)


def test_a_token_of_up_to_30_days_is_accepted():
    now = int(time.time())
    assert MAX_TOKEN_LIFETIME_SECONDS == 30 * 86400  # the number docs/protocol.md and docs/deploy.md give
    for claims in (
        {"exp": now + MAX_TOKEN_LIFETIME_SECONDS},
        {"exp": now + MAX_TOKEN_LIFETIME_SECONDS + CLOCK_LEEWAY_SECONDS, "iat": now},
        {"exp": now + 86400, "iat": now - 29 * 86400},
    ):
        assert (
            verify_token(jwt.encode({"sub": "alice", **claims}, SECRET, algorithm="HS256"), SECRET).user_id
            == "alice"
        )


def test_issued_tokens_carry_iat_and_their_lifetime_is_capped():
    claims = jwt.decode(issue_token("alice", SECRET, ttl_seconds=60), SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 60
    issue_token("alice", SECRET, ttl_seconds=MAX_TOKEN_LIFETIME_SECONDS)
    for ttl in (0, -1, MAX_TOKEN_LIFETIME_SECONDS + 1):
        with pytest.raises(ValueError, match="ttl_seconds"):
            issue_token("alice", SECRET, ttl_seconds=ttl)
