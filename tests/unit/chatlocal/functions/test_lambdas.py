"""The local stack's Lambdas with CHAT_FAULTS: installed from the environment, a crash is a
failed invocation, a lost $disconnect never runs, the counts are written on shutdown."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from botocore.endpoint import Endpoint

from chatlocal.aws import faults
from chatlocal.config import StartupError
from chatlocal.functions.lambdas import Lambdas


def app_module(calls: list[str], crash: bool = False):
    def handler(name):
        def run(event, context):
            calls.append(name)
            if crash:
                raise faults.Crash("killed")
            return {"statusCode": 200}

        return run

    routes = {"$connect": "connect", "$default": "message", "$disconnect": "disconnect"}
    return SimpleNamespace(
        app=SimpleNamespace(
            websocket_handlers={r: SimpleNamespace(handler_string=f"app.{f}") for r, f in routes.items()},
            event_sources=[],
        ),
        **{f: handler(r) for r, f in routes.items()},
    )


def test_chat_faults_installs_the_injector_until_shutdown(monkeypatch, tmp_path):
    report = tmp_path / "faults.json"
    monkeypatch.setenv("CHAT_FAULTS", f"seed=1,rate=1,kinds=disconnect_lost,report={report}")
    calls: list[str] = []
    original = Endpoint._do_get_response
    lambdas = Lambdas.from_app_module(app_module(calls), concurrency=1)
    try:
        assert Endpoint._do_get_response is not original
        lost = asyncio.run(lambdas.invoke("$disconnect", {"requestContext": {"connectionId": "c1"}}))
        ran = asyncio.run(lambdas.invoke("$default", {}))
    finally:
        lambdas.shutdown()
    assert lost.error is not None and calls == ["$default"] and ran.status_code == 200
    assert Endpoint._do_get_response is original
    assert json.loads(report.read_text())["fired"] == {"disconnect_lost": 1}


def test_without_chat_faults_nothing_is_installed(monkeypatch):
    monkeypatch.delenv("CHAT_FAULTS", raising=False)
    lambdas = Lambdas.from_app_module(app_module([]), concurrency=1)
    lambdas.shutdown()
    assert lambdas.faults is None


def test_a_bad_chat_faults_stops_the_start_with_one_line(monkeypatch):
    monkeypatch.setenv("CHAT_FAULTS", "rate=lots")
    with pytest.raises(StartupError, match="CHAT_FAULTS"):
        Lambdas.from_app_module(app_module([]), concurrency=1)


def test_a_crash_is_a_failed_invocation_not_an_escape(monkeypatch):
    monkeypatch.delenv("CHAT_FAULTS", raising=False)
    lambdas = Lambdas.from_app_module(app_module([], crash=True), concurrency=1)
    try:
        invocation = asyncio.run(lambdas.invoke("$default", {}))
    finally:
        lambdas.shutdown()
    assert isinstance(invocation.error, faults.Crash) and invocation.status_code == 500
