"""Where the local stack's AWS services come from: each ``AWS_ENDPOINT_URL_<SERVICE>`` that is set,
and one embedded moto server for every service left unset."""

from __future__ import annotations

import os

import boto3

from chatlocal.aws import services as aws
from chatlocal.aws.sigv4 import Credentials


def test_the_embedded_moto_serves_dynamodb_and_sqs_when_neither_is_named():
    env: dict[str, str] = {}
    services = aws.start(env)
    try:
        url = env["AWS_ENDPOINT_URL_DYNAMODB"]
        assert env["AWS_ENDPOINT_URL_SQS"] == url
        assert services["dynamodb"] == services["sqs"] == aws.Endpoint(url, embedded=True)
        assert env["AWS_ACCESS_KEY_ID"] == "local"
        client = boto3.client(
            "sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
        )
        assert "QueueUrls" not in client.list_queues(QueueNamePrefix="nothing-here")
    finally:
        services.stop()


def test_sqs_stays_embedded_when_only_dynamodb_points_elsewhere():
    env = {"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "mine"}
    services = aws.start(env)
    try:
        assert services["dynamodb"] == aws.Endpoint("http://127.0.0.1:1", embedded=False)
        assert services["sqs"].embedded
        assert env["AWS_ENDPOINT_URL_SQS"] == services["sqs"].url != "http://127.0.0.1:1"
        assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:1"
        assert env["AWS_ACCESS_KEY_ID"] == "mine"  # the user's credentials are kept
    finally:
        services.stop()


def test_nothing_is_started_when_every_service_is_named():
    env = {"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:2"}
    services = aws.start(env)
    assert services._server is None
    assert services["sqs"] == aws.Endpoint("http://127.0.0.1:2", embedded=False)
    assert services["sqs"].source == "the environment"
    assert env == {
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1",
        "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:2",
    }
    services.stop()


def isolate_botocore(monkeypatch, tmp_path) -> None:
    """No credentials anywhere botocore looks but the environment this test sets."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)


def test_the_management_api_checks_the_keys_the_app_signs_with(monkeypatch, tmp_path):
    isolate_botocore(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDMINE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "my-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "my-token")
    current = aws.management_credentials(os.environ)
    assert current() == Credentials("AKIDMINE", "my-secret", "my-token")


def test_without_any_credentials_the_local_ones_are_set_for_the_app_and_checked(monkeypatch, tmp_path):
    isolate_botocore(monkeypatch, tmp_path)
    current = aws.management_credentials(os.environ)
    assert current() == Credentials("local", "local")
    assert (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]) == ("local", "local")
