"""The deployment package, for the local stack to run: ``chalice package`` builds it exactly as
it deploys (``deployment.zip``: app.py, chalicelib and the requirements.txt dependencies built
for Lambda), and its zip is unpacked into a clean folder that ``CHAT_LAMBDA_PACKAGE`` names.

    python -m chatlocal.package [OUT] [--stage dev] [--requirements FILE]

OUT (``build/local-package``, ignored by git) receives ``package/`` (what ``chalice package``
wrote) and ``code/`` (the unpacked zip, what Lambda puts in ``/var/task``). ``--requirements``
packages a copy of the project with that file as its requirements.txt (to see what a missing or
added dependency does), in ``OUT/project``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build" / "local-package"
# What `chalice package` reads from a project: the app, its library, its settings, its dependencies.
PROJECT_FILES = ("app.py", "chalicelib", "requirements.txt", "vendor", ".chalice/config.json")
# Top-level names that are this repository's dev and test code, or dev-only tools: never deployed.
DEV_CODE = frozenset(
    {"tests", "chatlocal", "chatclient", "bench", "infra", "web", "moto", "pytest", "_pytest", "mypy", "ruff"}
)


class PackageError(Exception):
    """``chalice package`` failed; the message holds its output."""


@dataclass(frozen=True)
class Package:
    out: Path
    zip: Path  # chalice's deployment.zip
    code: Path  # the zip unpacked: the folder to run
    seconds: float  # building and unpacking

    def top_level(self) -> set[str]:
        """The zip's top-level names (modules, packages, dist-info folders)."""
        with zipfile.ZipFile(self.zip) as archive:
            return {name.split("/", 1)[0] for name in archive.namelist()}

    def dev_code(self) -> set[str]:
        """What the zip holds that only development needs (empty when all is well)."""
        return {name.removesuffix(".py") for name in self.top_level()} & DEV_CODE


def build(
    out: Path = DEFAULT_OUT, stage: str = "dev", requirements: Path | None = None, chalice: str | None = None
) -> Package:
    """Package the app with ``chalice package`` into ``out/package`` and unpack its zip into a
    clean ``out/code``. Blocking; PackageError if chalice fails."""
    started = time.monotonic()
    out = out.resolve()
    project = ROOT if requirements is None else copy_project(out / "project", requirements)
    target = out / "package"
    shutil.rmtree(target, ignore_errors=True)
    command = [chalice or _chalice(), "--project-dir", str(project), "package", "--stage", stage, str(target)]
    # chalice wants a region to write the template, though nothing here talks to AWS.
    env = {"AWS_DEFAULT_REGION": os.environ.get("AWS_REGION") or "us-east-1", **os.environ}
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PackageError(f"chalice package failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    code = unpack(target / "deployment.zip", out / "code")
    return Package(out, target / "deployment.zip", code, time.monotonic() - started)


def copy_project(destination: Path, requirements: Path) -> Path:
    """The project's files in ``destination`` (emptied first), with ``requirements`` as its
    requirements.txt."""
    requirements_text = requirements.read_text()  # before wiping: it may live in there
    shutil.rmtree(destination, ignore_errors=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    for policy in (ROOT / ".chalice").glob("policy-*.json"):
        shutil.copy2(policy, destination / ".chalice" / policy.name)
    (destination / "requirements.txt").write_text(requirements_text)
    return destination


def unpack(archive: Path, code: Path) -> Path:
    """``archive`` extracted into ``code``, emptied first: nothing from an earlier build stays."""
    shutil.rmtree(code, ignore_errors=True)
    code.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(code)
    return code


def _chalice() -> str:
    """The chalice next to this interpreter (the virtualenv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("chalice")
    return str(beside) if beside.exists() else "chalice"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chatlocal.package",
        description="Build the deployment package and unpack it for the local stack.",
    )
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, help="where to build (%(default)s)")
    parser.add_argument("--stage", default="dev", help="the chalice stage to package (%(default)s)")
    parser.add_argument("--requirements", type=Path, help="package with this requirements.txt instead")
    args = parser.parse_args(argv)
    try:
        package = build(args.out, args.stage, args.requirements)
    except (PackageError, OSError) as exc:
        print(f"chatlocal.package: {exc}", file=sys.stderr)
        return 1
    print(f"Packaged in {package.seconds:.1f} s: {package.zip}, unpacked into {package.code}", flush=True)
    if dev := package.dev_code():
        print(
            f"chatlocal.package: the package holds dev-only code: {', '.join(sorted(dev))}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
