"""bench.cost's cold-start figures: ``import app`` and ``import boto3`` in fresh interpreters.
The report's shape only (both measured, positive): no timing is asserted."""

from __future__ import annotations

from bench import cost


def test_one_run_of_each_import_gives_two_positive_figures_and_their_ratio():
    times = cost.import_times(1)
    assert len(times.app) == 1 and len(times.boto3) == 1 and times.runs == 1
    assert times.app[0] > 0 and times.boto3[0] > 0 and times.ratio > 0
    rows = cost.import_rows(times)
    assert [row[0].split()[0] for row in rows] == ["`app`", "`boto3`", "app"]
    assert all(float(row[1].replace(",", "")) > 0 for row in rows)


def test_the_app_imports_with_only_what_a_stage_sets():
    env = cost.import_environment()
    assert not any(name.startswith("AWS_") and "KEY" in name for name in env)  # no credentials
    assert env["AWS_REGION"] and env["CHAT_TABLE_PREFIX"]
    seconds, _ = cost.time_import("app")
    assert seconds > 0
