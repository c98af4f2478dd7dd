"""The local stack makes the queues as infra/tables.json makes them on AWS."""

from __future__ import annotations

import json

import pytest

from chatlocal.eventsources import queues
from tests.stack import ROOT


def _infra_queues() -> dict[str, dict]:
    template = json.loads((ROOT / "infra" / "tables.json").read_text())
    resources = template["Resources"]
    by_name = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::SQS::Queue":
            name = resource["Properties"]["QueueName"]["Fn::Sub"].replace("${TablePrefix}", "p")
            by_name[name] = resource["Properties"]
    return by_name


INFRA = _infra_queues()
WORKER_QUEUES = sorted(name for name in INFRA if not name.endswith("-dlq"))


def test_infra_has_worker_queues():
    assert "p-fanout" in WORKER_QUEUES


@pytest.mark.parametrize("name", WORKER_QUEUES)
def test_visibility_timeout_and_redrive_match_infra(name):
    infra = INFRA[name]
    assert infra["VisibilityTimeout"] == queues.VISIBILITY_TIMEOUT_SECONDS
    assert infra["RedrivePolicy"]["maxReceiveCount"] == queues.MAX_RECEIVE_COUNT
    dead_letter = queues.dead_letter_name(name)
    assert dead_letter in INFRA
    assert INFRA[dead_letter]["MessageRetentionPeriod"] == queues.DEAD_LETTER_RETENTION_SECONDS


def test_visibility_timeout_leaves_lambda_room():
    # Lambda refuses an event source whose queue hides a message for less than the function runs.
    assert queues.VISIBILITY_TIMEOUT_SECONDS >= queues.FUNCTION_TIMEOUT_SECONDS
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["lambda_timeout"] == queues.FUNCTION_TIMEOUT_SECONDS


@pytest.mark.parametrize(("name", "dead_letter"), [("q", "q-dlq"), ("q.fifo", "q-dlq.fifo")])
def test_dead_letter_names(name, dead_letter):
    assert queues.dead_letter_name(name) == dead_letter
