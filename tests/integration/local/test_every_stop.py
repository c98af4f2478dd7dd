"""Every catchable stop takes the same way as Ctrl-C (issue 25, item 11): Ctrl-\\ (SIGQUIT) saves
and keeps every acknowledged message, with the journal off too, so a restart never reuses a seq;
closing the terminal of a ``make run`` that leads its session (``ssh -t host make run``: the
SIGHUP reaches make alone, which waits for the stack) stops and saves it too; and a stop that
comes while the stack is still starting (the terminal closed, or ``make`` killed, in the seconds
before the banner) stops it once it is up instead of leaving it running, its port and data
folder taken."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.integration.conftest import run
from tests.integration.local.processes import children, group_members, until
from tests.integration.local.test_durability import _check, _persistent, _wait_until_free, _write
from tests.stack import ONE_PROCESS, ROOT, LocalStack, clean_env

START_TIMEOUT = 180  # a loaded machine starts a stack slowly: a bound, not a measure


def test_ctrl_backslash_saves_every_acked_write_without_the_journal(tmp_path, user):
    alice, bob = user("alice"), user("bob")
    with _persistent(tmp_path, CHAT_JOURNAL="0") as first:
        chat_id, acks = run(_write(first, alice, bob))
        first.stop(signal.SIGQUIT, timeout=60)  # the terminal sends it to the whole group
    assert first.process is not None and first.process.returncode == 0, first.text
    assert "Saved the local data" in first.text, first.text
    with _persistent(tmp_path, CHAT_JOURNAL="0") as second:
        run(_check(second, alice, bob, chat_id, acks))  # the next seq follows the last acked one


class Starting:
    """``python -m chatlocal`` (under ``sh`` when ``shell``, as under ``make``) started, not
    waited for: its output read as it comes."""

    def __init__(self, data_dir: Path, shell: bool = False) -> None:
        command = [sys.executable, "-m", "chatlocal"]
        if shell:
            command = ["sh", "-c", '"$0" -m chatlocal; exit $?', sys.executable]
        env = clean_env(CHAT_EPHEMERAL="", CHAT_DATA_DIR=str(data_dir), CHAT_JOURNAL="0")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        self.output.extend(self.process.stdout)

    @property
    def text(self) -> str:
        return "".join(self.output)

    def all_said(self) -> str:
        """Everything it printed, once every process writing to it has ended."""
        self.reader.join(START_TIMEOUT)
        return self.text

    def end(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for pid in group_members(self.process.pid):
            os.kill(pid, signal.SIGKILL)


def test_the_terminal_closing_while_the_stack_starts_stops_it_once_up(tmp_path):
    starting = Starting(tmp_path)
    try:
        # moto's process started: the stack is assembling its parts, well before its banner
        until(lambda: children(starting.process.pid), "the stack started no process", START_TIMEOUT)
        assert "Ctrl-C stops it" not in starting.text, "too late: the stack was already up"
        os.killpg(starting.process.pid, signal.SIGHUP)  # to the whole group, as a terminal does
        assert starting.process.wait(START_TIMEOUT) == 0, starting.text
        said = starting.all_said()
        assert "Ctrl-C stops it" in said and "Stopped." in said, said
        assert group_members(starting.process.pid) == [], said
    finally:
        starting.end()


def test_make_killed_while_the_stack_starts_stops_it_once_up(tmp_path):
    starting = Starting(tmp_path, shell=True)  # sh stays the parent, as make does
    try:
        (stack,) = until(lambda: children(starting.process.pid), "sh started no stack", START_TIMEOUT)
        until(lambda: children(stack), "the stack started no process", START_TIMEOUT)
        assert "Ctrl-C stops it" not in starting.text, "too late: the stack was already up"
        os.kill(starting.process.pid, signal.SIGKILL)  # the parent alone, not its group
        starting.process.wait()
        _wait_until_free(tmp_path, START_TIMEOUT)  # the orphaned stack stopped, once up
        until(lambda: not group_members(starting.process.pid), "the stack's processes remain", START_TIMEOUT)
        said = starting.all_said()
        assert "has ended: stopping" in said and "Stopped." in said, said
    finally:
        starting.end()


def _read_until(terminal: int, pattern: str, timeout: float) -> str:
    seen = b""

    def arrived() -> bool:
        nonlocal seen
        if select.select([terminal], [], [], 0.2)[0]:
            seen += os.read(terminal, 65536)
        return re.search(pattern.encode(), seen) is not None

    until(arrived, f"no {pattern!r} on the terminal", timeout)
    return seen.decode(errors="replace")


def _make_run_leading_a_terminal(data_dir: Path) -> tuple[int, int]:
    """``make run`` as the leader of a new session on a pseudo-terminal; (pid, terminal)."""
    installed = data_dir.parent / f"{data_dir.name}-installed.mk"
    installed.write_text("$(STAMP): ;\n")  # the venv counts as installed: nothing to do
    env = clean_env(CHAT_EPHEMERAL="", CHAT_DATA_DIR=str(data_dir), CHAT_JOURNAL="0", **ONE_PROCESS)
    command = ["make", "-f", "Makefile", "-f", str(installed), "run", f"PY={sys.executable}"]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: exec at once
        os.chdir(ROOT)
        os.execvpe("make", command, env)
    return pid, terminal


def test_closing_the_terminal_make_run_leads_stops_and_keeps_every_acked_write(tmp_path, user):
    alice, bob = user("alice"), user("bob")
    data_dir = tmp_path / "data"
    pid, terminal = _make_run_leading_a_terminal(data_dir)
    try:
        banner = _read_until(terminal, "Ctrl-C stops it", START_TIMEOUT)
        url = re.search(r"listening on (http://\S+)", banner)
        assert url is not None, banner
        running = LocalStack()
        running.url = url.group(1)
        chat_id, acks = run(_write(running, alice, bob))
        (stack,) = children(pid)
        os.close(terminal)  # the terminal closes: SIGHUP to make, its session's leader, alone
        terminal = -1
        until(lambda: os.waitpid(pid, os.WNOHANG)[0] == pid, "make still waits for the stack", START_TIMEOUT)
        pid = 0
        assert group_members(stack) == []
    finally:
        if terminal >= 0:
            os.close(terminal)
        if pid:
            for member in group_members(pid):
                os.kill(member, signal.SIGKILL)
            os.waitpid(pid, 0)
    with _persistent(data_dir, CHAT_JOURNAL="0", **ONE_PROCESS) as second:
        run(_check(second, alice, bob, chat_id, acks))  # saved on the way out: the seq goes on
