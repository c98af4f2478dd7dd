"""Assembles the service: ``build_service`` is the one place a ``ChatService`` is made, and the
Lambda handlers get theirs once per process, lazily (``service()``), so tests can start moto (or
point the environment somewhere) before any AWS client exists."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from chalicelib.config import Settings
from chalicelib.delivery.fanout import Fanout, FanoutWorker
from chalicelib.delivery.posting import ClientFactory, Delivery, boto3_client_factory
from chalicelib.domain.records import Device
from chalicelib.push.devices import EndpointPolicy
from chalicelib.push.jobs import Notifier
from chalicelib.push.notification import Notification
from chalicelib.push.providers import SNS_CLIENT_CONFIG, Provider, Providers, SnsProvider, WebPushProvider
from chalicelib.push.worker import PushWorker
from chalicelib.queues import Queue, SqsQueue
from chalicelib.secret import JwtSecret, vapid_key
from chalicelib.service import ChatService
from chalicelib.storage import Store
from chalicelib.storage.files import Files, s3_client

_override: ChatService | None = None
_push_sink: Callable[[Device, Notification], None] | None = None
_push_worker: tuple[ChatService, Callable[[Device, Notification], None], PushWorker] | None = None
log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def _client(service: str, region: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region)


@functools.lru_cache(maxsize=4)
def _sns_client(region: str) -> Any:
    """SNS for push: short timeouts, one retry (a failed send is retried later, on its own)."""
    import boto3
    from botocore.config import Config

    return boto3.client("sns", region_name=region, config=Config(**SNS_CLIENT_CONFIG))


@functools.lru_cache(maxsize=4)
def _s3(region: str) -> Any:
    return s3_client(region)


def _files(settings: Settings) -> Files | None:
    """The attachments bucket, when this deployment has one."""
    if not settings.attachments_bucket:
        return None
    return Files(settings.attachments_bucket, functools.partial(_s3, settings.region))


def _queue(settings: Settings, name: str | None) -> Queue | None:
    return SqsQueue(_client("sqs", settings.region), name) if name else None


def _providers(settings: Settings) -> Providers:
    """The push providers this deployment is configured for; other platforms are refused."""
    sns = functools.partial(_sns_client, settings.region)
    by_platform: dict[str, Provider] = {}
    if settings.sns_apns_app_arn:
        by_platform["apns"] = SnsProvider(sns, settings.sns_apns_app_arn)
    if settings.sns_fcm_app_arn:
        by_platform["fcm"] = SnsProvider(sns, settings.sns_fcm_app_arn)
    key = vapid_key(settings)
    if key.configured:
        policy = EndpointPolicy(settings.push_allow_local_http, settings.push_local_service)
        by_platform["webpush"] = WebPushProvider(key.get, settings.vapid_subject, policy)
    return Providers(by_platform)


def build_service(
    settings: Settings,
    poster: ClientFactory,
    store: Store | None = None,
    fanout_queue: Queue | None = None,
    push_queue: Queue | None = None,
    providers: Providers | None = None,
    files: Files | None = None,
) -> ChatService:
    """The one place a ``ChatService`` is assembled: the Lambda handlers (``service()``), the
    local stack, the benchmark and every test build it here. ``poster`` makes a management API
    client for an endpoint; ``store`` defaults to DynamoDB; fan-out shards go to
    ``fanout_queue`` and push jobs to ``push_queue`` when given; ``providers`` are the push
    providers ``device.register`` accepts. Concurrency, the fan-out threshold and the shard
    size come from ``settings``."""
    if store is None:
        from chalicelib.storage.dynamo import DynamoStore  # reads the table names from config

        store = DynamoStore()
    delivery = Delivery(poster, settings.fanout_concurrency)
    fanout = Fanout(delivery, fanout_queue, settings.fanout_threshold, settings.fanout_shard_size)
    files = files if files is not None else _files(settings)  # the bucket named by the settings
    return ChatService(store, fanout, JwtSecret(settings), settings, Notifier(push_queue), providers, files)


@functools.lru_cache(maxsize=1)
def _default_service() -> ChatService:
    settings = Settings.from_env()
    return build_service(
        settings,
        boto3_client_factory(settings.region, settings.fanout_concurrency),
        fanout_queue=_queue(settings, settings.fanout_queue),
        push_queue=_queue(settings, settings.push_queue),
        providers=_providers(settings),
    )


def service() -> ChatService:
    return _override if _override is not None else _default_service()


def fanout_worker() -> FanoutWorker:
    """The fan-out Lambda's worker, over the same delivery and storage as the service."""
    return service().fanout_worker()


def push_worker() -> PushWorker:
    """The push Lambda's worker, over the same storage and providers as the service; one per
    process (it keeps a pool of sending threads), made again when the service or sink changes."""
    global _push_worker
    current, sink = service(), _push_sink or _log_push
    if _push_worker is None or _push_worker[:2] != (current, sink):
        retries = current.actions.messages.notifier.queue  # a failed device's retry: the push queue
        _push_worker = (current, sink, PushWorker(current.store, current.providers, sink, retries))
    return _push_worker[2]


def _log_push(device: Device, notification: Notification) -> None:
    log.info("pushed %s seq %d to %s", notification.chat_id, notification.seq, device.device_id)


def use_push_sink(sink: Callable[[Device, Notification], None] | None) -> None:
    """Also hand every notification a provider accepted to ``sink`` (the local stack's record
    of what its emulated providers accepted); None restores logging only."""
    global _push_sink
    _push_sink = sink


def use_service(replacement: ChatService | None) -> None:
    """Run the handlers on another service (tests, the local emulator); None restores the default."""
    global _override
    _override = replacement
