"""Each Lambda function of a stage has a role of its own (Chalice makes one per function), whose
policy is the function's file in .chalice/ (``lambda_functions.NAME.iam_policy_file``; the
stage's ``iam_policy_file`` is what a function without one gets: its logs only). Each policy
allows every AWS call that function makes, on the right resources, and nothing more: the
DynamoDB, SQS, SNS, SSM, S3 and execute-api actions are exactly those the functional suite
recorded for that function (plus what Lambda's event source mapping does for a worker), on the
stage's tables, queues, SNS platform applications and endpoints, secrets, and the objects under
attachments/ of the stage's attachments bucket only; no action is a wildcard.

A presigned URL or POST form makes no request when it is made: the client using it does, with
the signer's permissions. tests/conftest.py records making one as the operation it performs
(GetObject for a download link; PostObject, or PostObject+tagging for a form that sets object
tags, for an upload form), and this test asks for the IAM actions S3 checks when it is used.

The calls are the ones recorded (at the botocore level) while the functional tier drove the real
handlers in this run, each under the function whose entry point made it (tests/conftest.py's
ENTRY_POINTS; posts to connections through the test driver's management API count too): in
this process, or under `make test` in every test worker process (each writes its calls into
CHAT_AWS_CALLS_DIR, and this test runs after them); run alone, this test runs the functional
tier in a subprocess to record them. The functional tier gives Web Push its VAPID key in the
environment, so the SSM read of the key a deployment makes is recorded here, by the same code
(chalicelib.secret), and counted as the push worker's."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from chalicelib.config import Settings, table_prefix
from chalicelib.storage.tables import ALL_MODELS
from infra import signin
from tests.conftest import RECORDER, call_resources
from tests.deploy.conftest import STAGES, config, stage_env
from tests.stack import ROOT

REGION, ACCOUNT, API = "eu-west-1", "123456789012", "a1b2c3d4e5"
# The app's Lambda functions as Chalice names them (app.py: the three WebSocket routes' handlers,
# the two SQS workers, the REST API's handler serving the web page).
APP_FUNCTIONS = (
    "websocket_connect",
    "websocket_message",
    "websocket_disconnect",
    "fanout",
    "push",
    "api_handler",
)
# The queue each worker's event source mapping reads with the worker's role.
CONSUMERS = {"fanout": "CHAT_FANOUT_QUEUE", "push": "CHAT_PUSH_QUEUE"}
# Granted ahead of the code that uses them (issue 24: blocking and reporting land from other
# branches): while a table is not among the PynamoDB models, these grants on it are not checked
# against recorded calls. Once its model exists, the calls the functional tier records decide.
PENDING_GRANTS = {
    "websocket_message": {
        "blocks": (
            "BatchGetItem",
            "ConditionCheckItem",
            "DeleteItem",
            "GetItem",
            "PutItem",
            "Query",
            "UpdateItem",
        ),
        "reports": ("GetItem", "PutItem", "Query", "UpdateItem"),
    },
    "push": {"blocks": ("BatchGetItem",)},
}
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
# What Lambda's SQS event source mapping calls with the function's role to feed a worker (fan-out,
# push): no test can record these (Lambda does them, not the code).
EVENT_SOURCE_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
)


def function_files(stage: str) -> dict[str, str]:
    """Function (as Chalice names it) -> its policy file, for every function of the app."""
    settings = config()["stages"][stage]
    own = {name: f["iam_policy_file"] for name, f in settings.get("lambda_functions", {}).items()}
    return {name: own.get(name, settings["iam_policy_file"]) for name in APP_FUNCTIONS}


def function_policy(stage: str, function: str) -> dict:
    return dict(json.loads((ROOT / ".chalice" / function_files(stage)[function]).read_text()))


def _policy(stage: str) -> dict:
    """Every statement any function of the stage is granted: what the stage as a whole may do."""
    statements = [s for f in APP_FUNCTIONS for s in function_policy(stage, f)["Statement"]]
    return {"Version": "2012-10-17", "Statement": statements}


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


Call = tuple[str, str, str, str]  # (function, service, operation, resource)


@pytest.fixture(scope="session")
def recorded_calls(tmp_path_factory) -> list[Call]:
    """Once per session, for both stages (run alone, recording takes the functional tier's time)."""
    return _recorded_calls(tmp_path_factory.mktemp("calls"))


def _has_sends(calls: Iterable[tuple[str, ...]]) -> bool:
    """Whether ``calls`` hold a message send's transaction: the functional tier ran."""
    return any(call[2] == "TransactWriteItems" for call in calls)


def _recorded_calls(tmp_path: Path) -> list[Call]:
    from tests.conftest import APP_CALLS, TESTS_RUN

    recorded = sorted(APP_CALLS)
    whole_run = "PYTEST_XDIST_WORKER" not in os.environ  # an xdist worker ran only its share
    if whole_run and TESTS_RUN["functional"] > 50 and _has_sends(recorded):
        return recorded  # the functional tier ran in this process: use what it recorded
    directory = os.environ.get("CHAT_AWS_CALLS_DIR")
    if directory:  # `make test`: what every worker process of the run recorded
        merged = {tuple(c) for f in sorted(Path(directory).glob("*.json")) for c in json.loads(f.read_text())}
        if _has_sends(merged):
            return sorted(merged)  # type: ignore[arg-type]
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


# The queues the functional tier makes in place of the stage's (a fresh one per test), and the
# stage setting naming each one.
TEST_QUEUES = {"test-fanout-": "CHAT_FANOUT_QUEUE", "test-push-": "CHAT_PUSH_QUEUE"}
# The secrets a deployment reads from SSM, by the last segment of the parameter name.
SECRETS = {"jwt-secret": "CHAT_JWT_SECRET_PARAM", "vapid-private-key": "CHAT_VAPID_PRIVATE_KEY_PARAM"}
# SNS ARNs (https://docs.aws.amazon.com/sns/latest/dg/mobile-push-send-register.html):
#   application  arn:aws:sns:REGION:ACCOUNT:app/PLATFORM/NAME
#   endpoint     arn:aws:sns:REGION:ACCOUNT:endpoint/PLATFORM/NAME/UUID
# PLATFORM is APNS or APNS_SANDBOX for APNs and GCM for FCM; NAME is the application's.
SNS_ARN = re.compile(
    r"arn:aws:sns:[a-z0-9-]+:[0-9]{12}:(?P<kind>app|endpoint)/(?P<platform>APNS|APNS_SANDBOX|GCM)"
    r"/(?P<name>[A-Za-z0-9_.-]+)(?P<endpoint>/[0-9a-f-]+)?"
)
# A stage's APNs application is either APNs environment: the code makes the same calls on both.
SNS_PLATFORMS = {"APNS": ("apns", ("APNS", "APNS_SANDBOX")), "GCM": ("fcm", ("GCM",))}
# The IAM actions S3 checks for each recorded operation (https://docs.aws.amazon.com/service-
# authorization/latest/reference/list_amazons3.html): HeadObject is authorized by s3:GetObject,
# DeleteObjects by s3:DeleteObject on each object, a POST upload by s3:PutObject, and also by
# s3:PutObjectTagging when the form sets tags (its "tagging" field).
S3_ACTIONS = {
    "GetObject": ("s3:GetObject",),
    "HeadObject": ("s3:GetObject",),
    "PutObject": ("s3:PutObject",),
    "PostObject": ("s3:PutObject",),
    "PostObject+tagging": ("s3:PutObject", "s3:PutObjectTagging"),
    "DeleteObject": ("s3:DeleteObject",),
    "DeleteObjects": ("s3:DeleteObject",),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging",),
}
TEMPLATE = ROOT / "infra" / "tables.json"


def attachments_bucket(stage: str, account: str = ACCOUNT, region: str = REGION) -> str:
    """The stage's bucket as infra/tables.json names it, in ``account`` and ``region``."""
    resources = json.loads(TEMPLATE.read_text())["Resources"]
    name = str(resources["AttachmentsBucket"]["Properties"]["BucketName"]["Fn::Sub"])
    values = {
        "TablePrefix": stage_env(stage)["CHAT_TABLE_PREFIX"],
        "AWS::AccountId": account,
        "AWS::Region": region,
    }
    for variable, value in values.items():
        name = name.replace(f"${{{variable}}}", value)
    assert "$" not in name, name
    return name


def _stage_object(stage: str, arn: str) -> str:
    """The stage's object ARN in place of one in the functional tier's bucket."""
    bucket, _, key = arn.removeprefix("arn:aws:s3:::").partition("/")
    if bucket != os.environ["CHAT_ATTACHMENTS_BUCKET"]:
        return f"unknown bucket {bucket!r}"  # no policy allows it: the test names it
    return (
        f"arn:aws:s3:::{attachments_bucket(stage)}/{key}"
        if key
        else f"arn:aws:s3:::{attachments_bucket(stage)}"
    )


def _queue_arn(stage: str, setting: str = "CHAT_FANOUT_QUEUE") -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{stage_env(stage)[setting]}"


def _stage_queue(stage: str, queue: str) -> str:
    """The stage's queue in place of the test queue the call was recorded on ("test-push-3")."""
    for test_prefix, setting in TEST_QUEUES.items():
        if queue.startswith(test_prefix):
            return _queue_arn(stage, setting)
    return f"unknown queue {queue!r}"  # no policy allows it: the test names it


def sns_application_name(stage: str, platform: str) -> str:
    """The name the stage's policy grants for ``platform`` ("apns", "fcm"): chat-dev-apns."""
    return f"{stage_env(stage)['CHAT_TABLE_PREFIX']}-{platform}"


def _stage_sns_arns(stage: str, arn: str) -> list[str]:
    """The stage's application or endpoint ARNs in place of a test one, for each platform name."""
    found = SNS_ARN.fullmatch(arn)
    if found is None:
        return [f"unknown SNS resource {arn!r}"]
    platform, names = SNS_PLATFORMS[found["platform"]]
    rest = f"/{sns_application_name(stage, platform)}{found['endpoint'] or ''}"
    return [f"arn:aws:sns:{REGION}:{ACCOUNT}:{found['kind']}/{name}{rest}" for name in names]


def _stage_parameter(stage: str, name: str) -> str:
    last = name.rpartition("/")[2]
    if last == "web-client-id":  # written by the stack with a user pool (infra/signin.py)
        return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{signin.client_id_parameter(stage)}"
    setting = SECRETS.get(last)
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{stage_env(stage)[setting] if setting else name}"


def _iam_requests(calls: list[tuple[str, str, str]], stage: str) -> set[tuple[str, str]]:
    """(IAM action, resource ARN) each recorded call needs, with the test tables, queues, SNS
    applications and parameters renamed to the stage's."""
    prefix = stage_env(stage)["CHAT_TABLE_PREFIX"]
    needed = set()
    for service, operation, target in calls:
        if service == "dynamodb":
            kind, _, table = target.rpartition(":")
            action = TRANSACT_ACTIONS[kind] if operation == "TransactWriteItems" else operation
            table = prefix + table.removeprefix(table_prefix())
            needed.add((f"dynamodb:{action}", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"))
        elif service == "sqs" and operation in SQS_ACTIONS:
            needed.add((f"sqs:{SQS_ACTIONS[operation]}", _stage_queue(stage, target)))
        elif service == "sns":
            needed.update((f"sns:{operation}", arn) for arn in _stage_sns_arns(stage, target))
        elif service == "execute-api" and operation == "PostToConnection":
            post = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/{stage}/POST/@connections/abcDEF123="
            needed.add(("execute-api:ManageConnections", post))
        elif service == "ssm":
            needed.add((f"ssm:{operation}", _stage_parameter(stage, target)))
        elif service == "s3" and operation in S3_ACTIONS:
            needed.update((action, _stage_object(stage, target)) for action in S3_ACTIONS[operation])
        else:
            needed.add((f"{service}:{operation}", "*"))  # an unexpected service: no policy covers it
    return needed


@pytest.fixture(scope="session")
def vapid_key_read() -> list[tuple[str, str, str]]:
    """The calls chalicelib.secret makes to read the VAPID key from SSM, as a deployed push worker
    does (CHAT_VAPID_PRIVATE_KEY_PARAM set, no key in the environment), recorded under moto."""
    import boto3
    from moto import mock_aws

    from chalicelib.secret import vapid_key

    name = "/chat-backend/test/vapid-private-key"
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        ssm.put_parameter(Name=name, Value="k" * 43, Type="SecureString")
        settings = dataclasses.replace(
            Settings.from_env(), vapid_private_key=None, vapid_private_key_param=name
        )
        mark = RECORDER.mark()
        assert vapid_key(settings).get() == "k" * 43
        calls = RECORDER.since(mark, service=None)
    return sorted({(s, op, r) for s, op, params in calls for r in call_resources(s, params)})


def _by_function(recorded: list[Call], vapid_key_read: list[tuple[str, str, str]]) -> dict[str, list]:
    """(service, operation, resource) calls of each function; the VAPID key is the push worker's
    (it signs Web Push requests)."""
    calls: dict[str, list[tuple[str, str, str]]] = {function: [] for function in (*APP_FUNCTIONS, "")}
    for function, service, operation, target in recorded:
        calls[function].append((service, operation, target))
    calls["push"].extend(vapid_key_read)
    return calls


@pytest.mark.after_suite
@pytest.mark.timeout(1300)  # run alone, the first one records the functional tier in a subprocess
def test_the_functional_tier_made_every_kind_of_call_each_under_a_function(recorded_calls, vapid_key_read):
    calls = [*(c[1:] for c in recorded_calls), *vapid_key_read]
    operations = {(service, op) for service, op, _ in calls}
    assert ("dynamodb", "TransactWriteItems") in operations, "no sends were recorded"
    assert ("ssm", "GetParameter") in operations, "the SSM secret read was not recorded"
    assert ("sqs", "SendMessageBatch") in operations, "no shards or push jobs were queued"
    assert ("execute-api", "PostToConnection") in operations, "no posts to connections were recorded"
    for operation in ("CreatePlatformEndpoint", "SetEndpointAttributes", "Publish", "DeleteEndpoint"):
        assert ("sns", operation) in operations, f"no SNS {operation} was recorded"
    for operation in (
        "PostObject+tagging",
        "GetObject",
        "HeadObject",
        "DeleteObjectTagging",
        "DeleteObjects",
    ):
        assert ("s3", operation) in operations, f"no S3 {operation} was recorded"
    queues = {target.rstrip("0123456789") for service, _, target in calls if service == "sqs"}
    assert queues == set(TEST_QUEUES), queues
    by_function = _by_function(recorded_calls, vapid_key_read)
    # A call under no entry point is a test calling chalicelib's parts directly (a worker's
    # run(), a store): no function's. What it needs must still be granted to some function.
    for stage in STAGES:
        orphans = _iam_requests(by_function[""], stage)
        denied = sorted(n for n in orphans if not allowed(_policy(stage), *n))
        assert denied == [], f"calls outside the entry points no {stage} function may make: {denied}"
    for function in APP_FUNCTIONS:
        assert by_function[function], f"no calls of {function} were recorded"


def _pending(stage: str, function: str) -> set[tuple[str, str]]:
    """(action, resource pattern) granted ahead of code that is not here yet (PENDING_GRANTS)."""
    prefix = stage_env(stage)["CHAT_TABLE_PREFIX"]
    models = {model.Meta.table_name.removeprefix(table_prefix() + "-") for model in ALL_MODELS}
    pending = set()
    for table, actions in PENDING_GRANTS.get(function, {}).items():
        if table in models:
            continue  # its code is here: the recorded calls decide
        for action in actions:
            for resource in (f"table/{prefix}-{table}", f"table/{prefix}-{table}/index/*"):
                pending.add((f"dynamodb:{action}", f"arn:aws:dynamodb:*:*:{resource}"))
    return pending


@pytest.mark.after_suite
@pytest.mark.timeout(1300)
@pytest.mark.parametrize("function", APP_FUNCTIONS)
@pytest.mark.parametrize("stage", STAGES)
def test_each_function_policy_allows_its_calls_and_no_other_action(
    recorded_calls, vapid_key_read, stage, function
):
    calls = _by_function(recorded_calls, vapid_key_read)[function]
    policy = function_policy(stage, function)
    needed = _iam_requests(calls, stage)
    denied = sorted(n for n in needed if not allowed(policy, *n))
    assert denied == [], f"the {stage} policy of {function} denies calls it makes: {denied}"

    consumed = set()
    if function in CONSUMERS:  # Lambda's event source mapping reads the queue with the worker's role
        consumed = {(action, _queue_arn(stage, CONSUMERS[function])) for action in EVENT_SOURCE_ACTIONS}
        assert all(allowed(policy, *c) for c in consumed), f"{function} cannot consume its queue"
    used = needed | consumed
    granted = _granted(policy, ("dynamodb", "sqs", "sns", "ssm", "s3", "execute-api"))
    unused = sorted(
        (action, resource)
        for action, resource in granted - _pending(stage, function)
        if not any(a == action and fnmatchcase(r, resource) for a, r in used)
    )
    assert unused == [], f"the {stage} policy of {function} grants actions it does not use: {unused}"


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_has_a_policy_of_its_own_and_the_default_is_logs_only(stage):
    """A function app.py gains later gets the stage's default: its logs and nothing else."""
    files = function_files(stage)
    settings = config()["stages"][stage]
    assert settings["autogen_policy"] is False
    assert sorted(files) == sorted(settings["lambda_functions"]), "a function without its own policy"
    assert len(set(files.values())) == len(files), "two functions share a policy file"
    default = json.loads((ROOT / ".chalice" / settings["iam_policy_file"]).read_text())
    assert [s["Sid"] for s in default["Statement"]] == ["Logs"]
    assert settings["iam_policy_file"] not in files.values()


def test_the_app_declares_exactly_the_functions_the_policies_name():
    import app as chalice_app

    app = chalice_app.app
    routes = {
        "$connect": "websocket_connect",
        "$default": "websocket_message",
        "$disconnect": "websocket_disconnect",
    }
    names = {routes[route] for route in app.websocket_handlers}
    names |= {source.name for source in app.event_sources}
    names |= {function.name for function in app.pure_lambda_functions}
    names |= {"api_handler"} if app.routes else set()
    assert names == set(APP_FUNCTIONS)


def _granted(policy: dict, services: tuple[str, ...]) -> set[tuple[str, str]]:
    """(action, resource pattern) pairs the policy grants for these services."""
    granted = set()
    for statement in policy["Statement"]:
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in statement["Action"]:
            if action.partition(":")[0] in services:
                granted.update((action, resource) for resource in resources)
    return granted


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("worker", sorted(CONSUMERS))
def test_each_worker_can_consume_its_queue_and_only_its_queue(stage, worker):
    setting = CONSUMERS[worker]
    policy = function_policy(stage, worker)
    queue, other = _queue_arn(stage, setting), _queue_arn("prod" if stage == "dev" else "dev", setting)
    for action in EVENT_SOURCE_ACTIONS:
        assert allowed(policy, action, queue), action
        assert not allowed(policy, action, other), action
        assert not allowed(policy, action, queue + "-dlq"), action
        for function in set(APP_FUNCTIONS) - {worker}:  # no other function reads the queue
            assert not allowed(function_policy(stage, function), action, queue), (function, action)
    # Sending is for the stage's queue only; the dead-letter queue is fed by SQS's redrive policy.
    stage_policy = _policy(stage)
    assert allowed(stage_policy, "sqs:SendMessage", queue)
    assert not allowed(stage_policy, "sqs:SendMessage", queue + "-dlq")
    assert not allowed(stage_policy, "sqs:SendMessage", other)
    assert not allowed(stage_policy, "sqs:PurgeQueue", queue)
    assert not allowed(stage_policy, "sqs:DeleteQueue", queue)


@pytest.mark.parametrize("stage", STAGES)
def test_policy_is_scoped_to_the_stage(stage):
    policy = _policy(stage)
    env = stage_env(stage)
    prefix = env["CHAT_TABLE_PREFIX"]
    tables = {f"{prefix}-{model.Meta.table_name.removeprefix(table_prefix() + '-')}" for model in ALL_MODELS}
    tables |= {f"{prefix}-{table}" for grants in PENDING_GRANTS.values() for table in grants}
    queues = {f"arn:aws:sqs:*:*:{env[setting]}" for setting in TEST_QUEUES.values()}
    sns = re.compile(rf"arn:aws:sns:\*:\*:(app|endpoint)/(APNS|APNS_SANDBOX|GCM)/{prefix}-(apns|fcm)(/\*)?")
    for statement in policy["Statement"]:
        actions = statement["Action"]
        assert all("*" not in a and "?" not in a for a in actions), statement
        # IAM refuses the whole policy (MalformedPolicyDocument) for an action without its service.
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", a) for a in actions), statement
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for resource in resources:
            if any(a.startswith("dynamodb:") for a in actions):
                table = resource.split(":table/", 1)[1]
                assert table.split("/index/")[0] in tables, resource
                assert "*" not in table.split("/index/")[0], resource
            if any(a.startswith("sqs:") for a in actions):
                assert resource in queues, resource
            if any(a.startswith("sns:") for a in actions):
                assert sns.fullmatch(resource), resource
            if any(a.startswith("s3:") for a in actions):
                assert resource == f"arn:aws:s3:::{prefix}-attachments-????????????-*/attachments/*"
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
    for secret in SECRETS:
        parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/chat-backend/{other}/{secret}"
        assert not allowed(policy, "ssm:GetParameter", parameter)
        assert allowed(policy, "ssm:GetParameter", parameter.replace(f"/{other}/", f"/{stage}/"))


# Accounts and regions the bucket's name may hold: the longest region names of each kind too.
BUCKET_PLACES = [(ACCOUNT, REGION), ("000000000001", "us-east-1"), ("999999999999", "ap-southeast-2")]
BUCKET_PLACES += [("123456789012", "us-isof-south-1"), ("123456789012", "il-central-1")]
S3_GRANTED = (
    "s3:PutObject",
    "s3:PutObjectTagging",
    "s3:GetObject",
    "s3:DeleteObject",
    "s3:DeleteObjectTagging",
)


@pytest.mark.parametrize("stage", STAGES)
def test_attachment_objects_are_reachable_under_the_prefix_of_the_stage_bucket_only(stage):
    """The functions may put, tag, read and delete objects under attachments/ of the stage's
    bucket (as infra/tables.json names it, in any account and region), and nothing else of S3:
    not the bucket itself (no listing, no configuration), not other keys, not another stage's
    bucket or a bucket named otherwise."""
    policy = _policy(stage)
    other = "prod" if stage == "dev" else "dev"
    key = "attachments/c_0123456789abcdef/a_0123456789abcdef"
    for account, region in BUCKET_PLACES:
        bucket = attachments_bucket(stage, account, region)
        assert len(bucket) <= 63 and re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", bucket), bucket
        for action in S3_GRANTED:
            assert allowed(policy, action, f"arn:aws:s3:::{bucket}/{key}"), (action, bucket)
            for outside in ("other/x", "attachments", "attachmentsX/y", "Attachments/c/a", "x"):
                assert not allowed(policy, action, f"arn:aws:s3:::{bucket}/{outside}"), (action, outside)
            assert not allowed(policy, action, f"arn:aws:s3:::{bucket}"), action
            theirs = attachments_bucket(other, account, region)
            assert not allowed(policy, action, f"arn:aws:s3:::{theirs}/{key}"), action
        for action in (
            "s3:ListBucket",
            "s3:DeleteBucket",
            "s3:PutBucketPolicy",
            "s3:PutLifecycleConfiguration",
        ):
            assert not allowed(policy, action, f"arn:aws:s3:::{bucket}"), action
        for action in ("s3:PutObjectAcl", "s3:GetObjectAcl", "s3:GetObjectTagging", "s3:ListBucket"):
            assert not allowed(policy, action, f"arn:aws:s3:::{bucket}/{key}"), action
    prefix = stage_env(stage)["CHAT_TABLE_PREFIX"]
    for bucket in (
        f"{prefix}-attachments",
        f"{prefix}-attachments-evil",
        f"{prefix}-attachments-12345678901-x",
    ):
        assert not allowed(policy, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}"), bucket
    assert not allowed(policy, "s3:GetObject", f"arn:aws:s3:::other-bucket/{key}")


@pytest.mark.parametrize("stage", STAGES)
def test_configured_attachments_bucket_is_the_one_the_stack_makes_and_the_policy_grants(stage):
    """`chalice deploy` takes CHAT_ATTACHMENTS_BUCKET from .chalice/config.json: empty
    (attachments refused; infra/deploy.sh prints the name to set) or the stack's bucket."""
    bucket = stage_env(stage)["CHAT_ATTACHMENTS_BUCKET"]
    if bucket:
        assert re.fullmatch(attachments_bucket(stage, r"[0-9]{12}", r"[a-z]{2}(-[a-z]+)+-[0-9]"), bucket), (
            bucket
        )
        assert allowed(_policy(stage), "s3:PutObject", f"arn:aws:s3:::{bucket}/attachments/c/a"), bucket
    else:
        assert bucket == "", "an unset bucket is an empty string (Lambda keeps the variable)"


@pytest.mark.parametrize("stage", STAGES)
def test_push_reaches_the_stage_platform_applications_and_only_them(stage):
    policy = _policy(stage)
    other = "prod" if stage == "dev" else "dev"
    sns = f"arn:aws:sns:{REGION}:{ACCOUNT}"
    endpoint = "0f5a9d2c-5c1e-3f4a-9b7e-2d8c6a1b4e3f"
    for name, kinds in SNS_PLATFORMS.values():
        mine, theirs = sns_application_name(stage, name), sns_application_name(other, name)
        for kind in kinds:
            assert allowed(policy, "sns:CreatePlatformEndpoint", f"{sns}:app/{kind}/{mine}")
            assert not allowed(policy, "sns:CreatePlatformEndpoint", f"{sns}:app/{kind}/{theirs}")
            for action in ("sns:Publish", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"):
                assert allowed(policy, action, f"{sns}:endpoint/{kind}/{mine}/{endpoint}")
                assert not allowed(policy, action, f"{sns}:endpoint/{kind}/{theirs}/{endpoint}")
                assert not allowed(policy, action, f"{sns}:endpoint/{kind}/{mine}-other/{endpoint}")
            # The function may use the application, never change or delete it (its credentials).
            for action in ("sns:SetPlatformApplicationAttributes", "sns:DeletePlatformApplication"):
                assert not allowed(policy, action, f"{sns}:app/{kind}/{mine}")
            assert not allowed(
                policy, "sns:GetEndpointAttributes", f"{sns}:endpoint/{kind}/{mine}/{endpoint}"
            )
    # APNs tokens go to the APNs application, FCM tokens to the FCM one; no topics, no SMS.
    apns, fcm = sns_application_name(stage, "apns"), sns_application_name(stage, "fcm")
    assert not allowed(policy, "sns:CreatePlatformEndpoint", f"{sns}:app/GCM/{apns}")
    assert not allowed(policy, "sns:CreatePlatformEndpoint", f"{sns}:app/APNS/{fcm}")
    assert not allowed(policy, "sns:Publish", f"{sns}:{apns}")
    assert not allowed(policy, "sns:Publish", "*")


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("setting", ["CHAT_SNS_APNS_APP_ARN", "CHAT_SNS_FCM_APP_ARN"])
def test_configured_platform_applications_are_the_ones_the_policy_grants(stage, setting):
    """`chalice deploy` takes the application ARNs from .chalice/config.json: empty (that platform
    is refused) or an application of the stage's name, which the stage's policy grants."""
    arn = stage_env(stage)[setting]
    if arn:
        assert allowed(_policy(stage), "sns:CreatePlatformEndpoint", arn), arn
        assert SNS_ARN.fullmatch(arn) and SNS_ARN.fullmatch(arn)["kind"] == "app", arn
    else:
        assert arn == "", "an unset platform is an empty string (Lambda keeps the variable)"


@pytest.mark.parametrize("function", APP_FUNCTIONS)
@pytest.mark.parametrize("stage", STAGES)
def test_policy_fits_the_iam_inline_policy_limit(stage, function):
    """Chalice puts the policy inline on each function's role: IAM allows 10,240 characters
    (whitespace not counted) of inline policy per role."""
    document = json.dumps(function_policy(stage, function), separators=(",", ":"))
    assert len("".join(document.split())) <= 10_240


# Which function may read which of the stage's SSM parameters: each its own, no other.
PARAMETER_READERS = {
    "jwt-secret": "websocket_connect",  # verifies HS256 tokens at the handshake
    "vapid-private-key": "push",  # signs Web Push requests
    "web-client-id": "api_handler",  # config.json's client_id with a stack-made user pool
}


@pytest.mark.parametrize("stage", STAGES)
def test_each_parameter_is_read_by_its_one_function_of_the_stage(stage):
    other = "prod" if stage == "dev" else "dev"
    for name, reader in PARAMETER_READERS.items():
        parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/chat-backend/{stage}/{name}"
        for function in APP_FUNCTIONS:
            may = allowed(function_policy(stage, function), "ssm:GetParameter", parameter)
            assert may == (function == reader), (name, function)
        assert not allowed(_policy(stage), "ssm:GetParameter", parameter.replace(f"/{stage}/", f"/{other}/"))
    assert signin.client_id_parameter(stage) == f"/chat-backend/{stage}/web-client-id"


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_websocket_message_handler_and_the_fanout_worker_post_to_connections(stage):
    post = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/{stage}/POST/@connections/abcDEF123="
    posters = {
        f for f in APP_FUNCTIONS if allowed(function_policy(stage, f), "execute-api:ManageConnections", post)
    }
    assert posters == {"websocket_message", "fanout"}
