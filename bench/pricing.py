"""Public on-demand prices (us-east-1) and the arithmetic that turns measured usage into dollars.

Every price carries where it was read and when (docs/cost.md lists them). A price marked
``known=False`` was not found on a stored page and is given as the author knew it: check it
before relying on it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CHECKED = "2026-11-27"
MILLION = 1_000_000
API_GATEWAY_BLOCK = 32 * 1024  # WebSocket messages are metered in 32 KB increments
SQS_BLOCK = 64 * 1024  # each 64 KB chunk of a request payload is billed as one request


@dataclass(frozen=True)
class Price:
    what: str
    dollars: float
    per: str
    source: str
    known: bool = True  # False: not found on a stored page; the figure as the author knew it


PRICES: dict[str, Price] = {
    "dynamodb_wru": Price(
        "DynamoDB on-demand write request units",
        0.625,
        "million WRU",
        "https://airbyte.com/data-engineering-resources/dynamodb-pricing (AWS's own page, "
        "https://aws.amazon.com/dynamodb/pricing/on-demand/, was not among the stored pages)",
    ),
    "dynamodb_rru": Price(
        "DynamoDB on-demand read request units",
        0.125,
        "million RRU",
        "https://airbyte.com/data-engineering-resources/dynamodb-pricing (as above)",
    ),
    "lambda_requests": Price(
        "Lambda requests",
        0.20,
        "million requests",
        "https://aws.amazon.com/lambda/pricing/ (request price quoted by "
        "https://cloudchipr.com/blog/aws-lambda-pricing)",
    ),
    "lambda_gb_s": Price(
        "Lambda duration, x86, first 6 billion GB-s a month",
        0.0000166667,
        "GB-second",
        "https://aws.amazon.com/lambda/pricing/ via https://cloudchipr.com/blog/aws-lambda-pricing",
    ),
    "apigw_messages": Price(
        "API Gateway WebSocket messages, first billion a month (32 KB increments)",
        1.00,
        "million messages",
        "https://aws.amazon.com/api-gateway/pricing/ as quoted by "
        "https://amnic.com/blogs/aws-api-gateway-pricing and "
        "https://awsforengineers.com/blog/aws-api-gateway-pricing-explained",
    ),
    "apigw_minutes": Price(
        "API Gateway WebSocket connection minutes",
        0.25,
        "million minutes",
        "https://amnic.com/blogs/aws-api-gateway-pricing",
    ),
    "sqs_requests": Price(
        "SQS standard requests (each 64 KB chunk one request), after the free million",
        0.40,
        "million requests",
        "https://cloudburn.io/blog/amazon-sqs-pricing, "
        "https://www.factualminds.com/blog/amazon-sqs-pricing-64kb-rule-fifo-vs-standard/",
    ),
    "sns_mobile_push": Price(
        "SNS mobile push notifications",
        0.50,
        "million notifications",
        "https://www.factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols/",
    ),
    "ably_messages": Price(
        "Ably messages (1 published + 1 per subscriber receiving it)",
        2.50,
        "million messages",
        "https://ably.com/pricing/full-calculator (the rate for messages beyond a package; "
        "counting rule from https://ably.com/docs/pricing)",
    ),
    "ably_connection_minutes": Price(
        "Ably connection minutes",
        1.00,
        "million minutes",
        "https://ably.com/docs/pricing names the unit; the rate is not on the stored pages",
        known=False,
    ),
    "ably_channel_minutes": Price(
        "Ably channel minutes",
        1.00,
        "million minutes",
        "https://ably.com/docs/pricing names the unit; the rate is not on the stored pages",
        known=False,
    ),
    "ably_standard": Price(
        "Ably Standard package base fee",
        29.0,
        "month",
        "https://ably.com/docs/pricing/standard",
    ),
}


@dataclass(frozen=True)
class PusherPlan:
    name: str
    dollars_per_month: float
    messages_per_day: int
    connections: int
    known: bool


# Pusher Channels sells plans by daily messages and concurrent connections. The Startup plan
# is quoted by https://blog.mattheworiordan.com/p/transparent-pricing-that-rewards (citing
# pusher.com/channels/pricing); the others are as the author knew them (known=False).
PUSHER_PLANS: tuple[PusherPlan, ...] = (
    PusherPlan("Sandbox", 0, 200_000, 100, False),
    PusherPlan("Startup", 49, 1_000_000, 500, True),
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


def pusher_plan(messages_per_day: float) -> PusherPlan | None:
    """The cheapest plan whose daily message allowance covers the traffic (None: none listed
    does; Pusher sells larger plans on request)."""
    for plan in PUSHER_PLANS:
        if messages_per_day <= plan.messages_per_day:
            return plan
    return None
