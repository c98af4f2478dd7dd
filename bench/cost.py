"""What a ``message.send`` costs on AWS, per send and per million, from measured counts.

    make cost                        # prints the tables and rewrites docs/cost.md
    python -m bench.cost             # prints only
    python -m bench.cost --minutes-per-message 12 --write

Each chat size is run as ``bench.deployed`` runs it (the real handlers under moto, AWS latency
injected, so that Lambda durations include the waits Lambda bills for). Counted per send:
DynamoDB requests and request units (from the items' stored sizes: see docs/cost.md for why
not moto's figures), Lambda invocations and GB-seconds at the configured memory, API Gateway
messages (the inbound frame and every post, in 32 KB increments), SQS requests (shards sent,
and the event source mapping's receives and deletes, in 64 KB chunks) and SNS publishes.
Connection minutes do not depend on messages: they are priced from ``--minutes-per-message``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from bench import pricing, report
from bench.deployed import aws_latency
from bench.scenario import ROOT, Send, Size, configured, median, run

SIZES = ((2, 5), (10, 5), (10, 5, 5), (100, 3), (1000, 2))  # (members, sends[, offline])
MILLION = pricing.MILLION
# A user connected 8 hours (480 minutes) a day who sends 40 messages a day: 12 connection
# minutes per message sent. Change it with --minutes-per-message.
MINUTES_PER_MESSAGE = 12.0


@dataclass(frozen=True)
class Usage:
    """What one send used, as counted (medians over the measured sends)."""

    members: int
    offline: int
    dynamodb_requests: int
    rru: float
    wru: float
    moto_units: float
    lambda_invocations: int
    gb_seconds: float
    default_ms: float
    api_messages: int
    sqs_requests: int
    sns_publishes: int

    @property
    def label(self) -> str:
        return f"{self.members:,}" + (f" ({self.offline} offline, 1 device each)" if self.offline else "")

    def dollars(self) -> dict[str, float]:
        d = pricing.dollars
        return {
            "DynamoDB": d("dynamodb_rru", self.rru) + d("dynamodb_wru", self.wru),
            "Lambda": d("lambda_requests", self.lambda_invocations) + d("lambda_gb_s", self.gb_seconds),
            "API Gateway": d("apigw_messages", self.api_messages),
            "SQS": d("sqs_requests", self.sqs_requests),
            "SNS": d("sns_mobile_push", self.sns_publishes),
        }


def usage_of(send: Send, memory_mb: int) -> tuple[int, float, float, float, int, float, int, int, int]:
    dynamo = [c for c in send.calls if c.service == "dynamodb"]
    sqs_calls = [
        c for c in send.calls + send.esm_calls if c.service == "sqs" and c.operation != "GetQueueUrl"
    ]
    return (
        len(dynamo),
        sum(c.rru for c in dynamo),
        sum(c.wru for c in dynamo),
        sum(c.moto_units for c in dynamo),
        1 + len(send.worker_seconds) + len(send.push_seconds),
        pricing.gb_seconds([send.aws_handler_seconds, *send.worker_seconds, *send.push_seconds], memory_mb),
        pricing.api_gateway_messages([send.inbound_bytes], [c.bytes for c in send.posts]),
        pricing.sqs_requests([c.bytes for c in sqs_calls]),
        sum(1 for c in send.calls if c.service == "sns" and c.operation == "Publish"),
    )


def usage(size: Size, memory_mb: int) -> Usage:
    per_send = [usage_of(s, memory_mb) for s in size.sends]
    columns = list(zip(*per_send, strict=True))
    requests, rru, wru, moto, invocations, gbs, messages, sqs, sns = (median(c) for c in columns)
    return Usage(
        members=size.members,
        offline=size.offline,
        dynamodb_requests=round(requests),
        rru=rru,
        wru=wru,
        moto_units=moto,
        lambda_invocations=round(invocations),
        gb_seconds=gbs,
        default_ms=median([s.aws_handler_seconds for s in size.sends]) * 1000,
        api_messages=round(messages),
        sqs_requests=round(sqs),
        sns_publishes=round(sns),
    )


USAGE_HEADERS = (
    "members",
    "DynamoDB requests",
    "RRU",
    "WRU",
    "moto's units",
    "Lambda invocations",
    "$default ms",
    "GB-s",
    "API GW messages",
    "SQS requests",
    "SNS publishes",
)


def usage_rows(usages: Sequence[Usage]) -> list[list[str]]:
    return [
        [
            u.label,
            str(u.dynamodb_requests),
            report.number(u.rru),
            report.number(u.wru),
            report.number(u.moto_units),
            str(u.lambda_invocations),
            f"{u.default_ms:,.0f}",
            f"{u.gb_seconds:.4f}",
            f"{u.api_messages:,}",
            str(u.sqs_requests),
            str(u.sns_publishes),
        ]
        for u in usages
    ]


PRICE_HEADERS = (
    "members",
    "per send",
    "per 1M sends",
    "DynamoDB",
    "Lambda",
    "API GW messages",
    "SQS",
    "SNS",
    "+ connection minutes",
)


def price_rows(usages: Sequence[Usage], minutes_per_message: float) -> list[list[str]]:
    minutes = pricing.dollars("apigw_minutes", minutes_per_message * MILLION)
    table = []
    for u in usages:
        parts = u.dollars()
        total = sum(parts.values())
        table.append(
            [
                u.label,
                report.money(total),
                report.money(total * MILLION),
                *(report.money(v * MILLION) for v in parts.values()),
                report.money(minutes),
            ]
        )
    return table


HOSTED_HEADERS = (
    "members",
    "AWS per 1M sends",
    "Ably messages",
    "Ably per 1M sends",
    "+ Ably connection minutes",
    "Pusher messages/day",
    "Pusher plan",
)


def hosted_rows(usages: Sequence[Usage], minutes_per_message: float) -> list[list[str]]:
    table = []
    for u in (u for u in usages if not u.offline):  # push is not part of the hosted comparison
        aws = sum(u.dollars().values()) * MILLION
        ably_messages = pricing.ably_messages(u.members) * MILLION
        ably = pricing.dollars("ably_messages", ably_messages)
        ably_minutes = pricing.dollars("ably_connection_minutes", minutes_per_message * MILLION)
        per_day = pricing.pusher_messages(u.members) * MILLION / 30
        plan = pricing.pusher_plan(per_day)
        plan_text = (
            f"{plan.name} ${plan.dollars_per_month:,.0f}/month{'' if plan.known else ' *'}"
            if plan
            else "above the listed plans (on request)"
        )
        table.append(
            [
                f"{u.members:,}",
                report.money(aws),
                f"{ably_messages:,.0f}",
                report.money(ably),
                report.money(ably_minutes) + " *",
                f"{per_day:,.0f}",
                plan_text,
            ]
        )
    return table


def render(usages: Sequence[Usage], minutes_per_message: float, memory_mb: int) -> str:
    return "\n\n".join(
        [
            f"Measured per `message.send` (medians; Lambda at {memory_mb} MB). Regenerate with `make cost`.",
            report.markdown(USAGE_HEADERS, usage_rows(usages)),
            "Priced (us-east-1 on-demand, prices checked "
            f"{pricing.CHECKED}); connection minutes at {minutes_per_message:g} per message sent:",
            report.markdown(PRICE_HEADERS, price_rows(usages, minutes_per_message)),
            "The same traffic on hosted services (1M sends in a month; * = price not found on a "
            "stored page, see Sources):",
            report.markdown(HOSTED_HEADERS, hosted_rows(usages, minutes_per_message)),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the latency draws")
    parser.add_argument(
        "--minutes-per-message",
        type=float,
        default=MINUTES_PER_MESSAGE,
        help="connection minutes per message sent (default: 8 h connected, 40 messages a day)",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the tables in docs/cost.md")
    args = parser.parse_args(argv)
    if args.minutes_per_message < 0:
        parser.error("--minutes-per-message must be >= 0")
    memory_mb = configured()[0]
    usages = [usage(size, memory_mb) for size in run(SIZES, aws_latency(args.seed))]
    print_tables(usages, args.minutes_per_message)
    if args.write:
        generated = render(usages, args.minutes_per_message, memory_mb)
        report.replace_generated(ROOT / "docs" / "cost.md", generated)
        print("wrote docs/cost.md")
    return 0


def print_tables(usages: Sequence[Usage], minutes_per_message: float) -> None:
    print(report.text(USAGE_HEADERS, usage_rows(usages)))
    print()
    print(report.text(PRICE_HEADERS, price_rows(usages, minutes_per_message)))
    print()
    print(report.text(HOSTED_HEADERS, hosted_rows(usages, minutes_per_message)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
