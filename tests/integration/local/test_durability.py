"""Acked = kept (issue 21): whatever way the local stack stops (Ctrl-C, SIGTERM, the terminal
closing, a SIGKILL of its whole process group), a restart on the same data folder finds every
acknowledged message under its seq, every receipt, the next send's seq after the last one, and a
retry of an acknowledged client_msg_id answered as a duplicate. No periodic save runs meanwhile
(its interval is an hour): what is kept is kept by the stop or by the journal."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chatlocal.config import StartupError
from chatlocal.datadir import DataDir
from tests.integration.conftest import run
from tests.integration.peer import Peer
from tests.stack import ONE_PROCESS, LocalStack

SENT = 4
READ_UP_TO = 2


def _persistent(data_dir: Path, **env: str) -> LocalStack:
    return LocalStack(
        CHAT_EPHEMERAL="", CHAT_DATA_DIR=str(data_dir), CHAT_SAVE_INTERVAL_SECONDS="3600", **env
    )


async def _write(stack: LocalStack, alice: str, bob: str) -> tuple[str, list[dict[str, Any]]]:
    sender = await Peer.connect(stack.ws_url(alice), alice)
    created = await sender.request("chat.create", members=[bob], title="Durable")
    chat_id = str(created["chat"]["chat_id"])
    acks = []
    for n in range(1, SENT + 1):
        ack = await sender.send_text(chat_id, f"message {n}", client_msg_id=f"durable-{n}")
        assert ack["event"] == "message:ack" and not ack["duplicate"], ack
        acks.append(ack)
    reader = await Peer.connect(stack.ws_url(bob), bob)
    receipt = await reader.request("message.read", chat_id=chat_id, seq=acks[READ_UP_TO - 1]["seq"])
    assert receipt["event"] == "receipt:ok" and receipt["read_seq"] == acks[READ_UP_TO - 1]["seq"], receipt
    await reader.close()
    await sender.close()
    return chat_id, acks


async def _check(stack: LocalStack, alice: str, bob: str, chat_id: str, acks: list[dict[str, Any]]) -> None:
    sender = await Peer.connect(stack.ws_url(alice), alice)
    history = await sender.request("chat.history", chat_id=chat_id)
    assert history["event"] == "chat:history", f"the chat is gone: {history}"
    kept = [(m["seq"], m["client_msg_id"], m["text"]) for m in history["messages"] if m.get("kind") == "text"]
    assert kept == [(a["seq"], f"durable-{n}", f"message {n}") for n, a in enumerate(acks, 1)], history
    retry = await sender.send_text(chat_id, "message 2", client_msg_id="durable-2")
    assert retry["event"] == "message:ack" and retry["duplicate"] is True, retry
    assert (retry["seq"], retry["message_id"]) == (acks[1]["seq"], acks[1]["message_id"]), retry
    after = await sender.send_text(chat_id, "after the restart", client_msg_id="durable-after")
    assert after["event"] == "message:ack" and not after["duplicate"], after
    assert after["seq"] == acks[-1]["seq"] + 1, after
    await sender.close()
    reader = await Peer.connect(stack.ws_url(bob), bob)
    listed = await reader.request("chat.list")
    (chat,) = [c for c in listed["chats"] if c["chat_id"] == chat_id]
    assert chat["read_seq"] == acks[READ_UP_TO - 1]["seq"], chat
    assert chat["last_seq"] == after["seq"], chat
    await reader.close()


@pytest.mark.parametrize(
    "signum",
    [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL],
    ids=lambda s: signal.Signals(s).name,
)
def test_acked_writes_survive_the_stack_stopping(tmp_path, user, signum):
    alice, bob = user("alice"), user("bob")
    with _persistent(tmp_path) as first:
        assert f"journal         {tmp_path / 'dynamodb.journal'} (every write" in first.text, first.text
        chat_id, acks = run(_write(first, alice, bob))
        first.stop(signum, timeout=30)  # to the whole process group, as a terminal or `kill -9 -PGID`
    assert first.process is not None
    with _persistent(tmp_path) as second:
        run(_check(second, alice, bob, chat_id, acks))


def test_sighup_saves_on_the_way_out_without_the_journal(tmp_path, user):
    """The terminal closing is a normal stop: with the journal off, the save on stop keeps it all."""
    alice, bob = user("alice"), user("bob")
    with _persistent(tmp_path, CHAT_JOURNAL="0") as first:
        assert "journal         " in first.text and "off (CHAT_JOURNAL=0)" in first.text, first.text
        chat_id, acks = run(_write(first, alice, bob))
        first.stop(signal.SIGHUP, timeout=30)
    assert first.process is not None and first.process.returncode == 0, first.text
    assert "Saved the local data" in first.text, first.text
    assert not (tmp_path / "dynamodb.journal").exists()
    with _persistent(tmp_path, CHAT_JOURNAL="0") as second:
        run(_check(second, alice, bob, chat_id, acks))


def test_killing_make_alone_stops_the_stack_and_saves(tmp_path, user):
    """``make`` SIGKILLed: the stack, its child, is orphaned; it notices and stops as on Ctrl-C
    (the journal off, so the save on stop is what keeps the data)."""
    alice, bob = user("alice"), user("bob")
    make = ["sh", "-c", '"$0" -m chatlocal; exit $?', sys.executable]  # sh stays the parent, as make
    first = _persistent(tmp_path, CHAT_JOURNAL="0")
    first.command = make
    with first:
        chat_id, acks = run(_write(first, alice, bob))
        assert first.process is not None
        os.kill(first.process.pid, signal.SIGKILL)  # the parent only, not its group
        first.process.wait()
        _wait_until_free(tmp_path)  # the orphaned stack stopped and released the folder
    assert "Saved the local data" in first.text, first.text
    assert "has ended: stopping" in first.text, first.text
    with _persistent(tmp_path, CHAT_JOURNAL="0") as second:
        run(_check(second, alice, bob, chat_id, acks))


def test_sigkill_in_one_process_mode_keeps_every_acked_write(tmp_path, user):
    """CHAT_PROCESSES=1: moto, and so the journal, in the stack's own process."""
    alice, bob = user("alice"), user("bob")
    with _persistent(tmp_path, **ONE_PROCESS) as first:
        chat_id, acks = run(_write(first, alice, bob))
        first.stop(signal.SIGKILL)
    with _persistent(tmp_path, **ONE_PROCESS) as second:
        run(_check(second, alice, bob, chat_id, acks))


def test_under_nohup_sighup_does_not_stop_the_stack(tmp_path, user):
    """``nohup make run``: meant to outlive the terminal, so SIGHUP is left ignored."""
    stack = _persistent(tmp_path, **ONE_PROCESS)
    stack.command = ["nohup", sys.executable, "-m", "chatlocal"]
    with stack:
        assert stack.process is not None
        os.killpg(stack.process.pid, signal.SIGHUP)
        time.sleep(1)  # time for the signal to arrive (not a latency bound)
        run(_write(stack, user("alice"), user("bob")))
        assert stack.process.poll() is None
        assert "Stopping" not in stack.text, stack.text
    assert stack.process.returncode == 0, stack.text  # SIGTERM still stops it


def _wait_until_free(data_dir: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            DataDir.open(data_dir).close()
            return
        except StartupError:
            assert time.monotonic() < deadline, "the orphaned stack is still running"
            time.sleep(0.2)
