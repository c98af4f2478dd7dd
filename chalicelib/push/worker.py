"""The push worker Lambda: for each job, the member's devices, their badge, one notification per
device, each sent at most once however often SQS delivers the job."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.domain.records import Device
from chalicelib.push import reach
from chalicelib.push.jobs import PushJob, ReachJob
from chalicelib.push.notification import Notification, build
from chalicelib.push.providers import Providers, PushUnavailable, Sent
from chalicelib.queues import process_batch
from chalicelib.storage import Store

log = logging.getLogger(__name__)

SEND_CONCURRENCY = 8

Sink = Callable[[Device, Notification], None]


class PushWorker:
    def __init__(self, store: Store, providers: Providers, on_sent: Sink) -> None:
        self.store = store
        self.providers = providers
        self.on_sent = on_sent
        self._executor: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def handle(self, event: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
        """Lambda's SQS event in, its partial batch response out: a job whose sends may succeed
        later (throttling, a server error, storage trouble) is reported for redelivery."""
        return process_batch(event, reach.parse, self._run_any, "push job")

    def _run_any(self, job: reach.Job) -> bool:
        """A reach job notifies those of its members who have not confirmed (``push.reach``)."""
        if isinstance(job, ReachJob):
            return reach.run(self.store, job, self.run)
        return self.run(job)

    def run(self, job: PushJob) -> bool:
        """Notify every device of the job's user, the devices in parallel (a provider's round
        trip is tens of ms, a slow push service's up to its timeout); False if some send should
        be retried."""
        devices = self.store.devices_of(job.user_id)
        if not devices:
            return True
        badge = max(1, self.store.badge(job.user_id))  # this message included, even if read since
        if len(devices) == 1:
            return self._deliver(job, devices[0], badge)
        return all(list(self._pool().map(lambda device: self._deliver(job, device, badge), devices)))

    def _deliver(self, job: PushJob, device: Device, badge: int) -> bool:
        key = f"{job.chat_id}|{job.seq}|{device.device_id}"
        if not self.store.claim_push(key):
            return True  # sent by an earlier delivery of this job
        notification = build(
            job.message, job.chat_title, job.chat_kind, job.sender_name, badge, device.preview
        )
        try:
            result = self._send(device, notification)
        except Exception:
            self.store.release_push(key)  # not sent: the redelivered job may send it
            raise
        if result is Sent.OK:
            self.on_sent(device, notification)
        elif result is Sent.GONE:
            self.forget(device)
        elif result is Sent.RETRY:
            self.store.release_push(key)
            return False
        return True

    def _pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=SEND_CONCURRENCY, thread_name_prefix="push")
            return self._executor

    def _send(self, device: Device, notification: Notification) -> Sent:
        try:
            return self.providers.for_platform(device.platform).send(device, notification)
        except PushUnavailable as exc:
            log.error("cannot push to %s: %s", device.device_id, exc)
            return Sent.FAILED

    def forget(self, device: Device) -> None:
        """The provider says the device is gone: it leaves device.list and is not tried again."""
        log.info("forgetting device %s of %s: the provider reports it gone", device.device_id, device.user_id)
        self.store.remove_device(device)
        self.providers.forget(device)
