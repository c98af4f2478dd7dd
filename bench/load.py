"""Benchmark: the local stack under load, for chats of 2, 50 and 500 connections.

    make bench                      # starts its own stack (embedded moto), runs every size
    python -m bench.load --scale 2  # twice the messages
    python -m bench.load --url http://127.0.0.1:8000   # against a running `make run`

Each size keeps a window of messages in flight until delivered everywhere (the ``window``
column; ``--concurrency`` overrides it). Prints messages per second (acked sends), deliveries
per second (frames to recipient connections) and send-to-receive latency p50/p99, and checks
every connection received exactly what the protocol says. Figures are for this machine and the
emulator (one Python process with moto), not for AWS: compare them with each other, run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.request
from dataclasses import replace

from bench import loadgen
from chatlocal.process import LocalStack

SHAPES = {
    # Messages stay in flight until delivered everywhere (paced), about two per chat at once: a
    # window the one-process emulator can serve, so latency is the path's and not a backlog's.
    # --concurrency sets another window for every size (--concurrency 50 overloads the
    # 500-connection chat about 60 times: sends then wait past the 10 s seq budget).
    "2 connections": loadgen.Shape(50, members=2, devices=1, messages=1000, concurrency=50, paced=True),
    "50 connections": loadgen.Shape(4, members=25, devices=2, messages=400, concurrency=8, paced=True),
    "500 connections": loadgen.Shape(1, members=100, devices=5, messages=100, concurrency=2, paced=True),
}


def _token_getter(base: str):  # type: ignore[no-untyped-def]
    async def token_for(user: str) -> str:
        def fetch() -> str:
            with urllib.request.urlopen(f"{base}/dev/token?user={user}", timeout=10) as response:
                return str(json.load(response)["token"])

        return await asyncio.get_running_loop().run_in_executor(None, fetch)

    return token_for


def _posts_counter(base: str):  # type: ignore[no-untyped-def]
    async def posts() -> int:
        def fetch() -> int:
            with urllib.request.urlopen(f"{base}/dev/stats", timeout=10) as response:
                return int(json.load(response)["posts"])

        return await asyncio.get_running_loop().run_in_executor(None, fetch)

    return posts


def run_all(base: str, scale: float, only: list[str], concurrency: int | None) -> int:
    ws_base = base.replace("http://", "ws://") + "/ws"
    columns = (
        "chat size",
        "window",
        "conns",
        "msgs",
        "deliv",
        "secs",
        "msg/s",
        "deliv/s",
        "p50 ms",
        "p99 ms",
        "posts/msg",
        "retries",
    )
    widths = (16, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 7)
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)) + "  check")
    failed = 0
    for name, shape in SHAPES.items():
        if only and not any(o in name for o in only):
            continue
        shape = replace(
            shape,
            messages=max(1, int(shape.messages * scale)),
            concurrency=concurrency or shape.concurrency,
        )
        result = asyncio.run(
            loadgen.run(ws_base, _token_getter(base), shape, timeout=600, posts_so_far=_posts_counter(base))
        )
        s = loadgen.summary(result)
        posts_per_msg = (result.posts or 0) / max(1, len(result.acks))
        check = "ok" if not result.problems else f"FAILED ({len(result.problems)} problems)"
        failed += bool(result.problems)
        print(
            f"{name:>16} {shape.concurrency:>6} {s['connections']:>6} {s['messages']:>6} "
            f"{s['deliveries']:>7} {s['seconds']:>7} "
            f"{s['messages_per_s']:>7} {s['deliveries_per_s']:>8} {s['p50_ms']:>8} {s['p99_ms']:>8} "
            f"{posts_per_msg:>9.2f} {s['retries']:>7}  {check}",
            flush=True,
        )
        for problem in result.problems[:5]:
            print("   ", problem)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running local stack (default: start one)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the message counts")
    parser.add_argument(
        "--concurrency", type=int, help="messages in flight at once, for every size (default: per size)"
    )
    parser.add_argument("--only", action="append", default=[], help="run sizes whose name contains this")
    args = parser.parse_args(argv)
    if args.url:
        return run_all(args.url.rstrip("/"), args.scale, args.only, args.concurrency)
    with LocalStack(CHAT_JWT_SECRET="bench-secret-" * 4) as stack:
        print(f"local stack at {stack.url} (DynamoDB {stack.dynamodb_endpoint})", flush=True)
        return run_all(stack.url, args.scale, args.only, args.concurrency)


if __name__ == "__main__":
    sys.exit(main())
