"""The cost model's counts for one ``message.send``, measured the way ``make cost`` measures them
(bench.scenario: the deployed wiring under moto, the meter installed process-wide), in a process
of its own so its hooks never reach the rest of the suite. Counts only: no timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared_loader import PRELUDE

ROOT = Path(__file__).resolve().parents[3]

PROGRAM = """
import json
from bench import cost, scenario
out = []
for size in scenario.run([(2, 1), (102, 1), (4, 1, 2)], None):
    send = size.sends[0]
    dynamo = send.of("dynamodb")
    usage = cost.usage(size, 512)
    out.append({
        "members": size.members,
        "ops": [c.operation for c in dynamo],
        "rru": usage.rru,
        "wru": usage.wru,
        "deliveries": sorted({c.connection_id for c in send.deliveries}).__len__(),
        "posts": len(send.posts),
        "shard_batches": [c.entries for c in send.calls if c.operation == "SendMessageBatch"],
        "shards_run": sum(c.entries for c in send.esm_calls if c.operation == "ReceiveMessage"),
        "api_messages": usage.api_messages,
        "invocations": usage.lambda_invocations,
        "sns": usage.sns_publishes,
        "push_invocations": len(send.push_seconds),
        "dynamodb_requests": usage.dynamodb_requests,
    })
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def measured() -> dict[int, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + PROGRAM],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return {entry["members"]: entry for entry in json.loads(line.removeprefix("RESULT "))}


def test_members_offline_with_a_device_cost_a_push_each(measured):
    send = measured[4]  # 4 members, the last 2 offline with an iPhone
    assert send["posts"] == 2 and send["deliveries"] == 1  # the ack, the one other member online
    assert send["sns"] == 2  # one SNS publish per offline member's device
    assert send["push_invocations"] == 1  # both jobs in one batch of the push Lambda
    assert send["invocations"] == 2
    assert send["wru"] == 10 + 2  # and the push log's conditional put, one per device


def test_a_send_to_two_members(measured):
    send = measured[2]
    assert send["ops"] == ["UpdateItem", "GetItem", "TransactWriteItems", "BatchGetItem", "UpdateItem"]
    # writes: the rate-limit turn (1), the 4-item transaction at 2 each (8), the fan-out mark (1)
    assert send["wru"] == 10
    # reads, strongly consistent, all items under 4 KB: the chat (1), 2 presence items (2)
    assert send["rru"] == 3
    assert send["posts"] == 2 and send["deliveries"] == 1  # the ack, the other member
    assert send["api_messages"] == 3  # the inbound frame and two posts, each under 32 KB
    assert send["invocations"] == 1 and send["shard_batches"] == [] and send["sns"] == 0


def test_a_send_to_102_members_is_sliced(measured):
    send = measured[102]
    # the turn, the chat, the transaction: no roster, no presence (the chat item numbers the
    # roster's pages, one slice per page goes to the fan-out worker)
    assert send["ops"][:3] == ["UpdateItem", "GetItem", "TransactWriteItems"]
    # then the send's fan-out mark (UpdateItem), and, on the fan-out worker's pollers, which may
    # start before the mark: each of the 2 slices' claim, its page, its members' presence
    assert sorted(send["ops"][3:]) == ["BatchGetItem"] * 2 + ["GetItem"] * 2 + ["PutItem"] * 2 + [
        "UpdateItem"
    ]
    assert send["wru"] == 10 + 2  # the send's writes whatever the size, and a claim per slice
    # the chat (1), each page (1 each, under 4 KB), one per presence item (102)
    assert send["rru"] == 1 + 2 + 102
    assert send["shard_batches"] == [2]  # 2 pages of at most 100, one SendMessageBatch
    assert send["shards_run"] == 2
    assert send["posts"] == 102 and send["deliveries"] == 101
    assert send["api_messages"] == 103
    assert 2 <= send["invocations"] <= 4  # the $default one, and 1 to 3 fan-out batches
