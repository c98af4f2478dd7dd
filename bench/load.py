"""Benchmark: the local stack under load, for chats of 2, 50 and 500 connections and for 200
connections in 20 chats sending 20 messages a second, in three of the stack's modes side by side.

    make bench                      # a stack per mode (embedded moto), every size in each
    python -m bench.load --scale 2  # twice the messages
    python -m bench.load --mode processes --mode journal   # the journal's cost only
    python -m bench.load --mode journal --only 50   # one mode, one size
    python -m bench.load --url http://127.0.0.1:8000   # against a running `make run`

The modes: ``one process`` (``CHAT_PROCESSES=1``: the gateway, moto and every invocation in one
Python process, on threads, keeping nothing), ``processes`` (the default: moto in a process of
its own, each function's invocations in worker processes; keeping its data in a temporary data
folder as ``make run`` does, but with the journal off: ``CHAT_JOURNAL=0``) and ``journal`` (the
same with the journal on, as ``make run`` runs: every DynamoDB write appended to
``dynamodb.journal`` before it is answered). The last table sets the journal's cost beside it.
Each size keeps a window of messages in flight until delivered everywhere (the ``window``
column; ``--concurrency`` overrides it), except the rated one, whose messages leave on a fixed
schedule whatever the stack does. Prints messages per second (acked sends), deliveries per
second (frames to recipient connections) and send-to-receive latency p50/p99, checks every
connection received exactly what the protocol says, and ends with the modes compared. Figures
are for this machine and the emulator, not for AWS: compare them with each other, run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, replace

from bench import loadgen
from chatlocal.functions.workers import SINGLE_PROCESS_VARIABLE
from chatlocal.process import LocalStack, exit_on_stop_signals

SHAPES = {
    # Messages stay in flight until delivered everywhere (paced), about two per chat at once: a
    # window the one-process emulator can serve, so latency is the path's and not a backlog's.
    # --concurrency sets another window for every size (--concurrency 50 overloads the
    # 500-connection chat about 60 times: sends then wait past the 10 s seq budget).
    "2 connections": loadgen.Shape(50, members=2, devices=1, messages=500, concurrency=50, paced=True),
    "50 connections": loadgen.Shape(4, members=25, devices=2, messages=240, concurrency=8, paced=True),
    "500 connections": loadgen.Shape(1, members=100, devices=5, messages=60, concurrency=2, paced=True),
    # The latency target's case: 20 messages a second over 20 chats of 10, whatever the latency.
    "200 conns 20/s": loadgen.Shape(20, members=10, devices=1, messages=300, concurrency=400, rate=20),
}
MODES = {  # the stack's environment for each mode (a data folder of its own where it keeps data)
    "one process": {SINGLE_PROCESS_VARIABLE: "1"},
    "processes": {"CHAT_EPHEMERAL": "", "CHAT_JOURNAL": "0"},
    "journal": {"CHAT_EPHEMERAL": "", "CHAT_JOURNAL": "1"},
}
JOURNAL_OFF, JOURNAL_ON = "processes", "journal"
COLUMNS = (
    ("chat size", 16),
    ("window", 6),
    ("conns", 6),
    ("msgs", 6),
    ("deliv", 7),
    ("secs", 7),
    ("msg/s", 7),
    ("deliv/s", 8),
    ("p50 ms", 8),
    ("p99 ms", 8),
    ("posts/msg", 9),
    ("retries", 7),
)


@dataclass(frozen=True)
class Row:
    size: str
    messages_per_s: float
    deliveries_per_s: float
    p99_ms: float
    ok: bool


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


def settle(base: str, timeout: float = 120.0) -> None:
    """Wait until the last size's connections are gone and their ``$disconnect`` invocations have
    run, so that one size's teardown (500 of them after the 500-connection size) is not measured
    as the next size's latency."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"{base}/dev/stats", timeout=10) as response:
            stats = json.load(response)
        if stats["open"] == 0 and stats["disconnected"] >= stats["connected"]:
            return
        if time.monotonic() > deadline:
            waiting = stats["connected"] - stats["disconnected"]
            print(f"    (still {stats['open']} open, {waiting} to disconnect)")
            return
        time.sleep(0.2)


WARM_UP = loadgen.Shape(4, members=25, devices=2, messages=40, concurrency=8, paced=True)


def warm_up(base: str) -> None:
    """An unmeasured run first: every mode starts its threads' and workers' AWS clients on first
    use (a worker is a Lambda cold start: an interpreter importing the app and botocore), which
    would otherwise count against the first size measured."""
    ws_base = base.replace("http://", "ws://") + "/ws"
    asyncio.run(loadgen.run(ws_base, _token_getter(base), WARM_UP, timeout=600))
    settle(base)


def chosen_sizes(scale: float, only: list[str], concurrency: int | None) -> list[tuple[str, loadgen.Shape]]:
    """The sizes asked for, scaled."""
    chosen = []
    for name, shape in SHAPES.items():
        if only and not any(o in name for o in only):
            continue
        chosen.append(
            (
                name,
                replace(
                    shape,
                    messages=max(1, int(shape.messages * scale)),
                    concurrency=concurrency or shape.concurrency if shape.rate is None else shape.concurrency,
                ),
            )
        )
    return chosen


HEADER = " ".join(f"{c:>{w}}" for c, w in COLUMNS) + "  check"


def run_size(base: str, name: str, shape: loadgen.Shape, label: str = "") -> Row:
    """One size against the stack at ``base``, its line printed."""
    ws_base = base.replace("http://", "ws://") + "/ws"
    result = asyncio.run(
        loadgen.run(ws_base, _token_getter(base), shape, timeout=600, posts_so_far=_posts_counter(base))
    )
    settle(base)
    s = loadgen.summary(result)
    posts_per_msg = (result.posts or 0) / max(1, len(result.acks))
    check = "ok" if not result.problems else f"FAILED ({len(result.problems)} problems)"
    window = f"{shape.rate:g}/s" if shape.rate else shape.concurrency
    print(
        f"{name:>16} {window:>6} {s['connections']:>6} {s['messages']:>6} "
        f"{s['deliveries']:>7} {s['seconds']:>7} "
        f"{s['messages_per_s']:>7} {s['deliveries_per_s']:>8} {s['p50_ms']:>8} {s['p99_ms']:>8} "
        f"{posts_per_msg:>9.2f} {s['retries']:>7}  {check}{label}",
        flush=True,
    )
    for problem in result.problems[:5]:
        print("   ", problem)
    return Row(name, s["messages_per_s"], s["deliveries_per_s"], s["p99_ms"], not result.problems)


def run_all(base: str, scale: float, only: list[str], concurrency: int | None) -> list[Row]:
    """Every size asked for against the stack at ``base``, a line printed for each."""
    print(HEADER)
    return [run_size(base, name, shape) for name, shape in chosen_sizes(scale, only, concurrency)]


def _stack(mode: str, data_dir: str) -> LocalStack:
    stack = LocalStack(CHAT_JWT_SECRET="bench-secret-" * 4)
    stack.env.update(MODES[mode])
    if stack.env["CHAT_EPHEMERAL"] == "":
        stack.env["CHAT_DATA_DIR"] = data_dir
    return stack


def run_modes(modes: list[str], scale: float, only: list[str], concurrency: int | None) -> int:
    """A stack per mode, every size against each, then the modes compared. The journal's two
    modes run side by side: both stacks up at once, each size run on one then the other (in
    turns: off first, then on first), so that the machine's load, which moves over minutes when
    other work runs, weighs on both alike."""
    results: dict[str, list[Row]] = {}
    paired = [m for m in (JOURNAL_OFF, JOURNAL_ON) if m in modes] if JOURNAL_ON in modes else []
    paired = paired if len(paired) == 2 else []
    for mode in (m for m in modes if m not in paired):
        with tempfile.TemporaryDirectory(prefix="bench-data-") as data_dir, _stack(mode, data_dir) as stack:
            print(f"\n{mode}: local stack at {stack.url} ({_handlers(stack.text)}; {_data(stack.text)})")
            warm_up(stack.url)
            results[mode] = run_all(stack.url, scale, only, concurrency)
    if paired:
        results.update(run_paired(paired, scale, only, concurrency))
    if len(results) > 1:
        print(compare(results))
    if JOURNAL_OFF in results and JOURNAL_ON in results:
        print(journal_cost(results[JOURNAL_OFF], results[JOURNAL_ON]))
    load = os.getloadavg()
    print(f"\nload average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores", flush=True)
    failed = any(not row.ok for rows in results.values() for row in rows)
    return 1 if failed else 0


def run_paired(
    modes: list[str], scale: float, only: list[str], concurrency: int | None
) -> dict[str, list[Row]]:
    """Two modes' stacks up at once, each size on both in alternating order."""
    results: dict[str, list[Row]] = {mode: [] for mode in modes}
    with contextlib.ExitStack() as running:
        stacks = {}
        for mode in modes:
            data_dir = running.enter_context(tempfile.TemporaryDirectory(prefix="bench-data-"))
            stacks[mode] = running.enter_context(_stack(mode, data_dir))
            stack = stacks[mode]
            print(f"\n{mode}: local stack at {stack.url} ({_handlers(stack.text)}; {_data(stack.text)})")
            warm_up(stack.url)
        print(f"\n{' and '.join(modes)}, each size on one then the other:")
        print(HEADER)
        for turn, (name, shape) in enumerate(chosen_sizes(scale, only, concurrency)):
            for mode in modes if turn % 2 == 0 else list(reversed(modes)):
                results[mode].append(run_size(stacks[mode].url, name, shape, f"  ({mode})"))
    return results


def compare(results: dict[str, list[Row]]) -> str:
    """Deliveries per second and p99 of each size, mode by mode, and the last mode's against the
    first's."""
    modes = list(results)
    first, last = modes[0], modes[-1]
    sizes = [row.size for row in results[first]]
    header = ["chat size", *(f"{m} deliv/s" for m in modes), "x", *(f"{m} p99 ms" for m in modes)]
    lines = ["", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for size in sizes:
        by_mode = {m: next((r for r in results[m] if r.size == size), None) for m in modes}
        base, new = by_mode[first], by_mode[last]
        ratio = (
            f"{new.deliveries_per_s / base.deliveries_per_s:.2f}"
            if base and new and base.deliveries_per_s
            else "-"
        )
        cells = [
            size,
            *(f"{r.deliveries_per_s:.1f}" if r else "-" for r in by_mode.values()),
            ratio,
            *(f"{r.p99_ms:.0f}" if r else "-" for r in by_mode.values()),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def journal_cost(off: list[Row], on: list[Row]) -> str:
    """Each size's throughput without and with the journal, and what the journal costs."""
    header = ["chat size", "msg/s no journal", "msg/s journal", "deliv/s no journal", "deliv/s journal"]
    header += ["cost", "p99 ms no journal", "p99 ms journal"]
    lines = ["", "The journal's cost (CHAT_JOURNAL=0 against the default):", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for without in off:
        with_ = next((r for r in on if r.size == without.size), None)
        if with_ is None:
            continue
        cost = (
            f"{1 - with_.deliveries_per_s / without.deliveries_per_s:+.1%}"
            if without.deliveries_per_s
            else "-"
        )
        cells = [
            without.size,
            f"{without.messages_per_s:.1f}",
            f"{with_.messages_per_s:.1f}",
            f"{without.deliveries_per_s:.1f}",
            f"{with_.deliveries_per_s:.1f}",
            cost,
            f"{without.p99_ms:.0f}",
            f"{with_.p99_ms:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _data(banner: str) -> str:
    for line in banner.splitlines():
        if line.strip().startswith("data "):
            note = line.strip().removeprefix("data").strip()
            return "keeps nothing" if "nothing kept" in note else "keeps its data"
    return "data unknown"


def _handlers(banner: str) -> str:
    for line in banner.splitlines():
        if line.strip().startswith("handlers"):
            return line.strip().removeprefix("handlers").strip()
    return "handlers unknown"


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
    parser.add_argument(
        "--mode", action="append", choices=list(MODES), help="run this mode only (default: every mode)"
    )
    args = parser.parse_args(argv)
    exit_on_stop_signals()  # timeout or a closed terminal: the stacks started here stop first
    if args.url:
        rows = run_all(args.url.rstrip("/"), args.scale, args.only, args.concurrency)
        return 0 if all(row.ok for row in rows) else 1
    return run_modes(args.mode or list(MODES), args.scale, args.only, args.concurrency)


if __name__ == "__main__":
    sys.exit(main())
