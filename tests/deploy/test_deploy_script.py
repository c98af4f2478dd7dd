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

from infra import vapid_key
from tests.deploy.aws_harness import TEST_STAGE, attachments_bucket, make_project, rename_stage
from tests.deploy.conftest import config, stage_env
from tests.stack import ROOT

FAKE_AWS = Path(__file__).with_name("fake_aws.py")
QUEUE_ARNS = {
    "FanoutQueueArn": "arn:aws:sqs:eu-west-1:123456789012:chat-dev-fanout",
    "PushQueueArn": "arn:aws:sqs:eu-west-1:123456789012:chat-dev-push",
}
UUIDS = {"fanout": "6d9bfbb7-0c1a-4a0e-9a39-0c4f0d9a1f33", "push": "0b7e3c55-51d2-4f0b-8a57-4bd0f2a9c6e1"}
BUCKET = "chat-dev-attachments-123456789012-eu-west-1"


def _responses(mappings: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """``mappings``: what list-event-source-mappings answers, once per worker (fan-out, push)."""
    return {
        "ssm get-parameter": {"Parameter": {"Name": "/chat-backend/dev/jwt-secret"}},
        "cloudformation describe-stacks": {
            "Stacks": [
                {
                    "Outputs": [
                        {"OutputKey": "FanoutQueueUrl", "OutputValue": "https://sqs.example/chat-dev-fanout"},
                        *({"OutputKey": key, "OutputValue": arn} for key, arn in QUEUE_ARNS.items()),
                        {"OutputKey": "AttachmentsBucketName", "OutputValue": BUCKET},
                    ]
                }
            ]
        },
        "lambda list-event-source-mappings": [{"EventSourceMappings": m} for m in mappings],
        # Chalice has just created the fan-out mapping: busy once, then ready (the push one too).
        "lambda get-event-source-mapping": [{"State": "Creating"}, {"State": "Enabled"}],
        "lambda update-event-source-mapping": {"State": "Updating"},
    }


def _run(
    tmp_path: Path,
    *args: str,
    responses: dict[str, Any],
    script: Path = ROOT / "infra" / "deploy.sh",
    extra_env: dict[str, str] | None = None,
) -> tuple[subprocess.CompletedProcess[str], list]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "aws").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_AWS}" "$@"\n')
    (bin_dir / "chalice").write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -c \'import json, os, sys; '
        'open(os.environ["FAKE_AWS_LOG"], "a").write(json.dumps(["chalice", *sys.argv[1:]]) + "\\n")\' "$@"\n'
    )
    for stand_in in bin_dir.iterdir():
        stand_in.chmod(0o755)
    (tmp_path / "responses.json").write_text(json.dumps(responses))
    log = tmp_path / "calls.jsonl"
    log.touch()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CHALICE": str(bin_dir / "chalice"),
        "PYTHON": sys.executable,
        "FAKE_AWS_LOG": str(log),
        "FAKE_AWS_RESPONSES": str(tmp_path / "responses.json"),
        **(extra_env or {}),
    }
    done = subprocess.run(
        ["bash", str(script), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, [json.loads(line) for line in log.read_text().splitlines()]


def _mapping(worker: str) -> dict[str, Any]:
    function = f"arn:aws:lambda:eu-west-1:123456789012:function:chat-backend-dev-{worker}"
    arn = QUEUE_ARNS[f"{worker.capitalize()}QueueArn"]
    return {"UUID": UUIDS[worker], "EventSourceArn": arn, "FunctionArn": function, "State": "Enabled"}


BOTH = [[_mapping("fanout")], [_mapping("push")]]


def _option(call: list[str], option: str) -> str:
    """The value of ``option`` in ``call``, given as ``--option value`` or ``--option=value``."""
    for i, arg in enumerate(call):
        if arg == option:
            return call[i + 1]
        if arg.startswith(option + "="):
            return arg[len(option) + 1 :]
    raise AssertionError(f"{option} not in {call}")


def test_deploy_makes_the_queues_first_and_turns_on_partial_batch_responses_for_both_workers(tmp_path):
    done, calls = _run(tmp_path, "dev", responses=_responses(BOTH))

    assert done.returncode == 0, done.stdout + done.stderr
    commands = [c[:2] if c[0] == "chalice" else c[:3] for c in calls]
    worker_steps = [
        ["aws", "cloudformation", "describe-stacks"],
        ["aws", "lambda", "list-event-source-mappings"],
        ["aws", "lambda", "get-event-source-mapping"],
    ]
    assert commands == [
        ["aws", "cloudformation", "deploy"],  # tables and queues, before anything consumes them
        ["aws", "cloudformation", "describe-stacks"],  # the attachments bucket's name
        ["aws", "ssm", "get-parameter"],  # the JWT secret exists: not created again
        ["aws", "ssm", "get-parameter"],  # so does the VAPID key
        ["chalice", "deploy"],
        *worker_steps,  # the fan-out worker
        ["aws", "lambda", "get-event-source-mapping"],  # waited for Creating to end
        ["aws", "lambda", "update-event-source-mapping"],
        *worker_steps,  # the push worker
        ["aws", "lambda", "update-event-source-mapping"],
    ]
    tables, bucket, jwt, vapid, chalice = calls[:5]
    assert _option(tables, "--template-file") == "infra/tables.json"
    assert tables[tables.index("--parameter-overrides") + 1 :][:2] == [
        "TablePrefix=chat-dev",
        "--no-fail-on-empty-changeset",
    ]
    assert "OutputKey=='AttachmentsBucketName'" in _option(bucket, "--query")
    # dev's CHAT_ATTACHMENTS_BUCKET is empty in the repository: deployed without attachments, and
    # told which name to set.
    assert stage_env("dev")["CHAT_ATTACHMENTS_BUCKET"] == ""
    assert "Attachments are off" in done.stdout and f'to "{BUCKET}"' in done.stdout
    assert _option(jwt, "--name") == stage_env("dev")["CHAT_JWT_SECRET_PARAM"]
    assert _option(vapid, "--name") == stage_env("dev")["CHAT_VAPID_PRIVATE_KEY_PARAM"]
    assert chalice == ["chalice", "deploy", "--stage", "dev"]
    stacks = [c for c in calls if c[1:3] == ["cloudformation", "describe-stacks"]][1:]
    listings = [c for c in calls if c[1:3] == ["lambda", "list-event-source-mappings"]]
    updates = [c for c in calls if c[1:3] == ["lambda", "update-event-source-mapping"]]
    for worker, stack, listing, update in zip(UUIDS, stacks, listings, updates, strict=True):
        output = f"{worker.capitalize()}QueueArn"
        assert f"OutputKey=='{output}'" in _option(stack, "--query")
        # Chalice's {app_name}-{stage}-{handler}, reading the queue the stack output names
        assert _option(listing, "--function-name") == f"{config()['app_name']}-dev-{worker}"
        assert _option(listing, "--event-source-arn") == QUEUE_ARNS[output]
        assert _option(update, "--uuid") == UUIDS[worker]
        assert update[update.index("--function-response-types") + 1 :] == ["ReportBatchItemFailures"]
        assert UUIDS[worker] in done.stdout


def test_deploy_gives_the_bucket_the_web_page_origin_it_is_given(tmp_path):
    origin = "https://chat.example.com"
    done, calls = _run(
        tmp_path, "dev", responses=_responses(BOTH), extra_env={"CHAT_ATTACHMENTS_ORIGIN": origin}
    )

    assert done.returncode == 0, done.stdout + done.stderr
    tables = calls[0]
    overrides = tables[tables.index("--parameter-overrides") + 1 :]
    assert overrides[:3] == [
        "TablePrefix=chat-dev",
        f"AttachmentsAllowedOrigin={origin}",
        "--no-fail-on-empty-changeset",
    ]


@pytest.mark.parametrize("configured", ["chat-ci-attachments-123456789012-us-east-1", "chat-ci-attachments"])
def test_deploy_stops_before_chalice_when_the_configured_bucket_is_not_the_stacks(tmp_path, configured):
    """A CHAT_ATTACHMENTS_BUCKET other than the stack's bucket (another region, a guess) would
    point the functions at a bucket the stack did not make: nothing is deployed."""
    project = make_project(tmp_path / "project")
    config_path = project / ".chalice" / "config.json"
    project_config = json.loads(config_path.read_text())
    project_config["stages"][TEST_STAGE]["environment_variables"]["CHAT_ATTACHMENTS_BUCKET"] = configured
    config_path.write_text(json.dumps(project_config))
    responses = json.loads(rename_stage(json.dumps(_responses(BOTH))))
    script = project / "infra" / "deploy.sh"

    done, calls = _run(tmp_path, TEST_STAGE, responses=responses, script=script)

    assert done.returncode != 0
    assert f'is "{configured}", but the' in done.stderr
    assert f'stack\'s attachments bucket is "{attachments_bucket()}"' in done.stderr
    assert [c[:3] for c in calls] == [
        ["aws", "cloudformation", "deploy"],
        ["aws", "cloudformation", "describe-stacks"],
    ]


def test_deploy_passes_when_the_configured_bucket_is_the_stacks(tmp_path):
    project = make_project(tmp_path / "project")  # CHAT_ATTACHMENTS_BUCKET: the fake account's bucket
    responses = json.loads(rename_stage(json.dumps(_responses(BOTH))))

    done, calls = _run(tmp_path, TEST_STAGE, responses=responses, script=project / "infra" / "deploy.sh")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Attachments are off" not in done.stdout
    assert ["chalice", "deploy", "--stage", TEST_STAGE] in calls


def test_deploy_creates_a_missing_secret(tmp_path):
    responses = {**_responses(BOTH), "ssm get-parameter": [{"Error": "ParameterNotFound"}, {}]}
    done, calls = _run(tmp_path, "dev", responses=responses)

    assert done.returncode == 0, done.stdout + done.stderr
    (put,) = [c for c in calls if c[1:3] == ["ssm", "put-parameter"]]
    assert _option(put, "--name") == "/chat-backend/dev/jwt-secret"
    assert _option(put, "--type") == "SecureString"
    assert len(_option(put, "--value")) >= 48


def test_deploy_stores_a_generated_secret_that_begins_with_a_dash(tmp_path):
    """token_urlsafe begins with '-' about once in 64: the CLI must still read it as the value."""
    secret = "-" + "x" * 63
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(f"#!/bin/sh\necho '{secret}'\n")
    (bin_dir / "python3").chmod(0o755)
    responses = {**_responses(BOTH), "ssm get-parameter": [{"Error": "ParameterNotFound"}, {}]}
    done, calls = _run(tmp_path, "dev", responses=responses)

    assert done.returncode == 0, done.stdout + done.stderr
    (put,) = [c for c in calls if c[1:3] == ["ssm", "put-parameter"]]
    assert _option(put, "--value") == secret


def test_deploy_creates_a_missing_vapid_key_and_prints_its_public_half(tmp_path):
    responses = {**_responses(BOTH), "ssm get-parameter": [{}, {"Error": "ParameterNotFound"}]}
    done, calls = _run(tmp_path, "dev", responses=responses)

    assert done.returncode == 0, done.stdout + done.stderr
    (put,) = [c for c in calls if c[1:3] == ["ssm", "put-parameter"]]
    assert _option(put, "--name") == "/chat-backend/dev/vapid-private-key"
    assert _option(put, "--type") == "SecureString"
    private = _option(put, "--value")
    assert len(private) == 43  # 32 bytes, base64url without padding: as pywebpush reads it
    (line,) = [line for line in done.stdout.splitlines() if "applicationServerKey" in line]
    assert line.rsplit(" ", 1)[1] == vapid_key.public_key(private)
    assert private not in done.stdout  # the private half stays in SSM
    assert calls.index(put) < calls.index(["chalice", "deploy", "--stage", "dev"])


@pytest.mark.parametrize("missing", ["fanout", "push"])
def test_deploy_fails_loudly_when_chalice_made_no_event_source_mapping(tmp_path, missing):
    mappings = [[] if worker == missing else [_mapping(worker)] for worker in UUIDS]
    done, calls = _run(tmp_path, "dev", responses=_responses(mappings))

    assert done.returncode != 0
    assert f"No event source mapping from {QUEUE_ARNS[f'{missing.capitalize()}QueueArn']}" in done.stderr
    assert f"chat-backend-dev-{missing}" in done.stderr
    updates = [c for c in calls if c[1:3] == ["lambda", "update-event-source-mapping"]]
    # The fan-out worker comes first: it was set up before the push worker's mapping was missed.
    assert [_option(u, "--uuid") for u in updates] == ([UUIDS["fanout"]] if missing == "push" else [])


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
        if r["Type"] == "AWS::DynamoDB::Table" and r.get("DeletionPolicy") == "Retain"
    ]
    assert retained and all(f"{name}," in done.stdout for name in retained)
    buckets = [r for r in tables if r["Type"] == "AWS::S3::Bucket"]
    assert [r.get("DeletionPolicy") for r in buckets] == ["Retain"]
    assert "the attachments bucket\nchat-dev-attachments-ACCOUNT-REGION with its files" in done.stdout
    deleted = [
        r["Properties"]["TableName"]["Fn::Sub"].replace("${TablePrefix}", "chat-dev")
        for r in tables
        if r["Type"] == "AWS::DynamoDB::Table" and r.get("DeletionPolicy") != "Retain"
    ]
    assert deleted and not any(name in done.stdout for name in deleted)
    for setting in ("CHAT_JWT_SECRET_PARAM", "CHAT_VAPID_PRIVATE_KEY_PARAM"):
        assert stage_env("dev")[setting] in done.stdout


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


CUSTOM = {"jwt": "/acme/chat/ci/jwt", "vapid": "/acme/chat/ci/vapid"}


def _project_naming(tmp_path: Path, jwt: str, vapid: str) -> Path:
    """A project whose TEST_STAGE reads its secrets from ``jwt`` and ``vapid``."""
    project = make_project(tmp_path / "project")
    config_path = project / ".chalice" / "config.json"
    project_config = json.loads(config_path.read_text())
    variables = project_config["stages"][TEST_STAGE]["environment_variables"]
    variables["CHAT_JWT_SECRET_PARAM"], variables["CHAT_VAPID_PRIVATE_KEY_PARAM"] = jwt, vapid
    config_path.write_text(json.dumps(project_config))
    return project


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--jwt-secret-param", CUSTOM["jwt"], "--vapid-key-param", CUSTOM["vapid"]], {}),
        ([f"--jwt-secret-param={CUSTOM['jwt']}", f"--vapid-key-param={CUSTOM['vapid']}"], {}),
        ([], {"CHAT_JWT_SECRET_PARAM": CUSTOM["jwt"], "CHAT_VAPID_PRIVATE_KEY_PARAM": CUSTOM["vapid"]}),
    ],
    ids=["options", "option=value", "environment"],
)
def test_deploy_reads_and_creates_the_secrets_under_the_names_it_is_given(tmp_path, args, env):
    project = _project_naming(tmp_path, CUSTOM["jwt"], CUSTOM["vapid"])
    responses = json.loads(rename_stage(json.dumps(_responses(BOTH))))
    responses["ssm get-parameter"] = [{"Error": "ParameterNotFound"}]

    done, calls = _run(
        tmp_path,
        TEST_STAGE,
        *args,
        responses=responses,
        script=project / "infra" / "deploy.sh",
        extra_env=env,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    reads = [_option(c, "--name") for c in calls if c[1:3] == ["ssm", "get-parameter"]]
    puts = [c for c in calls if c[1:3] == ["ssm", "put-parameter"]]
    assert reads == [CUSTOM["jwt"], CUSTOM["vapid"]]
    assert [_option(p, "--name") for p in puts] == [CUSTOM["jwt"], CUSTOM["vapid"]]
    assert all(_option(p, "--type") == "SecureString" for p in puts)
    assert f"Creating the JWT secret {CUSTOM['jwt']}" in done.stdout
    assert f"Creating the Web Push VAPID key {CUSTOM['vapid']}" in done.stdout
    assert "/chat-backend/" not in json.dumps(calls)
    assert ["chalice", "deploy", "--stage", TEST_STAGE] in calls


def test_deploy_without_names_uses_the_ones_it_always_used(tmp_path):
    responses = {**_responses(BOTH), "ssm get-parameter": [{"Error": "ParameterNotFound"}]}
    done, calls = _run(tmp_path, "dev", responses=responses)

    assert done.returncode == 0, done.stdout + done.stderr
    puts = [_option(c, "--name") for c in calls if c[1:3] == ["ssm", "put-parameter"]]
    assert puts == ["/chat-backend/dev/jwt-secret", "/chat-backend/dev/vapid-private-key"]


@pytest.mark.parametrize("which", ["jwt", "vapid"])
def test_deploy_stops_before_any_change_when_a_name_is_not_the_one_the_functions_read(tmp_path, which):
    """dev's config names /chat-backend/dev/...: a secret made under another name would leave
    the functions without it."""
    option = {"jwt": "--jwt-secret-param", "vapid": "--vapid-key-param"}[which]
    setting = {"jwt": "CHAT_JWT_SECRET_PARAM", "vapid": "CHAT_VAPID_PRIVATE_KEY_PARAM"}[which]
    done, calls = _run(tmp_path, "dev", option, CUSTOM[which], responses=_responses(BOTH))

    assert done.returncode == 1
    assert f'{setting} of stage dev in .chalice/config.json is "{stage_env("dev")[setting]}"' in done.stderr
    assert f'"{CUSTOM[which]}"' in done.stderr
    assert calls == []


def test_delete_names_the_secrets_it_was_given(tmp_path):
    done, _ = _run(
        tmp_path,
        "dev",
        "--delete",
        "--jwt-secret-param",
        CUSTOM["jwt"],
        "--vapid-key-param",
        CUSTOM["vapid"],
        responses=_responses([]),
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SSM {CUSTOM['jwt']} and SSM {CUSTOM['vapid']}." in done.stdout


def test_help_lists_every_option_with_its_default(tmp_path):
    done, calls = _run(tmp_path, "--help", responses={})

    assert done.returncode == 0 and calls == []
    assert "--jwt-secret-param NAME" in done.stdout and "--vapid-key-param NAME" in done.stdout
    assert "default /chat-backend/STAGE/jwt-secret" in done.stdout
    assert "default /chat-backend/STAGE/vapid-private-key" in done.stdout
    assert "--delete" in done.stdout


@pytest.mark.parametrize(
    "args", [["dev", "--jwt-secret"], ["dev", "--jwt-secret-param"], ["dev", "prod"], []], ids=str
)
def test_a_misspelt_or_incomplete_command_line_changes_nothing(tmp_path, args):
    done, calls = _run(tmp_path, *args, responses=_responses(BOTH))

    assert done.returncode == 2 and calls == []
    assert "usage: infra/deploy.sh" in done.stderr or "one STAGE only" in done.stderr
