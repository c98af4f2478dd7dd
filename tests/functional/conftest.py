"""Functional tier: the real handlers, DynamoDB under moto, a fake management API."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from moto import mock_aws

import app as chalice_app
from chalicelib import runtime
from chalicelib.config import Settings
from chalicelib.push.devices import EndpointPolicy
from chalicelib.push.providers import Providers, SnsProvider, WebPushProvider
from chalicelib.queues import Queue, SqsQueue
from chalicelib.service import ChatService
from chalicelib.storage.tables import ALL_MODELS, PUSH_MODELS, create_tables
from chalicelib.testing import FakeManagementApi, Harness
from chatlocal.aws.moto_atomic import dynamodb_lock, serialize_dynamodb_requests
from chatlocal.aws.moto_fast import answer_dynamodb_fast
from tests.functional.webpush_receiver import b64url

serialize_dynamodb_requests()
answer_dynamodb_fast()  # moto's answers, byte for byte (tests/unit/chatlocal/aws/test_moto_fast.py) 4x sooner


@pytest.fixture(scope="session")
def moto_aws():
    import boto3

    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="test-attachments")
        yield


# moto's table objects as the ``tables`` fixture last created them, by name.
_made_tables: dict[str, object] = {}


def _moto_tables() -> dict[str, object]:
    """moto's table objects of the project's tables that exist, by name."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    existing = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables
    names = {model.Meta.table_name for model in (*ALL_MODELS, *PUSH_MODELS)}
    return {name: existing[name] for name in names if name in existing}


def _empty_the_tables() -> bool:
    """Empty the project's tables in moto's memory, if they are still the very ones this fixture
    made (no test deleted, recreated or reset them); False if they are not."""
    current = _moto_tables()
    if not _made_tables or current.keys() != _made_tables.keys():
        return False
    if any(current[name] is not table for name, table in _made_tables.items()):
        return False
    with dynamodb_lock():
        for table in _made_tables.values():
            table.items.clear()  # type: ignore[attr-defined]
    return True


def fresh_tables() -> None:
    """Every project table, empty (moto must be running). Emptied in moto's memory (no Scan, no
    request) when they are still the ones made before (under a millisecond); else deleted and
    created again through the API (about 0.35 s on the 2-core machine, which every test paid
    before)."""
    if not _empty_the_tables():
        for model in (*ALL_MODELS, *PUSH_MODELS):
            if model.exists():
                model.delete_table()
        create_tables()
        _made_tables.clear()
        _made_tables.update(_moto_tables())


@pytest.fixture
def tables(moto_aws):
    """Every project table, empty (``fresh_tables``)."""
    fresh_tables()
    yield


def build_service(
    api: FakeManagementApi,
    concurrency: int = 32,
    queue: Queue | None = None,
    push_queue: Queue | None = None,
    providers: Providers | None = None,
) -> ChatService:
    settings = dataclasses.replace(
        Settings.from_env(),
        push_allow_local_http=True,
        fanout_concurrency=concurrency,
        fanout_threshold=100,
        fanout_shard_size=50,
    )
    return runtime.build_service(
        settings, api.client_for, fanout_queue=queue, push_queue=push_queue, providers=providers
    )


@pytest.fixture
def api() -> FakeManagementApi:
    return FakeManagementApi()


@pytest.fixture
def harness(tables, api):
    runtime.use_service(build_service(api))
    yield Harness(chalice_app, api)
    runtime.use_service(None)


fresh_queue_numbers = itertools.count(1)  # shared by every fixture making a queue: one moto holds them all


@pytest.fixture
def sharded(tables, api):
    """The service with fan-out sharded onto an SQS queue (moto) above 100 connections; the
    harness's ``drain_fanout`` runs the worker Lambda over what was queued."""
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    name = f"test-fanout-{next(fresh_queue_numbers)}"  # a fresh queue per test: nothing left over
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    runtime.use_service(build_service(api, queue=SqsQueue(sqs, name)))
    yield Harness(chalice_app, api, sqs=sqs, queue_url=url)
    runtime.use_service(None)


@dataclasses.dataclass
class PushWorld:
    """Push configured as in a deployment, on moto: SNS platform applications for APNs and FCM,
    a VAPID key for Web Push, the push queue; ``sent`` is what providers accepted."""

    harness: Harness
    sns: object
    apps: dict[str, str]
    sent: list = dataclasses.field(default_factory=list)

    handler = staticmethod(chalice_app.push)

    def drain(self) -> int:
        return self.harness.drain_queue(self.harness.push_queue_url, chalice_app.push)

    def make_visible(self) -> None:
        """Everything received but not deleted comes back now (its visibility timeout over)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sqs.models import sqs_backends

        queue_name = self.harness.push_queue_url.rsplit("/", 1)[-1]
        queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[queue_name]
        for message in queue._messages:
            message.change_visibility(0)

    def pass_delay(self) -> int:
        """Jobs SQS holds back (``DelaySeconds``: reach jobs) become visible now; how many."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sqs.models import sqs_backends

        queue_name = self.harness.push_queue_url.rsplit("/", 1)[-1]
        queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[queue_name]
        held = [m for m in queue._messages if m.delayed]
        for message in held:
            message.delayed_until = 0
        return len(held)

    def sns_messages(self, endpoint_arn: str) -> list[str]:
        """What SNS accepted for a platform endpoint (moto keeps it)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sns.models import sns_backends

        return list(
            sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].platform_endpoints[endpoint_arn].messages.values()
        )


@pytest.fixture
def push(tables, api):
    import boto3
    from py_vapid import Vapid

    sqs = boto3.client("sqs", region_name="us-east-1")
    sns = boto3.client("sns", region_name="us-east-1")
    name = f"test-push-{next(fresh_queue_numbers)}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    apps = {
        platform: sns.create_platform_application(
            Name=f"test-{platform}-{name}", Platform=kind, Attributes={"PlatformCredential": "x"}
        )["PlatformApplicationArn"]
        for platform, kind in (("apns", "APNS"), ("fcm", "GCM"))
    }
    vapid = Vapid()
    vapid.generate_keys()
    key = b64url(vapid.private_key.private_numbers().private_value.to_bytes(32, "big"))
    providers = Providers(
        {
            "apns": SnsProvider(lambda: sns, apps["apns"]),
            "fcm": SnsProvider(lambda: sns, apps["fcm"]),
            "webpush": WebPushProvider(
                lambda: key, "mailto:ops@example.com", EndpointPolicy(allow_local_http=True)
            ),
        }
    )
    service = build_service(api, push_queue=SqsQueue(sqs, name), providers=providers)
    runtime.use_service(service)
    world = PushWorld(Harness(chalice_app, api, sqs=sqs, push_queue_url=url), sns, apps)
    runtime.use_push_sink(lambda device, notification: world.sent.append((device, notification)))
    yield world
    runtime.use_push_sink(None)
    runtime.use_service(None)
