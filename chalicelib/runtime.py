"""Builds the service once per process, lazily, so tests can start moto (or point the
environment somewhere) before any AWS client exists."""

from __future__ import annotations

import functools

from chalicelib.config import Settings
from chalicelib.delivery import Delivery, boto3_client_factory
from chalicelib.fanout import Fanout, FanoutWorker, ShardQueue, SqsShardQueue
from chalicelib.secret import JwtSecret
from chalicelib.service import ChatService

_override: ChatService | None = None


def _shard_queue(settings: Settings) -> ShardQueue | None:
    if not settings.fanout_queue:
        return None
    import boto3

    return SqsShardQueue(boto3.client("sqs", region_name=settings.region), settings.fanout_queue)


@functools.lru_cache(maxsize=1)
def _default_service() -> ChatService:
    from chalicelib.storage.dynamo import DynamoStore

    settings = Settings.from_env()
    delivery = Delivery(
        boto3_client_factory(settings.region, settings.fanout_concurrency),
        settings.fanout_concurrency,
    )
    fanout = Fanout(delivery, _shard_queue(settings), settings.fanout_threshold, settings.fanout_shard_size)
    return ChatService(DynamoStore(), fanout, JwtSecret(settings), settings)


def service() -> ChatService:
    return _override if _override is not None else _default_service()


def fanout_worker() -> FanoutWorker:
    """The fan-out Lambda's worker, over the same delivery and storage as the service."""
    current = service()
    return FanoutWorker(current.fanout.delivery, current.forget)


def use_service(replacement: ChatService | None) -> None:
    """Run the handlers on another service (tests, the local emulator); None restores the default."""
    global _override
    _override = replacement
