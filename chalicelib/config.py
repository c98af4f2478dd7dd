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
| AWS_REGION / AWS_DEFAULT_REGION | region of the tables and the API                             |
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_TABLE_PREFIX = "chat-dev"
DEFAULT_REGION = "us-east-1"
DEFAULT_FANOUT_QUEUE = "chat-dev-fanout"


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def table_prefix() -> str:
    return os.environ.get("CHAT_TABLE_PREFIX", DEFAULT_TABLE_PREFIX)


def fanout_queue_name() -> str:
    """The queue the fan-out worker consumes. Read when ``app.py`` is imported, which is when
    ``chalice package``/``deploy`` wires the event source: infra/ scripts export it per stage."""
    return os.environ.get("CHAT_FANOUT_QUEUE") or DEFAULT_FANOUT_QUEUE


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
        )
