"""Issue 26: Reach at its floor, on busy tables, at N = 2, 10, 50, 100, 1,000.

A send to a chat where no live member has a device costs no DynamoDB request and no SQS
message for reach. With M live members who have a device (here every member but the sender,
M = N - 1), the send's DynamoDB requests stay the same (0 extra, in ``$default`` and the
fan-out workers together), one SQS message holds the reach job, and the reach worker (the
push Lambda) reads the M members' ``delivered_seq`` with ceil(M/100) BatchGetItem and nothing
else when they all confirmed the message in time.

The members' confirmations are written straight into their memberships (what
``message.delivered`` stores) so that 1,000 of them take one batch write, not 1,000 actions.
"""

from __future__ import annotations

import math

import pytest

from chalicelib.storage.mapping import new_membership
from tests.functional.costs.metering import DEFAULT, FANOUT, PUSH, Requests
from tests.functional.costs.world import build_chat, connection_items, write

SIZES = [2, 10, 50, 100, 1000]


def _send(world, chat, key: str) -> tuple[int, Requests]:
    with world.meter.measure() as requests:
        ack = chat.owner.send("message.send", chat_id=chat.chat_id, client_msg_id=key, text=key)
        world.drain_fanout()
    assert ack["event"] == "message:ack", ack
    return ack["seq"], requests


def _app_dynamo(requests: Requests) -> list[tuple[str, str]]:
    return [(r.function, r.operation) for r in requests.of() if r.function in (DEFAULT, FANOUT)]


@pytest.mark.parametrize("size", SIZES)
def test_reach_costs_nothing_without_devices_and_its_floor_with_them(world, size, capsys):
    chat = build_chat(world.harness, size)
    _send(world, chat, "warm")
    _, without = _send(world, chat, "no-devices")
    assert without.sqs_messages("push") == 0  # no reach job, no push job
    assert world.drain_push() == 0
    # Every member but the sender registers a device (their presence says so, as
    # device.register leaves it) and stays connected.
    others = chat.users[1:]
    write(connection_items(others, devices=True)[1])
    seq, with_devices = _send(world, chat, "devices")
    m = len(others)
    extra = len(_app_dynamo(with_devices)) - len(_app_dynamo(without))
    messages = with_devices.sqs_messages("push")
    write(_confirmed(chat, others, seq))  # they all confirmed the message in time
    with world.meter.measure() as worker:
        jobs = world.drain_push()
    reach = worker.of(PUSH)
    sqs = [(r.operation, r.queue) for r in with_devices.of(service="sqs") if r.function]
    with capsys.disabled():
        print(
            f"\n  reach N={size:>4} M={m:>3}: {extra:+d} DynamoDB requests on the send, "
            f"{messages} SQS messages to the push queue (SQS requests: {sqs}), "
            f"reach worker: {jobs} jobs, {reach.summary()}"
        )
    assert extra == 0, (_app_dynamo(without), _app_dynamo(with_devices))
    # One reach job per roster page: a chat of more than 50 members is delivered in slices, each
    # deciding (from its own presence read) which of its page's members a reach job checks.
    assert messages == (1 if size <= 50 else math.ceil(size / 100))
    assert reach.ops() == ["BatchGetItem"] * math.ceil(m / 100)
    assert world.drain_push() == 0 and [r for r in worker.of(service="sns")] == []


def _confirmed(chat, users, seq: int):
    items = []
    for user in users:
        item = new_membership(user, chat.chat_id, 0, "x")
        item.delivered_seq = seq
        items.append(item)
    return items
