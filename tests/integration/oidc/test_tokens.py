"""OpenID Connect over real sockets: the local stack (one process: its handlers share one key
cache, as a Lambda container's invocations do) verifies tokens of a test-run issuer whose JWKS
server runs here, on 127.0.0.1. ``CHAT_OIDC_JWKS_REFRESH_SECONDS=0`` lets every
unknown ``kid`` fetch the keys again (so that rotation and a broken JWKS can be shown without
waiting a minute); tests/integration/oidc/test_fetches.py keeps the default and counts fetches."""

from __future__ import annotations

import json
import time

import jwt
import pytest
import websockets

from tests.integration.conftest import run
from tests.integration.peer import Peer
from tests.oidc_provider import Issuer, JwksServer, SigningKey
from tests.stack import ONE_PROCESS, LocalStack

AUDIENCE = "chat-web"
SECRET = "oidc-integration-secret-" * 2


@pytest.fixture(scope="module")
def issuer():
    return Issuer("http://127.0.0.1:1/issuer", [SigningKey.make("RS256"), SigningKey.make("ES256")])


@pytest.fixture(scope="module")
def jwks(issuer):
    with JwksServer(issuer) as server:
        yield server


@pytest.fixture(scope="module")
def stack(jwks, issuer):
    with LocalStack(
        CHAT_JWT_SECRET=SECRET,
        CHAT_OIDC_ISSUER=issuer.url,
        CHAT_OIDC_AUDIENCE=AUDIENCE,
        CHAT_OIDC_JWKS_URL=jwks.url,
        CHAT_OIDC_JWKS_REFRESH_SECONDS="0",
        **ONE_PROCESS,
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def healthy_jwks(jwks):
    jwks.mode = "ok"
    yield
    jwks.mode = "ok"


def url(stack, token: str) -> str:
    return f"{stack.ws_base}?token={token}"


async def status_of(stack, token: str) -> int:
    """The handshake's status: 101 when it opened (and then closed), else the refusal's."""
    try:
        ws = await websockets.connect(url(stack, token), open_timeout=30)
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    await ws.close()
    return 101


async def pong(peer: Peer) -> bool:
    return (await peer.request("ping", timeout=60))["event"] == "pong"


def test_rs256_and_es256_tokens_connect_as_their_sub_with_their_name(stack, issuer, user):
    rsa, ec = issuer.keys
    alice, bob = user("alice"), user("bob")

    async def scenario():
        a = await Peer.connect(url(stack, issuer.token(alice, rsa, aud=AUDIENCE, name="Alice A")), alice)
        b = await Peer.connect(url(stack, issuer.token(bob, ec, aud=[AUDIENCE, "x"])), bob)
        assert await pong(a) and await pong(b)
        chat = (await a.request("chat.create", members=[bob], title="oidc", timeout=60))["chat"]
        await b.request("chat.open", chat_id=chat["chat_id"], timeout=60)
        await a.request(
            "message.send", chat_id=chat["chat_id"], client_msg_id="k1", text="hello over OIDC", timeout=60
        )
        frame = await b.expect("chat:message", timeout=60)
        assert (frame["message"]["sender_id"], frame["message"]["text"]) == (alice, "hello over OIDC")
        await a.close()
        await b.close()

    run(scenario())


def test_a_new_kid_is_accepted_without_a_restart(stack, issuer, user):
    rotated = SigningKey.make("RS256")
    issuer.keys.append(rotated)
    try:
        assert run(status_of(stack, issuer.token(user("rot"), rotated, aud=AUDIENCE))) == 101
    finally:
        issuer.keys.remove(rotated)


def test_a_cognito_access_token_is_taken_by_its_client_id(stack, issuer, user):
    access = issuer.token(user("c"), client_id=AUDIENCE, token_use="access", username="carol")
    other = issuer.token(user("c"), client_id="another-client", token_use="access")
    assert run(status_of(stack, access)) == 101
    assert run(status_of(stack, other)) == 401


def _none_token(issuer: Issuer, sub: str) -> str:
    claims = {"iss": issuer.url, "sub": sub, "aud": AUDIENCE, "exp": int(time.time()) + 60}
    return jwt.encode(claims, None, algorithm="none", headers={"kid": issuer.keys[0].kid})


@pytest.mark.parametrize(
    "make",
    [
        lambda i: Issuer(i.url, [SigningKey(i.keys[0].kid, "RS256", SigningKey.make().private)]).token(
            "m", aud=AUDIENCE
        ),
        lambda i: _none_token(i, "m"),
        lambda i: jwt.encode(
            {"iss": i.url, "sub": "m", "aud": AUDIENCE, "exp": int(time.time()) + 60},
            SECRET,
            algorithm="HS256",
        ),
        lambda i: jwt.encode({"sub": "m", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256"),
        lambda i: i.token("not a user id", aud=AUDIENCE),
        lambda i: i.token("m", aud=["other", "another"]),
        lambda i: i.token("m", aud=AUDIENCE, iss="https://evil.test"),
        lambda i: i.token("m", aud=AUDIENCE, exp=int(time.time()) - 5),
        lambda i: i.token("m", aud=AUDIENCE, exp=None),
    ],
    ids=[
        "another-issuers-key",
        "alg-none",
        "hs256-with-the-stack-secret",
        "dev-token",
        "sub-not-a-user-id",
        "aud-without-ours",
        "wrong-iss",
        "expired",
        "no-exp",
    ],
)
def test_refused_tokens_get_401_and_no_connection_record(stack, issuer, make):
    before = {c["connectionId"] for c in stack.connections()}
    assert run(status_of(stack, make(issuer))) == 401
    assert {c["connectionId"] for c in stack.connections()} == before


@pytest.mark.parametrize("mode", ["down", "reset", "slow", "garbage", "empty"])
def test_a_broken_jwks_refuses_what_it_cannot_verify_and_nothing_else(stack, issuer, jwks, user, mode):
    """Existing connections and tokens of cached keys go on; a token of an unknown key is refused
    (the slow JWKS: after the verifier's 2 s, within the handshake's timeout here)."""
    rsa = issuer.keys[0]
    first = user("kept")

    async def scenario():
        kept = await Peer.connect(url(stack, issuer.token(first, rsa, aud=AUDIENCE)), first)
        jwks.mode = mode
        unknown = SigningKey.make("RS256")
        issuer.keys.append(unknown)
        try:
            assert await status_of(stack, issuer.token(user("new"), unknown, aud=AUDIENCE)) == 401
        finally:
            issuer.keys.remove(unknown)
        assert await pong(kept)
        # handlers whose cache holds the key go on accepting it (a fresh worker process cannot
        # verify it until the JWKS answers again: so the test restores it first)
        jwks.mode = "ok"
        assert await status_of(stack, issuer.token(user("later"), rsa, aud=AUDIENCE)) == 101
        assert await pong(kept)
        await kept.close()

    run(scenario())


def test_dev_tokens_are_off_and_the_page_is_told_to_use_the_issuer(stack, issuer):
    status, body = stack.request("GET", "/dev/token?user=alice")
    assert status == 404
    assert json.loads(body)["message"].startswith("Not Found")
    assert stack.get_json("/config.json") == {"auth": "oidc", "issuer": issuer.url, "client_id": AUDIENCE}
