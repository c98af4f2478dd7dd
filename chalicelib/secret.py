"""Secrets: given in the environment (local runs, tests) or, in a deployment, read from an SSM
SecureString once per cold start and cached. The JWT secret comes from ``CHAT_JWT_SECRET`` or
``CHAT_JWT_SECRET_PARAM``; the Web Push VAPID key from ``CHAT_VAPID_PRIVATE_KEY`` or
``CHAT_VAPID_PRIVATE_KEY_PARAM``."""

from __future__ import annotations

import threading

from chalicelib.config import Settings


class SecretUnavailable(Exception):
    pass


class SsmSecret:
    def __init__(self, value: str | None, param: str | None, region: str, what: str) -> None:
        self._value = value
        self._param = param
        self._region = region
        self._what = what
        self._lock = threading.Lock()

    def get(self) -> str:
        if self._value is not None:
            return self._value
        with self._lock:
            if self._value is None:
                self._value = self._fetch()
            return self._value

    @property
    def configured(self) -> bool:
        return bool(self._value or self._param)

    def _fetch(self) -> str:
        name = self._param
        if not name:
            raise SecretUnavailable(f"no {self._what} configured")
        import boto3

        ssm = boto3.client("ssm", region_name=self._region)
        try:
            value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        except Exception as exc:  # any failure: the connect is refused and retried later
            raise SecretUnavailable(f"cannot read SSM parameter {name}") from exc
        if not value:
            raise SecretUnavailable(f"SSM parameter {name} is empty")
        return str(value)


class JwtSecret(SsmSecret):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.jwt_secret, settings.jwt_secret_param, settings.region, "JWT secret")


def vapid_key(settings: Settings) -> SsmSecret:
    return SsmSecret(
        settings.vapid_private_key, settings.vapid_private_key_param, settings.region, "VAPID private key"
    )
