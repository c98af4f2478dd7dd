"""The Makefile as a newcomer meets it: ``make`` alone and ``make help`` list every target with
one line each and start or install nothing; the first install says what it is doing (a line per
step, pip's own progress for the long one) instead of sitting silent for minutes."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.stack import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

INSTALLERS = ("pip install", "-m venv", "-m chatlocal", "-m pytest", "apt-get")


def _make(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _phony_targets() -> list[str]:
    targets: list[str] = []
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith(".PHONY:"):
            targets += line.removeprefix(".PHONY:").split()
    return targets


@pytest.mark.parametrize("args", [(), ("help",)], ids=["make", "make help"])
def test_make_alone_and_make_help_list_every_target_on_one_line(args):
    dry = _make("-n", *args)  # first a dry run: today's default goal would install
    assert dry.returncode == 0, dry.stderr
    assert not [word for word in INSTALLERS if word in dry.stdout], dry.stdout
    listed = _make(*args)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    targets = _phony_targets()
    assert {"help", "run", "bench", "test", "clean-data"} <= set(targets)
    for target in targets:
        own = [line for line in lines if re.match(rf"  {re.escape(target)}\s{{2,}}\S", line)]
        assert len(own) == 1, f"{target!r} should have one line:\n{listed.stdout}"
        assert len(own[0]) <= 110, own[0]


def _fake_python(folder: Path) -> Path:
    """A `.venv/bin/python` that records its arguments and says what pip would say."""
    log = folder / "calls.log"
    python = folder / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{log}"\n'
        'case "$*" in *"-r requirements-dev.txt"*)\n'
        '  echo "Collecting chalice (from -r requirements-dev.txt)";;\n'
        "esac\n"
    )
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return log


def test_the_first_install_prints_a_line_per_step_and_pips_progress(tmp_path):
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    calls = _fake_python(tmp_path)
    done = _make("typecheck", cwd=tmp_path)  # any target that installs first
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    announced = out.find("Installing the dependencies into .venv (the first run takes about 2 minutes")
    assert announced != -1, out
    steps = re.findall(r"^\[(\d)/(\d)\] .+", out, re.MULTILINE)
    assert [step for step, _ in steps] == ["2", "3", "4"], out  # the venv existed: no step 1
    assert "Collecting chalice" in out, out  # pip's own output reaches the terminal
    assert out.index("Installing the dependencies") < out.index("Collecting chalice")
    assert "Installed: .venv is ready." in out, out
    big = [call for call in calls.read_text().splitlines() if "-r requirements-dev.txt" in call]
    assert len(big) == 1 and "--quiet" not in big[0], big
    again = _make("typecheck", cwd=tmp_path)  # installed: nothing said, nothing installed
    assert "Installing" not in again.stdout and again.returncode == 0, again.stdout
