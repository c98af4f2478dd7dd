"""A fake AWS account for the deploy tier: moto's server (with the gaps tests/deploy/moto_server.py
fills) on a free port, the environment a user's shell would have with AWS_ENDPOINT_URL pointing
at it, and a copy of the project with a test stage, so `chalice deploy` runs exactly as the
README says without touching the user's .chalice/ (config, deployed/, deployments/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from chalice.deploy.packager import LambdaDeploymentPackager
from chalice.utils import UI, OSUtils

from tests.stack import ROOT

REGION = "eu-west-1"  # not us-east-1, so a region hard-coded anywhere shows
TEST_STAGE = "ci"
TEMPLATE_STAGE = "dev"  # the test stage is this stage with its names moved to TEST_STAGE
CHALICE = str(Path(sys.executable).parent / "chalice")
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"  # Chalice's: the Python that runs it
# Chalice caches each built package in .chalice/deployments/, named by a hash of requirements.txt
# and the app's code. The copies share a cache of those (gitignored), so an unchanged tree does
# not pip-install the requirements again: a copy starts with the package its code needs, if
# cached, and its new packages are published back whole (renamed into place), so runs at the
# same time never see half a zip. The newest few are kept.
PACKAGE_CACHE = ROOT / "build" / "deploy-test-packages"
PACKAGES_KEPT = 6
PROJECT_FILES = ("app.py", "chalicelib", "requirements.txt", "infra", "vendor", "web")
ACCOUNT = "123456789012"  # moto's
# moto's server imports every service before it answers: seconds alone, a minute or more on a
# machine busy with other test runs.
STARTUP_SECONDS = 120


def attachments_bucket(stage: str = TEST_STAGE) -> str:
    """The stage's attachments bucket in the fake account, as infra/tables.json names it."""
    return f"chat-{stage}-attachments-{ACCOUNT}-{REGION}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """moto's server with the harness's additions, as http://127.0.0.1:PORT; stopped after."""
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("moto_server.py")), str(port)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(endpoint, server, log)
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_up(endpoint: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"moto server exited with {server.returncode}:\n{log.read_text()}")
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(
        f"moto server did not answer on {endpoint} within {STARTUP_SECONDS} s:\n{log.read_text()}"
    )


def aws_env(endpoint: str, home: Path) -> dict[str, str]:
    """A user's shell with fake credentials and one region, every AWS call going to ``endpoint``:
    no profile, config or credentials file of this machine's, no CHAT_* variable of the suite's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CHAT_")) and key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": str(home / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
            "CHALICE": CHALICE,
            "PYTHON": sys.executable,
        }
    )
    return env


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def rename_stage(text: str, stage: str = TEST_STAGE) -> str:
    """TEMPLATE_STAGE's names (chat-dev-connections, /chat-backend/dev/..., policy-dev.json,
    chat-backend-dev-*) as ``stage``'s."""
    return re.sub(rf"\b{TEMPLATE_STAGE}\b", stage, text)


def make_project(dest: Path, stage: str = TEST_STAGE) -> Path:
    """The files `chalice deploy` and infra/deploy.sh read, copied to ``dest``, with ``stage``
    added to .chalice/config.json and its policy file made from TEMPLATE_STAGE's. The stage's
    CHAT_ATTACHMENTS_BUCKET names its bucket in the fake account, as docs/deploy.md tells a
    user to set it (TEMPLATE_STAGE leaves it empty: the account is not known before)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=ignore)
        else:
            shutil.copy2(source, dest / name)
    chalice_dir = dest / ".chalice"
    chalice_dir.mkdir()
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    template = config["stages"][TEMPLATE_STAGE]
    config["stages"][stage] = json.loads(rename_stage(json.dumps(template), stage))
    config["stages"][stage]["environment_variables"]["CHAT_ATTACHMENTS_BUCKET"] = attachments_bucket(stage)
    (chalice_dir / "config.json").write_text(json.dumps(config, indent=2))
    # The stage's default policy and each function's own (lambda_functions.NAME.iam_policy_file).
    policy_files = {template["iam_policy_file"]}
    policy_files |= {f["iam_policy_file"] for f in template.get("lambda_functions", {}).values()}
    for policy_file in sorted(policy_files):
        policy = rename_stage((ROOT / ".chalice" / policy_file).read_text(), stage)
        (chalice_dir / rename_stage(policy_file, stage)).write_text(policy)
    (chalice_dir / "deployments").mkdir()
    cached = PACKAGE_CACHE / _package_path(dest).name
    if cached.exists():
        shutil.copyfile(cached, _package_path(dest))
    return dest


def _package_path(project: Path) -> Path:
    """Where Chalice looks for the package of the project's current code and requirements."""
    packager = LambdaDeploymentPackager(OSUtils(), None, UI())  # type: ignore[arg-type]
    return Path(packager.deployment_package_filename(str(project), RUNTIME))


def publish_packages(project: Path) -> None:
    """The packages Chalice built in ``project`` go to the shared cache (the newest few kept)."""
    PACKAGE_CACHE.mkdir(parents=True, exist_ok=True)
    for package in (project / ".chalice" / "deployments").glob("*.zip"):
        if not (PACKAGE_CACHE / package.name).exists():
            partial = PACKAGE_CACHE / f".{package.name}.{os.getpid()}.partial"
            shutil.copyfile(package, partial)
            partial.replace(PACKAGE_CACHE / package.name)
    packages = sorted(PACKAGE_CACHE.glob("*.zip"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in packages[PACKAGES_KEPT:]:
        old.unlink(missing_ok=True)


def package_for_changed_code(project: Path, previous: Path) -> Path:
    """The package Chalice will look for once the app's code changed (requirements.txt did not),
    made ahead from ``previous`` by Chalice's own inject_latest_app: the same dependencies with
    the latest app.py, chalicelib/ and Chalice runtime. Chalice names packages by a hash of the
    requirements and the code, so otherwise every code change pip-installs the requirements
    again (about 35 s here); the first deploy of a new tree still does."""
    target = _package_path(project)
    if not target.exists():
        shutil.copyfile(previous, target)
        LambdaDeploymentPackager(OSUtils(), None, UI()).inject_latest_app(str(target), str(project))  # type: ignore[arg-type]
    return target


def run(command: list[str], project: Path, env: dict[str, str], timeout: int = 300) -> str:
    """Runs ``command`` in ``project``; its output, or an AssertionError with all of it."""
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{output}"
    return output


DECLARED = """
import json
import app

a = app.app
print(json.dumps({
    "websocket": {route: config.handler_string for route, config in a.websocket_handlers.items()},
    "sqs": [
        {"kind": type(e).__name__, "name": e.name, "handler": e.handler_string, "queue": e.queue,
         "batch_size": e.batch_size}
        for e in a.event_sources
    ],
    "routes": sorted(a.routes),
    "other": len(a.pure_lambda_functions),
}))
"""


def declared(project: Path, env: dict[str, str], stage: str = TEST_STAGE) -> dict[str, Any]:
    """What app.py declares once imported as Chalice imports it (the stage's environment set):
    {"websocket": {route: handler}, "sqs": [{"kind", "name", "handler", "queue", "batch_size"}],
    "routes": the REST API's paths, "other": how many plain functions}."""
    config = json.loads((project / ".chalice" / "config.json").read_text())
    stage_env = {
        **config.get("environment_variables", {}),
        **config["stages"][stage]["environment_variables"],
    }
    out = run([sys.executable, "-c", DECLARED], project, {**env, **stage_env, "PYTHONPATH": str(project)})
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def stage_settings(project: Path, stage: str = TEST_STAGE) -> dict[str, Any]:
    """The stage's Lambda settings as Chalice resolves them: stage over top level."""
    config = json.loads((project / ".chalice" / "config.json").read_text())
    stage_config = config["stages"][stage]

    def setting(name: str) -> Any:
        return stage_config.get(name, config.get(name))

    return {
        "environment": {**config.get("environment_variables", {}), **stage_config["environment_variables"]},
        "memory": setting("lambda_memory_size"),
        "timeout": setting("lambda_timeout"),
        "policy": json.loads((project / ".chalice" / stage_config["iam_policy_file"]).read_text()),
        # Each function's own policy, by the function's name in Chalice (websocket_connect, ...).
        "policies": {
            name: json.loads((project / ".chalice" / function["iam_policy_file"]).read_text())
            for name, function in stage_config.get("lambda_functions", {}).items()
        },
        "autogen_policy": setting("autogen_policy"),
        "api_gateway_stage": setting("api_gateway_stage"),
        "app_name": config["app_name"],
    }
