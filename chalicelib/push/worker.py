"""The push worker Lambda: for each job, the member's devices, their badge, one notification per
device, each sent at most once however often SQS delivers the job.

No device can hold up another's notification:

- the records of a batch run at once, each on a thread of the invocation's own, and a job's
  devices at once, at most ``JOB_SEND_CONCURRENCY`` of them (so at most 10 x 8 sends per
  invocation): no job waits for a thread another job holds, whatever its devices do; each
  provider call has a timeout of a few seconds (``transport.TIMEOUT``,
  ``providers.SNS_CLIENT_CONFIG``);
- a device whose send fails in a way worth retrying (a timeout, a 5xx, throttling) is retried on
  its own: a job for that device alone, queued again with a growing delay (``retry_delay``),
  while the rest of the record counts as done. After ``MAX_TRIES`` tries that notification is
  dropped; a device that failed every try for a day (``FORGET_AFTER_SECONDS``) is forgotten;
- the partial batch response names only records whose retry jobs could not be queued (or
  that failed with no queue to retry through).

Job kinds: ``self.kinds`` maps a job's ``kind`` (``push`` when none) to how it is parsed and run;
another kind of job is one entry there.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from chalicelib.domain.records import Device
from chalicelib.push import reach
from chalicelib.push.jobs import PUSH_KIND, REACH_KIND, PushJob, ReachJob, job_kind
from chalicelib.push.notification import Notification, build
from chalicelib.push.providers import Providers, PushUnavailable, Sent
from chalicelib.queues import SQS_MAX_DELAY_SECONDS, Queue
from chalicelib.storage import Store

log = logging.getLogger(__name__)

JOB_SEND_CONCURRENCY = 8  # one job's sends in flight (a user has at most 20 devices)
RECORD_CONCURRENCY = 10  # the push event source's batch size
SEND_CONCURRENCY = JOB_SEND_CONCURRENCY * RECORD_CONCURRENCY  # per invocation, at most
RETRY_BASE_SECONDS = 30
RETRY_MAX_DELAY_SECONDS = 4 * 3600
MAX_TRIES = 16
FORGET_AFTER_SECONDS = 24 * 3600

Sink = Callable[[Device, Notification], None]
T = TypeVar("T")
R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class JobKind:
    parse: Callable[[str], Any]  # ValueError, KeyError or TypeError: malformed, dropped
    run: Callable[[Any], bool]  # False (or raising): deliver the record again


def retry_delay(attempt: int) -> int:
    """Seconds before try ``attempt + 1`` of a device: 30 s, doubling, at most 4 hours."""
    return int(min(RETRY_MAX_DELAY_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempt - 1)))


class PushWorker:
    def __init__(
        self,
        store: Store,
        providers: Providers,
        on_sent: Sink,
        queue: Queue | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.providers = providers
        self.on_sent = on_sent
        self.queue = queue  # where a failed device's own retry job goes
        self.clock = clock
        self.kinds: dict[str, JobKind] = {
            PUSH_KIND: JobKind(PushJob.from_json, self.run),
            REACH_KIND: JobKind(ReachJob.from_json, self.run_reach),
        }

    def handle(self, event: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
        """Lambda's SQS event in, its partial batch response out; the records run at once."""
        records = list(event.get("Records") or [])
        outcomes = _each(self._record, records, RECORD_CONCURRENCY, "push-job")
        return {"batchItemFailures": [{"itemIdentifier": mid} for mid, done in outcomes if not done]}

    def _record(self, record: Mapping[str, Any]) -> tuple[str, bool]:
        message_id = str(record.get("messageId", ""))
        body = str(record.get("body", ""))
        try:
            kind = self.kinds.get(job_kind(body))
            if kind is None:
                raise ValueError("a job of a kind this worker does not know")
            job = kind.parse(body)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("dropping a malformed push job %s: %s", message_id, exc)
            return message_id, True
        try:
            return message_id, kind.run(job)
        except Exception:
            log.exception("push job %s failed; SQS will deliver it again", message_id)
            return message_id, False

    def run_reach(self, job: ReachJob) -> bool:
        """A reach job notifies those of its members who have not confirmed (``push.reach``: 1
        BatchGetItem) and do not block the sender (1 BatchGetItem for those unconfirmed, none
        when they all confirmed: the common case costs the job's one read)."""
        sender = str(job.push.message["sender_id"])
        return reach.run(self.store, job, self._notify, lambda users: self.store.blockers(sender, users))

    def run(self, job: PushJob) -> bool:
        """Notify the job's member unless they block the sender (1 BatchGetItem; a device's
        retry was checked on the first try)."""
        sender = str(job.message["sender_id"])
        if job.device_id is None and self.store.blockers(sender, [job.user_id]):
            return True
        return self._notify(job)

    def _notify(self, job: PushJob) -> bool:
        """Notify the job's devices (one, for a retry) in the shared pool; a device worth trying
        again gets a job of its own. False only if such a job could not be queued."""
        if job.not_before is not None and job.not_before > self.clock() + 1:
            return self._requeue([job], job.not_before - self.clock())  # not yet: wait on
        devices = self.store.devices_of(job.user_id)
        if job.device_id is not None:
            devices = [d for d in devices if d.device_id == job.device_id]
        if not devices:
            return True
        badge = max(1, self.store.badge(job.user_id))  # this message included, even if read since
        sent = _each(
            lambda device: self._deliver(job, device, badge), devices, JOB_SEND_CONCURRENCY, "push-send"
        )
        return self._retry_later(job, [d for d, done in zip(devices, sent, strict=True) if not done])

    def _deliver(self, job: PushJob, device: Device, badge: int) -> bool:
        """Send to one device; False if it should be tried again later."""
        key = f"{job.chat_id}|{job.seq}|{device.device_id}"
        try:
            if not self.store.claim_push(key):
                return True  # sent by an earlier delivery of this job
        except Exception:
            log.exception("could not claim the push of %s to %s", key, device.device_id)
            return False
        notification = build(
            job.message, job.chat_title, job.chat_kind, job.sender_name, badge, device.preview
        )
        try:
            result = self._send(device, notification)
        except Exception:
            log.exception("sending to %s failed", device.device_id)
            result = Sent.RETRY
        try:
            if result is Sent.OK:
                self.on_sent(device, notification)
            elif result is Sent.GONE:
                self.forget(device)
            elif result is Sent.RETRY:
                self.store.release_push(key)  # not sent: the device's retry may send it
                return False
        except Exception:
            log.exception("after sending %s to %s", key, device.device_id)
        return True

    def _retry_later(self, job: PushJob, failed: list[Device]) -> bool:
        if not failed:
            return True
        now = self.clock()
        since = job.failing_since if job.failing_since is not None else now
        tries = job.attempt + 1
        if now - since >= FORGET_AFTER_SECONDS:
            for device in failed:
                log.warning(
                    "forgetting device %s of %s: a day of failed pushes", device.device_id, device.user_id
                )
                self.forget(device)
            return True
        if tries >= MAX_TRIES:
            log.warning(
                "dropping %s seq %d for %d device(s) after %d tries", job.chat_id, job.seq, len(failed), tries
            )
            return True
        if self.queue is None:
            return False  # nowhere to queue a device's own retry: SQS delivers the record again
        delay = retry_delay(tries)
        retries = [
            dataclasses.replace(
                job, device_id=device.device_id, attempt=tries, failing_since=since, not_before=now + delay
            )
            for device in failed
        ]
        return self._requeue(retries, delay)

    def _requeue(self, jobs: list[PushJob], delay: float) -> bool:
        if self.queue is None:
            return False
        unsent = self.queue.send(
            [j.to_json() for j in jobs], delay_seconds=min(SQS_MAX_DELAY_SECONDS, max(0, math.ceil(delay)))
        )
        if unsent:
            log.error("%d of %d push retries were not queued; the record comes again", len(unsent), len(jobs))
        return not unsent

    def _send(self, device: Device, notification: Notification) -> Sent:
        try:
            return self.providers.for_platform(device.platform).send(device, notification)
        except PushUnavailable as exc:
            log.error("cannot push to %s: %s", device.device_id, exc)
            return Sent.FAILED

    def forget(self, device: Device) -> None:
        """The provider says the device is gone (or it failed for a day): it leaves device.list
        and is not tried again."""
        log.info("forgetting device %s of %s", device.device_id, device.user_id)
        self.store.remove_device(device)
        self.providers.forget(device)


def _each(run: Callable[[T], R], items: list[T], bound: int, name: str) -> list[R]:
    """``run`` over ``items``, at most ``bound`` at once, on threads of this call's own (a pool
    shared between invocations, or between jobs, would let one wait for another's threads)."""
    if len(items) <= 1:
        return [run(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(bound, len(items)), thread_name_prefix=name) as pool:
        return list(pool.map(run, items))
