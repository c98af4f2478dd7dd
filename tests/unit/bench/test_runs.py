"""bench.scenario and bench.cost: the parts that need no AWS (the run itself is covered by
tests/functional/bench/test_bench_send_counts.py)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from bench import cost
from bench.scenario import ROOT, Pollers, configured


def test_waiting_for_shards_that_never_run_fails_with_how_many_ran():
    pollers = Pollers(SimpleNamespace(), service=None)  # threads made, not started
    with pytest.raises(TimeoutError, match="ran 0 of 3 shards"):
        pollers.wait_for(3, timeout=0.01)


def test_a_negative_connection_time_assumption_is_refused(capsys):
    with pytest.raises(SystemExit) as exited:
        cost.main(["--minutes-per-message", "-1"])
    assert exited.value.code == 2
    assert "--minutes-per-message must be >= 0" in capsys.readouterr().err


def test_the_memory_and_fan_out_concurrency_come_from_the_chalice_config():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    concurrency = int(config["environment_variables"]["CHAT_FANOUT_CONCURRENCY"])
    assert configured() == (config["lambda_memory_size"], concurrency)
