"""The local SQS event source mapping against a real (embedded, in-process) moto SQS, with
stand-in functions: batches up to the batch size, several in flight, deletes what succeeded,
failures reappear after the visibility timeout and end in the dead-letter queue, the event loop
stays free, and stopping is prompt."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.server import ThreadedMotoServer

from chatlocal.aws.moto_atomic import serialize_sqs_requests
from chatlocal.eventsources.queues import Queue, ensure_queue
from chatlocal.eventsources.sqs_events import SqsSource
from chatlocal.eventsources.sqs_poller import EventSourceMapping
from chatlocal.functions.lambdas import Lambdas


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    serialize_sqs_requests()
    MotoRequestHandler.disable_nagle_algorithm = True  # as the local stack does
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "sqs",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    yield client
    server.stop()


@pytest.fixture
def queue(sqs) -> Queue:
    return ensure_queue(sqs, f"work-{uuid.uuid4().hex[:8]}", visibility_timeout=1, max_receive_count=2)


class Worker:
    """A stand-in SQS-triggered function: records each event, fails what it is told to."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.fail_bodies: set[str] = set()
        self.raise_times = 0
        self.barrier: threading.Barrier | None = None

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self.lock:
            self.events.append(event)
            raising = self.raise_times > 0
            self.raise_times -= raising
        if self.barrier is not None:
            self.barrier.wait(timeout=5)  # BrokenBarrierError unless another batch is in flight
        if raising:
            raise RuntimeError("worker crashed")
        failed = [r["messageId"] for r in event["Records"] if r["body"] in self.fail_bodies]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    def bodies(self) -> list[str]:
        return [r["body"] for e in self.events for r in e["Records"]]


def run_mapping(sqs, queue: Queue, worker: Worker, scenario, batch_size=5, concurrency=2, window=0):  # type: ignore[no-untyped-def]
    def noop(event: dict[str, Any], context: Any) -> None:
        return None

    async def main() -> Any:
        lambdas = Lambdas({"$connect": noop, "$default": noop, "$disconnect": noop, "work": worker})
        source = SqsSource("work", queue.name, batch_size, window, maximum_concurrency=concurrency)
        mapping = EventSourceMapping(source, queue, sqs, lambdas, "us-east-1")
        mapping.start()
        try:
            return await asyncio.wait_for(scenario(mapping), 30)
        finally:
            await mapping.stop()
            lambdas.shutdown()

    return asyncio.run(main())


def send(sqs, queue: Queue, *bodies: str) -> None:
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        assert not sqs.send_message_batch(QueueUrl=queue.url, Entries=entries).get("Failed")


def depth(sqs, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[n]) for n in names)


async def until(condition, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_queue_gets_a_visibility_timeout_and_a_redrive_policy(sqs, queue):
    attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "1"
    assert '"maxReceiveCount": 2' in attributes["RedrivePolicy"]
    assert queue.dead_letter_name == f"{queue.name}-dlq"
    assert sqs.get_queue_url(QueueName=queue.dead_letter_name)["QueueUrl"]
    assert ensure_queue(sqs, queue.name).created is False  # kept as it is


def test_every_message_is_invoked_once_in_batches_and_deleted(sqs, queue):
    worker = Worker()
    bodies = [f"b{i}" for i in range(23)]

    async def scenario(mapping):
        send(sqs, queue, *bodies)
        await until(lambda: mapping.stats()["work_deleted"] == 23)
        return mapping.stats()

    stats = run_mapping(sqs, queue, worker, scenario)
    assert sorted(worker.bodies()) == sorted(bodies)
    assert all(1 <= len(e["Records"]) <= 5 for e in worker.events)
    record = worker.events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert stats["work_records"] == 23
    assert stats["work_failed"] == 0
    assert depth(sqs, queue.url) == 0


def test_a_batching_window_gathers_what_arrives_within_it_into_one_batch(sqs):
    # received messages must stay invisible for the whole window
    queue = ensure_queue(sqs, f"window-{uuid.uuid4().hex[:8]}", visibility_timeout=30)
    worker = Worker()

    async def scenario(mapping):
        send(sqs, queue, "a", "b", "c")
        await asyncio.sleep(0.3)  # the window (2 s) is open: these join the same batch
        send(sqs, queue, "d", "e", "f", "g")
        await until(lambda: mapping.stats()["work_deleted"] == 7)

    run_mapping(sqs, queue, worker, scenario, batch_size=10, concurrency=1, window=2)
    assert [sorted(r["body"] for r in e["Records"]) for e in worker.events] == [list("abcdefg")]


def test_batches_run_concurrently(sqs, queue):
    worker = Worker()
    worker.barrier = threading.Barrier(2)  # each invocation waits for a second one to be in flight

    async def scenario(mapping):
        send(sqs, queue, "a")
        await until(lambda: len(worker.events) == 1)
        send(sqs, queue, "b")
        await until(lambda: mapping.stats()["work_deleted"] == 2)

    run_mapping(sqs, queue, worker, scenario, concurrency=2)
    assert sorted(worker.bodies()) == ["a", "b"]
    assert not worker.barrier.broken


def test_reported_failures_come_back_after_the_visibility_timeout_then_go_to_the_dlq(sqs, queue):
    worker = Worker()
    worker.fail_bodies = {"poison"}

    async def scenario(mapping):
        started = time.monotonic()
        send(sqs, queue, "ok1", "poison", "ok2")
        await until(lambda: worker.bodies().count("poison") == 2)
        second_try = time.monotonic() - started
        dlq = sqs.get_queue_url(QueueName=queue.dead_letter_name)["QueueUrl"]
        await until(lambda: depth(sqs, dlq) == 1)  # moved on the receive after the 2nd failure
        return second_try, mapping.stats()

    second_try, stats = run_mapping(sqs, queue, worker, scenario)
    assert second_try >= 1  # not before the visibility timeout
    assert worker.bodies().count("ok1") == worker.bodies().count("ok2") == 1
    counts = [r["attributes"]["ApproximateReceiveCount"] for e in worker.events for r in e["Records"]]
    assert sorted(counts) == ["1", "1", "1", "2"]
    assert stats["work_deleted"] == 2
    assert stats["work_failed"] == 2
    assert depth(sqs, queue.url) == 0


def test_an_invocation_that_raises_leaves_all_its_records_for_a_retry(sqs, queue):
    worker = Worker()
    worker.raise_times = 1

    async def scenario(mapping):
        send(sqs, queue, "x", "y")
        await until(lambda: mapping.stats()["work_deleted"] == 2)
        return mapping.stats()

    stats = run_mapping(sqs, queue, worker, scenario, batch_size=10, concurrency=1)
    assert stats["work_batch_failures"] == 1
    assert sorted(worker.bodies()) == ["x", "x", "y", "y"]  # the first batch was delivered again
    assert depth(sqs, queue.url) == 0


def test_long_polls_keep_the_event_loop_free_and_stopping_is_prompt(sqs, queue):
    worker = Worker()

    async def scenario(mapping):
        lags = []
        for _ in range(30):  # 1.5 s: every poller waits in ReceiveMessage meanwhile
            before = time.monotonic()
            await asyncio.sleep(0.05)
            lags.append(time.monotonic() - before - 0.05)
        started = time.monotonic()
        await mapping.stop()
        return max(lags), time.monotonic() - started

    worst_lag, stopping = run_mapping(sqs, queue, worker, scenario, concurrency=5)
    assert worst_lag < 0.2
    assert stopping < 2.5
    assert worker.events == []
