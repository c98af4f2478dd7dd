"""Counting (and slowing down) the AWS calls the handlers make, with botocore event hooks.

``Meter.install()`` adds three handlers to every botocore session created afterwards (boto3's,
and the one PynamoDB opens per thread), the way moto adds its own stubber:

- ``provide-client-params.dynamodb.*`` asks DynamoDB for ``ReturnConsumedCapacity=TOTAL``;
- ``before-parameter-build.*`` notes when the call starts and, for DynamoDB writes, the size of
  each item it touches as stored before the call;
- ``before-send`` (ahead of moto's stubber) notes when the request leaves the client;
- ``after-call.*`` records the call (``Call``): what moto answered as consumed capacity, the
  request units computed from the items' stored sizes with DynamoDB's published rules (moto's
  own figures are constants, not sizes: see docs/cost.md), and, when a ``Latency`` is set,
  sleeps until the service side of the call (from sending to the answer) has taken the
  latency drawn for it. When moto alone took longer, the difference is the call's ``excess``:
  time AWS would not have taken, which the reports subtract where calls run one after another.

Nothing here is imported by chalicelib: the hooks live in the benchmark process only.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KB = 1024
READ_BLOCK = 4 * KB
WRITE_BLOCK = 1 * KB

# Operations that take ReturnConsumedCapacity.
CAPACITY_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


# ---------------------------------------------------------------- item sizes and request units


def number_size(text: str) -> int:
    """A number's stored size: about one byte per two significant digits, plus one."""
    digits = text.strip().lstrip("+-").replace(".", "").lower().split("e")[0].strip("0")
    return math.ceil(max(1, len(digits)) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """The stored size of one DynamoDB-JSON value (``{"S": "x"}``, ``{"M": {...}}``...)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "N":
        return number_size(str(data))
    if kind == "B":
        return len(data if isinstance(data, bytes | bytearray) else str(data).encode("utf-8"))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(number_size(str(n)) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in data.items())
    raise ValueError(f"not a DynamoDB attribute value type: {kind!r}")


def item_size(attributes: Mapping[str, Mapping[str, Any]] | None) -> int:
    """An item's size as DynamoDB meters it: attribute names plus values, in bytes."""
    if not attributes:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(v) for name, v in attributes.items())


def read_units(size: int, consistent: bool = True, transactional: bool = False) -> float:
    """Request units for reading one item (or one Query's items) of ``size`` bytes: one unit per
    4 KB strongly consistent, half that eventually consistent, twice that in a transaction. An
    absent item costs the minimum."""
    units = float(max(1, math.ceil(size / READ_BLOCK)))
    if transactional:
        return units * 2
    return units if consistent else units / 2


def write_units(before: int, after: int, transactional: bool = False) -> int:
    """Request units for writing one item: one per 1 KB of the larger of its sizes before and
    after the write (at least one), twice that in a transaction."""
    units = max(1, math.ceil(max(before, after) / WRITE_BLOCK))
    return units * 2 if transactional else units


# ---------------------------------------------------------------- what a request touches


@dataclass(frozen=True)
class Touch:
    """One item a request reads or writes: its table and key (DynamoDB JSON)."""

    table: str
    key: tuple[tuple[str, str, str], ...]  # (attribute, type, value) sorted
    write: bool
    consistent: bool = True
    transactional: bool = False

    @classmethod
    def of(cls, table: str, key: Mapping[str, Mapping[str, Any]], **flags: bool) -> Touch:
        parts = tuple(sorted((name, *next(iter(v.items()))) for name, v in key.items()))
        return cls(table, tuple((n, t, str(d)) for n, t, d in parts), **flags)

    def key_json(self) -> dict[str, dict[str, str]]:
        return {name: {kind: value} for name, kind, value in self.key}


KeyOf = Callable[[str, Mapping[str, Any]], Mapping[str, Mapping[str, Any]]]


def touches(operation: str, params: Mapping[str, Any], key_of: KeyOf) -> list[Touch]:
    """The items a DynamoDB request names (Query's are known only from its answer).
    ``key_of(table, item)`` picks an item's key attributes."""
    consistent = bool(params.get("ConsistentRead"))
    table = str(params.get("TableName", ""))
    if operation == "GetItem":
        return [Touch.of(table, params["Key"], write=False, consistent=consistent)]
    if operation in ("UpdateItem", "DeleteItem"):
        return [Touch.of(table, params["Key"], write=True)]
    if operation == "PutItem":
        return [Touch.of(table, key_of(table, params["Item"]), write=True)]
    if operation == "BatchGetItem":
        return [
            Touch.of(name, key, write=False, consistent=bool(request.get("ConsistentRead")))
            for name, request in params["RequestItems"].items()
            for key in request["Keys"]
        ]
    if operation == "BatchWriteItem":
        found = []
        for name, requests in params["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    found.append(Touch.of(name, key_of(name, request["PutRequest"]["Item"]), write=True))
                else:
                    found.append(Touch.of(name, request["DeleteRequest"]["Key"], write=True))
        return found
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return [_transact_touch(entry, key_of) for entry in params["TransactItems"]]
    return []


def _transact_touch(entry: Mapping[str, Any], key_of: KeyOf) -> Touch:
    ((kind, action),) = entry.items()
    table = str(action["TableName"])
    key = key_of(table, action["Item"]) if kind == "Put" else action["Key"]
    # A ConditionCheck is metered as a transactional write of the item it checks: AWS charges two
    # underlying writes for every item in a transaction (docs/cost.md, "How it is counted").
    return Touch.of(table, key, write=kind != "Get", transactional=True)


def request_units(
    touched: Iterable[Touch], before: Mapping[Touch, int], after: Mapping[Touch, int]
) -> tuple[float, float]:
    """(read units, write units) of a request, item by item."""
    rru = wru = 0.0
    for touch in touched:
        if touch.write:
            wru += write_units(before.get(touch, 0), after.get(touch, 0), touch.transactional)
        else:
            rru += read_units(after.get(touch, 0), touch.consistent, touch.transactional)
    return rru, wru


def query_units(sizes: Iterable[int], consistent: bool) -> float:
    """A Query reads its items as one: their sizes summed, then rounded up to 4 KB."""
    return read_units(sum(sizes), consistent)


def consumed_total(parsed: Mapping[str, Any]) -> float:
    """The ``ConsumedCapacity`` total in an answer (one entry, or a list per table)."""
    consumed = parsed.get("ConsumedCapacity")
    entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
    return float(sum(float(e.get("CapacityUnits") or 0) for e in entries))


# ---------------------------------------------------------------- latency


@dataclass(frozen=True)
class LogNormal:
    """A latency distribution given by its median and 99th percentile, in milliseconds."""

    median_ms: float
    p99_ms: float

    def draw(self, rng: random.Random) -> float:
        sigma = math.log(self.p99_ms / self.median_ms) / 2.326
        return rng.lognormvariate(math.log(self.median_ms), sigma) / 1000.0


@dataclass
class Latency:
    """How long each call takes on AWS: a distribution per (service, operation), or per service
    under operation ``"*"``; drawn from one seeded generator."""

    table: Mapping[tuple[str, str], LogNormal]
    seed: int = 1
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def distribution(self, service: str, operation: str) -> LogNormal | None:
        return self.table.get((service, operation)) or self.table.get((service, "*"))

    def draw(self, service: str, operation: str) -> float:
        dist = self.distribution(service, operation)
        if dist is None:
            return 0.0
        with self._lock:
            return dist.draw(self._rng)


# ---------------------------------------------------------------- the meter


@dataclass
class Call:
    service: str
    operation: str
    thread: str
    started: float
    ended: float = 0.0
    rru: float = 0.0
    wru: float = 0.0
    moto_units: float = 0.0
    injected: float = 0.0  # the latency drawn for the call, seconds
    sent: float = 0.0  # when the request left botocore for moto
    excess: float = 0.0  # how much longer moto took than the latency drawn, seconds
    bytes: int = 0  # PostToConnection payload / SQS message bodies
    entries: int = 0  # SQS messages sent, received or deleted
    queue: str = ""  # the SQS queue's name
    connection_id: str = ""
    failed: bool = False

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def over(self) -> bool:
        """moto took longer than the latency drawn for the call."""
        return self.excess > 0


ItemSizer = Callable[[Touch], int]
QuerySizer = Callable[[str, list[Mapping[str, Any]]], list[int]]


class Meter:
    """Records every AWS call made through botocore in this process once installed.

    ``sizer(touch)`` gives an item's stored size (0 if absent) and ``key_of(table, item)`` its
    key: both read the DynamoDB behind the calls (moto's memory, in the benchmark)."""

    def __init__(self, sizer: ItemSizer, key_of: KeyOf, query_sizes: QuerySizer) -> None:
        self.sizer = sizer
        self.key_of = key_of
        self.query_sizes = query_sizes
        self.latency: Latency | None = None
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    # -- installing

    def install(self) -> None:
        """Hook every botocore session made from now on (install before any client exists)."""
        import boto3
        from botocore.handlers import BUILTIN_HANDLERS

        BUILTIN_HANDLERS.insert(0, ("before-send", self._sent))  # before moto's stubber answers
        BUILTIN_HANDLERS.extend(self._hooks())
        boto3.DEFAULT_SESSION = None  # a session made earlier would lack the hooks

    def register(self, session: Any) -> None:
        """Hook one botocore session only (tests: the rest of the process is left alone)."""
        events = session.get_component("event_emitter")
        events.register_first("before-send", self._sent)
        for event, handler in self._hooks():
            events.register(event, handler)

    def _hooks(self) -> list[tuple[str, Callable[..., None]]]:
        return [
            ("provide-client-params.dynamodb.*", self._ask_capacity),
            ("before-parameter-build.*.*", self._before),
            ("after-call.*.*", self._after),
        ]

    def mark(self) -> int:
        with self._lock:
            return len(self.calls)

    def since(self, mark: int) -> list[Call]:
        with self._lock:
            return list(self.calls[mark:])

    # -- the hooks

    @staticmethod
    def _ask_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in CAPACITY_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _before(self, params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_id.hyphenize()
        call = Call(service, model.name, threading.current_thread().name, time.perf_counter())
        touched: list[Touch] = []
        if service == "dynamodb":
            touched = touches(model.name, params, self.key_of)
            context["h7_before"] = {t: self.sizer(t) for t in touched if t.write}
            context["h7_consistent"] = bool(params.get("ConsistentRead"))
            context["h7_table"] = str(params.get("TableName", ""))
        elif model.name == "PostToConnection":
            call.connection_id = str(params.get("ConnectionId", ""))
            call.bytes = len(params.get("Data") or b"")
        if service == "sqs":
            call.queue = (
                str(params.get("QueueUrl") or params.get("QueueName") or "").rstrip("/").rpartition("/")[2]
            )
        if model.name in ("SendMessageBatch", "DeleteMessageBatch"):
            entries = params.get("Entries") or []
            call.entries = len(entries)
            call.bytes = sum(len(str(e.get("MessageBody", "")).encode()) for e in entries)
        context["h7_call"] = call
        context["h7_touched"] = touched

    @staticmethod
    def _sent(request: Any, **_: Any) -> None:
        call: Call | None = getattr(request, "context", {}).get("h7_call")
        if call is not None:
            call.sent = time.perf_counter()

    def _after(
        self, parsed: Mapping[str, Any], context: dict[str, Any], http_response: Any, **_: Any
    ) -> None:
        call: Call | None = context.get("h7_call")
        if call is None:
            return
        call.failed = int(getattr(http_response, "status_code", 200)) >= 300
        if call.service == "dynamodb":
            self._units(call, parsed, context)
        elif call.operation == "ReceiveMessage":
            messages = parsed.get("Messages") or []
            call.entries = len(messages)
            call.bytes = sum(len(str(m.get("Body", "")).encode()) for m in messages)
        if self.latency is not None:
            call.injected = self.latency.draw(call.service, call.operation)
            sent = call.sent or call.started
            now = time.perf_counter()
            call.excess = max(0.0, (now - sent) - call.injected)
            if sent + call.injected > now:
                time.sleep(sent + call.injected - now)
        call.ended = time.perf_counter()
        with self._lock:
            self.calls.append(call)

    def _units(self, call: Call, parsed: Mapping[str, Any], context: Mapping[str, Any]) -> None:
        call.moto_units = consumed_total(parsed)
        touched: list[Touch] = context.get("h7_touched") or []
        if call.operation == "Query":
            sizes = self.query_sizes(context.get("h7_table", ""), list(parsed.get("Items") or []))
            call.rru = query_units(sizes, bool(context.get("h7_consistent")))
            return
        after = {t: self.sizer(t) for t in touched}
        call.rru, call.wru = request_units(touched, context.get("h7_before") or {}, after)
