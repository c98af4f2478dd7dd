"""The per-connection rate limit (chalicelib/ratelimit.py) on the real handlers under moto.

A connection may send ``burst`` actions at once, then ``per_second``; past that every action
(ping and typing included) is answered ``rate_limited`` with ``retry_after_ms`` and changes
nothing. The gate's clock is fake here: time passes only when a test moves it.
"""

from __future__ import annotations

import json

import pytest

import app as chalice_app
from chalicelib import runtime
from chalicelib.config import Settings
from chalicelib.domain.records import Connection
from chalicelib.ratelimit import ARRIVAL_TRUSTED_MS, RateGate, RateLimit
from chalicelib.storage.dynamo import DynamoStore
from chalicelib.storage.tables import ConnectionItem
from chalicelib.testing import Client, Harness, ws_event
from tests.functional.conftest import build_service

START = 1_800_000_000.0
LIMIT = RateLimit(per_second=2, burst=3)  # 500 ms a turn; 3 at once


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limited(tables, api, clock):
    service = build_service(api)
    service.gate = RateGate(service.store, LIMIT, clock=clock)
    runtime.use_service(service)
    yield Harness(chalice_app, api)
    runtime.use_service(None)


def raw_snapshot() -> list[str]:
    """Every item of every table, the rate limit's own bookkeeping included."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return sorted(
        json.dumps(item.to_json(), sort_keys=True)
        for table in backend.tables.values()
        for item in table.all_items()
    )


def tat(client: Client) -> int | None:
    stored = ConnectionItem.get(client.connection_id, consistent_read=True).rate_tat
    return None if stored is None else int(stored)


def refused(reply: dict | None) -> int:
    """The ``retry_after_ms`` of a ``rate_limited`` reply (fails on anything else)."""
    assert reply is not None and reply["event"] == "error", reply
    assert reply["code"] == "rate_limited", reply
    assert isinstance(reply["retry_after_ms"], int) and reply["retry_after_ms"] >= 1
    return int(reply["retry_after_ms"])


def test_a_burst_past_the_limit_is_refused_with_retry_after_and_nothing_changed(limited, clock):
    alice, bob = limited.connect("alice"), limited.connect("bob")
    chat_id = limited.chat(alice, "bob")  # turn 1
    bob.frames()
    for n in (1, 2):  # turns 2 and 3: the burst
        assert alice.send("message.send", chat_id=chat_id, client_msg_id=f"k{n}", text="hi")["seq"] == n
    assert len(bob.frames()) == 2

    before = raw_snapshot()
    reply = alice.send("message.send", chat_id=chat_id, client_msg_id="k3", text="one too many")
    assert refused(reply) == 500  # the next turn: one interval after the burst began
    assert reply["req"] == alice.last_req and "3 at once" in reply["message"]
    assert refused(alice.send("ping")) == 500
    alice.raw({"action": "typing", "chat_id": chat_id, "typing": True})
    assert [f["code"] for f in alice.frames()] == ["rate_limited"]  # typing answers only errors
    assert raw_snapshot() == before  # not stored, not even the limit's own count moved
    assert bob.frames() == []


def test_the_limit_refills_one_turn_per_interval_and_never_banks_more_than_the_burst(limited, clock):
    alice = limited.connect("alice")
    for _ in range(3):
        assert alice.send("ping")["event"] == "pong"
    wait = refused(alice.send("ping"))
    clock.advance(wait / 1000 - 0.001)
    assert refused(alice.send("ping")) == 1  # not yet
    clock.advance(0.001)
    assert alice.send("ping")["event"] == "pong"  # exactly when retry_after_ms said
    assert refused(alice.send("ping")) == 500

    clock.advance(3600)  # an hour idle still allows only the burst
    assert [alice.send("ping")["event"] for _ in range(4)] == ["pong", "pong", "pong", "error"]


def test_two_connections_of_one_user_are_limited_separately(limited):
    phone, laptop = limited.connect("alice"), limited.connect("alice")
    for _ in range(3):
        assert phone.send("chat.list")["event"] == "chat:list"
    refused(phone.send("chat.list"))
    assert [laptop.send("chat.list")["event"] for _ in range(3)] == ["chat:list"] * 3
    refused(laptop.send("chat.list"))


def test_a_refused_flood_costs_no_dynamodb_request_per_frame(limited, clock, aws_calls):
    alice = limited.connect("alice")
    for _ in range(3):
        mark = aws_calls.mark()
        alice.send("ping")
        assert [op for _, op, _ in aws_calls.since(mark)] == ["UpdateItem"]  # one request a turn
    mark = aws_calls.mark()
    for _ in range(50):
        refused(alice.send("ping"))  # this environment saw the last turn: refused from memory
    assert aws_calls.since(mark) == []

    service = runtime.service()
    service.gate = RateGate(service.store, LIMIT, clock=clock)  # a new environment, no memory
    mark = aws_calls.mark()
    refused(alice.send("ping"))  # the first refusal learns how long the connection is limited...
    assert [op for _, op, _ in aws_calls.since(mark)] == ["UpdateItem", "UpdateItem", "GetItem"]
    mark = aws_calls.mark()
    for _ in range(50):
        refused(alice.send("ping"))  # ...and the rest are refused from memory
    assert aws_calls.since(mark) == []


def test_execution_environments_share_the_limit_through_the_connection_record(limited, clock, api):
    alice = limited.connect("alice")
    service = runtime.service()
    other = RateGate(service.store, LIMIT, clock=clock)  # another Lambda environment: no memory
    assert service.gate.admit(alice.connection_id).user_id == "alice"
    assert other.admit(alice.connection_id).user_id == "alice"  # tat ahead: idle fails, burst works
    assert service.gate.admit(alice.connection_id).user_id == "alice"
    assert tat(alice) == int(START * 1000) + 3 * 500
    for gate in (other, service.gate):
        with pytest.raises(Exception) as refusal:
            gate.admit(alice.connection_id)
        assert getattr(refusal.value, "code", None) == "rate_limited"


def test_connect_is_not_limited_and_an_unregistered_connection_is_forbidden_even_for_ping(limited):
    users = [limited.connect("alice") for _ in range(10)]  # $connect takes no turn
    assert [tat(c) for c in users] == [None] * 10
    ghost = Client(limited, "alice", "never-connected=")
    for action in ("ping", "chat.list"):
        reply = ghost.send(action)
        assert (reply["code"], reply["message"], reply["reason"]) == (
            "forbidden",
            "this connection is not registered; reconnect",
            "unregistered",
        )


def test_every_frame_takes_a_turn_malformed_and_unknown_ones_too(limited):
    """Each frame costs an invocation on AWS: it is counted before it is parsed."""
    alice = limited.connect("alice")
    for body in ("{nope", '"ping"', {"action": "nope", "req": "r4"}, {"action": "message.send", "req": "r5"}):
        alice.raw(body)
    frames = alice.frames()
    assert [f["code"] for f in frames] == ["bad_request"] * 3 + ["rate_limited"]
    assert frames[-1]["req"] == "r5"  # a refused frame's req is still echoed when readable
    assert tat(alice) == int(START * 1000) + 3 * 500
    assert refused(alice.send("ping")) == 500
    limited.call("$default", alice.connection_id, "{nope")
    limited.app.message(binary_event(alice.connection_id), None)
    assert [f["code"] for f in alice.frames()] == ["rate_limited"] * 2


def binary_event(connection_id: str) -> dict:
    event = ws_event("$default", connection_id, "AAEC")
    event["isBase64Encoded"] = True
    return event


def test_a_frame_is_counted_when_it_arrived_not_when_its_invocation_ran(limited, clock):
    """Frames that waited (in a queue, for an invocation) count as the burst they arrived in."""
    alice = limited.connect("alice")
    arrived = int(START * 1000)
    clock.advance(5)  # processed 5 s after they arrived: by then the burst would have refilled
    replies = []
    for n in range(4):
        event = ws_event("$default", alice.connection_id, {"action": "ping", "req": f"p{n}"})
        event["requestContext"]["requestTimeEpoch"] = arrived
        limited.app.message(event, None)
        replies += alice.frames()
    assert [reply_code(r) for r in replies] == ["pong"] * 3 + ["rate_limited"]
    assert tat(alice) == arrived + 3 * 500
    # An arrival time further off than the clock trusts (skew, a very old frame) counts as now.
    for epoch in (arrived - ARRIVAL_TRUSTED_MS, int(clock() * 1000) + 10_000, "soon", True):
        event = ws_event("$default", alice.connection_id, {"action": "ping"})
        event["requestContext"]["requestTimeEpoch"] = epoch
        limited.app.message(event, None)
    assert [reply_code(r) for r in alice.frames()] == ["pong", "pong", "pong", "rate_limited"]


def test_a_zero_rate_turns_the_limit_off(tables, api, clock, aws_calls):
    service = build_service(api)
    service.gate = RateGate(service.store, RateLimit(per_second=0, burst=1), clock=clock)
    runtime.use_service(service)
    try:
        alice = Harness(chalice_app, api).connect("alice")
        assert [alice.send("ping")["event"] for _ in range(20)] == ["pong"] * 20
        mark = aws_calls.mark()
        alice.send("ping")
        assert [op for _, op, _ in aws_calls.since(mark)] == ["GetItem"]
    finally:
        runtime.use_service(None)


def test_the_defaults_allow_200_at_once_then_20_per_second(tables, api, clock):
    """The deployed defaults: far above what the client's resync sends (one request at a time)."""
    settings = Settings.from_env()
    assert (settings.rate_limit_per_second, settings.rate_limit_burst) == (20.0, 200)
    service = build_service(api)
    assert service.gate.limit == RateLimit(20.0, 200)
    service.gate = RateGate(service.store, service.gate.limit, clock=clock)
    runtime.use_service(service)
    try:
        alice = Harness(chalice_app, api).connect("alice")
        codes = [reply_code(alice.send("ping")) for _ in range(260)]
        assert codes == ["pong"] * 200 + ["rate_limited"] * 60
        clock.advance(1.0)
        assert [reply_code(alice.send("ping")) for _ in range(21)] == ["pong"] * 20 + ["rate_limited"]
    finally:
        runtime.use_service(None)


def reply_code(reply: dict | None) -> str:
    assert reply is not None
    return str(reply["code"] if reply["event"] == "error" else reply["event"])


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("CHAT_RATE_LIMIT_PER_SECOND", "fast", "a number >= 0"),
        ("CHAT_RATE_LIMIT_PER_SECOND", "-1", "a number >= 0"),
        ("CHAT_RATE_LIMIT_PER_SECOND", "nan", "a number >= 0"),
        ("CHAT_RATE_LIMIT_BURST", "0", "a whole number >= 1"),
        ("CHAT_RATE_LIMIT_BURST", "2.5", "a whole number >= 1"),
        ("CHAT_RATE_LIMIT_BURST", "", "a whole number >= 1"),
    ],
)
def test_bad_limit_settings_are_refused_at_start_naming_the_variable(monkeypatch, name, value, says):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name} must be {says}"):
        Settings.from_env()


def test_limit_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CHAT_RATE_LIMIT_PER_SECOND", "0.5")
    monkeypatch.setenv("CHAT_RATE_LIMIT_BURST", "7")
    limit = RateLimit.from_settings(Settings.from_env())
    assert (limit.interval_ms, limit.tolerance_ms) == (2000, 6 * 2000)


def test_the_memory_of_limited_connections_is_bounded(limited, clock, aws_calls):
    service = runtime.service()
    service.gate = RateGate(service.store, LIMIT, clock=clock, remembered=2)
    first, second, third = (limited.connect(f"user{n}") for n in range(3))
    for client in (first, second, third):
        for _ in range(3):
            client.send("ping")
    mark = aws_calls.mark()
    refused(third.send("ping"))
    refused(second.send("ping"))
    assert aws_calls.since(mark) == []  # the two most recent are remembered
    refused(first.send("ping"))  # the oldest was dropped: learnt again from its record
    assert [op for _, op, _ in aws_calls.since(mark)] == ["UpdateItem", "UpdateItem", "GetItem"]


def test_a_wrong_busy_guess_costs_one_more_request_and_a_race_lost_meanwhile_tries_burst_again(
    tables, monkeypatch, aws_calls
):
    store = DynamoStore()
    now = int(START * 1000)
    for connection_id in ("idle=", "raced="):
        store.add_connection(Connection(connection_id, "alice", None, int(START), int(START) + 7500))

    mark = aws_calls.mark()
    turn = store.take_turn("idle=", now, 500, 1000, busy=True)  # burst fails (idle), then idle
    assert (turn.admitted, turn.tat_ms) == (True, now + 500)
    assert [op for _, op, _ in aws_calls.since(mark)] == ["UpdateItem", "UpdateItem"]

    real_update = ConnectionItem.update
    calls: list[int] = []

    def another_invocation_first(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:  # between the failed burst and the idle attempt
            real_update(ConnectionItem("raced="), actions=[ConnectionItem.rate_tat.set(now + 500)])
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(ConnectionItem, "update", another_invocation_first)
    turn = store.take_turn("raced=", now, 500, 1000, busy=True)
    assert (turn.admitted, turn.tat_ms) == (True, now + 1000)  # the second burst attempt
    assert len(calls) == 3
