"""infra/merge_template.py: the merge only adds to what Chalice generates, so its guard must catch
wiring that names a function or event Chalice no longer makes (a rename in app.py)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from infra import merge_template, signin
from tests.stack import ROOT


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_packaged_templates_have_everything_the_merge_wires(templates, stage):
    assert merge_template.problems(templates[stage]) == []


@pytest.mark.parametrize("worker", sorted(merge_template.WORKERS))
def test_a_renamed_worker_leaves_a_half_resource_that_the_check_reports(templates, tmp_path, worker):
    # What `chalice package --merge-template` makes if app.fanout or app.push were renamed: the
    # merge's wiring alone under the old name.
    broken = copy.deepcopy(templates["dev"])
    broken["Resources"][worker] = merge_template.build()["Resources"][worker]
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(broken))

    done = subprocess.run(
        [sys.executable, "-m", "infra.merge_template", "--check", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    event = merge_template.WORKERS[worker][0]
    assert f"{worker}: Chalice generated no such function" in done.stderr
    assert f"{worker}: Chalice generated no SQS event {event}" in done.stderr
    others = set(merge_template.FUNCTIONS) - {worker}
    assert not any(f"{other}:" in done.stderr for other in others), done.stderr


@pytest.mark.parametrize("worker", sorted(merge_template.WORKERS))
def test_an_event_the_merge_does_not_wire_is_reported(templates, worker):
    packaged = copy.deepcopy(templates["dev"])
    event = merge_template.WORKERS[worker][0]
    events = packaged["Resources"][worker]["Properties"]["Events"]
    events[f"{event}2"] = copy.deepcopy(events[event])

    (problem,) = merge_template.problems(packaged)
    assert f"{event}2" in problem and problem.startswith(worker)


def test_the_merge_template_keeps_infra_tables_json_whole_and_adds_push_and_sign_in():
    tables = json.loads((ROOT / "infra" / "tables.json").read_text())
    merged = merge_template.build()
    assert merged["Conditions"] == {**tables["Conditions"], **signin.CONDITIONS}
    assert merged["Outputs"] == {**tables["Outputs"], **signin.outputs("dev")}
    assert merged["Rules"] == signin.RULES
    # The platform application ARNs and sign-in matter only to the functions: the tables stack
    # alone (the `chalice deploy` path) does not take them, or cfn-lint would flag unused
    # parameters.
    assert merged["Parameters"] == {**tables["Parameters"], **merge_template.PARAMETERS, **signin.PARAMETERS}
    assert not set(merge_template.PARAMETERS) & set(tables["Parameters"])
    assert not set(signin.PARAMETERS) & set(tables["Parameters"])
    for name, resource in tables["Resources"].items():
        assert merged["Resources"][name] == resource
    assert not set(signin.resources("dev", "dev")) & set(tables["Resources"])
    assert "AWSTemplateFormatVersion" not in merged  # Chalice's template has its own
