"""Settings read from the environment, once per process (one Lambda cold start).

| variable                     | meaning                                                        |
| ---------------------------- | -------------------------------------------------------------- |
| CHAT_TABLE_PREFIX            | DynamoDB table names are ``{prefix}-connections`` etc.          |
| CHAT_JWT_SECRET              | HS256 secret for client tokens (local runs and tests)           |
| CHAT_JWT_SECRET_PARAM        | SSM parameter (SecureString) holding the secret (deployments)   |
| CHAT_MANAGEMENT_ENDPOINT     | management API base URL; unset on AWS (built from the event)    |
| CHAT_FANOUT_CONCURRENCY      | parallel posts per invocation (default 32)                      |
| CHAT_CONNECTION_TTL_SECONDS  | how long a connection record lives without a $disconnect (7500) |
| CHAT_FANOUT_QUEUE            | SQS queue (name) of fan-out shards; unset: every post inline    |
| CHAT_FANOUT_THRESHOLD        | more recipient connections than this go through the queue (100) |
| CHAT_FANOUT_SHARD_SIZE       | connections per queued shard (50)                               |
| CHAT_PUSH_QUEUE              | SQS queue (name) of push jobs; unset: no push notifications     |
| CHAT_SNS_APNS_APP_ARN        | SNS platform application for APNs (unset: apns refused)         |
| CHAT_SNS_FCM_APP_ARN         | SNS platform application for FCM (unset: fcm refused)           |
| CHAT_VAPID_PRIVATE_KEY       | Web Push VAPID private key, base64url (local runs, tests)       |
| CHAT_VAPID_PRIVATE_KEY_PARAM | SSM parameter holding it (deployments); neither: webpush refused |
| CHAT_VAPID_SUBJECT           | VAPID ``sub`` claim: mailto: or https: of the operator          |
| CHAT_PUSH_ALLOW_LOCAL_HTTP   | "1": Web Push endpoints may be http on 127.0.0.1 (local stack)  |
| CHAT_PUSH_LOCAL_SERVICE      | the local stack's push service URL prefix: its port takes no other endpoint |
| CHAT_ATTACHMENTS_BUCKET      | S3 bucket of attachments (unset: attachment.create refused)     |
| AWS_ENDPOINT_URL_S3          | another S3 (the local stack's embedded one): path-style URLs    |
| CHAT_RATE_LIMIT_PER_SECOND   | actions per second one connection keeps up (20; 0 turns it off) |
| CHAT_RATE_LIMIT_BURST        | actions one connection may send at once before that (200)       |
| CHAT_OIDC_ISSUER             | OpenID Connect issuer (``iss``): tokens are its RS256/ES256 JWTs |
| CHAT_OIDC_AUDIENCE           | ``aud`` must contain it (or ``client_id`` equal it); unset: any |
| CHAT_OIDC_JWKS_URL           | its keys (unset: ``{issuer}/.well-known/jwks.json``)            |
| CHAT_OIDC_JWKS_REFRESH_SECONDS | least time between two fetches of the keys (60)               |
| AWS_REGION / AWS_DEFAULT_REGION | region of the tables and the API                             |
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

DEFAULT_TABLE_PREFIX = "chat-dev"
DEFAULT_REGION = "us-east-1"
DEFAULT_FANOUT_QUEUE = "chat-dev-fanout"
DEFAULT_PUSH_QUEUE = "chat-dev-push"


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def table_prefix() -> str:
    return os.environ.get("CHAT_TABLE_PREFIX", DEFAULT_TABLE_PREFIX)


def fanout_queue_name() -> str:
    """The queue the fan-out worker consumes. Read when ``app.py`` is imported, which is when
    ``chalice package``/``deploy`` wires the event source: infra/ scripts export it per stage."""
    return os.environ.get("CHAT_FANOUT_QUEUE") or DEFAULT_FANOUT_QUEUE


def push_queue_name() -> str:
    """The queue the push worker consumes (read at import, as ``fanout_queue_name``)."""
    return os.environ.get("CHAT_PUSH_QUEUE") or DEFAULT_PUSH_QUEUE


@dataclass(frozen=True)
class Settings:
    region: str
    jwt_secret: str | None
    jwt_secret_param: str | None
    management_endpoint: str | None
    fanout_concurrency: int
    connection_ttl_seconds: int
    fanout_queue: str | None = None
    fanout_threshold: int = 100
    fanout_shard_size: int = 50
    push_queue: str | None = None
    sns_apns_app_arn: str | None = None
    sns_fcm_app_arn: str | None = None
    vapid_private_key: str | None = None
    vapid_private_key_param: str | None = None
    vapid_subject: str = "mailto:admin@example.com"
    push_allow_local_http: bool = False
    push_local_service: str | None = None
    rate_limit_per_second: float = 20.0
    rate_limit_burst: int = 200
    attachments_bucket: str | None = None
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_jwks_refresh_seconds: float = 60.0

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            region=region(),
            jwt_secret=env.get("CHAT_JWT_SECRET") or None,
            jwt_secret_param=env.get("CHAT_JWT_SECRET_PARAM") or None,
            management_endpoint=env.get("CHAT_MANAGEMENT_ENDPOINT") or None,
            fanout_concurrency=int(env.get("CHAT_FANOUT_CONCURRENCY", "32")),
            # API Gateway closes every connection within 2 hours; 5 minutes of slack.
            connection_ttl_seconds=int(env.get("CHAT_CONNECTION_TTL_SECONDS", "7500")),
            fanout_queue=env.get("CHAT_FANOUT_QUEUE") or None,
            fanout_threshold=int(env.get("CHAT_FANOUT_THRESHOLD", "100")),
            fanout_shard_size=max(1, int(env.get("CHAT_FANOUT_SHARD_SIZE", "50"))),
            push_queue=env.get("CHAT_PUSH_QUEUE") or None,
            sns_apns_app_arn=env.get("CHAT_SNS_APNS_APP_ARN") or None,
            sns_fcm_app_arn=env.get("CHAT_SNS_FCM_APP_ARN") or None,
            vapid_private_key=env.get("CHAT_VAPID_PRIVATE_KEY") or None,
            vapid_private_key_param=env.get("CHAT_VAPID_PRIVATE_KEY_PARAM") or None,
            vapid_subject=env.get("CHAT_VAPID_SUBJECT") or "mailto:admin@example.com",
            push_allow_local_http=env.get("CHAT_PUSH_ALLOW_LOCAL_HTTP") == "1",
            push_local_service=env.get("CHAT_PUSH_LOCAL_SERVICE") or None,
            rate_limit_per_second=_rate(env.get("CHAT_RATE_LIMIT_PER_SECOND", "20")),
            rate_limit_burst=_burst(env.get("CHAT_RATE_LIMIT_BURST", "200")),
            attachments_bucket=env.get("CHAT_ATTACHMENTS_BUCKET") or None,
            oidc_issuer=(env.get("CHAT_OIDC_ISSUER") or "").strip() or None,
            oidc_audience=(env.get("CHAT_OIDC_AUDIENCE") or "").strip() or None,
            oidc_jwks_url=(env.get("CHAT_OIDC_JWKS_URL") or "").strip() or None,
            oidc_jwks_refresh_seconds=_refresh(env.get("CHAT_OIDC_JWKS_REFRESH_SECONDS", "60")),
        )


def _rate(raw: str) -> float:
    """Actions per second: a finite number >= 0 (0: no limit)."""
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"CHAT_RATE_LIMIT_PER_SECOND must be a number >= 0 (0: no limit), not {raw!r}")
    return value


def _burst(raw: str) -> int:
    """Actions at once: a whole number >= 1."""
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(f"CHAT_RATE_LIMIT_BURST must be a whole number >= 1, not {raw!r}")
    return int(raw)


def _refresh(raw: str) -> float:
    """Seconds between two fetches of the issuer's keys: a finite number >= 0."""
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"CHAT_OIDC_JWKS_REFRESH_SECONDS must be a number of seconds >= 0, not {raw!r}")
    return value
