"""Suite-wide setup: a test environment set before any project module is imported, and a
recorder of every AWS call (at the botocore level) that fails any test issuing a DynamoDB Scan."""

from __future__ import annotations

import os
import threading

# Before chalicelib is imported: table names, region and credentials are read at import.
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "CHAT_TABLE_PREFIX": "test",
        "CHAT_JWT_SECRET": "test-secret-that-is-long-enough-for-hs256",
    }
)
os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
os.environ.pop("AWS_PROFILE", None)

import botocore.client
import pytest


class CallRecorder:
    """Every AWS API call made through botocore, as (service, operation, params)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()

    def record(self, service: str, operation: str, params: dict) -> None:
        with self._lock:
            self.calls.append((service, operation, params))

    def mark(self) -> int:
        with self._lock:
            return len(self.calls)

    def since(self, mark: int, service: str | None = "dynamodb") -> list[tuple[str, str, dict]]:
        with self._lock:
            return [c for c in self.calls[mark:] if service is None or c[0] == service]

    def operations_since(self, mark: int, service: str = "dynamodb") -> list[str]:
        return [op for _, op, _ in self.since(mark, service)]


RECORDER = CallRecorder()
_original_make_api_call = botocore.client.BaseClient._make_api_call


def _recording_make_api_call(self, operation_name, api_params):  # type: ignore[no-untyped-def]
    RECORDER.record(self.meta.service_model.endpoint_prefix, operation_name, dict(api_params))
    return _original_make_api_call(self, operation_name, api_params)


botocore.client.BaseClient._make_api_call = _recording_make_api_call


@pytest.fixture
def aws_calls() -> CallRecorder:
    return RECORDER


@pytest.fixture(autouse=True)
def _no_scan():
    """No Scan, anywhere in the suite, ever."""
    mark = RECORDER.mark()
    yield
    scans = [c for c in RECORDER.since(mark) if c[1] == "Scan"]
    assert not scans, f"a DynamoDB Scan was issued: {scans[:1]}"
