"""How the local stack notices it must stop besides a signal (its parent gone: ``make`` killed)
and that its last words cannot get in the way of its save (the terminal closed)."""

from __future__ import annotations

import asyncio
import errno
import io

from chatlocal import persistence
from chatlocal.stack import STOP_SIGNALS, terminal_watch, watch_parent


def test_sighup_and_sigquit_stop_the_stack_like_ctrl_c():
    import signal

    assert set(STOP_SIGNALS) == {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}


def test_the_stack_stops_once_its_parent_is_gone():
    parents = iter([100, 100, 100, 1])  # reparented to init (or a subreaper) on the fourth look
    stopped: list[bool] = []

    asyncio.run(
        asyncio.wait_for(watch_parent(100, lambda: stopped.append(True), 0, lambda: next(parents)), 5)
    )
    assert stopped == [True]


def test_the_stack_stops_once_its_terminal_has_closed_though_its_parent_lives():
    """make leading the terminal's session gets the SIGHUP alone and waits for the stack."""
    looks = iter([False, False, True])
    stopped: list[bool] = []

    asyncio.run(
        asyncio.wait_for(
            watch_parent(100, lambda: stopped.append(True), 0, lambda: 100, lambda: next(looks)), 5
        )
    )
    assert stopped == [True]


def test_a_terminal_that_hangs_up_is_seen_and_a_pipe_is_no_terminal(monkeypatch):
    import os
    import pty

    parent, child = pty.openpty()
    monkeypatch.setattr("chatlocal.stack._is_terminal", lambda fd: fd == 0)
    monkeypatch.setattr("chatlocal.stack.select.poll", _poll_of(child))
    hung_up = terminal_watch()
    assert not hung_up()
    os.close(parent)  # the terminal closes
    assert hung_up()
    os.close(child)
    monkeypatch.setattr("chatlocal.stack._is_terminal", lambda fd: False)
    assert terminal_watch()() is False


def _poll_of(fd: int):  # type: ignore[no-untyped-def]
    """select.poll whose registrations of fd 0 watch ``fd`` instead (the test's own terminal)."""
    import select

    real = select.poll

    class Poll:
        def __init__(self) -> None:
            self.poller = real()

        def register(self, registered: int, events: int) -> None:
            self.poller.register(fd if registered == 0 else registered, events)

        def poll(self, timeout: int) -> list[tuple[int, int]]:
            return self.poller.poll(timeout)

    return Poll


def test_the_stack_keeps_running_while_its_parent_lives():
    stopped: list[bool] = []

    async def a_while() -> None:
        watcher = asyncio.create_task(watch_parent(100, lambda: stopped.append(True), 0, lambda: 100))
        await asyncio.sleep(0.05)
        watcher.cancel()

    asyncio.run(a_while())
    assert stopped == []


class GoneTerminal(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.EIO, "Input/output error")


class Store:
    def __init__(self, fails: bool = False) -> None:
        self.file = "dynamodb.json"
        self.fails = fails
        self.saves = 0

    def save_if_changed(self) -> bool:
        self.saves += 1
        if self.fails:
            raise OSError(errno.ENOSPC, "No space left on device")
        return True


def test_the_final_save_happens_and_does_not_raise_with_the_terminal_gone(monkeypatch):
    monkeypatch.setattr("sys.stdout", GoneTerminal())
    monkeypatch.setattr("sys.stderr", GoneTerminal())
    store = Store()
    persistence.final_save(store)  # type: ignore[arg-type]
    assert store.saves == 1
    failing = Store(fails=True)
    persistence.final_save(failing)  # type: ignore[arg-type]
    assert failing.saves == 1
    persistence.say("Stopped.")
