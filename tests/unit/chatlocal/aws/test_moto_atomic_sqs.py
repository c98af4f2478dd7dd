"""The embedded moto's SQS under concurrency, as the local stack's pollers use it: concurrent
receivers never get the same message, deletes never lose a message sent meanwhile, and a long
poll does not hold up the sends it is waiting for."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.server import ThreadedMotoServer

from chatlocal.aws.moto_atomic import serialize_sqs_requests


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    serialize_sqs_requests()
    MotoRequestHandler.disable_nagle_algorithm = True  # as the local stack does
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield boto3.client(
        "sqs",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(max_pool_connections=20),
    )
    server.stop()


@pytest.fixture
def url(sqs) -> str:
    return str(sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"])


def send(sqs, url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def test_concurrent_receivers_never_get_the_same_message(sqs, url):
    bodies = [f"m{i}" for i in range(120)]
    send(sqs, url, bodies)
    received: list[str] = []
    lock = threading.Lock()

    def receiver() -> None:
        while True:
            reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5, WaitTimeSeconds=0)
            messages = reply.get("Messages")
            if not messages:
                return
            with lock:
                received.extend(m["Body"] for m in messages)

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(receiver) for _ in range(8)]:
            future.result()

    assert len(received) == len(set(received))
    assert sorted(received) == sorted(bodies)


def test_deletes_never_lose_messages_sent_meanwhile(sqs, url):
    bodies = [f"m{i}" for i in range(120)]
    got: list[str] = []

    def consumer() -> None:
        deadline = time.monotonic() + 20
        while len(got) < len(bodies) and time.monotonic() < deadline:
            reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in reply.get("Messages") or []:
                got.append(message["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    with ThreadPoolExecutor(4) as pool:
        consuming = pool.submit(consumer)
        sending = [pool.submit(send, sqs, url, bodies[i::3]) for i in range(3)]
        for future in sending:
            future.result()
        consuming.result()

    assert sorted(got) == sorted(bodies)


def test_a_long_poll_does_not_hold_up_the_send_it_waits_for(sqs, url):
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        polling = pool.submit(sqs.receive_message, QueueUrl=url, WaitTimeSeconds=5)
        time.sleep(0.3)
        sqs.send_message(QueueUrl=url, MessageBody="wake up")
        sent = time.monotonic() - started
        messages = polling.result()["Messages"]
        woke = time.monotonic() - started

    assert [m["Body"] for m in messages] == ["wake up"]
    assert sent < 1.5
    assert woke < 2.5  # not the full 5 s: the send woke the poll
