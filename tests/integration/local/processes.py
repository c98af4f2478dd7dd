"""Which processes live, read from /proc by pid and process group (never by name: other stacks
run on the machine too), for the tests that check nothing a stop should end outlives it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def _live() -> dict[int, tuple[int, int]]:
    """Every live (not zombie) process: pid -> (parent pid, process group)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if fields[0] != "Z":
            found[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return found


def children(pid: int) -> list[int]:
    return [child for child, (parent, _) in _live().items() if parent == pid]


def descendants(pid: int) -> list[int]:
    live = _live()
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        below = [child for child, (ppid, _) in live.items() if ppid == parent]
        found += below
        frontier += below
    return found


def group_members(pgid: int) -> list[int]:
    """The live processes of that process group (a stack's, which starts a session of its own)."""
    return [pid for pid, (_, group) in _live().items() if group == pgid]


def command_line(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def until(condition: Callable[[], T], what: str, timeout: float) -> T:
    """Wait for a condition (a bound, not a measure: it fails with ``what`` past ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return found
