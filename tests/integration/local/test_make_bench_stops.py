"""Every process ``make bench`` starts ends with it (issue 25, item 12): ``timeout 60 make bench``
(SIGTERM to make's process group, make passing it on) and Ctrl-C (SIGINT to the group), while
the benchmark's first local stack starts or once it is up, leave no stack running and its port
free by the time make has exited. The stack runs in a session of its own (signals to make's group
never reach it): the benchmark stops it on the way out. Checked by the stack's pid and process
group, never by name: other stacks run on this machine."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.integration.local.processes import command_line, descendants, group_members, until
from tests.stack import ROOT, clean_env

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
START_TIMEOUT = 180  # a loaded machine starts a stack slowly: a bound, not a measure
LISTENING = re.compile(r"local stack at http://127\.0\.0\.1:(\d+)")


class MakeBench:
    """``make bench`` in a process group of its own, with this interpreter and nothing installed."""

    def __init__(self, folder: Path) -> None:
        installed = folder / "installed.mk"
        installed.write_text("$(STAMP): ;\n")  # the venv counts as installed: nothing to do
        env = clean_env(PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            ["make", "-f", "Makefile", "-f", str(installed), "bench", f"PY={sys.executable}"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        self.lines.extend(self.process.stdout)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def stack(self) -> int:
        """The first stack's pid, once the benchmark has started it."""
        found = [pid for pid in descendants(self.process.pid) if " -m chatlocal" in command_line(pid)]
        return found[0] if found else 0

    def end(self, *stacks: int) -> None:
        for group in (self.process.pid, *stacks):
            for pid in group_members(group):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize(
    ("when", "signum"),
    [("up", signal.SIGTERM), ("starting", signal.SIGTERM), ("starting", signal.SIGINT)],
    ids=["timeout-once-up", "timeout-while-starting", "ctrl-c-while-starting"],
)
def test_stopping_make_bench_ends_every_stack_it_started(tmp_path, when, signum):
    bench = MakeBench(tmp_path)
    stack = 0
    try:
        stack = until(bench.stack, "make bench started no stack:\n" + bench.text, START_TIMEOUT)
        port = 0
        if when == "up":
            found = until(lambda: LISTENING.search(bench.text), "no stack came up", START_TIMEOUT)
            port = int(found.group(1))
        else:
            assert not LISTENING.search(bench.text), "too late: the stack was already up"
        os.killpg(bench.process.pid, signum)  # as timeout (or the terminal's Ctrl-C) sends it
        bench.process.wait(START_TIMEOUT)
        left = group_members(stack)  # make has exited: nothing it started may be running
        assert left == [], f"left running: {[command_line(pid) for pid in left]}\n{bench.text}"
        assert not port or _port_is_free(port), f"port {port} still taken"
    finally:
        bench.end(stack)
