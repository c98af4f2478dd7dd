"""Two `chat` processes, alice and bob, driven through stdin/stdout like a person would."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.stack import ROOT


class Cli:
    def __init__(self, server: str, user: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chatclient", "--server", server, "--user", user],
            cwd=ROOT,
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

    def quit(self) -> int:
        self.type("/quit")
        return self.process.wait(timeout=10)


def test_alice_and_bob_chat_and_bob_sees_the_background_notice(stack, user):
    alice_id, bob_id = user("alice"), user("bob")
    alice, bob = Cli(stack.url, alice_id), Cli(stack.url, bob_id)
    try:
        alice.expect(r"^\[ready\]")
        bob.expect(r"^\[ready\]")
        alice.type(f"/create {bob_id} -- Weekend")
        chat_id = alice.expect(r"^\[created\] (c_\S+) Weekend").group(1)
        bob.expect(rf"^\[added\] {chat_id} Weekend")

        alice.type(f"/open {chat_id}")
        alice.expect(rf"^\[opened\] {chat_id}")
        alice.type("hello bob")
        alice.expect(rf"^\[ack\] {chat_id} seq 1")
        # bob is in no chat: the message arrives in the background, as a one-line notice
        bob.expect(rf"^\[bg\] {chat_id} {alice_id}: hello bob$")

        bob.type("/chats")
        bob.expect(rf"^{chat_id} Weekend \[1\] - {alice_id}: hello bob")
        bob.type(f"/open {chat_id}")
        bob.expect(rf"^\[opened\] {chat_id} Weekend \(1 messages\)")
        bob.expect(rf"^  1 {alice_id}: hello bob")
        bob.type("hi alice")
        bob.expect(rf"^\[ack\] {chat_id} seq 2")
        alice.expect(rf"^\[{chat_id}\] {bob_id}: hi alice$")  # alice views the chat: real time

        assert alice.quit() == 0 and bob.quit() == 0
    finally:
        for cli in (alice, bob):
            if cli.process.poll() is None:
                cli.process.kill()


def test_console_entry_point_is_installed():
    chat = Path(sys.executable).parent / "chat"
    done = subprocess.run([str(chat), "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "usage: chat" in done.stdout


def test_no_user_and_no_token_is_a_clear_error(stack):
    done = subprocess.run(
        [sys.executable, "-m", "chatclient", "--server", stack.url, "chats"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if k != "CHAT_TOKEN"},
    )
    assert done.returncode == 2 and "--user" in done.stdout
