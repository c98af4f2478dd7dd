"""Where chatadmin works: the flags, else the environment, applied to this process's environment
before ``chalicelib``'s tables are imported (PynamoDB reads the table prefix and region when the
models are defined, and botocore reads ``AWS_ENDPOINT_URL_DYNAMODB`` when a client is made).

- ``--endpoint`` (AWS_ENDPOINT_URL_DYNAMODB): none, AWS itself;
- ``--prefix`` (CHAT_TABLE_PREFIX): ``chat-local`` with an endpoint, else ``chat-dev``;
- ``--region`` (AWS_REGION, AWS_DEFAULT_REGION): ``us-east-1``;
- ``--bucket`` (CHAT_ATTACHMENTS_BUCKET): ``chat-local-attachments`` with an endpoint, else
  none (a delete leaves the message's files);
- ``--management`` (CHAT_MANAGEMENT_ENDPOINT): none (members learn of a change later);
- ``--by`` (USER): ``operator``.

With ``--endpoint`` (the local stack), S3 is the same endpoint unless ``AWS_ENDPOINT_URL_S3``
says otherwise, and a loopback endpoint without credentials in the environment gets the local
stack's (``local``/``local``), which its management API checks signatures against.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

LOCAL_PREFIX = "chat-local"
LOCAL_BUCKET = "chat-local-attachments"
DEPLOYED_PREFIX = "chat-dev"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}  # chatlocal's
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Settings:
    endpoint: str | None
    prefix: str
    region: str
    bucket: str | None
    management: str | None
    by: str

    @property
    def where(self) -> str:
        """The tables, as error messages name them."""
        place = self.endpoint or f"AWS region {self.region}"
        return f"the tables {self.prefix}-* at {place}"


def resolve(
    env: Mapping[str, str],
    endpoint: str | None = None,
    prefix: str | None = None,
    region: str | None = None,
    bucket: str | None = None,
    management: str | None = None,
    by: str | None = None,
) -> Settings:
    endpoint = endpoint or env.get("AWS_ENDPOINT_URL_DYNAMODB") or None
    local = endpoint is not None
    return Settings(
        endpoint=endpoint.rstrip("/") if endpoint else None,
        prefix=prefix or env.get("CHAT_TABLE_PREFIX") or (LOCAL_PREFIX if local else DEPLOYED_PREFIX),
        region=region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        bucket=bucket or env.get("CHAT_ATTACHMENTS_BUCKET") or (LOCAL_BUCKET if local else None),
        management=(management or env.get("CHAT_MANAGEMENT_ENDPOINT") or "").rstrip("/") or None,
        by=by or env.get("USER") or "operator",
    )


def is_loopback(url: str) -> bool:
    return (urllib.parse.urlsplit(url).hostname or "") in LOOPBACK


def apply(settings: Settings, env: MutableMapping[str, str] | None = None) -> None:
    """Point this process's AWS clients and ``chalicelib``'s tables where ``settings`` say."""
    env = os.environ if env is None else env
    env["CHAT_TABLE_PREFIX"] = settings.prefix
    env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = settings.region
    if settings.endpoint:
        env["AWS_ENDPOINT_URL_DYNAMODB"] = settings.endpoint
        env.setdefault("AWS_ENDPOINT_URL_S3", settings.endpoint)
        if is_loopback(settings.endpoint) and not env.get("AWS_ACCESS_KEY_ID"):
            env.update(LOCAL_CREDENTIALS)
