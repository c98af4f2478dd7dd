"""What the package tier runs is the deployment package, and only it: the zip holds no dev or
test code, the stack's handlers run in workers started on the unpacked zip under ``-I -S``, and a
dependency missing from requirements.txt stops the stack with Lambda's import error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chatlocal.functions.workers import PackageInitError, Workers, WorkerSettings
from chatlocal.package import DEV_CODE, build
from chatlocal.push import worker_hook as worker_push
from tests.stack import ROOT, LocalStack, clean_env

HANDLERS = {"app.connect", "app.message", "app.disconnect", "app.fanout", "app.push"}


def test_deployed_zip_holds_the_app_and_its_dependencies_and_no_dev_or_test_code(package):
    top = package.top_level()
    assert {"app.py", "chalicelib", "pynamodb", "jwt", "boto3", "pywebpush"} <= top
    assert package.dev_code() == set()
    assert not {name.removesuffix(".py") for name in top} & DEV_CODE
    assert sorted(path.name for path in package.code.iterdir()) == sorted(top)


def _children(pid: int) -> list[list[str]]:
    """The command lines of ``pid``'s child processes."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # it ended meanwhile
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append([part.decode() for part in command if part])
    return found


def test_every_function_runs_in_an_isolated_worker_on_the_unpacked_zip(stack, package):
    assert f"the deployment package in {package.code}, in worker processes" in stack.text
    assert stack.process is not None
    workers = [c for c in _children(stack.process.pid) if any(p.endswith("runtime_worker.py") for p in c)]
    # python -I -S -u runtime_worker.py --setup worker_hook.py HANDLER CODE
    assert {command[7] for command in workers} == HANDLERS
    for command in workers:
        assert command[1:4] == ["-I", "-S", "-u"]
        assert command[5:7] == ["--setup", str(worker_push.SETUP)]  # the push record's hook
        assert command[8:] == [str(package.code)]  # nothing on sys.path but the code (and the stdlib)


def test_a_dependency_missing_from_requirements_stops_the_stack_with_the_import_error(tmp_path):
    requirements = tmp_path / "requirements.txt"
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    kept = [line for line in lines if not line.lower().startswith("pyjwt==")]
    assert len(kept) == len(lines) - 1
    requirements.write_text("\n".join(kept) + "\n")
    broken = build(tmp_path / "out", requirements=requirements)
    assert "jwt" not in broken.top_level() and "app.py" in broken.top_level()

    stack = LocalStack(start_timeout=120, CHAT_LAMBDA_PACKAGE=str(broken.code))
    with pytest.raises(RuntimeError, match="did not start"):
        stack.start()
    assert stack.process is not None and stack.process.returncode == 2
    assert (
        "$connect, $default, $disconnect, fanout, push: Runtime.ImportModuleError:"
        " Unable to import module 'app': No module named 'jwt'"
    ) in stack.text
    assert f'File "{broken.code}/chalicelib/auth.py"' in stack.text  # where the import is
    assert "Traceback (most recent call last)" not in stack.text.split("Runtime.ImportModuleError")[0]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"CHAT_LAMBDA_PACKAGE": "/nonexistent/code"},
            "CHAT_LAMBDA_PACKAGE=/nonexistent/code is not a folder",
        ),
        (
            {"CHAT_LAMBDA_PACKAGE": str(ROOT), "CHAT_LAMBDA_WORKERS": "0"},
            "CHAT_LAMBDA_WORKERS=0 is out of range",
        ),
        ({"CHAT_LAMBDA_WORKERS": "many"}, "CHAT_LAMBDA_WORKERS='many' is not a whole number"),
    ],
)
def test_a_bad_worker_setting_stops_the_stack_with_one_line(variables, message):
    done = subprocess.run(
        [sys.executable, "-m", "chatlocal"],
        cwd=ROOT,
        env=clean_env(**variables),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"chatlocal: cannot start: {message}")


@pytest.mark.parametrize("dev_module", ["moto", "tests.stack", "chatlocal.config"])
def test_packaged_code_importing_dev_only_code_cannot_start(package, tmp_path, dev_module):
    """What chalicelib importing moto, the tests or the local stack would do on Lambda."""
    import app

    code = tmp_path / "code"
    shutil.copytree(package.code, code)
    config = code / "chalicelib" / "config.py"
    config.write_text(config.read_text() + f"\nimport {dev_module}\n")
    with pytest.raises(PackageInitError) as raised:
        Workers.start(app, WorkerSettings(code), clean_env(CHAT_FANOUT_QUEUE="q", CHAT_PUSH_QUEUE="q"))
    top = dev_module.split(".")[0]
    assert f"Runtime.ImportModuleError: Unable to import module 'app': No module named '{top}'" in str(
        raised.value
    )
    assert str(raised.value).count("Runtime.ImportModuleError") == 1  # once, for every function
