"""What a user can expect on AWS: time-to-ack and time-to-last-delivery of a ``message.send``.

    make bench-deployed                      # prints the table and rewrites docs/latency.md
    python -m bench.deployed                 # prints only
    python -m bench.deployed --seed 7 --write

The real handlers run in this process under moto (``bench.scenario``); every DynamoDB request,
management API post and SQS call is made to take a latency drawn from the distributions below
(a botocore hook: ``bench.counting``), or as long as moto took if that was longer. The
figures are timings on a busy shared machine: read them as the shape of the path (how many
round trips, which run in parallel), not to the millisecond.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

from bench import report
from bench.counting import Call, Latency, LogNormal
from bench.scenario import HANDOFF, ROOT, Send, Size, configured, median, run, shards_sent

SIZES = ((2, 10), (100, 5), (1000, 3))

# Medians and 99th percentiles, in ms (sources and reasoning in docs/latency.md).
AWS_LATENCY: dict[tuple[str, str], LogNormal] = {
    ("dynamodb", "*"): LogNormal(4.0, 9.0),  # "single-digit millisecond" in-region
    ("dynamodb", "BatchGetItem"): LogNormal(6.0, 14.0),  # up to 100 items read in parallel
    ("dynamodb", "Query"): LogNormal(5.0, 12.0),
    ("dynamodb", "TransactWriteItems"): LogNormal(9.0, 20.0),  # two phases: prepare, commit
    ("apigatewaymanagementapi", "PostToConnection"): LogNormal(20.0, 60.0),  # "tens of ms"
    ("sqs", "SendMessageBatch"): LogNormal(8.0, 25.0),
    HANDOFF: LogNormal(30.0, 150.0),  # SQS -> event source mapping -> fan-out invocation
}


def aws_latency(seed: int) -> Latency:
    return Latency(AWS_LATENCY, seed=seed)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def phases(send: Send) -> dict[str, float]:
    """Where the time of one send goes, in seconds: the ``$default`` invocation's own thread
    (its calls as AWS would take them: moto's excess removed), its posts, then the SQS hand-off
    and the fan-out worker."""
    main, ack = send.handler_thread, send.ack

    def took(calls: list[Call]) -> float:
        return sum(c.seconds - c.excess for c in calls)

    dynamo = send.of("dynamodb", main)
    before_ack = took([c for c in dynamo if c.ended <= ack.started])
    after_ack = took([c for c in dynamo if c.started >= ack.ended])
    sqs = took([c for c in send.of("sqs", main) if c.operation == "SendMessageBatch"])
    queued = send.shards > 0
    inline = [] if queued else send.deliveries  # above the threshold every post is queued
    inline_wall = max(c.ended for c in inline) - min(c.started for c in inline) if inline else 0.0
    first_sent = min((c.ended for c in send.calls if shards_sent(c)), default=0.0)
    handoff = min(send.worker_started) - first_sent if queued and send.worker_started else 0.0
    worker = send.to_last_delivery - (min(send.worker_started) - send.started) if queued else 0.0
    ack_post = ack.seconds - ack.excess
    accounted = before_ack + ack_post + after_ack + sqs + inline_wall  # the handler waits for its posts
    return {
        "dynamodb_before_ack": before_ack,
        "ack_post": ack_post,
        "dynamodb_after_ack": after_ack,
        "inline_posts": inline_wall,
        "sqs_send": sqs,
        "handler_other": max(0.0, send.aws_handler_seconds - accounted),
        "handoff": max(0.0, handoff),
        "worker_posts": max(0.0, worker),
    }


def modeled_last_delivery(send: Send, shard_size: int, concurrency: int) -> float:
    """Time to last delivery with the fan-out invocations as AWS runs them, each on CPU of its
    own: the measured time until the first invocation started (moto's excess on the handler's
    calls removed), then the busiest invocation's shards one after another, each
    ``ceil(shard_size / concurrency)`` rounds of a median post. Up to 100 recipients, the
    estimate measured (the posts are inline)."""
    if not send.shards or not send.worker_started:
        return send.aws_to_last_delivery
    first = min(send.worker_started)
    to_first = first - send.started - send.excess_until(first)
    post = AWS_LATENCY[("apigatewaymanagementapi", "PostToConnection")].median_ms / 1000
    rounds = max(send.worker_batches) * math.ceil(shard_size / concurrency)
    return to_first + rounds * post


HEADERS = (
    "members",
    "sends",
    "ack ms",
    "last delivery ms",
    "modeled last ms",
    "$default ms",
    "DynamoDB to ack",
    "ack post",
    "DynamoDB after",
    "inline posts",
    "SQS send",
    "handler CPU",
    "hand-off",
    "fan-out worker",
    "measured ack",
    "measured last",
    "calls moto made slower",
)


def rows(sizes: Sequence[Size]) -> list[list[str]]:
    from chalicelib.config import Settings

    shard_size, concurrency = Settings.from_env().fanout_shard_size, configured()[1]
    table = []
    for size in sizes:
        sends = size.sends
        split = [phases(s) for s in sends]
        calls = [c for s in sends for c in s.calls + s.esm_calls if c.injected]
        over = sum(c.over for c in calls)
        table.append(
            [
                f"{size.members:,}" + (f" ({size.offline} offline)" if size.offline else ""),
                str(len(sends)),
                ms(median([s.aws_to_ack for s in sends])),
                ms(median([s.aws_to_last_delivery for s in sends])),
                ms(median([modeled_last_delivery(s, shard_size, concurrency) for s in sends])),
                ms(median([s.aws_handler_seconds for s in sends])),
                *(ms(median([p[k] for p in split])) for k in list(split[0])),
                ms(median([s.to_ack for s in sends])),
                ms(median([s.to_last_delivery for s in sends])),
                f"{over}/{len(calls)}",
            ]
        )
    return table


def render(sizes: Sequence[Size], seed: int) -> str:
    return (
        f"Medians over the measured sends (seed {seed}); phases in ms. Regenerate with "
        "`make bench-deployed`.\n\n" + report.markdown(HEADERS, rows(sizes))
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the latency draws")
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/latency.md")
    args = parser.parse_args(argv)
    sizes = run(SIZES, aws_latency(args.seed))
    print(report.text(HEADERS, rows(sizes)), flush=True)
    if args.write:
        report.replace_generated(ROOT / "docs" / "latency.md", render(sizes, args.seed))
        print("wrote docs/latency.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
