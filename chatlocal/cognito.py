"""The local stack's sign-in modes (``CHAT_AUTH``) and its Cognito mode.

- ``dev`` (unset): HS256 dev tokens from ``GET /dev/token``, as always. With ``CHAT_OIDC_ISSUER``
  set by hand, the stack verifies that issuer's tokens instead and ``/dev/token`` answers 404.
- ``cognito``: a user pool and an app client in the embedded moto's cognito-idp (no client
  secret, USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH), and the app verifies their tokens:
  ``CHAT_OIDC_ISSUER`` is the ``iss`` moto writes (``https://cognito-idp.{region}.amazonaws.com/
  {pool id}``), ``CHAT_OIDC_JWKS_URL`` the embedded moto's ``/{pool id}/.well-known/jwks.json``
  and ``CHAT_OIDC_AUDIENCE`` the client id: the path production takes, on a laptop.

The pool and client ids are the same at every start (moto's HASH id strategy: an id is a hash
of the pool's name and settings), so a page's tokens stay valid across restarts; the users live
in the embedded moto and are forgotten when the stack stops (see docs/local-stack.md).

The web page reaches cognito-idp through ``POST /cognito`` on the stack (same origin, no CORS):
only ``SignUp`` and ``InitiateAuth`` (user name and password, or a refresh token) for this
client are forwarded, and a sign-up is confirmed at once (``AdminConfirmSignUp``: moto runs no
pre-sign-up trigger and sends no e-mail)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from chatlocal.config import StartupError

log = logging.getLogger("chatlocal.cognito")

AUTH_MODES = ("dev", "cognito")
POOL_NAME = "chat-local"
CLIENT_NAME = "chat-web"
TARGET_PREFIX = "AWSCognitoIdentityProviderService."
FORWARDED = ("SignUp", "InitiateAuth")
AUTH_FLOWS = ("USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH")
OIDC_VARIABLES = ("CHAT_OIDC_ISSUER", "CHAT_OIDC_AUDIENCE", "CHAT_OIDC_JWKS_URL")
# Stable ids across restarts (moto reads these when a pool or client is created).
ID_STRATEGIES = {
    "MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY": "HASH",
    "MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY": "HASH",
}


def auth_mode(env: Mapping[str, str]) -> str:
    """``CHAT_AUTH``: "dev" (unset too) or "cognito"; StartupError for anything else."""
    raw = (env.get("CHAT_AUTH") or "").strip().lower() or "dev"
    if raw not in AUTH_MODES:
        raise StartupError(
            f"CHAT_AUTH={raw!r} is not a sign-in mode: unset or 'dev' (dev tokens from /dev/token),"
            " 'cognito' (a user pool in the embedded moto; the web page signs up and in)"
        )
    if raw == "cognito":
        given = [name for name in OIDC_VARIABLES if env.get(name)]
        if given:
            raise StartupError(f"CHAT_AUTH=cognito sets {', '.join(OIDC_VARIABLES)} itself: unset {given[0]}")
    return raw


@dataclass(frozen=True)
class LocalPool:
    pool_id: str
    client_id: str
    endpoint: str  # the cognito-idp endpoint (the embedded moto)
    region: str
    created: bool

    @property
    def issuer(self) -> str:
        """The ``iss`` moto writes in this pool's tokens."""
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json"

    def configure(self, env: MutableMapping[str, str]) -> None:
        """Point the app's token verification at this pool (before the handlers start)."""
        env["CHAT_OIDC_ISSUER"] = self.issuer
        env["CHAT_OIDC_JWKS_URL"] = self.jwks_url
        env["CHAT_OIDC_AUDIENCE"] = self.client_id


def prepare_env(env: MutableMapping[str, str]) -> None:
    """Before the embedded moto starts: stable pool and client ids."""
    for name, value in ID_STRATEGIES.items():
        env.setdefault(name, value)


def _client(endpoint: str, region: str) -> Any:
    import boto3

    return boto3.client("cognito-idp", region_name=region, endpoint_url=endpoint)


def ensure_pool(endpoint: str, region: str) -> LocalPool:
    """The stack's user pool and web client, found again or created. Blocking."""
    cognito = _client(endpoint, region)
    pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
    pool_id = next((p["Id"] for p in pools if p["Name"] == POOL_NAME), None)
    created = pool_id is None
    if pool_id is None:
        pool_id = cognito.create_user_pool(
            PoolName=POOL_NAME,
            Policies={
                "PasswordPolicy": {
                    "MinimumLength": 8,
                    "RequireUppercase": False,
                    "RequireLowercase": False,
                    "RequireNumbers": False,
                    "RequireSymbols": False,
                }
            },
        )["UserPool"]["Id"]
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next((c["ClientId"] for c in clients if c["ClientName"] == CLIENT_NAME), None)
    if client_id is None:
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=CLIENT_NAME,
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
    return LocalPool(pool_id, client_id, endpoint, region, created)


class CognitoProxy:
    """``POST /cognito``: the page's SignUp and InitiateAuth, forwarded to the embedded moto."""

    def __init__(self, pool: LocalPool) -> None:
        self.pool = pool
        self._cognito: Any = None

    def routes(self) -> list[Any]:
        from aiohttp import web

        return [web.post("/cognito", self.handle)]

    async def handle(self, request: Any) -> Any:
        from aiohttp import ClientSession, web

        operation = request.headers.get("X-Amz-Target", "").removeprefix(TARGET_PREFIX)
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        problem = self._refusal(operation, body)
        if problem:
            return web.json_response({"__type": "InvalidParameterException", "message": problem}, status=400)
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET_PREFIX + operation}
        async with (
            ClientSession() as session,
            session.post(self.pool.endpoint + "/", data=json.dumps(body), headers=headers) as answer,
        ):
            status, payload = answer.status, await answer.read()
        if operation == "SignUp" and status == 200:
            await asyncio.get_running_loop().run_in_executor(None, self._confirm, body["Username"])
        return web.Response(status=status, body=payload, content_type="application/json")

    def _refusal(self, operation: str, body: Any) -> str | None:
        if operation not in FORWARDED:
            return f"only {' and '.join(FORWARDED)} are forwarded here"
        if not isinstance(body, dict) or body.get("ClientId") != self.pool.client_id:
            return "a JSON body with this stack's ClientId is required"
        if operation == "InitiateAuth" and body.get("AuthFlow") not in AUTH_FLOWS:
            return f"AuthFlow must be one of {', '.join(AUTH_FLOWS)}"
        if operation == "SignUp" and not isinstance(body.get("Username"), str):
            return "Username is required"
        return None

    def _confirm(self, username: str) -> None:
        """Confirm a sign-up at once: moto sends no code and runs no pre-sign-up trigger."""
        if self._cognito is None:
            self._cognito = _client(self.pool.endpoint, self.pool.region)
        self._cognito.admin_confirm_sign_up(UserPoolId=self.pool.pool_id, Username=username)


def page_config(env: Mapping[str, str], pool: LocalPool | None) -> dict[str, Any]:
    """What ``GET /config.json`` tells the web page about signing in (docs/protocol.md)."""
    if pool is not None:
        return {
            "auth": "cognito-local",
            "issuer": pool.issuer,
            "client_id": pool.client_id,
            "cognito_url": "/cognito",
        }
    issuer = env.get("CHAT_OIDC_ISSUER")
    if issuer:
        return {"auth": "oidc", "issuer": issuer, "client_id": env.get("CHAT_OIDC_AUDIENCE") or ""}
    return {"auth": "dev"}


def auth_note(env: Mapping[str, str], pool: LocalPool | None) -> list[str]:
    """The banner's lines about signing in."""
    if pool is not None:
        made = "created" if pool.created else "found again"
        return [
            f"  sign-in         Cognito (CHAT_AUTH=cognito): user pool {pool.pool_id}, web client"
            f" {pool.client_id} ({made}; users are forgotten on stop); the page signs up and in",
            f"  OIDC issuer     {pool.issuer} (keys from {pool.jwks_url})",
        ]
    issuer = env.get("CHAT_OIDC_ISSUER")
    if issuer:
        audience = env.get("CHAT_OIDC_AUDIENCE") or "any audience"
        return [f"  sign-in         OpenID Connect: tokens of {issuer} for {audience}; no dev tokens"]
    return []
