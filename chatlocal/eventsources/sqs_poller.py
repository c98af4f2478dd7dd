"""Lambda's SQS event source mapping for the local stack: pollers that receive batches from a
queue, invoke the function with the SQS event, and delete what succeeded.

As on AWS: several batches are in flight at once (one per poller; ``maximum_concurrency`` of
``@app.on_sqs_message``, else 5), each poller long-polls ReceiveMessage for up to the batch size,
invokes the function synchronously, deletes the records that succeeded, and leaves the failed
ones (all of them when the invocation raised) to reappear after the queue's visibility timeout,
until the redrive policy moves them to the dead-letter queue. What the function's answer means
is decided in ``chatlocal.eventsources.sqs_events``; this module only does the I/O.

boto3 calls run on the mapping's own threads, never on the event loop. A long poll waits at most
``wait_seconds`` (Lambda waits up to 20 s; shorter here so that stopping is prompt), and a new
message wakes it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from chatlocal.eventsources.queues import Queue
from chatlocal.eventsources.sqs_events import Settlement, SqsSource, lambda_event, settle
from chatlocal.functions.lambdas import Lambdas

log = logging.getLogger("chatlocal.sqs")

T = TypeVar("T")
DELETE_BATCH = 10
RETRY_PAUSE_SECONDS = 1.0
STAT_NAMES = ("invocations", "records", "deleted", "failed", "batch_failures", "receive_errors")


def sqs_client(region: str, concurrency: int) -> Any:
    """A client for the pollers (``AWS_ENDPOINT_URL_SQS`` picks the endpoint), pooled for them."""
    import boto3
    from botocore.config import Config

    config = Config(max_pool_connections=max(10, concurrency), retries={"mode": "standard"})
    return boto3.client("sqs", region_name=region, config=config)


class EventSourceMapping:
    """One queue feeding one function, polled while the mapping runs."""

    def __init__(
        self,
        source: SqsSource,
        queue: Queue,
        client: Any,
        lambdas: Lambdas,
        region: str,
        wait_seconds: int = 1,
    ) -> None:
        self.source = source
        self.queue = queue
        self.region = region
        self.wait_seconds = wait_seconds
        self._client = client
        self._lambdas = lambdas
        self._counts: Counter[str] = Counter()
        self._stopping = asyncio.Event()
        self._pollers: list[asyncio.Task[None]] = []
        self._threads = ThreadPoolExecutor(
            max_workers=source.concurrency, thread_name_prefix=f"sqs-{source.function}"
        )

    def start(self) -> None:
        self._pollers = [asyncio.ensure_future(self._poll()) for _ in range(self.source.concurrency)]

    async def stop(self, timeout: float = 3) -> None:
        """Receive no more; let the batches in flight finish (within ``timeout``)."""
        self._stopping.set()
        if self._pollers:
            _, late = await asyncio.wait(self._pollers, timeout=timeout)
            for task in late:
                task.cancel()
        self._threads.shutdown(wait=False, cancel_futures=True)

    def stats(self) -> dict[str, int]:
        """Counters since start, named ``{function}_{counter}`` (``fanout_invocations``...)."""
        return {f"{self.source.function}_{name}": self._counts[name] for name in STAT_NAMES}

    # -- one poller ------------------------------------------------------------------------------

    async def _poll(self) -> None:
        while not self._stopping.is_set():
            try:
                messages = await self._receive_batch()
                if messages and not self._stopping.is_set():  # when stopping, they reappear later
                    await self._process(messages)
            except (BotoCoreError, ClientError) as exc:
                self._counts["receive_errors"] += 1
                log.warning("%s: receiving from %s failed: %s", self.source.function, self.queue.name, exc)
                await self._pause()
            except Exception:
                log.exception("%s: poller error", self.source.function)
                await self._pause()

    async def _receive_batch(self) -> list[dict[str, Any]]:
        """Up to the batch size; with a batching window, keep receiving until it is full or the
        window has passed since the first message."""
        batch = await self._call(self._receive, self.source.receive_size(), self.wait_seconds)
        window = self.source.batching_window_seconds
        if not batch or not window:
            return batch
        loop = asyncio.get_running_loop()
        deadline = loop.time() + window
        while len(batch) < self.source.batch_size and not self._stopping.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            wait = min(self.wait_seconds, math.ceil(remaining))
            batch += await self._call(self._receive, self.source.receive_size(len(batch)), wait)
        return batch

    async def _process(self, messages: list[dict[str, Any]]) -> None:
        event = lambda_event(messages, self.queue.arn, self.region)
        invocation = await self._lambdas.invoke(self.source.function, event)
        settlement = settle(event["Records"], invocation.result, invocation.error)
        self._count(settlement)
        log.debug(
            "%s: batch of %d from %s: %d succeeded, %d failed",
            self.source.function,
            len(messages),
            self.queue.name,
            len(settlement.succeeded),
            len(settlement.failed),
        )
        if settlement.failed:
            self._report(settlement)
        if settlement.succeeded:
            deleted = await self._call(self._delete, settlement.receipt_handles)
            self._counts["deleted"] += deleted  # not `+= await`: that reads the count before waiting

    def _count(self, settlement: Settlement) -> None:
        self._counts["invocations"] += 1
        self._counts["records"] += len(settlement.succeeded) + len(settlement.failed)
        self._counts["failed"] += len(settlement.failed)
        self._counts["batch_failures"] += bool(settlement.problem)

    def _report(self, settlement: Settlement) -> None:
        total = len(settlement.succeeded) + len(settlement.failed)
        why = f" ({settlement.problem})" if settlement.problem else ""
        log.warning(
            "%s: %d of %d records failed%s; they reappear in %s after %d s",
            self.source.function,
            len(settlement.failed),
            total,
            why,
            self.queue.name,
            self.queue.visibility_timeout,
        )
        for record in settlement.failed:
            receives = int(record["attributes"].get("ApproximateReceiveCount", "0"))
            if self.queue.dead_letter_name and receives >= self.queue.max_receive_count:
                log.error(
                    "%s: message %s failed on each of its %d receives: it goes to %s",
                    self.source.function,
                    record["messageId"],
                    receives,
                    self.queue.dead_letter_name,
                )

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), RETRY_PAUSE_SECONDS)

    # -- blocking SQS calls, on the mapping's threads ---------------------------------------------

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)

    def _receive(self, size: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self._client.receive_message(
            QueueUrl=self.queue.url,
            MaxNumberOfMessages=size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages") or [])

    def _delete(self, receipt_handles: list[str]) -> int:
        """Delete the messages; how many were. One left undeleted comes back, as on AWS."""
        deleted = 0
        for start in range(0, len(receipt_handles), DELETE_BATCH):
            chunk = receipt_handles[start : start + DELETE_BATCH]
            entries = [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)]
            try:
                response = self._client.delete_message_batch(QueueUrl=self.queue.url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                log.warning("%s: deleting %d messages failed: %s", self.source.function, len(chunk), exc)
                continue
            failed = response.get("Failed") or []
            deleted += len(chunk) - len(failed)
            for failure in failed:
                log.warning("%s: a message was not deleted: %s", self.source.function, failure)
        return deleted
