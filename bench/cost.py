"""What a ``message.send`` costs on AWS, per send and per million, from measured counts.

    make cost                        # prints the tables, rewrites docs/cost.md and the README's
    python -m bench.cost             # prints only
    python -m bench.cost --minutes-per-message 12 --write

Each chat size is run as ``bench.deployed`` runs it (the real handlers under moto, AWS latency
injected, so that Lambda durations include the waits Lambda bills for). Counted per send:
DynamoDB requests and request units (from the items' stored sizes: see docs/cost.md for why
not moto's figures), Lambda invocations and GB-seconds at the configured memory, API Gateway
messages (the inbound frame and every post, in 32 KB increments), SQS requests (shards sent,
and the event source mapping's receives and deletes, in 64 KB chunks) and SNS publishes.
Connection minutes do not depend on messages: they are priced from ``--minutes-per-message``.

Beside it, the cold start's import: ``import app`` (the deployed module, with the environment a
stage gives it) and ``import boto3``, each in a fresh interpreter, runs alternating, medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import pricing, report
from bench.deployed import aws_latency
from bench.scenario import ROOT, Send, Size, configured, median, run

SIZES = ((2, 5), (10, 5), (10, 5, 5), (100, 3), (1000, 2))  # (members, sends[, offline])
MILLION = pricing.MILLION
# A user connected 8 hours (480 minutes) a day who sends 40 messages a day: 12 connection
# minutes per message sent. Change it with --minutes-per-message.
MINUTES_PER_MESSAGE = 12.0
IMPORT_RUNS = 15  # fresh interpreters per module, alternating app and boto3
COST_PAGE = ROOT / "docs" / "cost.md"
README = ROOT / "README.md"


@dataclass(frozen=True)
class Usage:
    """What one send used, as counted (medians over the measured sends)."""

    members: int
    offline: int
    dynamodb_requests: int  # the sending Lambda's, the fan-out and push workers' together
    send_requests: int  # the sending Lambda's ($default) alone
    send_wru: float
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


def usage_of(
    send: Send, memory_mb: int
) -> tuple[int, int, float, float, float, float, int, float, int, int, int]:
    dynamo = [c for c in send.calls if c.service == "dynamodb"]
    own = [c for c in dynamo if c.thread == send.handler_thread]
    sqs_calls = [
        c for c in send.calls + send.esm_calls if c.service == "sqs" and c.operation != "GetQueueUrl"
    ]
    return (
        len(dynamo),
        len(own),
        sum(c.wru for c in own),
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
    requests, own, own_wru, rru, wru, moto, invocations, gbs, messages, sqs, sns = (
        median(c) for c in columns
    )
    return Usage(
        members=size.members,
        offline=size.offline,
        dynamodb_requests=round(requests),
        send_requests=round(own),
        send_wru=own_wru,
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
    "Stream MAU",
    "Stream per month",
    "Pusher messages/day",
    "Pusher plan",
)


def _mark(text: str, verified: bool) -> str:
    """A figure from a price not verified against a stored copy of its page carries a ``*``."""
    return text if verified else text + " *"


def hosted_rows(usages: Sequence[Usage], minutes_per_message: float) -> list[list[str]]:
    prices = pricing.PRICES
    table = []
    for u in (u for u in usages if not u.offline):  # push is not part of the hosted comparison
        aws = sum(u.dollars().values()) * MILLION
        ably_messages = pricing.ably_messages(u.members) * MILLION
        ably = pricing.dollars("ably_messages", ably_messages)
        ably_minutes = pricing.dollars("ably_connection_minutes", minutes_per_message * MILLION)
        mau = pricing.stream_mau(u.members, MILLION)
        stream = pricing.stream_dollars(mau)
        stream_text = (
            _mark(f"${stream:,.0f}", prices["stream_chat"].verified)
            if stream is not None
            else "above the priced plan (on request)"
        )
        per_day = pricing.pusher_messages(u.members) * MILLION / 30
        plan = pricing.pusher_plan(per_day)
        plan_text = (
            _mark(f"{plan.name} ${plan.dollars_per_month:,.0f}/month", plan.verified)
            if plan
            else "above the listed plans (on request)"
        )
        table.append(
            [
                f"{u.members:,}",
                report.money(aws),
                f"{ably_messages:,.0f}",
                _mark(report.money(ably), prices["ably_messages"].verified),
                _mark(report.money(ably_minutes), prices["ably_connection_minutes"].verified),
                f"{mau:,}",
                stream_text,
                f"{per_day:,.0f}",
                plan_text,
            ]
        )
    return table


# ---------------------------------------------------------------- cold start: the import

IMPORT_PROGRAM = (
    "import sys, time; t = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - t, 'boto3' in sys.modules)"
)


@dataclass(frozen=True)
class ImportTimes:
    """Seconds each ``import`` took, one fresh interpreter per run."""

    app: list[float]
    boto3: list[float]
    app_loads_boto3: bool = True  # whether ``import app`` brought boto3 in with it

    @property
    def runs(self) -> int:
        return min(len(self.app), len(self.boto3))

    @property
    def ratio(self) -> float:
        return statistics.median(self.app) / statistics.median(self.boto3)


def import_environment() -> dict[str, str]:
    """What ``app`` needs at import on a stage (a region and the names chalicelib reads), and
    nothing of this process's: no credentials, no endpoints, no PYTHONPATH beyond the root."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",  # nothing written next to the source, as on Lambda
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "CHAT_TABLE_PREFIX": "chat-dev",
        "CHAT_JWT_SECRET_PARAM": "/chat-backend/dev/jwt-secret",
        "CHAT_FANOUT_QUEUE": "chat-dev-fanout",
        "CHAT_PUSH_QUEUE": "chat-dev-push",
    }


def time_import(module: str, python: str = sys.executable, root: Path = ROOT) -> tuple[float, bool]:
    """Seconds ``import module`` takes in a fresh interpreter (the interpreter's own start left
    out: the clock starts at the import statement), and whether boto3 was loaded after it."""
    done = subprocess.run(
        [python, "-c", IMPORT_PROGRAM.format(module=module)],
        cwd=root,
        env=import_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"import {module} failed: {done.stderr.strip()[-2000:]}")
    seconds, boto3 = done.stdout.strip().splitlines()[-1].split()
    return float(seconds), boto3 == "True"


def import_times(runs: int = IMPORT_RUNS) -> ImportTimes:
    """``runs`` imports of ``app`` and of ``boto3``, alternating (app, boto3, app, ...), so both
    see the same machine load and the same warm file cache."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, not {runs}")
    app: list[float] = []
    boto3: list[float] = []
    loads = False
    for _ in range(runs):
        seconds, loaded = time_import("app")
        app.append(seconds)
        loads = loads or loaded
        boto3.append(time_import("boto3")[0])
    return ImportTimes(app, boto3, loads)


IMPORT_HEADERS = ("import", "median ms", "min ms", "max ms", "runs")


def import_rows(times: ImportTimes) -> list[list[str]]:
    app = "`app`" + ("" if times.app_loads_boto3 else " (boto3 not loaded by it)")
    rows = [
        [
            name,
            f"{statistics.median(seconds) * 1000:,.0f}",
            f"{min(seconds) * 1000:,.0f}",
            f"{max(seconds) * 1000:,.0f}",
            str(len(seconds)),
        ]
        for name, seconds in ((app, times.app), ("`boto3`", times.boto3))
    ]
    rows.append(["app / boto3 (medians)", f"{times.ratio:.2f}", "", "", str(times.runs)])
    return rows


# ---------------------------------------------------------------- the pages


def dollars(value: float) -> str:
    """A price as published: cents at least, no exponent ($0.20, $0.625, $0.0000166667)."""
    digits = f"{value:,.10f}".rstrip("0")
    whole, _, cents = digits.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


def sources_markdown() -> str:
    """The Sources table of docs/cost.md: every price with its vendor page and whether a stored
    copy of that page showed it."""
    unverified = f"not verified against a stored copy on {pricing.CHECKED}"
    rows = []
    for price in pricing.PRICES.values():
        status = "read on the stored copy" if price.verified else unverified
        note = f"; {price.note}" if price.note else ""
        amount = f"{dollars(price.dollars)} per {price.per}"
        rows.append(f"| {price.what} | {amount} | {price.source} | {status}{note} |")
    for plan in pricing.PUSHER_PLANS:
        status = "read on the stored copy" if plan.verified else unverified
        rows.append(
            f"| Pusher Channels {plan.name} | ${plan.dollars_per_month:,.0f} a month: "
            f"{plan.messages_per_day:,} messages a day, {plan.connections:,} connections | "
            f"https://pusher.com/channels/pricing | {status} |"
        )
    head = "| item | price | vendor's page | checked |\n| --- | ---: | --- | --- |"
    return "\n".join([head, *rows])


def render(usages: Sequence[Usage], minutes_per_message: float, memory_mb: int, imports: ImportTimes) -> str:
    return "\n\n".join(
        [
            f"Measured per `message.send` (medians; Lambda at {memory_mb} MB). Regenerate with `make cost`.",
            report.markdown(USAGE_HEADERS, usage_rows(usages)),
            "Priced (us-east-1 on-demand; AWS rates not verified against a stored copy on "
            f"{pricing.CHECKED}, see Sources); connection minutes at {minutes_per_message:g} per "
            "message sent:",
            report.markdown(PRICE_HEADERS, price_rows(usages, minutes_per_message)),
            "The same traffic on hosted services (1M sends in a month; * = price not verified "
            "against a stored copy of the vendor's page, see Sources):",
            report.markdown(HOSTED_HEADERS, hosted_rows(usages, minutes_per_message)),
            "Cold start: the import of the deployed module next to boto3's, each in a fresh "
            f"interpreter, {imports.runs} runs of each, alternating:",
            report.markdown(IMPORT_HEADERS, import_rows(imports)),
            f"Sources (checked {pricing.CHECKED}):",
            sources_markdown(),
        ]
    )


README_HEADERS = (
    "members",
    "DynamoDB requests: the send",
    "+ fan-out workers",
    "WRU: the send",
    "+ fan-out workers",
    "AWS per 1M sends",
)


def readme_block(usages: Sequence[Usage]) -> str:
    """The README's cost table: online members only, from the same figures as docs/cost.md."""
    rows = [
        [
            f"{u.members:,}",
            str(u.send_requests),
            str(u.dynamodb_requests - u.send_requests),
            report.number(u.send_wru),
            report.number(u.wru - u.send_wru),
            report.money(sum(u.dollars().values()) * MILLION),
        ]
        for u in usages
        if not u.offline
    ]
    return "\n\n".join(
        [
            report.markdown(README_HEADERS, rows),
            textwrap.fill(
                "Measured by `make cost` (the handlers under moto, medians) and priced at AWS's "
                "us-east-1 on-demand rates, connection minutes excluded (the rates are not "
                f"verified against a stored copy of AWS's pages on {pricing.CHECKED}); the "
                "breakdown, the same traffic on Ably, Stream and Pusher, the sources and the "
                "cold start are in [docs/cost.md](docs/cost.md).",
                width=96,
                break_on_hyphens=False,
            ),
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
    parser.add_argument(
        "--import-runs", type=int, default=IMPORT_RUNS, help="fresh interpreters per import timed"
    )
    parser.add_argument(
        "--write", action="store_true", help="rewrite the tables in docs/cost.md and README.md"
    )
    args = parser.parse_args(argv)
    if args.minutes_per_message < 0:
        parser.error("--minutes-per-message must be >= 0")
    if args.import_runs < 1:
        parser.error("--import-runs must be >= 1")
    if args.write:  # before minutes of measuring, not after
        for page in (COST_PAGE, README):
            report.generated_part(page.read_text(), page)
    imports = import_times(args.import_runs)  # first: the bench's threads would load the machine
    memory_mb = configured()[0]
    usages = [usage(size, memory_mb) for size in run(SIZES, aws_latency(args.seed))]
    print_tables(usages, args.minutes_per_message)
    print()
    print(report.text(IMPORT_HEADERS, import_rows(imports)), flush=True)
    if args.write:
        report.replace_generated(COST_PAGE, render(usages, args.minutes_per_message, memory_mb, imports))
        report.replace_generated(README, readme_block(usages))
        print("wrote docs/cost.md and README.md")
    return 0


def print_tables(usages: Sequence[Usage], minutes_per_message: float) -> None:
    print(report.text(USAGE_HEADERS, usage_rows(usages)))
    print()
    print(report.text(PRICE_HEADERS, price_rows(usages, minutes_per_message)))
    print()
    print(report.text(HOSTED_HEADERS, hosted_rows(usages, minutes_per_message)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
