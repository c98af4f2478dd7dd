"""infra/deploy.sh (the `chalice deploy` path) run against stand-ins for the AWS CLI and Chalice:
the calls it makes, in order, each spelled as the AWS CLI's service models spell it
(tests/deploy/fake_aws.py checks every command and option against botocore's models)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import config
from tests.stack import ROOT

FAKE_AWS = Path(__file__).with_name("fake_aws.py")
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:chat-dev-fanout"
UUID = "6d9bfbb7-0c1a-4a0e-9a39-0c4f0d9a1f33"


def _responses(mappings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ssm get-parameter": {"Parameter": {"Name": "/chat-backend/dev/jwt-secret"}},
        "cloudformation describe-stacks": {
            "Stacks": [
                {
                    "Outputs": [
                        {"OutputKey": "FanoutQueueUrl", "OutputValue": "https://sqs.example/chat-dev-fanout"},
                        {"OutputKey": "FanoutQueueArn", "OutputValue": QUEUE_ARN},
                    ]
                }
            ]
        },
        "lambda list-event-source-mappings": {"EventSourceMappings": mappings},
        # Chalice has just created the mapping: busy once, then ready.
        "lambda get-event-source-mapping": [{"State": "Creating"}, {"State": "Enabled"}],
        "lambda update-event-source-mapping": {"UUID": UUID, "State": "Updating"},
    }


def _run(
    tmp_path: Path, *args: str, responses: dict[str, Any]
) -> tuple[subprocess.CompletedProcess[str], list]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_AWS}" "$@"\n')
    (bin_dir / "chalice").write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -c \'import json, os, sys; '
        'open(os.environ["FAKE_AWS_LOG"], "a").write(json.dumps(["chalice", *sys.argv[1:]]) + "\\n")\' "$@"\n'
    )
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    (tmp_path / "responses.json").write_text(json.dumps(responses))
    log = tmp_path / "calls.jsonl"
    log.touch()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CHALICE": str(bin_dir / "chalice"),
        "FAKE_AWS_LOG": str(log),
        "FAKE_AWS_RESPONSES": str(tmp_path / "responses.json"),
    }
    done = subprocess.run(
        ["bash", str(ROOT / "infra" / "deploy.sh"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, [json.loads(line) for line in log.read_text().splitlines()]


def _mapping(function: str = "arn:aws:lambda:eu-west-1:123456789012:function:chat-backend-dev-fanout"):
    return {"UUID": UUID, "EventSourceArn": QUEUE_ARN, "FunctionArn": function, "State": "Enabled"}


def test_deploy_makes_the_queue_first_and_turns_on_partial_batch_responses_last(tmp_path):
    done, calls = _run(tmp_path, "dev", responses=_responses([_mapping()]))

    assert done.returncode == 0, done.stdout + done.stderr
    commands = [c[:2] if c[0] == "chalice" else c[:3] for c in calls]
    assert commands == [
        ["aws", "cloudformation", "deploy"],  # tables and queues, before anything consumes them
        ["aws", "ssm", "get-parameter"],  # the secret exists: not created again
        ["chalice", "deploy"],
        ["aws", "cloudformation", "describe-stacks"],
        ["aws", "lambda", "list-event-source-mappings"],
        ["aws", "lambda", "get-event-source-mapping"],
        ["aws", "lambda", "get-event-source-mapping"],  # waited for Creating to end
        ["aws", "lambda", "update-event-source-mapping"],
    ]
    tables, _, chalice, _, listing, _, _, update = calls
    assert tables[tables.index("--template-file") + 1] == "infra/tables.json"
    assert "TablePrefix=chat-dev" in tables
    assert chalice == ["chalice", "deploy", "--stage", "dev"]
    worker = f"{config()['app_name']}-dev-fanout"  # Chalice's {app_name}-{stage}-{handler}
    assert listing[listing.index("--function-name") + 1] == worker
    assert listing[listing.index("--event-source-arn") + 1] == QUEUE_ARN
    assert update[update.index("--uuid") + 1] == UUID
    assert update[update.index("--function-response-types") + 1 :] == ["ReportBatchItemFailures"]
    assert UUID in done.stdout


def test_deploy_creates_a_missing_secret(tmp_path):
    responses = {**_responses([_mapping()]), "ssm get-parameter": {"Error": "ParameterNotFound"}}
    done, calls = _run(tmp_path, "dev", responses=responses)

    assert done.returncode == 0, done.stdout + done.stderr
    (put,) = [c for c in calls if c[1:3] == ["ssm", "put-parameter"]]
    assert put[put.index("--name") + 1] == "/chat-backend/dev/jwt-secret"
    assert put[put.index("--type") + 1] == "SecureString"
    assert len(put[put.index("--value") + 1]) >= 48


def test_deploy_fails_loudly_when_chalice_made_no_event_source_mapping(tmp_path):
    done, calls = _run(tmp_path, "dev", responses=_responses([]))

    assert done.returncode != 0
    assert "No event source mapping" in done.stderr
    assert not [c for c in calls if c[1:3] == ["lambda", "update-event-source-mapping"]]


def test_delete_removes_the_app_then_the_stack_and_names_what_is_retained(tmp_path):
    done, calls = _run(tmp_path, "dev", "--delete", responses=_responses([]))

    assert done.returncode == 0, done.stdout + done.stderr
    assert [c[:3] for c in calls] == [
        ["chalice", "delete", "--stage"],
        ["aws", "cloudformation", "delete-stack"],
        ["aws", "cloudformation", "wait"],
    ]
    tables = json.loads((ROOT / "infra" / "tables.json").read_text())["Resources"].values()
    retained = [
        r["Properties"]["TableName"]["Fn::Sub"].replace("${TablePrefix}", "chat-dev")
        for r in tables
        if r.get("DeletionPolicy") == "Retain"
    ]
    assert retained and all(name in done.stdout for name in retained)


@pytest.mark.parametrize(
    "bad", [["aws", "lambda", "update-event-source-mapping", "--uuid", "x", "--response-types", "R"]]
)
def test_the_fake_cli_rejects_what_the_real_one_would(tmp_path, bad):
    """The checks above mean something only if a misspelt option fails."""
    (tmp_path / "responses.json").write_text("{}")
    env = {"FAKE_AWS_LOG": str(tmp_path / "log"), "FAKE_AWS_RESPONSES": str(tmp_path / "responses.json")}
    done = subprocess.run(
        [sys.executable, str(FAKE_AWS), *bad[1:]], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "has no option ['--response-types']" in done.stderr
