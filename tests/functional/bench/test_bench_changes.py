"""``python -m bench.changes`` prints what messages that change cost, measured side by side with a
send, and fails when a change passes issue 22's bound. In a process of its own (its meter hooks
every botocore session). Counts only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.shared_loader import PRELUDE

ROOT = Path(__file__).resolve().parents[3]
RUN_AS_MAIN = "import runpy, sys; runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)"


def test_the_benchmark_prints_every_action_within_the_bound():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        # as `python -m bench.changes --sizes 2,101`, with the suite's shared botocore loader
        [sys.executable, "-c", PRELUDE + RUN_AS_MAIN, "bench.changes", "--sizes", "2,101"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| ")]
    by_action = {(r[0].strip(), int(r[1])): r for r in rows[2:]}
    for size in (2, 101):
        for action in ("message.edit", "reaction.set", "message.delete"):
            requests, bound = int(by_action[(action, size)][2]), int(by_action[(action, size)][3])
            assert requests <= bound == 4 + (1 if size <= 100 else 2)
            assert by_action[(action, size)][7].strip() == "none"  # no SQS, no SNS: no push
            assert int(by_action[(action, size)][6]) == min(3, size - 1)  # those viewing, once each
        plain = by_action[("message.send", size)][2]
        assert by_action[("message.send (reply, mentions)", size)][2] == plain
    assert "OVER THE BOUND" not in done.stdout
