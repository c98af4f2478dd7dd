"""The local stack's Cognito mode, without moto: what /cognito refuses to forward (only SignUp and
InitiateAuth with a password or a refresh token, for this stack's client), and what the page
and the banner are told."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from chatlocal.cognito import CognitoProxy, LocalPool, auth_note, page_config

# Port 9 on loopback: nothing listens there, so a request forwarded by mistake fails loudly.
POOL = LocalPool("us-east-1_abc", "client-1", "http://127.0.0.1:9", "us-east-1", created=True)


def post(requests: list[tuple[str, object]]) -> list[tuple[int, str]]:
    async def main() -> list[tuple[int, str]]:
        application = web.Application()
        application.add_routes(CognitoProxy(POOL).routes())
        server = TestServer(application)
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as session:
                answers = []
                for target, body in requests:
                    headers = {"X-Amz-Target": f"AWSCognitoIdentityProviderService.{target}"}
                    data = body if isinstance(body, str) else json.dumps(body)
                    async with session.post(
                        server.make_url("/cognito"), data=data, headers=headers
                    ) as response:
                        answers.append((response.status, (await response.json())["message"]))
                return answers
        finally:
            await server.close()

    return asyncio.run(main())


def test_the_proxy_forwards_nothing_but_sign_up_and_sign_in_for_its_client():
    answers = post(
        [
            ("AdminCreateUser", {"ClientId": "client-1", "UserPoolId": "us-east-1_abc", "Username": "x"}),
            ("ListUsers", {"UserPoolId": "us-east-1_abc"}),
            ("SignUp", {"ClientId": "another", "Username": "x", "Password": "password1"}),
            ("SignUp", "not json"),
            ("SignUp", {"ClientId": "client-1", "Password": "password1"}),
            ("InitiateAuth", {"ClientId": "client-1", "AuthFlow": "ADMIN_USER_PASSWORD_AUTH"}),
        ]
    )
    assert [status for status, _ in answers] == [400] * 6
    assert answers[0][1] == "only SignUp and InitiateAuth are forwarded here"
    assert "ClientId" in answers[2][1] and "ClientId" in answers[3][1]
    assert answers[4][1] == "Username is required"
    assert answers[5][1].startswith("AuthFlow must be one of USER_PASSWORD_AUTH")


def test_the_page_and_the_banner_are_told_the_mode():
    assert page_config({}, None) == {"auth": "dev"}
    assert page_config({}, POOL) == {
        "auth": "cognito-local",
        "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc",
        "client_id": "client-1",
        "cognito_url": "/cognito",
    }
    oidc = {"CHAT_OIDC_ISSUER": "https://id.test", "CHAT_OIDC_AUDIENCE": "web"}
    assert page_config(oidc, None) == {"auth": "oidc", "issuer": "https://id.test", "client_id": "web"}
    assert auth_note({}, None) == []
    assert "http://127.0.0.1:9/us-east-1_abc/.well-known/jwks.json" in "\n".join(auth_note({}, POOL))
    env: dict[str, str] = {}
    POOL.configure(env)
    assert env == {
        "CHAT_OIDC_ISSUER": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc",
        "CHAT_OIDC_JWKS_URL": "http://127.0.0.1:9/us-east-1_abc/.well-known/jwks.json",
        "CHAT_OIDC_AUDIENCE": "client-1",
    }
