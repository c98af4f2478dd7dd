"""Make moto's DynamoDB and SQS behave like the services under concurrency, and keep
DynamoDB transactions cheap.

1. One request at a time. moto's ``transact_write_items`` is not atomic against concurrent
   writers and can corrupt state when two threads write at once ("dictionary changed size
   during iteration"). Real DynamoDB isolates each request; a process-wide lock around moto's
   request handling gives the test double (and the local stack's embedded server) the same
   property, so concurrency tests exercise our code and not moto's races.

2. Transactions of up to 100 items, as DynamoDB has allowed since 2022 (moto still stops at 25).

3. Transactions that cost what they touch. To roll back, moto deep-copies every table a
   transaction names, so each ``message.send`` costs time proportional to all messages ever
   stored: the local stack slowed down as it was used. Here the rollback copies only the items
   the transaction touches, restoring them when it is cancelled.

4. One SQS request at a time, except while a long poll waits. moto's queues are plain lists
   and sets: two concurrent ReceiveMessage calls can hand out the same message, and a
   DeleteMessage that rebuilds the list drops a message sent meanwhile. SQS does neither. The
   lock is released while ReceiveMessage waits for messages, so a long poll does not hold up
   the SendMessageBatch it is waiting for. And a retention check that costs one message: moto
   computes every attribute of the queue (counting all its messages) for each message it hands
   out, so a receive cost time proportional to the square of the queue's length.

5. A count of DynamoDB requests that may write, so the local stack's periodic save
   (chatlocal.aws.table_store) skips saving when nothing changed; and an observer of those
   requests, called before their answer is sent (the journal, chatlocal.aws.journal).

6. ``ClientRequestToken`` on TransactWriteItems, as DynamoDB honours it (moto ignores it). A
   transaction that succeeded is remembered by its token for 10 minutes: the same token with the
   same request again answers success without applying anything (botocore fills in a token and
   resends it unchanged when it retries a call whose answer it never got: a committed
   transaction retried is not applied twice); the same token with other parameters is refused
   with ``IdempotentParameterMismatchException``. A transaction that failed is not remembered
   (DynamoDB runs a retry of it again). Tokens live in this process only.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.sqs.models import Message, Queue, SQSBackend
from moto.sqs.responses import SQSResponse

_lock = threading.RLock()
_cheap_table_copies = threading.local()
_sqs_lock = threading.Lock()
_sqs_holder = threading.local()


def serialize_dynamodb_requests() -> None:
    """Idempotent: patch moto once per process."""
    if getattr(DynamoHandler.call_action, "_serialized", False):
        return
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        with _lock:
            action = _action(self)
            if action in _READ_ACTIONS:
                return original(self)
            _writes.count += 1
            response = original(self)
            observer = _observer.write
            if observer is not None:  # before the answer leaves: the journal (chatlocal.aws.journal)
                observer(self, action, response)
            return response

    call_action._serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    dynamodb_responses.TRANSACTION_MAX_ITEMS = 100
    _patch_transactions()
    _honour_client_request_tokens()


class _WriteCount:
    count = 0


_writes = _WriteCount()


class _Observer:
    write: Callable[[DynamoHandler, str, Any], None] | None = None


_observer = _Observer()
_READ_ACTIONS = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable", "ListTables"}
    | {"DescribeTimeToLive", "DescribeContinuousBackups", "ListTagsOfResource", "DescribeEndpoints"}
)


def _action(handler: DynamoHandler) -> str:
    target = handler.headers.get("X-Amz-Target") or handler.headers.get("x-amz-target") or ""
    return str(target).rpartition(".")[2]


def dynamodb_lock() -> threading.RLock:
    """The lock every DynamoDB request holds while moto handles it (once serialized)."""
    return _lock


def dynamodb_writes() -> int:
    """How many requests that may change data moto has handled (reads are not counted)."""
    return _writes.count


def observe_writes(observer: Callable[[DynamoHandler, str, Any], None] | None) -> None:
    """Call ``observer(handler, action, response)`` after each DynamoDB request that may write,
    under the lock and before its answer is sent (None: stop). What it raises fails the request."""
    _observer.write = observer


def serialize_sqs_requests() -> None:
    """Idempotent: patch moto once per process."""
    if getattr(SQSResponse.call_action, "_serialized", False):
        return
    original_call = SQSResponse.call_action
    original_wait = Queue.wait_for_messages

    @functools.wraps(original_call)
    def call_action(self: SQSResponse) -> Any:
        with _sqs_lock:
            _sqs_holder.active = True
            try:
                return original_call(self)
            finally:
                _sqs_holder.active = False

    @functools.wraps(original_wait)
    def wait_for_messages(self: Queue, timeout: int) -> None:
        if not getattr(_sqs_holder, "active", False):
            return original_wait(self, timeout)
        _sqs_lock.release()
        try:
            return original_wait(self, timeout)
        finally:
            _sqs_lock.acquire()

    call_action._serialized = True  # type: ignore[attr-defined]
    SQSResponse.call_action = call_action  # type: ignore[method-assign,assignment]
    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = _within_retention  # type: ignore[method-assign]


def _within_retention(self: SQSBackend, queue_name: str, message: Message) -> bool:
    """moto's own check, reading the one attribute it needs instead of computing them all."""
    queue: Any = self.get_queue(queue_name)  # its attributes are set from a dict, untyped
    retention_seconds = int(queue.message_retention_period)
    return bool(retention_seconds + (message.sent_timestamp or 0) / 1000 > unix_time())


def _patch_transactions() -> None:
    original = DynamoDBBackend.transact_write_items
    default_deepcopy = getattr(Table, "__deepcopy__", None)

    def table_deepcopy(self: Table, memo: dict[int, Any]) -> Any:
        if getattr(_cheap_table_copies, "active", False):
            return self  # the caller's rollback becomes a no-op; ours restores the items
        if default_deepcopy is not None:
            return default_deepcopy(self, memo)
        clone = copy.copy(self)
        memo[id(self)] = clone
        clone.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return clone

    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        saved = _touched_items(self, transact_items)
        _cheap_table_copies.active = True
        try:
            original(self, transact_items)
        except BaseException:
            _restore(self, saved)
            raise
        finally:
            _cheap_table_copies.active = False

    Table.__deepcopy__ = table_deepcopy  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _key_of(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any] | None:
    table = backend.tables.get(op.get("TableName", ""))
    if table is None:
        return None
    if op_type == "Put":
        attrs = op.get("Item") or {}
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        if not all(name in attrs for name in names):
            return None
        return {name: attrs[name] for name in names}
    key = op.get("Key")
    return key if isinstance(key, dict) else None


def _touched_items(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> list[tuple[str, dict[str, Any], Any]]:
    saved = []
    for entry in transact_items:
        if len(entry) != 1:
            continue
        op_type, op = next(iter(entry.items()))
        if not isinstance(op, dict):
            continue
        key = _key_of(backend, op_type, op)
        if key is None:
            continue
        try:
            current = backend.get_item(op["TableName"], key)
        except Exception:  # an invalid key: moto reports it, and nothing was written
            continue
        saved.append((op["TableName"], key, copy.deepcopy(current)))
    return saved


def _restore(backend: DynamoDBBackend, saved: list[tuple[str, dict[str, Any], Any]]) -> None:
    for table_name, key, item in reversed(saved):
        if item is None:
            with contextlib.suppress(Exception):
                backend.delete_item(table_name, key)
        else:
            backend.tables[table_name].put_item(item.to_json()["Attributes"])


# -- ClientRequestToken -----------------------------------------------------------------------

TOKEN_WINDOW_SECONDS = 600  # DynamoDB's idempotency window for a client request token
MAX_TOKEN_LENGTH = 36
_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"


class IdempotentParameterMismatch(JsonRESTError):
    def __init__(self) -> None:
        super().__init__(
            _ERROR_PREFIX + "IdempotentParameterMismatchException",
            "Request Parameters Mismatch: the ClientRequestToken was used with other parameters"
            " within the last 10 minutes",
        )


class InvalidToken(JsonRESTError):
    def __init__(self, length: int) -> None:
        super().__init__(
            _ERROR_PREFIX + "ValidationException",
            f"1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint:"
            f" Member must have length less than or equal to {MAX_TOKEN_LENGTH} (got {length})",
        )


@dataclass(frozen=True)
class _Committed:
    expires: float
    fingerprint: str
    response: Any


class TransactionTokens:
    """The tokens of committed transactions, for 10 minutes. Used under the DynamoDB lock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._committed: dict[tuple[str, str, str], _Committed] = {}

    def run(self, scope: tuple[str, str], body: dict[str, Any], transact: Callable[[], Any]) -> Any:
        """``transact()``'s answer, or the remembered one for a repeat of a committed request."""
        token = body.get("ClientRequestToken")
        if not token:
            return transact()
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken(len(str(token)))
        now = self._clock()
        self._forget_expired(now)
        fingerprint = json.dumps(
            {k: v for k, v in body.items() if k != "ClientRequestToken"},
            sort_keys=True,
            default=repr,  # binary attribute values arrive parsed as bytes
        )
        key = (*scope, token)
        committed = self._committed.get(key)
        if committed is not None:
            if committed.fingerprint != fingerprint:
                raise IdempotentParameterMismatch()
            return committed.response
        response = transact()  # raises when cancelled: nothing to remember
        self._committed[key] = _Committed(now + TOKEN_WINDOW_SECONDS, fingerprint, response)
        return response

    def _forget_expired(self, now: float) -> None:
        """The oldest first: tokens are added in the order they expire."""
        while self._committed:
            oldest = next(iter(self._committed))
            if self._committed[oldest].expires > now:
                return
            del self._committed[oldest]

    def __len__(self) -> int:
        return len(self._committed)


transaction_tokens = TransactionTokens()


def _honour_client_request_tokens() -> None:
    original = DynamoHandler.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: DynamoHandler) -> Any:
        scope = (str(self.current_account), str(self.region))
        return transaction_tokens.run(scope, self.body, lambda: original(self))

    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]
