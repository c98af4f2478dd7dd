"""Suite-wide setup: a test environment set before any project module is imported, and a
recorder of every AWS call (at the botocore level) that fails any test issuing a DynamoDB Scan."""

from __future__ import annotations

import collections
import concurrent.futures
import os
import sys
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
        "CHAT_ATTACHMENTS_BUCKET": "test-attachments",
    }
)
os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
os.environ.pop("AWS_PROFILE", None)

import botocore.client
import botocore.signers
import pytest

from tests.shared_loader import share as share_botocore_loader


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


_CHALICELIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "chalicelib") + os.sep
_TEST_DRIVER = os.path.join(_CHALICELIB, "testing.py")
# (function, service, operation, resource) issued by chalicelib: the resource is what IAM would
# check, as the request names it (see call_resources); the function is the Lambda function (as
# Chalice names it) whose entry point the call was made under (see function_of), "" if none.
APP_CALLS: set[tuple[str, str, str, str]] = set()
# Where each Lambda function's code starts in chalicelib (app.py's handlers call these), by the
# qualified name of the function or method; the innermost one on the stack names the caller.
ENTRY_POINTS = {
    "ChatService.connect": "websocket_connect",
    "ChatService.message": "websocket_message",
    "ChatService.disconnect": "websocket_disconnect",
    "FanoutWorker.handle": "fanout",
    "PushWorker.handle": "push",
    "stage_config": "api_handler",
}


_INHERITED = threading.local()  # .function: what a pool thread runs for (see _submit)


def function_of(frame) -> str:  # type: ignore[no-untyped-def]
    """The Lambda function a call made in ``frame`` belongs to: the innermost entry point of
    chalicelib on the stack, else the one that handed this thread its work (a thread pool's
    task), "" if there is none (a test calling a store or a worker directly)."""
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(_CHALICELIB) and code.co_qualname in ENTRY_POINTS:
            return ENTRY_POINTS[code.co_qualname]
        frame = frame.f_back
    return str(getattr(_INHERITED, "function", ""))


_original_submit = concurrent.futures.ThreadPoolExecutor.submit


def _submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
    """A task runs for the function that submitted it (chalicelib posts and heads objects in
    parallel from thread pools, whose threads' stacks do not reach the entry point)."""
    function = function_of(sys._getframe(1))

    def run(*a, **k):  # type: ignore[no-untyped-def]
        previous = getattr(_INHERITED, "function", "")
        _INHERITED.function = function
        try:
            return fn(*a, **k)
        finally:
            _INHERITED.function = previous

    return _original_submit(self, run, *args, **kwargs)


concurrent.futures.ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign]


def _called_from_app() -> bool:
    """Made by chalicelib on a request path (table creation for tests and the local stack is not:
    deployed tables come from infra/; nor is what the test driver, chalicelib/testing.py, does
    itself, such as draining a queue as Lambda's event source mapping would)."""
    frame = sys._getframe(2)
    innermost = None
    while frame is not None:
        if frame.f_code.co_name == "create_tables":
            return False
        if innermost is None and frame.f_code.co_filename.startswith(_CHALICELIB):
            innermost = frame.f_code.co_filename
        frame = frame.f_back
    return innermost is not None and innermost != _TEST_DRIVER


def _tables(params: dict) -> set[str]:
    tables = {params["TableName"]} if "TableName" in params else set()
    tables.update(params.get("RequestItems") or {})
    for item in params.get("TransactItems") or []:
        for op_type, op in item.items():
            tables.add(f"{op_type}:{op.get('TableName', '')}")
    return tables


# The request parameter naming the resource each service authorizes a call on.
_SNS_TARGETS = ("PlatformApplicationArn", "EndpointArn", "TargetArn", "TopicArn")


def _s3_resources(params: dict) -> set[str]:
    """The ARNs an S3 call acts on: arn:aws:s3:::BUCKET/KEY for an object (each object of a
    DeleteObjects), arn:aws:s3:::BUCKET for a call on the bucket itself."""
    bucket = params.get("Bucket")
    if not bucket:
        return set()
    keys = [params["Key"]] if "Key" in params else []
    keys += [o["Key"] for o in (params.get("Delete") or {}).get("Objects") or []]
    if keys:
        return {f"arn:aws:s3:::{bucket}/{key}" for key in keys}
    return {f"arn:aws:s3:::{bucket}"}


def call_resources(service: str, params: dict) -> set[str]:
    """What a call acts on: DynamoDB tables ("Put:table" inside a transaction), the SQS queue's
    name, the SNS application, endpoint or topic ARN, the SSM parameter name, the S3 object's
    (or bucket's) ARN; "" if none."""
    if service == "s3":
        found = _s3_resources(params)
    elif service == "dynamodb":
        found = _tables(params)
    elif service == "sqs":
        name = params.get("QueueName") or str(params.get("QueueUrl", "")).rstrip("/").rpartition("/")[2]
        found = {name} if name else set()
    elif service == "sns":
        found = {params[key] for key in _SNS_TARGETS if params.get(key)}
    elif service == "ssm":
        found = {params["Name"]} if "Name" in params else set(params.get("Names") or [])
    else:
        found = set()
    return found or {""}


def _recording_make_api_call(self, operation_name, api_params):  # type: ignore[no-untyped-def]
    service = self.meta.service_model.endpoint_prefix
    RECORDER.record(service, operation_name, dict(api_params))
    if _called_from_app():
        function = function_of(sys._getframe(1))
        for resource in call_resources(service, api_params):
            APP_CALLS.add((function, service, operation_name, resource))
    return _original_make_api_call(self, operation_name, api_params)


botocore.client.BaseClient._make_api_call = _recording_make_api_call


def _recording_presigned_url(self, ClientMethod, Params=None, ExpiresIn=3600, HttpMethod=None):  # type: ignore[no-untyped-def]
    """A presigned URL makes no request: the client that uses it does, with the signer's
    permissions. Recorded for the IAM policy test only (not in RECORDER, which holds requests),
    as the operation the URL performs (get_object: GetObject)."""
    if _called_from_app():
        operation = self._PY_TO_OP_NAME.get(ClientMethod, ClientMethod)
        function = function_of(sys._getframe(1))
        for resource in call_resources(self.meta.service_model.endpoint_prefix, dict(Params or {})):
            APP_CALLS.add((function, self.meta.service_model.endpoint_prefix, operation, resource))
    return _original_presigned_url(self, ClientMethod, Params, ExpiresIn, HttpMethod)


def _recording_presigned_post(self, Bucket, Key, Fields=None, Conditions=None, ExpiresIn=3600):  # type: ignore[no-untyped-def]
    """An upload form, recorded as S3's PostObject on its key (the policy test maps it to the
    IAM actions a browser's POST of that form needs, by the fields it carries: "PostObject" for a
    plain form, "PostObject+tagging" for one that sets object tags)."""
    if _called_from_app():
        operation = "PostObject+tagging" if "tagging" in (Fields or {}) else "PostObject"
        APP_CALLS.add((function_of(sys._getframe(1)), "s3", operation, f"arn:aws:s3:::{Bucket}/{Key}"))
    return _original_presigned_post(self, Bucket, Key, Fields, Conditions, ExpiresIn)


# Made part of every S3 client class botocore creates from now on (botocore.signers adds them).
_original_presigned_url = botocore.signers.generate_presigned_url
_original_presigned_post = botocore.signers.generate_presigned_post
botocore.signers.generate_presigned_url = _recording_presigned_url
botocore.signers.generate_presigned_post = _recording_presigned_post

# Every botocore session of the run shares one data loader (per data path), so a client made in a
# new session does not read and parse the service's model and endpoints.json again: the handlers'
# stores make a session each (a Lambda cold start's worth), which took about 0.2 s of every
# functional test. What is loaded is the same files; only the reading is done once.
share_botocore_loader()


@pytest.fixture(scope="session", autouse=True)
def _record_posts():  # type: ignore[no-untyped-def]
    """Posts to connections through chalicelib.testing's stand-in for the management API, recorded
    as the real client's would be (execute-api PostToConnection), for the IAM policy test."""
    from chalicelib.testing import FakeManagementApi

    original = FakeManagementApi.post_to_connection

    def post_to_connection(self, **kwargs):  # type: ignore[no-untyped-def]
        function = function_of(sys._getframe(1))
        if function:
            APP_CALLS.add((function, "execute-api", "PostToConnection", ""))
        return original(self, **kwargs)

    FakeManagementApi.post_to_connection = post_to_connection  # type: ignore[method-assign]
    yield
    FakeManagementApi.post_to_connection = original  # type: ignore[method-assign]


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


# The tiers in the order their files are handed out: under `make test` (pytest-xdist, --dist
# loadfile) each worker takes the next file in collection order, so the tiers whose files take
# longest go first (a long file handed out last keeps one worker busy while the other idles) and
# the unit tier's many short files fill in at the end. Files of an unlisted tier go before unit.
TIER_ORDER = ("e2e", "chaos", "integration", "package", "client", "deploy", "functional", "unit")


def _tier_rank(item: pytest.Item) -> float:
    tier = item.nodeid.partition("/")[2].partition("/")[0]
    return TIER_ORDER.index(tier) if tier in TIER_ORDER else TIER_ORDER.index("unit") - 0.5


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Tests marked ``after_suite`` look at what the rest of the run did: run them last. The
    others by tier (TIER_ORDER); within a tier, in their files' order (a stable sort)."""
    items.sort(key=lambda item: (item.get_closest_marker("after_suite") is not None, _tier_rank(item)))


# How many tests of each tier ran in this process (under pytest-xdist, each worker runs a share).
TESTS_RUN: collections.Counter[str] = collections.Counter()


def pytest_runtest_logfinish(nodeid, location):  # type: ignore[no-untyped-def]
    TESTS_RUN[nodeid.partition("/")[2].partition("/")[0]] += 1


def pytest_sessionfinish(session, exitstatus):  # type: ignore[no-untyped-def]
    """Write the app's AWS calls for the IAM policy test (tests/deploy/template/test_policy.py) to read:
    CHAT_AWS_CALLS_OUT=path, to that file; CHAT_AWS_CALLS_DIR=dir, to a file of this process's
    own there (`make test` runs the suite in worker processes, then the policy test over all
    their files)."""
    import json

    path = os.environ.get("CHAT_AWS_CALLS_OUT")
    directory = os.environ.get("CHAT_AWS_CALLS_DIR")
    if directory and APP_CALLS:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        path = os.path.join(directory, f"{worker}-{os.getpid()}.json")
    if path:
        with open(path, "w") as out:
            json.dump(sorted(APP_CALLS), out)
