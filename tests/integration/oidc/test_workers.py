"""CHAT_OIDC_* reach the handlers where ``make run`` runs them: in worker processes of their own
(chatlocal.functions.workers takes the stack's environment as it is when they start)."""

from __future__ import annotations

import pytest

from chalicelib.auth import issue_token
from tests.integration.conftest import run
from tests.integration.oidc.test_tokens import AUDIENCE, SECRET, status_of
from tests.oidc_provider import Issuer, JwksServer
from tests.stack import LocalStack


@pytest.fixture(scope="module")
def issuer():
    return Issuer("http://127.0.0.1:1/workers")


@pytest.fixture(scope="module")
def jwks(issuer):
    with JwksServer(issuer) as server:
        yield server


def test_worker_processes_verify_the_issuers_tokens_and_refuse_dev_tokens(jwks, issuer):
    env = {"CHAT_OIDC_ISSUER": issuer.url, "CHAT_OIDC_AUDIENCE": AUDIENCE, "CHAT_OIDC_JWKS_URL": jwks.url}
    with LocalStack(CHAT_JWT_SECRET=SECRET, **env) as stack:
        assert run(status_of(stack, issuer.token("w1", aud=AUDIENCE))) == 101
        assert run(status_of(stack, issue_token("w1", SECRET))) == 401
        assert jwks.requests >= 1
