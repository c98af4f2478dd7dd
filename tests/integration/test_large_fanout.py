"""A large chat through the local stack: 120 connections (60 users on two devices each: more
than 50 members, so each message goes out as one fan-out slice per roster page of 100) in one
chat and 20 messages, one at a time; every connection gets every message exactly once, through
the queued fan-out (SQS and the fan-out worker Lambda, run by the stack's poller); and, beside
a 10-connection chat (posted inline), how long after the ack the last delivery comes. bench/
(``make bench``) runs the same path at 400 connections and more."""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import time
from collections import defaultdict
from typing import Any

import boto3
import pytest

from bench import loadgen
from tests.integration.conftest import run

pytestmark = pytest.mark.slow

# The session stack runs with the app's defaults: CHAT_FANOUT_THRESHOLD=100, CHAT_FANOUT_SHARD_SIZE=50.
THRESHOLD = 100
SHARD_SIZE = 50
MESSAGES = 20
MEMBERS = 60  # on two devices each: 120 connections, 119 recipients of a message
FANOUT = "fanout"  # the SQS handler's name in app.py: its counters are fanout_records...


def measure(stack, shape: loadgen.Shape) -> tuple[loadgen.Result, dict[str, int]]:
    """Run the shape, one message at a time (each in flight until it reached every connection);
    the /dev/stats counters it moved, once the fan-out worker has deleted what it handled."""

    async def token_for(user: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(None, stack.token, user)

    before = stack.get_json("/dev/stats")
    result = run(loadgen.run(stack.ws_base, token_for, shape, timeout=30), timeout=200)
    deadline = time.monotonic() + 10
    while True:
        after = stack.get_json("/dev/stats")
        settled = after[f"{FANOUT}_deleted"] + after[f"{FANOUT}_failed"] == after[f"{FANOUT}_records"]
        if settled or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return result, {name: after[name] - before.get(name, 0) for name in after}


def shards(recipients: int) -> int:
    return math.ceil(recipients / SHARD_SIZE) if recipients > THRESHOLD else 0


def seqs_by_connection(result: loadgen.Result) -> dict[str, list[int]]:
    got: dict[str, list[int]] = defaultdict(list)
    for conn in result.conns:
        for _, frame in conn.frames:
            if frame.get("event") in ("chat:message", "chat:message:background"):
                got[conn.name].append(frame["message"]["seq"])
    return got


def check_exactly_once(result: loadgen.Result) -> None:
    assert result.problems == []
    assert len(result.acks) == MESSAGES
    seq_of = {key: ack["seq"] for key, ack in result.acks.items()}
    assert sorted(seq_of.values()) == list(range(1, MESSAGES + 1))
    got = seqs_by_connection(result)
    for conn in result.conns:
        expected = sorted(seq for key, seq in seq_of.items() if result.sender[key] != conn.name)
        assert sorted(got[conn.name]) == expected, conn.name  # each seq once, none missing


def timings(result: loadgen.Result) -> dict[str, Any]:
    ms = sorted(result.ack_to_last_delivery_ms())
    return {
        "connections": result.shape.connections,
        "messages": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p90_ms": round(loadgen.percentile(ms, 90), 1),
        "max_ms": round(ms[-1], 1),
    }


def test_the_stack_makes_the_fanout_queue_as_infra_does(stack):
    assert stack.sqs_endpoint == stack.dynamodb_endpoint  # the embedded moto serves both
    assert "queue -> fanout chat-local-fanout (batches of 5, 5 at once;" in stack.text
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.sqs_endpoint,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    url = sqs.get_queue_url(QueueName="chat-local-fanout")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert int(attributes["VisibilityTimeout"]) == 180  # as infra makes it: 6 x the 30 s timeout
    assert redrive["deadLetterTargetArn"].endswith(":chat-local-fanout-dlq")
    assert int(redrive["maxReceiveCount"]) == 5
    assert sqs.get_queue_url(QueueName="chat-local-fanout-dlq")["QueueUrl"]


def test_120_connections_in_one_chat_get_every_message_once_through_the_queue(stack):
    # One device of 10 users views the chat (chat:message), the others get
    # chat:message:background (10 opens, not 120, to keep the test short).
    large_shape = loadgen.Shape(
        chats=1, members=MEMBERS, devices=2, messages=MESSAGES, concurrency=1, paced=True, viewers=10
    )
    small_shape = loadgen.Shape(chats=1, members=5, devices=2, messages=MESSAGES, concurrency=1, paced=True)
    assert (large_shape.connections, small_shape.connections) == (120, 10)

    started = time.monotonic()
    large, large_stats = measure(stack, large_shape)
    small, small_stats = measure(stack, small_shape)
    elapsed = time.monotonic() - started

    check_exactly_once(large)
    check_exactly_once(small)

    # The large chat went through the queue: its chat:added (118 connections) in shards of 50,
    # 50 and 18, and each message (a chat of more than 50 members) as one slice per roster page of
    # 100 members (60: one page), every record handled once and deleted.
    expected_shards = shards(118) + MESSAGES * math.ceil(MEMBERS / 100)
    assert expected_shards == 3 + MESSAGES * 1
    assert large_stats[f"{FANOUT}_records"] == expected_shards
    assert large_stats[f"{FANOUT}_deleted"] == expected_shards
    assert large_stats[f"{FANOUT}_failed"] == 0
    # chat:created, chat:added, chat:opened, then per message its frames and its ack
    assert large_stats["posts"] == 1 + 118 + 10 + MESSAGES * 119 + MESSAGES
    assert large_stats["posts_gone"] == 0
    # The small one never touched it: everything posted inline by $default.
    assert small_stats[f"{FANOUT}_records"] == 0
    assert small_stats["posts"] == 1 + 8 + 5 + MESSAGES * 9 + MESSAGES

    print(f"\nack to last delivery, sharded through SQS: {timings(large)}")
    print(f"ack to last delivery, inline:              {timings(small)}")
    print(f"both chats, connect to verified: {elapsed:.1f} s")
