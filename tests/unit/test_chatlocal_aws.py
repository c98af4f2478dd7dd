"""Where the local stack's AWS services come from: each ``AWS_ENDPOINT_URL_<SERVICE>`` that is set,
and one embedded moto server for every service left unset."""

from __future__ import annotations

import boto3

from chatlocal import aws


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
