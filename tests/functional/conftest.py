"""Functional tier: the real handlers, DynamoDB under moto, a fake management API."""

from __future__ import annotations

import itertools

import pytest
from moto import mock_aws

from chalicelib import runtime
from chalicelib.config import Settings
from chalicelib.delivery import Delivery
from chalicelib.fanout import Fanout, ShardQueue, SqsShardQueue
from chalicelib.secret import JwtSecret
from chalicelib.service import ChatService
from chalicelib.storage.dynamo import DynamoStore
from chalicelib.storage.tables import ALL_MODELS, create_tables
from chatlocal.moto_atomic import serialize_dynamodb_requests
from tests.functional.harness import FakeManagementApi, Harness

serialize_dynamodb_requests()


@pytest.fixture(scope="session")
def moto_aws():
    with mock_aws():
        yield


@pytest.fixture
def tables(moto_aws):
    for model in ALL_MODELS:
        if model.exists():
            model.delete_table()
    create_tables()
    yield


def build_service(
    api: FakeManagementApi, concurrency: int = 32, queue: ShardQueue | None = None
) -> ChatService:
    settings = Settings.from_env()
    fanout = Fanout(Delivery(api.client_for, concurrency), queue, threshold=100, shard_size=50)
    return ChatService(DynamoStore(), fanout, JwtSecret(settings), settings)


@pytest.fixture
def api() -> FakeManagementApi:
    return FakeManagementApi()


@pytest.fixture
def harness(tables, api):
    runtime.use_service(build_service(api))
    yield Harness(api)
    runtime.use_service(None)


_queues = itertools.count(1)


@pytest.fixture
def sharded(tables, api):
    """The service with fan-out sharded onto an SQS queue (moto) above 100 connections; the
    harness's ``drain_fanout`` runs the worker Lambda over what was queued."""
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    name = f"test-fanout-{next(_queues)}"  # a fresh queue per test: nothing left over
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    runtime.use_service(build_service(api, queue=SqsShardQueue(sqs, name)))
    yield Harness(api, sqs=sqs, queue_url=url)
    runtime.use_service(None)
