"""infra/merge_template.py: the merge only adds to what Chalice generates, so its guard must catch
wiring that names a function or event Chalice no longer makes (a rename in app.py)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from infra import merge_template
from tests.stack import ROOT


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_packaged_templates_have_everything_the_merge_wires(templates, stage):
    assert merge_template.problems(templates[stage]) == []


def test_a_renamed_worker_leaves_a_half_resource_that_the_check_reports(templates, tmp_path):
    # What `chalice package --merge-template` makes if app.fanout were renamed: the merge's
    # wiring alone under the old name.
    broken = copy.deepcopy(templates["dev"])
    broken["Resources"]["Fanout"] = merge_template.build()["Resources"]["Fanout"]
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
    assert "Fanout: Chalice generated no such function" in done.stderr
    assert "Fanout: Chalice generated no SQS event FanoutSqsEventSource" in done.stderr


def test_an_event_the_merge_does_not_wire_is_reported(templates):
    packaged = copy.deepcopy(templates["dev"])
    events = packaged["Resources"]["Fanout"]["Properties"]["Events"]
    events["FanoutSqsEventSource2"] = copy.deepcopy(events["FanoutSqsEventSource"])

    (problem,) = merge_template.problems(packaged)
    assert "FanoutSqsEventSource2" in problem


def test_the_merge_template_keeps_infra_tables_json_whole():
    tables = json.loads((ROOT / "infra" / "tables.json").read_text())
    merged = merge_template.build()
    for section in ("Parameters", "Conditions", "Outputs"):
        assert merged[section] == tables[section]
    for name, resource in tables["Resources"].items():
        assert merged["Resources"][name] == resource
    assert "AWSTemplateFormatVersion" not in merged  # Chalice's template has its own
