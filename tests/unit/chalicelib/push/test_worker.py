"""The push worker's batch: records at once, a failed device retried on its own job, the
partial batch response naming only the records that must come again, malformed and unknown
jobs dropped, another job kind one entry in ``kinds``."""

from __future__ import annotations

import json

from chalicelib.domain.records import Device
from chalicelib.push import worker
from chalicelib.push.jobs import PushJob
from chalicelib.push.providers import Providers, Sent
from chalicelib.push.worker import JobKind, PushWorker


class Store:
    def __init__(self, devices):
        self.devices = devices
        self.claimed = set()

    def devices_of(self, user_id):
        return [d for d in self.devices if d.user_id == user_id]

    def badge(self, user_id):
        return 1

    def claim_push(self, key, ttl_seconds=86400):
        if key in self.claimed:
            return False
        self.claimed.add(key)
        return True

    def release_push(self, key):
        self.claimed.discard(key)

    def remove_device(self, device):
        self.devices.remove(device)
        return True

    def blockers(self, blocked, users):
        return set()


class Provider:
    def __init__(self, outcomes):
        self.outcomes = outcomes  # device_id -> Sent
        self.sent = []

    def send(self, device, notification):
        self.sent.append(device.device_id)
        outcome = self.outcomes.get(device.device_id, Sent.OK)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def forget(self, device):
        pass


class Queue:
    def __init__(self, refuse=False):
        self.refuse = refuse
        self.sent = []

    def send(self, bodies, delay_seconds=0):
        self.sent.append((list(bodies), delay_seconds))
        return list(range(len(bodies))) if self.refuse else []


def device(user, name):
    return Device(name, user, "fcm", f"token-{name}", True, "2026-01-01T00:00:00Z")


def job(user, seq=1, **retry):
    message = {"chat_id": "c_1", "seq": seq, "message_id": f"m{seq}", "sender_id": "alice", "text": "hi"}
    return PushJob(user, "c_1", "T", "group", "Alice", message, **retry)


def event(*bodies):
    return {"Records": [{"messageId": f"r{i}", "body": body} for i, body in enumerate(bodies)]}


def make(devices, outcomes, queue=None, clock=lambda: 1000.0):
    store = Store(devices)
    provider = Provider(outcomes)
    sent = []
    w = PushWorker(store, Providers({"fcm": provider}), lambda d, n: sent.append(d.device_id), queue, clock)
    return w, store, provider, sent


def test_a_failed_device_gets_a_delayed_job_of_its_own_and_the_record_is_done():
    queue = Queue()
    w, _, _, sent = make(
        [device("bob", "b1"), device("bob", "b2"), device("carol", "c1")], {"b2": Sent.RETRY}, queue
    )
    result = w.handle(event(job("bob").to_json(), job("carol").to_json()))
    assert result == {"batchItemFailures": []}
    assert sorted(sent) == ["b1", "c1"]
    [(bodies, delay)] = queue.sent
    assert delay == worker.RETRY_BASE_SECONDS
    retry = PushJob.from_json(bodies[0])
    assert (retry.device_id, retry.attempt, retry.failing_since) == ("b2", 1, 1000.0)
    assert retry.not_before == 1000.0 + worker.RETRY_BASE_SECONDS


def test_a_retry_sends_to_its_device_only():
    w, _, provider, sent = make([device("bob", "b1"), device("bob", "b2")], {}, Queue())
    assert w.handle(event(job("bob", device_id="b2", attempt=1, failing_since=900.0).to_json())) == {
        "batchItemFailures": []
    }
    assert provider.sent == ["b2"] and sent == ["b2"]


def test_partial_batch_failures_name_only_the_records_whose_retry_could_not_be_queued():
    w, store, _, sent = make(
        [device("bob", "b1"), device("carol", "c1")], {"b1": ConnectionError("reset")}, Queue(refuse=True)
    )
    result = w.handle(event(job("bob").to_json(), job("carol").to_json()))
    assert result == {"batchItemFailures": [{"itemIdentifier": "r0"}]}
    assert sent == ["c1"]
    assert "c_1|1|b1" not in store.claimed  # released: the redelivered record may send it


def test_backoff_grows_and_a_retry_too_early_waits_on_without_sending():
    assert [worker.retry_delay(n) for n in (1, 2, 3, 10, 20)] == [30, 60, 120, 14400, 14400]
    queue = Queue()
    w, _, provider, _ = make([device("bob", "b1")], {}, queue, clock=lambda: 1000.0)
    early = job("bob", device_id="b1", attempt=9, failing_since=0.0, not_before=1000.0 + 5000)
    assert w.handle(event(early.to_json())) == {"batchItemFailures": []}
    assert provider.sent == []
    [(bodies, delay)] = queue.sent
    assert delay == 900 and PushJob.from_json(bodies[0]) == early  # SQS delays 15 min at most


def test_malformed_and_unknown_jobs_are_dropped_and_a_new_kind_is_one_entry():
    w, _, _, _ = make([], {}, Queue())
    ran = []
    assert w.handle(event("not json", "[1]", json.dumps({"kind": "later"}))) == {"batchItemFailures": []}
    w.kinds["later"] = JobKind(json.loads, lambda data: ran.append(data) or True)
    assert w.handle(event(json.dumps({"kind": "later", "x": 1}))) == {"batchItemFailures": []}
    assert ran == [{"kind": "later", "x": 1}]


def test_without_a_queue_a_failed_device_makes_the_record_come_again():
    w, _, _, _ = make([device("bob", "b1")], {"b1": Sent.RETRY}, None)
    assert w.handle(event(job("bob").to_json())) == {"batchItemFailures": [{"itemIdentifier": "r0"}]}


def test_gone_and_failed_devices_are_not_retried():
    queue = Queue()
    w, store, _, _ = make(
        [device("bob", "b1"), device("bob", "b2")], {"b1": Sent.GONE, "b2": Sent.FAILED}, queue
    )
    assert w.handle(event(job("bob").to_json())) == {"batchItemFailures": []}
    assert [d.device_id for d in store.devices] == ["b2"] and queue.sent == []
