"""The local stack's processes: where its invocations run (``chatlocal.functions.workers.lambda_workers``,
``CHAT_PROCESSES``). The embedded moto in a process of its own: aws/test_moto_process.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatlocal import __main__ as chatlocal_main
from chatlocal.config import StartupError
from chatlocal.functions.workers import DEFAULT_WORKERS, SOURCE_TREE, lambda_workers, site_packages

# -- where the invocations run --------------------------------------------------------------------


def test_by_default_the_source_tree_runs_in_workers_with_site_packages():
    settings = lambda_workers({})
    assert settings is not None
    assert settings.code_dir == SOURCE_TREE
    assert settings.max_per_function == DEFAULT_WORKERS
    assert settings.extra_path == site_packages()
    assert any(Path(p, "boto3").is_dir() for p in settings.extra_path)


def test_the_worker_limit_applies_to_the_source_tree():
    settings = lambda_workers({"CHAT_LAMBDA_WORKERS": "3"})
    assert settings is not None and settings.max_per_function == 3


def test_one_process_runs_the_handlers_on_threads():
    assert lambda_workers({"CHAT_PROCESSES": "1"}) is None


def test_fault_injection_keeps_the_workers():
    """CHAT_FAULTS reaches the workers (tests/package/test_worker_faults.py): it no longer
    forces the one-process mode."""
    settings = lambda_workers({"CHAT_FAULTS": "seed=1,rate=0.1"})
    assert settings is not None and settings.code_dir == SOURCE_TREE


def test_a_deployment_package_runs_in_workers(tmp_path):
    settings = lambda_workers({"CHAT_LAMBDA_PACKAGE": str(tmp_path)})
    assert settings is not None
    assert settings.code_dir == tmp_path.resolve()
    assert settings.extra_path == ()


def test_a_bad_processes_value_is_refused_by_name():
    with pytest.raises(StartupError, match=r"CHAT_PROCESSES='2' is not 1"):
        lambda_workers({"CHAT_PROCESSES": "2"})


def test_one_process_and_a_package_together_are_refused(tmp_path):
    with pytest.raises(StartupError, match="deployment package runs in worker processes only"):
        lambda_workers({"CHAT_PROCESSES": "1", "CHAT_LAMBDA_PACKAGE": str(tmp_path)})


@pytest.mark.parametrize(("value", "one_process"), [("1", True), ("", False)])
def test_options_say_whether_moto_runs_in_the_stack_process(value, one_process):
    options = chatlocal_main.Options.from_env({"CHAT_PROCESSES": value, "CHAT_EPHEMERAL": "1"})
    assert options.one_process is one_process
    assert (options.workers is None) is one_process
