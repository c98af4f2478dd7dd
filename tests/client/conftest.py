"""Client tier: the Python client and CLI against the local stack (a subprocess on a free port)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from chatclient import Backoff, ChatClient
from tests.client.push_env import local_push_env
from tests.stack import ONE_PROCESS, ROOT, LocalStack


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """One stack for the tier, in the one-process mode: these tests are of the client, which sees
    the same wire whatever the mode (test_resync.py runs its own in the default mode)."""
    with LocalStack(CHAT_JWT_SECRET="client-secret-" * 3, **local_push_env(), **ONE_PROCESS) as running:
        yield running


@pytest.fixture
def user():
    run_id = uuid.uuid4().hex[:6]
    numbers = itertools.count(1)
    return lambda name="u": f"{name}-{run_id}-{next(numbers)}"


def make_client(stack: LocalStack, user_id: str, gate: asyncio.Event | None = None, **options) -> ChatClient:  # type: ignore[no-untyped-def]
    """A client of ``user_id``; while ``gate`` is cleared it cannot (re)connect."""

    async def token() -> str:
        if gate is not None:
            await gate.wait()
        return await asyncio.get_running_loop().run_in_executor(None, stack.token, user_id)

    options.setdefault("backoff", Backoff(base=0.05, cap=0.5))
    options.setdefault("request_timeout", 5)
    return ChatClient(stack.ws_base, token, **options)


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


def connection_ids(stack: LocalStack, user_id: str) -> list[str]:
    return [c["connectionId"] for c in stack.connections() if c["user"] == user_id]


class Cli:
    """One ``chat`` process driven through stdin/stdout as a person would."""

    def __init__(self, server: str, user: str | None, *args: str, env: dict[str, str] | None = None) -> None:
        """``user`` None: ``server`` is the WebSocket URL (``--url``) and the token comes from
        ``env`` (``CHAT_TOKEN``)."""
        who = ["--server", server, "--user", user] if user is not None else ["--url", server]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chatclient", *who, *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, pattern: str, timeout: float = 15) -> re.Match[str]:
        """The first unread line matching ``pattern`` (lines before it stay unread)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.seen:
                if match := re.search(pattern, line):
                    self.seen.remove(line)
                    return match
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r}; got {self.seen}")
            with contextlib.suppress(queue.Empty):
                self.seen.append(self.lines.get(timeout=remaining))

    def never(self, pattern: str, within: float = 1.0) -> None:
        """No line matching ``pattern`` shows up within ``within`` seconds."""
        try:
            match = self.expect(pattern, timeout=within)
        except AssertionError:
            return
        raise AssertionError(f"unexpected line {match.string!r}")

    def quit(self) -> int:
        self.type("/quit")
        return self.process.wait(timeout=10)


@pytest.fixture
def clis() -> Iterator[list[Cli]]:
    """Started CLIs go in this list; whatever is still running at the end is killed."""
    started: list[Cli] = []
    yield started
    for cli in started:
        if cli.process.poll() is None:
            cli.process.kill()
            cli.process.wait(timeout=10)
