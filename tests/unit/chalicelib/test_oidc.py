"""OpenID Connect tokens (chalicelib.identity.oidc): every refusal, with keys made for the run, and the key
cache's fetches counted on a fake clock (the JWKS "fetch" here is a function; the real one over
HTTP is exercised by tests/integration/oidc/test_tokens.py)."""

from __future__ import annotations

import json
import logging
import time

import jwt
import pytest

from chalicelib.auth import MAX_TOKEN_LIFETIME_SECONDS, InvalidToken
from chalicelib.identity.oidc import (
    KEYS_MAX_AGE_SECONDS,
    MAX_TOKEN_LENGTH,
    JwksUnavailable,
    KeyCache,
    OidcVerifier,
    parse_jwks,
)
from tests.fake_time import FakeClock
from tests.oidc_provider import Issuer, SigningKey

ISSUER = "https://issuer.test/pool"
AUDIENCE = "web-client"


class Jwks:
    """The fetch function: serves the issuer's current keys, or fails, and counts the calls."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self.calls = 0
        self.answer: bytes | None = None  # None: the issuer's keys
        self.fail = False

    def __call__(self, url: str, timeout: float) -> bytes:
        self.calls += 1
        assert timeout <= 2
        if self.fail:
            raise JwksUnavailable("connection refused")
        return self.answer if self.answer is not None else json.dumps(self.issuer.jwks()).encode()


@pytest.fixture(scope="module")
def rsa_key():
    return SigningKey.make("RS256", kid="rsa-1")


@pytest.fixture(scope="module")
def ec_key():
    return SigningKey.make("ES256", kid="ec-1")


@pytest.fixture
def issuer(rsa_key, ec_key):
    return Issuer(ISSUER, [rsa_key, ec_key])


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def jwks(issuer):
    return Jwks(issuer)


def verifier(jwks, clock, audience: str | None = AUDIENCE, refresh: float = 60) -> OidcVerifier:
    return OidcVerifier(ISSUER, audience, KeyCache("http://127.0.0.1/jwks", refresh, jwks, clock.clock))


@pytest.fixture
def check(jwks, clock):
    return verifier(jwks, clock)


def refused(check: OidcVerifier, token: str | None, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        check.verify(token)


# ---------------------------------------------------------------- accepted


def test_rs256_and_es256_tokens_are_accepted_with_one_fetch(check, issuer, rsa_key, ec_key, jwks):
    alice = check.verify(issuer.token("alice", rsa_key, aud=AUDIENCE, name="Alice"))
    bob = check.verify(issuer.token("bob", ec_key, aud=[AUDIENCE, "other"]))
    assert (alice.user_id, alice.name, bob.user_id, bob.name) == ("alice", "Alice", "bob", None)
    assert jwks.calls == 1


def test_a_cognito_access_token_is_accepted_by_its_client_id(check, issuer):
    token = issuer.token("0b5c-uuid", client_id=AUDIENCE, token_use="access", username="carol")
    assert check.verify(token).user_id == "0b5c-uuid"


def test_the_display_name_comes_from_name_then_cognito_username_then_preferred_username(check, issuer):
    def name(**claims):
        return check.verify(issuer.token("a", aud=AUDIENCE, **claims)).name

    assert name(name="N", **{"cognito:username": "C"}, preferred_username="P") == "N"
    assert name(name=" ", **{"cognito:username": "C"}, preferred_username="P") == "C"
    assert name(preferred_username="P") == "P"
    assert name(name="x" * 300) == "x" * 100


def test_without_an_audience_setting_any_aud_is_accepted(jwks, clock, issuer):
    assert verifier(jwks, clock, audience=None).verify(issuer.token("a", aud="anyone")).user_id == "a"


def test_a_token_without_kid_takes_the_only_key(jwks, clock, rsa_key):
    single = Issuer(ISSUER, [rsa_key])
    jwks.issuer = single
    token = jwt.encode({"iss": ISSUER, "sub": "a", "exp": int(time.time()) + 60}, rsa_key.private, "RS256")
    assert verifier(jwks, clock, audience=None).verify(token).user_id == "a"


# ---------------------------------------------------------------- refused


def test_missing_and_oversized_tokens(check):
    refused(check, None, "missing")
    refused(check, "", "missing")
    refused(check, "a" * (MAX_TOKEN_LENGTH + 1), "longer")


def test_alg_none_is_refused(check):
    token = jwt.encode(
        {"iss": ISSUER, "sub": "a", "exp": int(time.time()) + 60, "aud": AUDIENCE}, None, "none"
    )
    refused(check, token, "'none' refused")


def test_hs256_is_refused_even_keyed_with_the_public_key(check, rsa_key, jwks):
    """The classic confusion: HS256 "signed" with the RSA public key's bytes."""
    claims = {"iss": ISSUER, "sub": "a", "exp": int(time.time()) + 60, "aud": AUDIENCE}
    token = jwt.encode(claims, "a-shared-secret-of-32-bytes-long!", "HS256", headers={"kid": rsa_key.kid})
    refused(check, token, "'HS256' refused")
    assert jwks.calls == 0  # refused before any key is looked for


@pytest.mark.parametrize("algorithm", ["RS384", "PS256", "ES384", "EdDSA"])
def test_other_asymmetric_algorithms_are_refused(check, algorithm):
    header = jwt.utils.base64url_encode(json.dumps({"alg": algorithm, "kid": "rsa-1"}).encode()).decode()
    refused(check, f"{header}.e30.c2ln", f"'{algorithm}' refused")


def test_an_es256_header_on_an_rsa_key_is_refused(check, issuer, rsa_key, ec_key):
    forged = SigningKey("rsa-1", "ES256", ec_key.private)  # the RSA key's kid, an EC signature
    refused(check, issuer.token("a", forged, aud=AUDIENCE), "is for RS256, not ES256")


def test_a_token_signed_by_another_issuers_key_is_refused(check, rsa_key):
    impostor = SigningKey.make("RS256", kid=rsa_key.kid)  # same kid, another key
    refused(check, Issuer(ISSUER, [impostor]).token("a", aud=AUDIENCE), "Signature verification failed")


def test_an_unknown_kid_is_refused(check):
    stranger = SigningKey.make("RS256", kid="never-published")
    refused(check, Issuer(ISSUER, [stranger]).token("a", aud=AUDIENCE), "no key 'never-published'")


def test_another_issuer_or_none_is_refused(check, issuer):
    refused(check, issuer.token("a", aud=AUDIENCE, iss="https://evil.test"), "Invalid issuer")
    refused(check, issuer.token("a", aud=AUDIENCE, iss=None), "iss")


def test_exp_is_required_no_leeway_and_a_number(check, issuer):
    refused(check, issuer.token("a", aud=AUDIENCE, exp=None), "exp")
    refused(check, issuer.token("a", aud=AUDIENCE, exp=int(time.time()) - 1), "expired")
    refused(check, issuer.token("a", aud=AUDIENCE, exp="9999999999"), "exp")


def test_dates_keep_the_hs256_rules(check, issuer):
    now = int(time.time())
    refused(check, issuer.token("a", aud=AUDIENCE, nbf=now + 600), "not valid yet")
    too_long = now + MAX_TOKEN_LIFETIME_SECONDS + 3600
    refused(check, issuer.token("a", aud=AUDIENCE, iat=now, exp=too_long), "longer than 30 days")


@pytest.mark.parametrize("sub", ["has space", "x" * 65, "new\nline", "", None, 42])
def test_a_sub_that_is_not_a_user_id_is_refused(check, issuer, sub):
    refused(check, issuer.token(aud=AUDIENCE, sub=sub), "(?i)sub")


@pytest.mark.parametrize("aud", [["other", "another"], "other", [], 7])
def test_an_aud_without_ours_is_refused(check, issuer, aud):
    refused(check, issuer.token("a", aud=aud), "audience")


@pytest.mark.parametrize("client_id", ["other", None])
def test_without_aud_client_id_must_be_ours(check, issuer, client_id):
    refused(check, issuer.token("a", client_id=client_id, token_use="access"), "client")


# ---------------------------------------------------------------- the key cache


def test_an_unknown_kid_fetches_again_at_most_once_per_refresh_interval(check, issuer, jwks, clock, rsa_key):
    check.verify(issuer.token("a", aud=AUDIENCE))
    assert jwks.calls == 1
    rotated = SigningKey.make("RS256", kid="rsa-2")
    issuer.keys.append(rotated)
    for _ in range(5):  # a flood of tokens with the new kid within the minute: no fetch
        refused(check, issuer.token("a", rotated, aud=AUDIENCE), "no key 'rsa-2'")
    assert jwks.calls == 1
    clock.now += 60
    assert check.verify(issuer.token("b", rotated, aud=AUDIENCE)).user_id == "b"  # rotation
    assert check.verify(issuer.token("c", rsa_key, aud=AUDIENCE)).user_id == "c"
    assert jwks.calls == 2


@pytest.mark.parametrize(
    "answer",
    [None, b"<html>not json", b'{"keys": []}', b'{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}', b"[]"],
)
def test_a_failed_fetch_refuses_what_it_cannot_verify_and_says_so(jwks, clock, issuer, answer, caplog):
    jwks.fail = answer is None
    jwks.answer = answer
    check = verifier(jwks, clock)
    with caplog.at_level(logging.WARNING, logger="chalicelib.identity.oidc"):
        refused(check, issuer.token("a", aud=AUDIENCE), "no key 'rsa-1'")
    assert "cannot reach the OpenID Connect issuer's keys at http://127.0.0.1/jwks" in caplog.text
    refused(check, issuer.token("a", aud=AUDIENCE), "no key")
    assert jwks.calls == 1  # the next try waits for the interval
    jwks.fail, jwks.answer = False, None
    clock.now += 60
    assert check.verify(issuer.token("a", aud=AUDIENCE)).user_id == "a"


def test_a_failed_refetch_keeps_the_cached_keys(check, issuer, jwks, clock):
    check.verify(issuer.token("a", aud=AUDIENCE))
    jwks.fail = True
    clock.now += 60
    refused(check, Issuer(ISSUER, [SigningKey.make(kid="rsa-9")]).token("a", aud=AUDIENCE), "no key")
    assert jwks.calls == 2
    assert check.verify(issuer.token("b", aud=AUDIENCE)).user_id == "b"  # the cached key still works


def test_keys_are_fetched_again_after_an_hour_and_a_withdrawn_key_stops_working(
    check, issuer, jwks, clock, ec_key
):
    check.verify(issuer.token("a", aud=AUDIENCE))
    clock.now += KEYS_MAX_AGE_SECONDS - 1
    check.verify(issuer.token("a", aud=AUDIENCE))
    assert jwks.calls == 1
    issuer.keys.remove(ec_key)
    clock.now += 1
    check.verify(issuer.token("a", aud=AUDIENCE))
    assert jwks.calls == 2
    refused(check, issuer.token("a", ec_key, aud=AUDIENCE), "no key 'ec-1'")


def test_two_keys_and_no_kid_is_refused(check, issuer, rsa_key):
    token = jwt.encode({"iss": ISSUER, "sub": "a", "exp": int(time.time()) + 60}, rsa_key.private, "RS256")
    refused(check, token, "no kid")


def test_parse_jwks_keeps_only_rs256_and_es256_signing_keys(rsa_key, ec_key):
    p384 = SigningKey.make("ES256")
    document = {
        "keys": [
            rsa_key.jwk(),
            ec_key.jwk(),
            {**rsa_key.jwk(), "kid": "enc", "use": "enc"},
            {**rsa_key.jwk(), "kid": "rs384", "alg": "RS384"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {**p384.jwk(), "kid": "bad-alg", "alg": "none"},
        ]
    }
    assert sorted(parse_jwks(json.dumps(document).encode())) == ["ec-1", "rsa-1"]


# ---------------------------------------------------------------- settings


def test_settings_read_the_oidc_variables_and_refuse_a_bad_refresh_interval():
    from chalicelib.config import Settings
    from chalicelib.service import oidc_verifier

    env = {"CHAT_OIDC_ISSUER": " https://id.test ", "CHAT_OIDC_AUDIENCE": "web"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("os.environ", env)
        settings = Settings.from_env()
        assert (settings.oidc_issuer, settings.oidc_audience, settings.oidc_jwks_url) == (
            "https://id.test",
            "web",
            None,
        )
        assert settings.oidc_jwks_refresh_seconds == 60
        made = oidc_verifier(settings)
        assert made is not None and made.keys.url == "https://id.test/.well-known/jwks.json"
        env["CHAT_OIDC_JWKS_URL"] = "https://keys.test/jwks"
        made = oidc_verifier(Settings.from_env())
        assert made is not None and made.keys.url == "https://keys.test/jwks"
        for bad in ("-1", "soon", "nan"):
            env["CHAT_OIDC_JWKS_REFRESH_SECONDS"] = bad
            with pytest.raises(ValueError, match="CHAT_OIDC_JWKS_REFRESH_SECONDS"):
                Settings.from_env()
        patch.setattr("os.environ", {})
        assert oidc_verifier(Settings.from_env()) is None  # HS256 mode


def test_keys_over_plain_http_to_another_machine_are_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="chalicelib.identity.oidc"):
        OidcVerifier.from_settings("http://127.0.0.1:9000/pool", None, None, 60)
        OidcVerifier.from_settings("https://id.test", None, None, 60)
        assert caplog.text == ""
        OidcVerifier.from_settings("https://id.test", None, "http://keys.example/jwks", 60)
    assert "plain http from http://keys.example/jwks: use https" in caplog.text
