"""Builds the service once per process, lazily, so tests can start moto (or point the
environment somewhere) before any AWS client exists."""

from __future__ import annotations

import functools

from chalicelib.config import Settings
from chalicelib.delivery import Delivery, boto3_client_factory
from chalicelib.secret import JwtSecret
from chalicelib.service import ChatService

_override: ChatService | None = None


@functools.lru_cache(maxsize=1)
def _default_service() -> ChatService:
    from chalicelib.storage.dynamo import DynamoStore

    settings = Settings.from_env()
    delivery = Delivery(
        boto3_client_factory(settings.region, settings.fanout_concurrency),
        settings.fanout_concurrency,
    )
    return ChatService(DynamoStore(), delivery, JwtSecret(settings), settings)


def service() -> ChatService:
    return _override if _override is not None else _default_service()


def use_service(replacement: ChatService | None) -> None:
    """Run the handlers on another service (tests, the local emulator); None restores the default."""
    global _override
    _override = replacement
