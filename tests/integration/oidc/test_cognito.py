"""``CHAT_AUTH=cognito``: the local stack's user pool in the embedded moto, over real sockets. A
user signs up and in through ``POST /cognito`` (as the web page does) and connects with either
of moto's RS256 tokens: the ID token (``aud``) or the access token (``client_id``). The pool keeps
its ids across a restart."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.integration.conftest import run
from tests.integration.oidc.test_tokens import status_of
from tests.integration.peer import Peer
from tests.stack import ONE_PROCESS, LocalStack

PASSWORD = "password-1"


@pytest.fixture(scope="module")
def stack():
    with LocalStack(
        CHAT_JWT_SECRET="cognito-integration-" * 3, CHAT_AUTH="cognito", **ONE_PROCESS
    ) as running:
        yield running


def cognito(stack: LocalStack, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        stack.url + "/cognito",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def sign_in(stack: LocalStack, client_id: str, name: str) -> dict[str, Any]:
    status, answer = cognito(stack, "InitiateAuth", {
        "ClientId": client_id,
        "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": name, "PASSWORD": PASSWORD},
    })  # fmt: skip
    assert status == 200, answer
    return dict(answer["AuthenticationResult"])


def test_sign_up_sign_in_and_connect_with_the_id_or_the_access_token(stack, user):
    config = stack.get_json("/config.json")
    assert config["auth"] == "cognito-local" and config["issuer"].startswith("https://cognito-idp.")
    client_id, name = config["client_id"], user("carol")
    status, signed_up = cognito(
        stack, "SignUp", {"ClientId": client_id, "Username": name, "Password": PASSWORD}
    )
    assert status == 200
    tokens = sign_in(stack, client_id, name)  # confirmed at once: no code to type

    async def connected_as() -> str:
        peer = await Peer.connect(f"{stack.ws_base}?token={tokens['IdToken']}", name)
        users = {c["user"] for c in stack.connections()}
        await peer.close()
        return signed_up["UserSub"] if signed_up["UserSub"] in users else f"not in {users}"

    assert run(connected_as()) == signed_up["UserSub"]  # the user id is the pool's sub
    assert run(status_of(stack, tokens["AccessToken"])) == 101
    status, again = cognito(stack, "SignUp", {"ClientId": client_id, "Username": name, "Password": PASSWORD})
    assert (status, again["__type"]) == (400, "UsernameExistsException")
    assert stack.request("GET", "/dev/token?user=carol")[0] == 404


def test_a_wrong_password_and_another_client_are_refused(stack, user):
    client_id, name = stack.get_json("/config.json")["client_id"], user("dave")
    cognito(stack, "SignUp", {"ClientId": client_id, "Username": name, "Password": PASSWORD})
    status, answer = cognito(stack, "InitiateAuth", {
        "ClientId": client_id,
        "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": name, "PASSWORD": "wrong-password"},
    })  # fmt: skip
    assert (status, answer["__type"]) == (400, "NotAuthorizedException")
    status, answer = cognito(stack, "SignUp", {"ClientId": "another", "Username": "x", "Password": PASSWORD})
    assert status == 400 and "ClientId" in answer["message"]


def test_the_pool_keeps_its_ids_across_a_restart(stack):
    first = stack.get_json("/config.json")
    with LocalStack(CHAT_JWT_SECRET="cognito-integration-" * 3, CHAT_AUTH="cognito", **ONE_PROCESS) as again:
        assert again.get_json("/config.json") == first
