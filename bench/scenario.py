"""One ``message.send`` measured as it would run on AWS: the real handlers, in this process,
under moto, every AWS call seen by ``bench.counting.Meter``.

For each chat size: N users with one connection each, one chat of all of them (set up with the
functional tier's fake management API, no latency), a warm-up send, then measured sends from the
first user. A measured send runs the ``$default`` handler on this thread with the deployed
wiring: management posts through boto3 (``chalicelib.delivery.boto3_client_factory``, the fan-out
pool's configured concurrency), shards above 100 connections on SQS. Beside it run five SQS
pollers as Lambda's event source mapping does (batches of up to 5 shards, the fan-out Lambda's
``batch_size``), each invocation of the fan-out worker with a delivery pool of its own, as each
Lambda execution environment has. Calls may be slowed down to AWS's latencies (``Latency``).

Used by ``bench.cost`` and ``bench.deployed``; it changes nothing in chalicelib or the tests.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.counting import Call, Latency, Meter, Touch, item_size

ROOT = Path(__file__).resolve().parent.parent
SHARD_BATCH = 5  # app.py: @app.on_sqs_message(queue=..., batch_size=5)
POLLERS = 5  # Lambda's SQS event source mapping starts with five concurrent batches
TEXT = "Lunch at 12:30? The usual place, I booked a table for the four of us near the window."
HANDOFF = ("lambda", "handoff")
FANOUT_QUEUE = "bench-fanout"  # the latency key of the SQS -> fan-out Lambda hand-off


def configured() -> tuple[int, int]:
    """(Lambda memory in MB, fan-out concurrency) from .chalice/config.json."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    memory = int(config.get("lambda_memory_size", 128))
    concurrency = int(config.get("environment_variables", {}).get("CHAT_FANOUT_CONCURRENCY", "32"))
    return memory, concurrency


def prepare_environment() -> None:
    """What the process needs before chalicelib is imported: a region, fake credentials for
    moto, table names of our own."""
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "CHAT_TABLE_PREFIX": "bench",
            "CHAT_JWT_SECRET": "test-secret-that-is-long-enough-for-hs256",
            "CHAT_FANOUT_QUEUE": "bench-fanout",
            "CHAT_PUSH_QUEUE": "bench-push",
        }
    )
    for name in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


# ---------------------------------------------------------------- moto's tables, read in memory


def _backend() -> Any:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]


def stored_size(touch: Touch) -> int:
    """The stored size of the item a request touches (0 if there is none)."""
    try:
        item = _backend().get_item(touch.table, touch.key_json())
    except Exception:  # a table or key moto does not know: nothing stored
        return 0
    return item_size(item.to_json()["Attributes"]) if item else 0


def _key_names(table: str) -> list[str]:
    schema = _backend().get_table(table)
    return [schema.hash_key_attr] + ([schema.range_key_attr] if schema.range_key_attr else [])


def key_of(table: str, item: Mapping[str, Any]) -> Mapping[str, Any]:
    """The key attributes of ``item`` (those it carries) in ``table``."""
    return {name: item[name] for name in _key_names(table) if name in item}


def query_sizes(table: str, items: list[Mapping[str, Any]]) -> list[int]:
    """The stored sizes of the items a Query returned: whole items, whatever it projected, when
    their keys came back; else what came back (the project's queries project no keys away)."""
    sizes = []
    for item in items:
        key = key_of(table, item)
        whole = len(key) == len(_key_names(table))
        sizes.append(stored_size(Touch.of(table, key, write=False)) if whole else item_size(item))
    return sizes


# ---------------------------------------------------------------- results


@dataclass
class Send:
    """One measured send: every call it caused, and when things happened (perf_counter)."""

    members: int
    started: float
    handler_seconds: float
    calls: list[Call]
    sender_connection: str
    worker_seconds: list[float] = field(default_factory=list)
    worker_started: list[float] = field(default_factory=list)
    worker_batches: list[int] = field(default_factory=list)
    push_seconds: list[float] = field(default_factory=list)  # push-worker invocations
    esm_calls: list[Call] = field(default_factory=list)
    inbound_bytes: int = 0
    handler_thread: str = "MainThread"

    def of(self, service: str, thread: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.service == service and (thread is None or c.thread == thread)]

    @property
    def posts(self) -> list[Call]:
        return [c for c in self.calls if c.operation == "PostToConnection"]

    @property
    def ack(self) -> Call:
        return next(c for c in self.posts if c.connection_id == self.sender_connection)

    @property
    def deliveries(self) -> list[Call]:
        return [c for c in self.posts if c.connection_id != self.sender_connection]

    @property
    def to_ack(self) -> float:
        return self.ack.ended - self.started

    @property
    def to_last_delivery(self) -> float:
        return max(c.ended for c in self.deliveries) - self.started

    def excess_until(self, moment: float) -> float:
        """Time moto took beyond AWS's latency in the handler's own calls (one after another)
        that ended by ``moment``: the part of the measured time AWS would not take."""
        return sum(c.excess for c in self.calls if c.thread == self.handler_thread and c.ended <= moment)

    @property
    def aws_to_ack(self) -> float:
        return self.to_ack - self.excess_until(self.ack.ended)

    @property
    def aws_to_last_delivery(self) -> float:
        first = min(c.started for c in self.deliveries)
        return self.to_last_delivery - self.excess_until(first)

    @property
    def aws_handler_seconds(self) -> float:
        return self.handler_seconds - self.excess_until(math.inf)

    @property
    def shards(self) -> int:
        return sum(c.entries for c in self.calls if shards_sent(c))


@dataclass
class Size:
    members: int
    sends: list[Send]
    offline: int = 0  # members offline with a device (they get a push, not a frame)


# ---------------------------------------------------------------- the world


class World:
    """moto, the tables and queues, the meter, and the services the handlers run on."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self._users = 0

    @contextmanager
    def running(self) -> Iterator[World]:
        from moto import mock_aws

        from chatlocal.aws.moto_atomic import serialize_dynamodb_requests
        from chatlocal.aws.moto_fast import answer_dynamodb_fast

        serialize_dynamodb_requests()
        answer_dynamodb_fast()
        with mock_aws():
            import boto3

            from chalicelib.storage.tables import create_tables

            create_tables()
            self.sqs = boto3.client("sqs", region_name="us-east-1")
            self.queue_url = self.sqs.create_queue(QueueName="bench-fanout")["QueueUrl"]
            self.push_url = self.sqs.create_queue(QueueName="bench-push")["QueueUrl"]
            self.sns = boto3.client("sns", region_name="us-east-1")
            self.apns_arn = self.sns.create_platform_application(
                Name="bench-apns", Platform="APNS", Attributes={"PlatformCredential": "bench"}
            )["PlatformApplicationArn"]
            try:
                yield self
            finally:
                from chalicelib import runtime

                runtime.use_service(None)

    def setup_service(self, api: Any) -> Any:
        """The service as the functional tier builds it: the fake management API, for setup."""
        return self._service(api.client_for, 32)

    def deployed_service(self) -> Any:
        """The service as ``chalicelib.runtime`` wires it on Lambda: boto3 management posts."""
        from chalicelib.config import Settings
        from chalicelib.delivery.posting import boto3_client_factory

        settings = Settings.from_env()
        return self._service(boto3_client_factory(settings.region, self.concurrency), self.concurrency)

    @property
    def concurrency(self) -> int:
        return configured()[1]

    def _service(self, poster: Any, concurrency: int) -> Any:
        import dataclasses

        from chalicelib import runtime
        from chalicelib.config import Settings
        from chalicelib.push.providers import Providers, SnsProvider
        from chalicelib.queues import SqsQueue

        settings = dataclasses.replace(Settings.from_env(), fanout_concurrency=concurrency)
        return runtime.build_service(
            settings,
            poster,
            fanout_queue=SqsQueue(self.sqs, "bench-fanout"),
            push_queue=SqsQueue(self.sqs, "bench-push"),
            providers=Providers({"apns": SnsProvider(lambda: self.sns, self.apns_arn)}),
        )

    # -- a chat of N connected members

    def chat(self, members: int, offline: int = 0) -> tuple[str, str, str]:
        """(chat id, sender's user id, sender's connection id) of a new chat of ``members``
        users, each connected once, made without latency and left with nothing queued; the
        last ``offline`` of them then register an iPhone (APNs through SNS) and disconnect."""
        import app as chalice_app
        from chalicelib import runtime
        from chalicelib.testing import FakeManagementApi, Harness

        self.meter.latency = None
        api = FakeManagementApi()
        runtime.use_service(self.setup_service(api))
        harness = Harness(chalice_app, api, sqs=self.sqs, queue_url=self.queue_url)
        base = self._users
        self._users += members
        users = [f"u{base + i:05d}" for i in range(members)]
        clients = [harness.connect(user) for user in users]
        sender = clients[0]
        chat_id = harness.chat(sender, *users[1:], title=f"{members} members")
        harness.drain_fanout()
        for client in clients[members - offline :]:
            reply = client.send("device.register", platform="apns", token=f"{client.user_id}-iphone")
            assert reply and reply["event"] == "device:registered", reply
            client.disconnect()
        return chat_id, sender.user_id, sender.connection_id


# ---------------------------------------------------------------- measuring


def frame_body(chat_id: str, n: int) -> str:
    return json.dumps(
        {
            "action": "message.send",
            "req": f"b{n}",
            "chat_id": chat_id,
            "client_msg_id": f"bench-{n}",
            "text": TEXT,
        }
    )


class Pollers:
    """Lambda's SQS event source mapping for the fan-out queue: ``POLLERS`` threads receiving up
    to ``SHARD_BATCH`` shards each, waiting the hand-off, invoking a fan-out worker of their own,
    deleting what it did not report failed."""

    def __init__(self, world: World, service: Any) -> None:
        self.world = world
        self.service = service
        self.done = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.durations: list[float] = []
        self.starts: list[float] = []
        self.batches: list[int] = []  # shards per invocation
        self.threads = [
            threading.Thread(target=self._poll, name=f"esm-{i}", daemon=True) for i in range(POLLERS)
        ]

    def __enter__(self) -> Pollers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def wait_for(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.done >= count:
                    return
            time.sleep(0.002)
        raise TimeoutError(f"the fan-out worker ran {self.done} of {count} shards")

    def _poll(self) -> None:
        from chalicelib.delivery.fanout import FanoutWorker
        from chalicelib.delivery.posting import Delivery, boto3_client_factory

        concurrency = self.world.concurrency
        worker = FanoutWorker(
            Delivery(boto3_client_factory("us-east-1", concurrency), concurrency),
            self.service.forget,
            self.service.store,
            self.service.actions.messages,
        )
        sqs, url = self.world.sqs, self.world.queue_url
        while not self.stop.is_set():
            received = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=SHARD_BATCH, WaitTimeSeconds=1
            ).get("Messages", [])
            if not received:
                continue
            latency = self.world.meter.latency
            if latency is not None:
                time.sleep(latency.draw(*HANDOFF))
            started = time.perf_counter()
            result = worker.handle({"Records": [_record(m) for m in received]})
            with self.lock:
                self.durations.append(time.perf_counter() - started)
                self.starts.append(started)
                self.batches.append(len(received))
            failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
            done = [m for m in received if m["MessageId"] not in failed]
            if done:
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
                sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            with self.lock:
                self.done += len(received)


def shards_sent(call: Call) -> bool:
    """A call queuing fan-out shards (not push jobs)."""
    return call.operation == "SendMessageBatch" and call.queue == FANOUT_QUEUE


def _polling(call: Call) -> bool:
    """A call of the event source mapping itself (not of the fan-out worker it invokes)."""
    return call.thread.startswith("esm-") and call.operation in ("ReceiveMessage", "DeleteMessageBatch")


def _counts(call: Call) -> bool:
    """An event source mapping's call worth billing to a send: not an empty long poll."""
    return call.operation != "ReceiveMessage" or call.entries > 0


def _record(message: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench-fanout",
        "awsRegion": "us-east-1",
    }


def measure(world: World, members: int, sends: int, latency: Latency | None, offline: int = 0) -> Size:
    """``sends`` measured sends into a new chat of ``members`` (``offline`` of them offline
    with a device), after one warm-up send."""
    import app as chalice_app
    from chalicelib import runtime
    from chalicelib.testing import ws_event

    chat_id, _, connection = world.chat(members, offline)
    service = world.deployed_service()
    runtime.use_service(service)
    measured: list[Send] = []
    meter = world.meter
    with Pollers(world, service) as pollers:
        shards_before = 0
        for n in range(sends + 1):
            meter.latency = latency
            body = frame_body(chat_id, n)
            mark = meter.mark()
            ran_before = len(pollers.durations)
            started = time.perf_counter()
            chalice_app.message(ws_event("$default", connection, body=body), None)
            handler_seconds = time.perf_counter() - started
            calls_so_far = meter.since(mark)
            shards = sum(c.entries for c in calls_so_far if shards_sent(c))
            pollers.wait_for(shards_before + shards)
            shards_before += shards
            push_seconds = drain_push(world) if offline else []
            all_calls = meter.since(mark)
            send = Send(
                members=members,
                started=started,
                handler_seconds=handler_seconds,
                calls=[c for c in all_calls if not _polling(c)],
                sender_connection=connection,
                worker_seconds=pollers.durations[ran_before:],
                worker_started=pollers.starts[ran_before:],
                worker_batches=pollers.batches[ran_before:],
                esm_calls=[c for c in all_calls if _polling(c) and _counts(c)],
                inbound_bytes=len(body.encode("utf-8")),
                handler_thread=threading.current_thread().name,
                push_seconds=push_seconds,
            )
            if n:  # the first send warms clients and pools up
                measured.append(send)
    meter.latency = None
    return Size(members, measured, offline)


PUSH_BATCH = 10  # app.py: @app.on_sqs_message(queue=push queue, batch_size=10)


def drain_push(world: World) -> list[float]:
    """Run the push Lambda over every queued push job, as its event source mapping would (on
    a thread of its own, batches of 10); returns each invocation's duration."""
    durations: list[float] = []
    thread = threading.Thread(target=_drain_push, args=(world, durations), name="esm-push")
    thread.start()
    thread.join()
    return durations


def _drain_push(world: World, durations: list[float]) -> None:
    import app as chalice_app

    sqs, url = world.sqs, world.push_url
    while received := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=PUSH_BATCH).get("Messages", []):
        started = time.perf_counter()
        result = chalice_app.push({"Records": [_record(m) for m in received]}, None)
        durations.append(time.perf_counter() - started)
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(received)
            if m["MessageId"] not in failed
        ]
        if entries:
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)


def run(sizes: Sequence[tuple[int, ...]], latency: Latency | None) -> list[Size]:
    """Measure each (members, sends[, offline]); install the meter first (before any AWS
    client exists)."""
    prepare_environment()
    meter = Meter(stored_size, key_of, query_sizes)
    meter.install()
    world = World(meter)
    with world.running():
        return [measure(world, size[0], size[1], latency, size[2] if len(size) > 2 else 0) for size in sizes]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0
