"""Both AWS tables from one run (what ``make bench`` prints after the local-stack figures):
the deployed latency of a send (``bench.deployed``) and its cost (``bench.cost``). Writes no
docs: ``make bench-deployed`` and ``make cost`` do."""

from __future__ import annotations

import sys

from bench import cost, deployed, report
from bench.scenario import configured, run

SIZES = cost.SIZES


def main() -> int:
    memory_mb = configured()[0]
    sizes = run(SIZES, deployed.aws_latency(seed=1))
    print("Deployed latency (ms; DynamoDB and management API latency injected, see docs/latency.md):")
    print(report.text(deployed.HEADERS, deployed.rows(sizes)))
    print()
    print(f"Cost per message.send (see docs/cost.md; Lambda at {memory_mb} MB):")
    cost.print_tables([cost.usage(size, memory_mb) for size in sizes], cost.MINUTES_PER_MESSAGE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
