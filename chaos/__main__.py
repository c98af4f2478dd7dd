"""``python -m chaos``: one chaos run against a fresh local stack; prints the table and exits 1
on any violation (duplicates, lost, leaked, out of order, no convergence)."""

from __future__ import annotations

import argparse
import logging
import sys

from chaos.run import DEFAULT_KINDS, Options, run_chaos, table
from chatlocal.process import exit_on_stop_signals


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of sending (300)")
    parser.add_argument("--seed", type=int, default=7, help="seeds the faults and the clients' choices (7)")
    parser.add_argument("--clients", type=int, default=8, help="users, one client each (8)")
    parser.add_argument("--chats", type=int, default=3, help="group chats (3)")
    parser.add_argument("--rate", type=float, default=0.05, help="probability that an AWS call fails (0.05)")
    parser.add_argument(
        "--kinds",
        default=DEFAULT_KINDS,
        help="fault kinds, comma-separated (all but sns_error and post_gone)",
    )
    parser.add_argument(
        "--interval", type=float, default=1.0, help="mean seconds between a client's sends (1)"
    )
    parser.add_argument(
        "--pause-every", type=float, default=60.0, help="seconds between SIGSTOPs, 0 for none (60)"
    )
    parser.add_argument("--cut-every", type=float, default=10.0, help="seconds between connection cuts (10)")
    args = parser.parse_args(argv)
    if args.clients < 2 or args.chats < 1 or args.duration <= 0 or not 0 <= args.rate <= 1:
        parser.error("need at least 2 clients, 1 chat, a positive duration and a rate between 0 and 1")
    return Options(
        duration=args.duration,
        seed=args.seed,
        clients=args.clients,
        chats=args.chats,
        rate=args.rate,
        kinds=args.kinds,
        interval=args.interval,
        pause_every=args.pause_every,
        cut_every=args.cut_every,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    exit_on_stop_signals()  # timeout or a closed terminal: the stack started here stops first
    result = run_chaos(options)
    print(table(result), flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
