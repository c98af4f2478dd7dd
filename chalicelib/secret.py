"""The JWT secret: from ``CHAT_JWT_SECRET`` (local runs, tests) or, in a deployment, from the
SSM SecureString named by ``CHAT_JWT_SECRET_PARAM``, read once per cold start and cached."""

from __future__ import annotations

import threading

from chalicelib.config import Settings


class SecretUnavailable(Exception):
    pass


class JwtSecret:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._value: str | None = settings.jwt_secret
        self._lock = threading.Lock()

    def get(self) -> str:
        if self._value is not None:
            return self._value
        with self._lock:
            if self._value is None:
                self._value = self._fetch()
            return self._value

    def _fetch(self) -> str:
        name = self._settings.jwt_secret_param
        if not name:
            raise SecretUnavailable("set CHAT_JWT_SECRET or CHAT_JWT_SECRET_PARAM")
        import boto3

        ssm = boto3.client("ssm", region_name=self._settings.region)
        try:
            value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        except Exception as exc:  # any failure: the connect is refused and retried later
            raise SecretUnavailable(f"cannot read SSM parameter {name}") from exc
        if not value:
            raise SecretUnavailable(f"SSM parameter {name} is empty")
        return str(value)
