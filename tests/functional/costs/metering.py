"""Every AWS request an action makes, at the botocore level, with DynamoDB's request units.

``CostMeter.install()`` wraps ``botocore.client.BaseClient._make_api_call`` (where every boto3
and PynamoDB request passes, whichever session made the client); ``meter.measure()`` is a
context manager that collects the requests made while it is open into a ``Requests`` list. Each
``Request`` says which Lambda function made it (``websocket_message`` for ``$default``,
``fanout``, ``push``; "" for the test driver itself, e.g. draining a queue: see
``tests/conftest.py``'s ``function_of``), its service, operation and tables, and for DynamoDB
its read and write units computed as ``bench/counting.py`` computes them: from the items'
stored sizes in moto's memory before and after the request, with DynamoDB's published rules
(docs/cost.md, "How it is counted"; moto's own ConsumedCapacity figures are constants). A
request DynamoDB refuses (a failed condition, a cancelled transaction) is recorded too
(``failed``), with the units of the items as they stayed: DynamoDB bills a failed conditional
write; that a cancelled transaction is billed the same way (a retried send's is 8 WRU) is an
assumption not checked against AWS's pages.

Outside ``measure()`` the wrapper only passes calls on, so filling tables stays fast.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import botocore.client

from bench.counting import Touch, query_units, request_units, touches
from bench.scenario import key_of, query_sizes, stored_size
from tests.conftest import function_of

DEFAULT = "websocket_message"  # the $default Lambda, as tests/conftest.py names functions
FANOUT = "fanout"
PUSH = "push"
TABLE_PREFIX = "test-"


@dataclass(frozen=True)
class Request:
    function: str  # the Lambda function that made it ("" for the test driver)
    service: str  # dynamodb, sqs, s3, sns...
    operation: str
    tables: tuple[str, ...] = ()  # DynamoDB tables without the prefix, sorted
    rru: float = 0.0
    wru: float = 0.0
    messages: int = 0  # SQS messages sent by a SendMessage(Batch)
    queue: str = ""  # the SQS queue's name
    failed: bool = False


class Requests(list[Request]):
    """The requests of one measurement, with the sums the tests assert on."""

    def of(self, function: str | None = None, service: str | None = "dynamodb") -> Requests:
        return Requests(
            r
            for r in self
            if (function is None or r.function == function) and (service is None or r.service == service)
        )

    def ops(self) -> list[str]:
        return [r.operation for r in self]

    @property
    def wru(self) -> float:
        return sum(r.wru for r in self)

    @property
    def rru(self) -> float:
        return sum(r.rru for r in self)

    def sqs_messages(self, queue_contains: str = "") -> int:
        """SQS messages sent (to the queues whose name contains ``queue_contains``)."""
        return sum(r.messages for r in self if r.service == "sqs" and queue_contains in r.queue)

    def summary(self) -> str:
        return f"{len(self)} requests, {self.wru:g} WRU, {self.rru:g} RRU: {self.ops()}"


def _tables(operation: str, params: Mapping[str, Any]) -> tuple[str, ...]:
    names = {params["TableName"]} if "TableName" in params else set()
    names.update(params.get("RequestItems") or {})
    for entry in params.get("TransactItems") or []:
        names.update(action.get("TableName", "") for action in entry.values())
    return tuple(sorted(n.removeprefix(TABLE_PREFIX) for n in names if n))


def _sqs_messages(operation: str, params: Mapping[str, Any]) -> int:
    if operation == "SendMessage":
        return 1
    if operation == "SendMessageBatch":
        return len(params.get("Entries") or [])
    return 0


class CostMeter:
    def __init__(self) -> None:
        self._sinks: list[Requests] = []
        self._lock = threading.Lock()
        self._original: Any = None

    def install(self) -> None:
        original = self._original = botocore.client.BaseClient._make_api_call
        meter = self

        def metered(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if not meter._sinks:
                return original(client, operation, params)
            return meter._call(original, client, operation, params, function_of(sys._getframe(1)))

        botocore.client.BaseClient._make_api_call = metered  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            botocore.client.BaseClient._make_api_call = self._original  # type: ignore[method-assign]
            self._original = None

    @contextmanager
    def measure(self) -> Iterator[Requests]:
        """The requests made (by any thread) while the block runs."""
        found = Requests()
        with self._lock:
            self._sinks.append(found)
        try:
            yield found
        finally:
            with self._lock:
                self._sinks.remove(found)

    def _record(self, request: Request) -> None:
        with self._lock:
            for sink in self._sinks:
                sink.append(request)

    def _call(self, original: Any, client: Any, operation: str, params: dict[str, Any], function: str) -> Any:
        service = client.meta.service_model.endpoint_prefix
        if service != "dynamodb":
            try:
                answer = original(client, operation, params)
            except Exception:
                self._record(Request(function, service, operation, failed=True))
                raise
            queue = (
                str(params.get("QueueUrl") or params.get("QueueName") or "").rstrip("/").rpartition("/")[2]
            )
            self._record(
                Request(function, service, operation, messages=_sqs_messages(operation, params), queue=queue)
            )
            return answer
        touched: list[Touch] = touches(operation, params, key_of)
        before = {t: stored_size(t) for t in touched if t.write}
        tables = _tables(operation, params)
        try:
            answer = original(client, operation, params)
        except Exception:
            after = {t: stored_size(t) for t in touched}
            rru, wru = request_units(touched, before, after)
            self._record(Request(function, service, operation, tables, rru, wru, failed=True))
            raise
        if operation in ("Query", "Scan"):
            table = str(params.get("TableName", ""))
            sizes = query_sizes(table, list(answer.get("Items") or []))
            rru, wru = query_units(sizes, bool(params.get("ConsistentRead"))), 0.0
        else:
            after = {t: stored_size(t) for t in touched}
            rru, wru = request_units(touched, before, after)
        self._record(Request(function, service, operation, tables, rru, wru))
        return answer


def batches(count: int, size: int = 100) -> int:
    """ceil(count / size): requests for ``count`` keys read ``size`` at a time."""
    return math.ceil(count / size)
