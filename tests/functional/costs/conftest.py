"""The cost tests' world, one per test module (filling busy tables takes about 3 s: a module
pays it once, and the next module of the folder reuses the fill when no other test emptied the
tables in between): every table fresh, 1,000 unrelated users, chats and connections in them,
the service wired as deployed (fan-out shards on an SQS queue above 100 connections, push and
reach jobs on another), and a ``CostMeter`` installed. Each test builds its own chats with
users of its own (``world.new_tag``), so tests of a module do not see each other's data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from pynamodb.exceptions import PynamoDBException

import app as chalice_app
from chalicelib import runtime
from chalicelib.queues import SqsQueue
from chalicelib.storage.calls import get_or_none
from chalicelib.storage.mapping import datetime_at
from chalicelib.storage.tables import ConnectionItem
from chalicelib.testing import FakeManagementApi, Harness
from tests.functional.conftest import build_service, fresh_queue_numbers, fresh_tables
from tests.functional.costs.metering import CostMeter, Requests
from tests.functional.costs.world import fill_unrelated

UNRELATED = 1000
BUSY_MARKER = "costs-busy-marker"  # a connection id: written last by the fill


def _still_busy() -> bool:
    """The tables still hold the unrelated fill of an earlier cost module (no other test
    emptied them since): then it is not written again (the second module on saves 3 s)."""
    try:
        return get_or_none(ConnectionItem, BUSY_MARKER) is not None
    except PynamoDBException:  # no tables yet
        return False


@dataclass
class CostWorld:
    harness: Harness
    api: FakeManagementApi
    meter: CostMeter
    sqs: object

    def drain_fanout(self) -> int:
        return self.harness.drain_fanout()

    def fanout_invocations(self) -> list[Requests]:
        """Run the fan-out worker over every queued shard, as Lambda's event source mapping does;
        the requests of each invocation apart (the driver's own ReceiveMessage and
        DeleteMessage are in none)."""
        invocations: list[Requests] = []

        def fanout(event: dict, context: object) -> dict:
            with self.meter.measure() as requests:
                result = chalice_app.fanout(event, context)
            invocations.append(requests)
            return result

        app, self.harness.app = self.harness.app, SimpleNamespace(fanout=fanout)
        try:
            self.harness.drain_fanout()
        finally:
            self.harness.app = app
        return invocations

    def drain_push(self) -> int:
        """Run the push worker over every job queued, reach jobs held back included (as if their
        delay had passed)."""
        self.pass_delay()
        return self.harness.drain_queue(self.harness.push_queue_url, chalice_app.push)

    def pass_delay(self) -> int:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sqs.models import sqs_backends

        name = self.harness.push_queue_url.rsplit("/", 1)[-1]
        queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[name]
        held = [m for m in queue._messages if m.delayed]
        for message in held:
            message.delayed_until = 0
        return len(held)


@pytest.fixture(scope="module")
def world(moto_aws) -> Iterator[CostWorld]:
    import boto3

    if not _still_busy():
        fresh_tables()
        fill_unrelated(UNRELATED)
        ConnectionItem(BUSY_MARKER, user_id="", connected_at=0, expires_at=datetime_at(0)).save()
    sqs = boto3.client("sqs", region_name="us-east-1")
    number = next(fresh_queue_numbers)
    fanout, push = f"test-fanout-{number}", f"test-push-{number}"  # the policy test knows these names
    urls = [sqs.create_queue(QueueName=name)["QueueUrl"] for name in (fanout, push)]
    api = FakeManagementApi()
    runtime.use_service(build_service(api, queue=SqsQueue(sqs, fanout), push_queue=SqsQueue(sqs, push)))
    meter = CostMeter()
    meter.install()
    try:
        harness = Harness(chalice_app, api, sqs=sqs, queue_url=urls[0], push_queue_url=urls[1])
        yield CostWorld(harness, api, meter, sqs)
    finally:
        meter.uninstall()
        runtime.use_service(None)
