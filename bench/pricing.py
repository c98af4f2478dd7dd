"""Published prices (AWS us-east-1 on-demand, Ably, Stream, Pusher) and the arithmetic that
turns measured usage into dollars.

Every price names the vendor's own page it comes from (docs/cost.md lists them: no third-party
blog is the source of a price). ``verified`` says whether the figure was read on a stored copy of
that page when the prices were checked (``CHECKED``); one that was not is the figure as the
author knew it, and docs/cost.md marks it "not verified against a stored copy": check it on the
vendor's page before relying on it. AWS renders its rate tables in the browser, so the stored
copies of its pricing pages show the units and metering rules but not the rates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CHECKED = "2026-12-07"
MILLION = 1_000_000
API_GATEWAY_BLOCK = 32 * 1024  # WebSocket messages are metered in 32 KB increments
SQS_BLOCK = 64 * 1024  # each 64 KB chunk of a request payload is billed as one request
# The user behind the connection-time assumption (bench.cost.MINUTES_PER_MESSAGE): 40 messages
# sent a day, 30 days a month. Used to turn a million sends into active users for Stream.
SENDS_PER_USER_PER_MONTH = 40 * 30


@dataclass(frozen=True)
class Price:
    what: str
    dollars: float
    per: str
    source: str  # the vendor's own page
    verified: bool = False  # True: the figure was read on a stored copy of ``source``
    note: str = ""  # what the stored copy does show, or a corroborating page


AWS_NOT_STORED = "the stored copy shows the units but not the rates (rendered in the browser)"

PRICES: dict[str, Price] = {
    "dynamodb_wru": Price(
        "DynamoDB on-demand write request units",
        0.625,
        "million WRU",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
        note=AWS_NOT_STORED + ": 1 WRU writes up to 1 KB, a transactional write 2 WRU per 1 KB",
    ),
    "dynamodb_rru": Price(
        "DynamoDB on-demand read request units",
        0.125,
        "million RRU",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
        note=AWS_NOT_STORED + ": 1 RRU reads up to 4 KB strongly consistent, half that eventually",
    ),
    "lambda_requests": Price(
        "Lambda requests",
        0.20,
        "million requests",
        "https://aws.amazon.com/lambda/pricing/",
    ),
    "lambda_gb_s": Price(
        "Lambda duration, x86, first 6 billion GB-s a month",
        0.0000166667,
        "GB-second",
        "https://aws.amazon.com/lambda/pricing/",
    ),
    "apigw_messages": Price(
        "API Gateway WebSocket messages, first billion a month (32 KB increments)",
        1.00,
        "million messages",
        "https://aws.amazon.com/api-gateway/pricing/",
        note=AWS_NOT_STORED + ": messages sent and received, metered in 32 KB increments",
    ),
    "apigw_minutes": Price(
        "API Gateway WebSocket connection minutes",
        0.25,
        "million minutes",
        "https://aws.amazon.com/api-gateway/pricing/",
        note=AWS_NOT_STORED,
    ),
    "sqs_requests": Price(
        "SQS standard requests (each 64 KB chunk one request), after the free million",
        0.40,
        "million requests",
        "https://aws.amazon.com/sqs/pricing/",
    ),
    "sns_mobile_push": Price(
        "SNS mobile push notifications",
        0.50,
        "million notifications",
        "https://aws.amazon.com/sns/pricing/",
    ),
    "ably_messages": Price(
        "Ably messages (1 published + 1 per subscriber receiving it), beyond a package",
        2.50,
        "million messages",
        "https://ably.com/pricing/full-calculator",
        verified=True,
        note="overage rate; counting rule on https://ably.com/docs/pricing",
    ),
    "ably_connection_minutes": Price(
        "Ably connection minutes",
        1.00,
        "million minutes",
        "https://ably.com/pricing",
        note="https://ably.com/docs/pricing names the unit, not its rate",
    ),
    "ably_standard": Price(
        "Ably Standard package base fee",
        29.0,
        "month",
        "https://ably.com/docs/pricing",
        verified=True,
    ),
    "stream_chat": Price(
        "Stream Chat entry paid plan, up to 10,000 MAU",
        499.0,
        "month",
        "https://getstream.io/chat/pricing/",
        note="billed by MAU and peak concurrent connections, not messages: "
        "https://support.getstream.io/hc/en-us/articles/4403229982615 (stored)",
    ),
}

STREAM_PLAN_MAU = 10_000  # the MAU the priced Stream plan covers (with ``stream_chat``)


@dataclass(frozen=True)
class PusherPlan:
    name: str
    dollars_per_month: float
    messages_per_day: int
    connections: int
    verified: bool  # read on a stored copy of https://pusher.com/channels/pricing


# Pusher Channels sells plans by daily messages and concurrent connections
# (https://pusher.com/channels/pricing). No stored copy of that page holds the plans: every figure
# is as the author knew it. Pusher's own docs (docs.bird.com/pusher) show a plan of 100
# connections and 200,000 messages, the Sandbox's limits, as their example.
PUSHER_PLANS: tuple[PusherPlan, ...] = (
    PusherPlan("Sandbox", 0, 200_000, 100, False),
    PusherPlan("Startup", 49, 1_000_000, 500, False),
    PusherPlan("Pro", 99, 4_000_000, 2_000, False),
    PusherPlan("Business", 299, 10_000_000, 5_000, False),
    PusherPlan("Premium", 499, 20_000_000, 10_000, False),
    PusherPlan("Growth", 699, 50_000_000, 15_000, False),
)


def blocks(sizes: Iterable[int], block: int) -> int:
    """Metered units of payloads billed in ``block``-byte increments (an empty one is one)."""
    return sum(max(1, math.ceil(size / block)) for size in sizes)


def api_gateway_messages(inbound: Sequence[int], outbound: Sequence[int]) -> int:
    """WebSocket messages metered for frames of these sizes, in and out."""
    return blocks(inbound, API_GATEWAY_BLOCK) + blocks(outbound, API_GATEWAY_BLOCK)


def sqs_requests(payloads: Sequence[int]) -> int:
    """SQS requests billed for calls whose payloads are these sizes."""
    return blocks(payloads, SQS_BLOCK)


def gb_seconds(durations: Iterable[float], memory_mb: int) -> float:
    """Lambda GB-seconds: each invocation's duration rounded up to the millisecond."""
    return sum(max(1, math.ceil(seconds * 1000)) for seconds in durations) / 1000 * memory_mb / 1024


def dollars(key: str, quantity: float) -> float:
    """The price of ``quantity`` units of ``PRICES[key]`` (quantities per million where priced so)."""
    price = PRICES[key]
    per_million = price.per.startswith("million")
    return quantity * price.dollars / (MILLION if per_million else 1)


def ably_messages(members: int) -> int:
    """Ably counts 1 published + 1 received per subscriber; every member (the sender too, who
    gets its own message back by default) is subscribed to the chat's channel."""
    return 1 + members


def pusher_messages(members: int) -> int:
    """Pusher counts the publish and one message per subscribed client delivered to."""
    return 1 + (members - 1)


def stream_mau(members: int, sends: float) -> int:
    """The monthly active users behind ``sends`` sends a month into chats of ``members``: enough
    senders at ``SENDS_PER_USER_PER_MONTH`` each, and at least one chat's members."""
    if members < 1 or sends < 0:
        raise ValueError(f"need members >= 1 and sends >= 0, not {members} and {sends}")
    return max(members, math.ceil(sends / SENDS_PER_USER_PER_MONTH))


def stream_dollars(mau: int) -> float | None:
    """Stream Chat's monthly price for ``mau`` active users (None: above the priced plan, on
    request)."""
    return PRICES["stream_chat"].dollars if mau <= STREAM_PLAN_MAU else None


def pusher_plan(messages_per_day: float) -> PusherPlan | None:
    """The cheapest plan whose daily message allowance covers the traffic (None: none listed
    does; Pusher sells larger plans on request)."""
    for plan in PUSHER_PLANS:
        if messages_per_day <= plan.messages_per_day:
            return plan
    return None
