"""chatlocal.functions.workers and its runtime on a small code folder of the test's own (no package build):
isolation, per-worker module state, and each way an invocation can fail."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chatlocal.config import StartupError
from chatlocal.functions.lambdas import Invocation
from chatlocal.functions.workers import (
    HandlerError,
    HandlerTimeout,
    PackageInitError,
    WorkerDied,
    Workers,
    WorkerSettings,
)
from tests.stack import clean_env

APP = """
import os, sys, threading, time

CALLS = {"count": 0}
EMIT = None  # set by a setup (runtime_worker --setup), as the stack sets the push sink


def connect(event, context):
    CALLS["count"] += 1
    return {
        "statusCode": 200,
        "calls": CALLS["count"],
        "pid": os.getpid(),
        "path": sys.path,
        "cwd": os.getcwd(),
        "function": context.function_name,
        "function_env": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "setting": os.environ.get("CHAT_SETTING"),
    }


def message(event, context):
    action = event["action"]
    if action == "raise":
        raise ValueError("bad input: " + event["detail"])
    if action == "exit":
        os._exit(3)
    if action == "sleep":
        time.sleep(event["seconds"])
        return os.getpid()
    if action == "object":
        return object()
    if action == "import":
        __import__(event["module"])
        return "imported"
    if action == "side":
        helper = threading.Thread(target=EMIT, args=("note", {"from": "a thread"}))
        helper.start()
        helper.join()
        EMIT("note", {"from": "the handler"})
        return "noted"
    if action == "print":
        print("a line for the function's log")
        return "printed"
    return event


def disconnect(event, context):
    return None


def job(event, context):
    return {"pid": os.getpid(), "function": context.function_name}
"""
HANDLERS = {"$connect": "app.connect", "$default": "app.message", "$disconnect": "app.disconnect"}


def app_module(**sources: str) -> Any:
    """What ``Workers.start`` reads of a Chalice app module: the routes' and event sources'
    handler strings."""
    routes = {route: SimpleNamespace(handler_string=handler) for route, handler in HANDLERS.items()}
    events = [SimpleNamespace(name=name, handler_string=handler) for name, handler in sources.items()]
    return SimpleNamespace(app=SimpleNamespace(websocket_handlers=routes, event_sources=events))


def code_folder(tmp_path: Path, source: str = APP) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(textwrap.dedent(source))
    return code


def start(code: Path, limit: int = 4, timeout: float = 30, **sources: str) -> Workers:
    env = clean_env(CHAT_SETTING="from the stack")
    return Workers.start(app_module(**sources), WorkerSettings(code, limit), env, timeout_seconds=timeout)


def invoke(workers: Workers, function: str, event: dict[str, Any]) -> Invocation:
    return asyncio.run(workers.invoke(function, event))


@pytest.fixture
def workers(tmp_path):
    running = start(code_folder(tmp_path), job="app.job")
    yield running
    running.shutdown()


def test_a_worker_sees_only_its_code_and_the_standard_library(workers, tmp_path):
    result = invoke(workers, "$connect", {}).result
    code = str(tmp_path / "code")
    assert result["path"][0] == code and result["cwd"] == code
    assert not [p for p in result["path"] if "site-packages" in p or p.endswith("chatlocal")]
    assert result["setting"] == "from the stack"  # the stack's environment
    assert result["function"] == result["function_env"] == "chat-backend-local-websocket-connect"
    assert 0 < result["remaining_ms"] <= 30_000
    installed = invoke(workers, "$default", {"action": "import", "module": "pytest"})
    assert isinstance(installed.error, HandlerError) and installed.error.error_type == "ModuleNotFoundError"
    assert invoke(workers, "$default", {"action": "import", "module": "json"}).result == "imported"


def test_each_function_has_its_own_workers_and_a_worker_keeps_its_module_state(workers):
    first, second = (invoke(workers, "$connect", {}).result for _ in range(2))
    assert (first["calls"], second["calls"]) == (1, 2) and first["pid"] == second["pid"]
    job = invoke(workers, "job", {}).result
    assert job["pid"] != first["pid"] and job["function"] == "chat-backend-local-job"
    assert workers.functions == ["$connect", "$default", "$disconnect", "job"]


def test_a_handler_exception_fails_the_invocation_and_the_worker_stays(workers):
    before = invoke(workers, "$default", {"action": "sleep", "seconds": 0}).result
    failed = invoke(workers, "$default", {"action": "raise", "detail": "no chat"})
    assert isinstance(failed.error, HandlerError) and failed.status_code == 500
    assert (failed.error.error_type, failed.error.error_message) == ("ValueError", "bad input: no chat")
    assert "app.py" in "".join(failed.error.stack_trace) and "runtime_worker" not in str(failed.error)
    assert invoke(workers, "$default", {"action": "sleep", "seconds": 0}).result == before  # same worker


def test_a_worker_that_dies_fails_its_invocation_and_is_replaced(workers):
    before = invoke(workers, "$default", {"action": "sleep", "seconds": 0}).result
    died = invoke(workers, "$default", {"action": "exit"})
    assert isinstance(died.error, WorkerDied) and "exit status 3" in str(died.error)
    after = invoke(workers, "$default", {"action": "sleep", "seconds": 0}).result
    assert isinstance(after, int) and after != before
    assert workers.pools["$default"].size == 1


def test_a_worker_outlives_the_signals_a_closing_terminal_sends_its_process_group(workers):
    """Ctrl-C, SIGTERM and SIGHUP (the terminal closing) reach the whole process group: the
    stack stops and saves, and stops its workers itself, so none may die under an invocation
    first (workers started on demand do not inherit the stack's ignored SIGHUP)."""
    import os
    import signal

    pid = invoke(workers, "$default", {"action": "sleep", "seconds": 0}).result
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        os.kill(pid, signum)
    assert invoke(workers, "$default", {"action": "sleep", "seconds": 0.2}).result == pid


def test_an_invocation_past_the_timeout_is_ended_with_its_worker(tmp_path):
    workers = start(code_folder(tmp_path), timeout=0.5)
    try:
        timed_out = invoke(workers, "$default", {"action": "sleep", "seconds": 30})
        assert isinstance(timed_out.error, HandlerTimeout)
        assert str(timed_out.error) == "Task timed out after 0.50 seconds"
        assert invoke(workers, "$default", {"action": "echo"}).result == {"action": "echo"}
    finally:
        workers.shutdown()


def test_a_result_that_is_not_json_is_lambdas_marshal_error(workers):
    failed = invoke(workers, "$default", {"action": "object"})
    assert isinstance(failed.error, HandlerError) and failed.error.error_type == "Runtime.MarshalError"


def test_what_the_code_prints_goes_to_the_log_not_the_pipe(capfd, tmp_path):
    workers = start(code_folder(tmp_path))  # here: it inherits the stderr capfd captures
    try:
        assert invoke(workers, "$default", {"action": "print"}).result == "printed"
        assert invoke(workers, "$default", {"action": "echo"}).result == {"action": "echo"}
    finally:
        workers.shutdown()
    assert "a line for the function's log" in capfd.readouterr().err


async def _sleep_together(workers: Workers, count: int) -> list[Invocation]:
    event = {"action": "sleep", "seconds": 0.3}
    return await asyncio.gather(*(workers.invoke("$default", event) for _ in range(count)))


@pytest.mark.parametrize(("limit", "expected_workers"), [(1, 1), (3, 3)])
def test_busy_workers_get_company_up_to_the_limit(tmp_path, limit, expected_workers):
    workers = start(code_folder(tmp_path), limit=limit)
    try:
        done = asyncio.run(_sleep_together(workers, 3))
        assert [d.error for d in done] == [None] * 3
        assert len({d.result for d in done}) == expected_workers == workers.pools["$default"].size
    finally:
        workers.shutdown()


def test_shutdown_ends_every_worker(tmp_path):
    workers = start(code_folder(tmp_path), limit=2, job="app.job")
    asyncio.run(_sleep_together(workers, 2))
    processes = [w.process for pool in workers.pools.values() for w in pool._idle]
    assert len(processes) == 5
    workers.shutdown()
    assert all(process.poll() is not None for process in processes)
    assert [pool.size for pool in workers.pools.values()] == [0] * 4


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "import not_in_the_package\n",
            "$connect, $default, $disconnect: Runtime.ImportModuleError: Unable to import module 'app':"
            " No module named 'not_in_the_package'",
        ),
        (
            "def broken(:\n",
            "$connect, $default, $disconnect: Runtime.UserCodeSyntaxError: Syntax error in module",
        ),
        ("raise RuntimeError('no settings')\n", "$connect, $default, $disconnect: RuntimeError: no settings"),
        (
            APP.replace("def disconnect(", "def gone("),
            "$disconnect: Runtime.HandlerNotFound: Handler 'disconnect' missing on module 'app'",
        ),
    ],
)
def test_code_that_cannot_load_stops_the_start_naming_the_functions(tmp_path, source, expected):
    with pytest.raises(PackageInitError) as raised:
        start(code_folder(tmp_path, source))
    assert isinstance(raised.value, StartupError)
    assert str(raised.value).startswith(f"the code in {tmp_path / 'code'} cannot run:\n{expected}")


def test_settings_come_from_the_environment(tmp_path):
    assert WorkerSettings.from_env({}) is None
    settings = WorkerSettings.from_env({"CHAT_LAMBDA_PACKAGE": str(tmp_path), "CHAT_LAMBDA_WORKERS": "2"})
    assert settings is not None and (settings.code_dir, settings.max_per_function) == (tmp_path, 2)
    with pytest.raises(StartupError, match="is not a folder"):
        WorkerSettings.from_env({"CHAT_LAMBDA_PACKAGE": str(tmp_path / "missing")})
    with pytest.raises(StartupError, match="CHAT_LAMBDA_WORKERS=0 is out of range"):
        WorkerSettings.from_env({"CHAT_LAMBDA_PACKAGE": str(tmp_path), "CHAT_LAMBDA_WORKERS": "0"})


SETUP = """
import app


def install(emit):
    app.EMIT = emit
"""


def test_a_setup_sends_side_messages_before_the_reply(tmp_path):
    code = code_folder(tmp_path)
    setup = tmp_path / "setup.py"
    setup.write_text(textwrap.dedent(SETUP))
    received: list[tuple[str, Any]] = []
    env = clean_env()
    workers = Workers.start(
        app_module(), WorkerSettings(code), env, setup=setup, on_emit=lambda *m: received.append(m)
    )
    try:
        assert invoke(workers, "$default", {"action": "side"}).result == "noted"
        assert received == [("note", {"from": "a thread"}), ("note", {"from": "the handler"})]
    finally:
        workers.shutdown()


def test_a_receiver_that_fails_does_not_fail_the_invocation(tmp_path):
    code = code_folder(tmp_path)
    setup = tmp_path / "setup.py"
    setup.write_text(textwrap.dedent(SETUP))

    def refuse(kind: str, payload: Any) -> None:
        raise ValueError("not this one")

    workers = Workers.start(app_module(), WorkerSettings(code), clean_env(), setup=setup, on_emit=refuse)
    try:
        assert invoke(workers, "$default", {"action": "side"}).result == "noted"
    finally:
        workers.shutdown()


def test_a_setup_that_fails_stops_the_start(tmp_path):
    setup = tmp_path / "setup.py"
    setup.write_text("def install(emit):\n    raise KeyError('CHAT_SETTING')\n")
    with pytest.raises(
        PackageInitError, match=r"\$connect, \$default, \$disconnect: KeyError: setup .*setup.py"
    ):
        Workers.start(app_module(), WorkerSettings(code_folder(tmp_path)), clean_env(), setup=setup)
