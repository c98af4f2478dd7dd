"""What verifying OpenID Connect tokens costs the issuer, counted at the test-run JWKS server:
with the default refresh interval (60 s) the keys are fetched once, never per connection, and a
flood of tokens naming unknown keys adds at most one fetch a minute."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import run
from tests.integration.oidc.test_tokens import AUDIENCE, SECRET, status_of
from tests.oidc_provider import Issuer, JwksServer, SigningKey
from tests.stack import ONE_PROCESS, LocalStack


@pytest.fixture(scope="module")
def issuer():
    return Issuer("http://127.0.0.1:1/fetches", [SigningKey.make("ES256")])


@pytest.fixture(scope="module")
def jwks(issuer):
    with JwksServer(issuer) as server:
        yield server


@pytest.fixture(scope="module")
def stack(jwks, issuer):
    env = {"CHAT_OIDC_ISSUER": issuer.url, "CHAT_OIDC_AUDIENCE": AUDIENCE, "CHAT_OIDC_JWKS_URL": jwks.url}
    with LocalStack(CHAT_JWT_SECRET=SECRET, **env, **ONE_PROCESS) as running:
        yield running


def test_keys_are_fetched_once_and_unknown_kids_do_not_make_the_stack_fetch_per_connection(
    stack, issuer, jwks
):
    started = time.monotonic()
    assert jwks.requests == 0  # nothing is fetched before the first token

    async def scenario():
        for n in range(5):
            assert await status_of(stack, issuer.token(f"known-{n}", aud=AUDIENCE)) == 101
        assert jwks.requests == 1
        for n in range(10):
            stranger = SigningKey.make("ES256")
            assert await status_of(stack, Issuer(issuer.url, [stranger]).token(f"x-{n}", aud=AUDIENCE)) == 401
        assert await status_of(stack, issuer.token("known-again", aud=AUDIENCE)) == 101

    run(scenario())
    minutes = int((time.monotonic() - started) // 60)
    assert jwks.requests <= 1 + minutes  # on a machine this slow, one more fetch a minute at most
