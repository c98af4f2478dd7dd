"""The IAM policy of each stage allows every AWS call the handlers make, on the right resources,
and nothing more: the DynamoDB actions are exactly those the functional suite recorded, on the
stage's tables only; no action is a wildcard.

The calls are the ones recorded (at the botocore level) while the functional tier drove the real
handlers in this run; run alone, this test runs the functional tier in a subprocess to record
them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from chalicelib.config import table_prefix
from chalicelib.storage.tables import ALL_MODELS
from tests.deploy.conftest import STAGES, config, stage_env
from tests.stack import ROOT

REGION, ACCOUNT, API = "eu-west-1", "123456789012", "a1b2c3d4e5"
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _policy(stage: str) -> dict:
    name = config()["stages"][stage]["iam_policy_file"]
    return dict(json.loads((ROOT / ".chalice" / name).read_text()))


def allowed(policy: dict, action: str, resource: str) -> bool:
    """IAM evaluation for Allow-only policies: some statement matches the action and resource."""
    for statement in policy["Statement"]:
        assert (
            statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        )
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        if any(fnmatchcase(action.lower(), a.lower()) for a in actions) and any(
            fnmatchcase(resource, r) for r in resources
        ):
            return True
    return False


def _recorded_calls(request: pytest.FixtureRequest, tmp_path: Path) -> list[tuple[str, str, str]]:
    from tests.conftest import APP_CALLS

    ran_functional = sum(item.nodeid.startswith("tests/functional/") for item in request.session.items)
    recorded = sorted(APP_CALLS)
    if ran_functional > 50 and any(op == "TransactWriteItems" for _, op, _ in recorded):
        return recorded  # the functional tier ran in this session: use what it recorded
    out = tmp_path / "calls.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/functional", "-q", "-x", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env={**os.environ, "CHAT_AWS_CALLS_OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return [tuple(c) for c in json.loads(out.read_text())]  # type: ignore[misc]


def _iam_requests(calls: list[tuple[str, str, str]], stage: str) -> set[tuple[str, str]]:
    """(IAM action, resource ARN) each recorded call needs, with the test tables renamed to the stage's."""
    prefix = stage_env(stage)["CHAT_TABLE_PREFIX"]
    needed = set()
    for service, operation, target in calls:
        if service == "dynamodb":
            kind, _, table = target.rpartition(":")
            action = TRANSACT_ACTIONS[kind] if operation == "TransactWriteItems" else operation
            table = prefix + table.removeprefix(table_prefix())
            needed.add((f"dynamodb:{action}", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"))
        elif service == "execute-api" and operation == "PostToConnection":
            post = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/{stage}/POST/@connections/abcDEF123="
            needed.add(("execute-api:ManageConnections", post))
        elif service == "ssm":
            needed.add(
                (
                    "ssm:GetParameter",
                    f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{stage_env(stage)['CHAT_JWT_SECRET_PARAM']}",
                )
            )
        else:
            needed.add((f"{service}:{operation}", "*"))  # an unexpected service: no policy covers it
    return needed


@pytest.mark.after_suite
@pytest.mark.parametrize("stage", STAGES)
def test_policy_allows_every_recorded_call_and_no_other_dynamodb_action(request, tmp_path, stage):
    calls = _recorded_calls(request, tmp_path)
    assert any(op == "TransactWriteItems" for _, op, _ in calls), "no sends were recorded"
    assert any(service == "ssm" for service, _, _ in calls), "the SSM secret read was not recorded"
    policy = _policy(stage)
    needed = _iam_requests(calls, stage)
    denied = sorted(n for n in needed if not allowed(policy, *n))
    assert denied == [], f"the {stage} policy denies calls the code makes: {denied}"

    granted = set()
    for statement in policy["Statement"]:
        for action in statement["Action"]:
            if action.startswith("dynamodb:"):
                granted.add(
                    (
                        action,
                        statement["Resource"].replace(
                            "arn:aws:dynamodb:*:*:", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:"
                        ),
                    )
                )
    unused = sorted(granted - {n for n in needed if n[0].startswith("dynamodb:")})
    assert unused == [], f"the {stage} policy grants DynamoDB actions the code never uses: {unused}"


@pytest.mark.parametrize("stage", STAGES)
def test_policy_is_scoped_to_the_stage(stage):
    policy = _policy(stage)
    prefix = stage_env(stage)["CHAT_TABLE_PREFIX"]
    tables = {f"{prefix}-{model.Meta.table_name.removeprefix(table_prefix() + '-')}" for model in ALL_MODELS}
    for statement in policy["Statement"]:
        actions = statement["Action"]
        assert all("*" not in a and "?" not in a for a in actions), statement
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for resource in resources:
            if any(a.startswith("dynamodb:") for a in actions):
                table = resource.split(":table/", 1)[1]
                assert table.split("/index/")[0] in tables, resource
                assert "*" not in table.split("/index/")[0], resource
    other = "prod" if stage == "dev" else "dev"
    # The stage's connections can be posted to; the other stage's, and other methods, cannot.
    post = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/{stage}/POST/@connections/abcDEF123="
    assert allowed(policy, "execute-api:ManageConnections", post)
    assert not allowed(policy, "execute-api:ManageConnections", post.replace(f"/{stage}/", f"/{other}/"))
    assert not allowed(policy, "execute-api:ManageConnections", post.replace("/POST/", "/DELETE/"))
    assert not allowed(policy, "execute-api:Invoke", post)
    assert not allowed(
        policy, "dynamodb:Scan", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{prefix}-messages"
    )
    assert not allowed(
        policy, "dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/chat-{other}-chats"
    )
    assert not allowed(
        policy,
        "ssm:GetParameter",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/chat-backend/{other}/jwt-secret",
    )
