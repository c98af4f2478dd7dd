"""Deploy tier: what `chalice package --merge-template` would deploy, checked without AWS."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.stack import ROOT

STAGES = ("dev", "prod")


def config() -> dict[str, Any]:
    return dict(json.loads((ROOT / ".chalice" / "config.json").read_text()))


def stage_env(stage: str) -> dict[str, str]:
    cfg = config()
    return {**cfg.get("environment_variables", {}), **cfg["stages"][stage].get("environment_variables", {})}


@pytest.fixture(scope="session")
def package_runs(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """Both stages packaged by infra/package.sh, as the deploy docs tell a user to: each stage's
    sam.json and what the script printed (the next steps)."""
    out: dict[str, tuple[Path, str]] = {}
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    for stage in STAGES:
        target = tmp_path_factory.mktemp(f"package-{stage}")
        done = subprocess.run(
            ["bash", str(ROOT / "infra" / "package.sh"), stage, str(target)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        out[stage] = (target / "package" / "sam.json", done.stdout)
    return out


@pytest.fixture(scope="session")
def packaged(package_runs) -> dict[str, Path]:
    return {stage: sam for stage, (sam, _) in package_runs.items()}


@pytest.fixture(scope="session")
def templates(packaged) -> dict[str, dict[str, Any]]:
    return {stage: json.loads(path.read_text()) for stage, path in packaged.items()}
