"""CHAT_FAULTS reaches the worker processes: each worker installs an injector of its own
(``chatlocal/aws/faults.py`` as a ``runtime_worker --setup``), faults fire on the worker's own AWS
calls, a ``crash`` ends the worker as Lambda ends a killed environment, the stack's process loses
``$disconnect``s, and the stack's report adds up what fired in every worker. The code folder is
the test's own; its one AWS call is answered by the injector before any request is sent."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chatlocal.aws import faults
from chatlocal.config import StartupError
from chatlocal.functions.lambdas import Invocation, LostInvocation
from chatlocal.functions.workers import WorkerDied, Workers, WorkerSettings, site_packages
from tests.stack import clean_env

APP = """
import os

import botocore.session
from botocore.config import Config


def call_aws():
    # Never sent: CHAT_FAULTS (rate 1) answers every attempt in the worker itself.
    client = botocore.session.get_session().create_client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    try:
        client.describe_limits()
    except client.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"]
    return None


def connect(event, context):
    return {"statusCode": 200}


def message(event, context):
    return {"pid": os.getpid(), "code": call_aws()}


def disconnect(event, context):
    return "ran"
"""
ROUTES = {"$connect": "app.connect", "$default": "app.message", "$disconnect": "app.disconnect"}


def app_module() -> Any:
    routes = {route: SimpleNamespace(handler_string=handler) for route, handler in ROUTES.items()}
    return SimpleNamespace(app=SimpleNamespace(websocket_handlers=routes, event_sources=[]))


def start(tmp_path: Path, spec: str) -> Workers:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(textwrap.dedent(APP))
    settings = WorkerSettings(code, 2, extra_path=site_packages())  # botocore, as a package holds it
    return Workers.start(app_module(), settings, clean_env(CHAT_FAULTS=spec))


def invoke(workers: Workers, function: str, event: dict[str, Any]) -> Invocation:
    return asyncio.run(workers.invoke(function, event))


def test_a_fault_fires_inside_the_worker_process_and_the_report_counts_it(tmp_path):
    report = tmp_path / "faults.json"
    workers = start(tmp_path, f"seed=3,rate=1,kinds=throttle,report={report}")
    try:
        command = workers.pools["$default"].spec.command()
        assert command[command.index("--setup") + 1] == str(faults.WORKER_SETUP)
        results = [invoke(workers, "$default", {}) for _ in range(3)]
    finally:
        workers.shutdown()
    assert [r.error for r in results] == [None] * 3
    assert {r.result["code"] for r in results} == {"ThrottlingException"}
    assert {r.result["pid"] for r in results} != {os.getpid()}  # fired there, not here
    assert json.loads(report.read_text())["fired"] == {"throttle": 3}
    parts = list(tmp_path.glob("faults.json.worker-chat-backend-local-websocket-default-*"))
    assert len(parts) == 1 and json.loads(parts[0].read_text())["fired"] == {"throttle": 3}


def test_a_crash_ends_the_worker_and_fails_only_its_invocation(tmp_path):
    report = tmp_path / "faults.json"
    workers = start(tmp_path, f"seed=3,rate=1,kinds=crash,report={report}")
    try:
        crashed = invoke(workers, "$default", {})
        again = invoke(workers, "$default", {})  # a new worker: a cold start, as on Lambda
        connected = invoke(workers, "$connect", {})  # no AWS call: nothing to crash
    finally:
        workers.shutdown()
    assert isinstance(crashed.error, WorkerDied) and "exit status 1" in str(crashed.error)
    assert isinstance(again.error, WorkerDied) and connected.status_code == 200
    assert json.loads(report.read_text())["fired"] == {"crash": 2}


def test_the_stacks_process_loses_disconnects(tmp_path):
    report = tmp_path / "faults.json"
    workers = start(tmp_path, f"seed=3,rate=1,kinds=disconnect_lost,report={report}")
    try:
        lost = invoke(workers, "$disconnect", {"requestContext": {"connectionId": "c1"}})
        connected = invoke(workers, "$connect", {})
    finally:
        workers.shutdown()
    assert isinstance(lost.error, LostInvocation) and connected.status_code == 200
    assert json.loads(report.read_text())["fired"] == {"disconnect_lost": 1}


def test_without_chat_faults_no_worker_injects(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def connect(e, c):\n    return None\nmessage = disconnect = connect\n")
    workers = Workers.start(app_module(), WorkerSettings(code, 1), clean_env())
    try:
        assert "--setup" not in workers.pools["$default"].spec.command() and workers.faults is None
    finally:
        workers.shutdown()


def test_a_bad_chat_faults_stops_the_start(tmp_path):
    with pytest.raises(StartupError, match="CHAT_FAULTS"):
        start(tmp_path, "rate=lots")
