"""Where chatadmin works: flags over the environment over defaults, the local stack's defaults
with an endpoint, and what it sets in the process environment before the tables are imported."""

from __future__ import annotations

import subprocess
import sys

from chatadmin.settings import LOCAL_CREDENTIALS, apply, resolve
from tests.stack import ROOT


def test_without_an_endpoint_it_is_a_deployed_stage_from_the_environment():
    s = resolve({"AWS_REGION": "eu-west-1", "CHAT_TABLE_PREFIX": "chat-prod", "USER": "anna"})
    assert (s.endpoint, s.prefix, s.region, s.bucket, s.management, s.by) == (
        None,
        "chat-prod",
        "eu-west-1",
        None,
        None,
        "anna",
    )
    assert resolve({}).prefix == "chat-dev" and resolve({}).by == "operator"


def test_an_endpoint_means_the_local_stack_unless_told_otherwise():
    s = resolve({}, endpoint="http://127.0.0.1:4566/")
    assert (s.endpoint, s.prefix, s.bucket) == (
        "http://127.0.0.1:4566",
        "chat-local",
        "chat-local-attachments",
    )
    flagged = resolve(
        {"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1", "CHAT_TABLE_PREFIX": "env"},
        prefix="flag",
        bucket="b",
        management="http://127.0.0.1:8000/",
    )
    assert (flagged.endpoint, flagged.prefix, flagged.bucket, flagged.management) == (
        "http://127.0.0.1:1",
        "flag",
        "b",
        "http://127.0.0.1:8000",
    )


def test_apply_points_dynamodb_and_s3_at_a_loopback_endpoint_with_the_local_credentials():
    env: dict[str, str] = {}
    apply(resolve({}, endpoint="http://127.0.0.1:4566"), env)
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == env["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:4566"
    assert env["CHAT_TABLE_PREFIX"] == "chat-local" and env["AWS_REGION"] == "us-east-1"
    assert {k: env[k] for k in LOCAL_CREDENTIALS} == LOCAL_CREDENTIALS


def test_apply_keeps_credentials_and_an_s3_endpoint_already_given_and_adds_none_for_aws():
    env = {"AWS_ACCESS_KEY_ID": "mine", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"}
    apply(resolve({}, endpoint="http://127.0.0.1:4566"), env)
    assert env["AWS_ACCESS_KEY_ID"] == "mine" and env["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:9000"
    deployed: dict[str, str] = {}
    apply(resolve({}, region="eu-west-1", prefix="chat-prod"), deployed)
    assert "AWS_ENDPOINT_URL_DYNAMODB" not in deployed and "AWS_ACCESS_KEY_ID" not in deployed


def _chatadmin(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1"}
    return subprocess.run(
        [sys.executable, "-m", "chatadmin", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_endpoint_that_does_not_answer_ends_with_5_and_says_so():
    import socket

    with socket.socket() as s:  # a port nothing listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        done = _chatadmin("--endpoint", f"http://127.0.0.1:{port}", "reports")
    assert done.returncode == 5 and done.stdout == ""
    assert f"cannot reach DynamoDB at http://127.0.0.1:{port}" in done.stderr


def test_an_endpoint_that_is_not_a_url_and_an_unknown_command_end_with_2():
    assert _chatadmin("--endpoint", "nope", "reports").returncode == 2
    done = _chatadmin("ban", "x")
    assert done.returncode == 2 and "invalid choice: 'ban'" in done.stderr
