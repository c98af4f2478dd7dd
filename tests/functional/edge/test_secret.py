"""In a deployment the JWT secret comes from an SSM SecureString, read once per cold start."""

from __future__ import annotations

import dataclasses

import boto3
import pytest

import app as chalice_app
from chalicelib import runtime
from chalicelib.auth import issue_token
from chalicelib.config import Settings
from chalicelib.testing import Harness
from tests.functional.snapshot import table_snapshot

PARAM = "/chat-backend/test/jwt-secret"
DEPLOYED_SECRET = "deployed-secret-from-ssm-0123456789abcdef"


@pytest.fixture
def deployed(tables, api):
    """The service as a deployment builds it: no CHAT_JWT_SECRET, a parameter name instead."""
    settings = dataclasses.replace(
        Settings.from_env(),
        jwt_secret=None,
        jwt_secret_param=PARAM,
        fanout_concurrency=32,
        fanout_threshold=100,
        fanout_shard_size=50,
    )
    runtime.use_service(runtime.build_service(settings, api.client_for))
    yield
    runtime.use_service(None)
    boto3.client("ssm", region_name="us-east-1").delete_parameters(Names=[PARAM])  # if created


@pytest.fixture
def harness_calls(deployed, api) -> Harness:
    return Harness(chalice_app, api)


def _put_secret() -> None:
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=PARAM, Value=DEPLOYED_SECRET, Type="SecureString", Overwrite=True
    )


def test_secret_is_read_from_ssm_once_per_cold_start(deployed, harness_calls, aws_calls):
    _put_secret()
    mark = aws_calls.mark()
    for n in range(3):
        response = harness_calls.call(
            "$connect", f"c{n}=", query={"token": issue_token("alice", DEPLOYED_SECRET)}
        )
        assert response["statusCode"] == 200
    reads = [c for c in aws_calls.since(mark, service="ssm") if c[1] == "GetParameter"]
    assert len(reads) == 1 and reads[0][2] == {"Name": PARAM, "WithDecryption": True}


def test_token_signed_with_another_secret_is_refused(deployed, harness_calls):
    _put_secret()
    response = harness_calls.call(
        "$connect", "c=", query={"token": issue_token("alice", "local-secret-" * 3)}
    )
    assert response["statusCode"] == 401


def test_missing_parameter_refuses_with_500_and_writes_nothing(deployed, harness_calls):
    before = table_snapshot()
    response = harness_calls.call("$connect", "c=", query={"token": issue_token("alice", DEPLOYED_SECRET)})
    assert response["statusCode"] == 500
    assert table_snapshot() == before
    _put_secret()  # once it exists, the next connect (same process) reads it
    response = harness_calls.call("$connect", "c2=", query={"token": issue_token("alice", DEPLOYED_SECRET)})
    assert response["statusCode"] == 200
