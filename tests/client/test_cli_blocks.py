"""Blocking from the `chat` command line (/block, /unblock, /blocks and the one-shot commands),
through the CLI's harness: real processes on the local stack, driven through stdin/stdout."""

from __future__ import annotations

import subprocess
import sys

from tests.client.conftest import Cli
from tests.stack import ROOT


def test_block_a_user_their_direct_chat_refuses_then_unblock(stack, user, clis):
    alice_id, bob_id = user("alice"), user("bob")
    bob = Cli(stack.url, bob_id)
    clis.append(bob)
    bob.expect(r"^\[ready\]")
    alice = Cli(stack.url, alice_id, "dm", bob_id)
    clis.append(alice)
    chat_id = alice.expect(rf"^\[opened\] (\S+) {bob_id} \(0 messages\)$").group(1)
    alice.expect(r"^\[ready\]")
    bob.expect(rf"^\[added\] {chat_id} {alice_id}$")

    alice.type(f"/block {bob_id}")
    alice.expect(rf"^\[blocked\] {bob_id}$")
    alice.type("/blocks")
    alice.expect(rf"^  {bob_id}$")
    alice.expect(r"^\[end\]$")
    bob.type(f"/dm {alice_id}")  # the chat exists: it opens, unchanged
    bob.expect(rf"^\[opened\] {chat_id} {alice_id}")
    bob.type("hello?")
    bob.expect(r"^\[error\] not allowed: this direct chat is blocked")
    alice.never(r"hello\?", within=0.5)

    alice.type(f"/unblock {bob_id}")
    alice.expect(rf"^\[unblocked\] {bob_id}$")
    alice.type("/blocks")
    alice.expect(r"^\[end\]$")
    bob.type("hello again")
    bob.expect(rf"^\[ack\] {chat_id} seq 1")
    alice.expect(rf"^\[{chat_id}\] 1 {bob_id}: hello again$")
    assert alice.quit() == 0 and bob.quit() == 0


def test_one_shot_block_commands_and_their_help(stack, user):
    alice_id, carol_id, dave_id = user("alice"), user("carol"), user("dave")

    def chat(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "chatclient", "--server", stack.url, "--user", alice_id, *args]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert chat("block", carol_id).stdout.splitlines() == [f"[blocked] {carol_id}"]
    assert chat("block", dave_id).returncode == 0
    assert chat("blocks").stdout.splitlines() == [*sorted([f"  {carol_id}", f"  {dave_id}"]), "[end]"]
    assert chat("unblock", carol_id).stdout.splitlines() == [f"[unblocked] {carol_id}"]
    assert chat("blocks").stdout.splitlines() == [f"  {dave_id}", "[end]"]
    refused = chat("block", alice_id)
    assert refused.returncode != 0 and "yourself" in refused.stdout + refused.stderr
    helped = chat("block", "--help")
    assert "usage:" in helped.stdout and "USER" in helped.stdout


def test_one_shot_report_names_the_chat_and_takes_a_reason_of_several_words(stack, user):
    alice_id, bob_id = user("alice"), user("bob")

    def chat(who: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "chatclient", "--server", stack.url, "--user", who, *args]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)

    created = chat(alice_id, "create", bob_id, "--title", "Reported one shot")
    chat_id = next(line.split()[1] for line in created.stdout.splitlines() if line.startswith("[created]"))
    assert chat(alice_id, "send", chat_id, "buy cheap watches").returncode == 0
    reported = chat(bob_id, "report", "Reported one", "1", "spam", "link")
    assert reported.stdout.splitlines() == [f"[reported] {chat_id} 1: the operators will review it"]
    own = chat(alice_id, "report", chat_id, "1")
    assert own.returncode != 0 and "your own message" in own.stdout + own.stderr
    helped = chat(bob_id, "report", "--help")
    assert "usage:" in helped.stdout and "SEQ" in helped.stdout and "REASON" in helped.stdout
