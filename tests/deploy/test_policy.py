"""The IAM policy of each stage allows every AWS call the handlers make, on the right resources,
and nothing more: the DynamoDB and SQS actions are exactly those the functional suite recorded
(plus what Lambda's event source mapping does for the fan-out worker), on the stage's tables and
fan-out queue only; no action is a wildcard.

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
# The IAM action each SQS operation is authorized by (the batch forms have none of their own).
SQS_ACTIONS = {
    "GetQueueUrl": "GetQueueUrl",
    "SendMessage": "SendMessage",
    "SendMessageBatch": "SendMessage",
    "ReceiveMessage": "ReceiveMessage",
    "DeleteMessage": "DeleteMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibility": "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "GetQueueAttributes": "GetQueueAttributes",
}
# What Lambda's SQS event source mapping calls with the function's role to feed the fan-out
# worker: no test can record these (Lambda does them, not the code).
EVENT_SOURCE_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
)


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


@pytest.fixture(scope="session")
def recorded_calls(request: pytest.FixtureRequest, tmp_path_factory) -> list[tuple[str, str, str]]:
    """Once per session, for both stages (run alone, recording takes the functional tier's time)."""
    return _recorded_calls(request, tmp_path_factory.mktemp("calls"))


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
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return [tuple(c) for c in json.loads(out.read_text())]  # type: ignore[misc]


def _queue_arn(stage: str) -> str:
    """The stage's fan-out queue: the one queue the app knows (Settings.fanout_queue, from
    CHAT_FANOUT_QUEUE). Every SQS call the suite records is on it (the functional tier gives
    each test a fresh "test-fanout-N" in its place; the recorder keeps no queue name)."""
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{stage_env(stage)['CHAT_FANOUT_QUEUE']}"


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
        elif service == "sqs" and operation in SQS_ACTIONS:
            needed.add((f"sqs:{SQS_ACTIONS[operation]}", _queue_arn(stage)))
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
@pytest.mark.timeout(1300)  # run alone, the first one records the functional tier in a subprocess
@pytest.mark.parametrize("stage", STAGES)
def test_policy_allows_every_recorded_call_and_no_other_table_or_queue_action(recorded_calls, stage):
    calls = recorded_calls
    assert any(op == "TransactWriteItems" for _, op, _ in calls), "no sends were recorded"
    assert any(service == "ssm" for service, _, _ in calls), "the SSM secret read was not recorded"
    assert any(op == "SendMessageBatch" for service, op, _ in calls if service == "sqs"), (
        "no shards were queued"
    )
    policy = _policy(stage)
    needed = _iam_requests(calls, stage)
    denied = sorted(n for n in needed if not allowed(policy, *n))
    assert denied == [], f"the {stage} policy denies calls the code makes: {denied}"

    consumed = {(action, _queue_arn(stage)) for action in EVENT_SOURCE_ACTIONS}
    unused = sorted(_granted(policy, ("dynamodb", "sqs")) - needed - consumed)
    assert unused == [], f"the {stage} policy grants DynamoDB/SQS actions nothing uses: {unused}"


def _granted(policy: dict, services: tuple[str, ...]) -> set[tuple[str, str]]:
    """(action, resource) pairs the policy grants for these services, in this test's region and account."""
    granted = set()
    for statement in policy["Statement"]:
        for action in statement["Action"]:
            service = action.partition(":")[0]
            if service in services:
                resource = statement["Resource"]
                granted.add(
                    (
                        action,
                        resource.replace(f"arn:aws:{service}:*:*:", f"arn:aws:{service}:{REGION}:{ACCOUNT}:"),
                    )
                )
    return granted


@pytest.mark.parametrize("stage", STAGES)
def test_the_fanout_worker_can_consume_its_queue_and_only_its_queue(stage):
    policy = _policy(stage)
    queue, other = _queue_arn(stage), _queue_arn("prod" if stage == "dev" else "dev")
    for action in EVENT_SOURCE_ACTIONS:
        assert allowed(policy, action, queue), action
        assert not allowed(policy, action, other), action
        assert not allowed(policy, action, queue + "-dlq"), action
    # Sending is for the stage's queue only; the dead-letter queue is fed by SQS's redrive policy.
    assert allowed(policy, "sqs:SendMessage", queue)
    assert not allowed(policy, "sqs:SendMessage", queue + "-dlq")
    assert not allowed(policy, "sqs:SendMessage", other)
    assert not allowed(policy, "sqs:PurgeQueue", queue)
    assert not allowed(policy, "sqs:DeleteQueue", queue)


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
            if any(a.startswith("sqs:") for a in actions):
                assert resource == f"arn:aws:sqs:*:*:{stage_env(stage)['CHAT_FANOUT_QUEUE']}", resource
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
