"""The local stack keeps its data and JWT secret in its data folder across restarts (SIGTERM,
and a SIGKILL after a periodic save), and says clearly why it cannot start."""

from __future__ import annotations

import json
import signal
import socket
import stat
import time
from pathlib import Path

import pytest

from tests.integration.conftest import run
from tests.integration.peer import Peer
from tests.stack import ONE_PROCESS, LocalStack

SAVE_INTERVAL = 1.0


def _persistent(data_dir: Path, **env: str) -> LocalStack:
    return LocalStack(CHAT_EPHEMERAL="", CHAT_DATA_DIR=str(data_dir), **env)


async def _chat_with_message(url: str, alice: str, bob: str, text: str) -> str:
    peer = await Peer.connect(url, alice)
    created = await peer.request("chat.create", members=[bob], title="Kept")
    chat_id = str(created["chat"]["chat_id"])
    sent = await peer.send_text(chat_id, text)
    assert sent["event"] == "message:ack", sent
    await peer.close()
    return chat_id


async def _chat_and_history(url: str, user: str, chat_id: str) -> tuple[list[str], list[str]]:
    peer = await Peer.connect(url, user)
    listed = await peer.request("chat.list")
    history = await peer.request("chat.history", chat_id=chat_id)
    await peer.close()
    titles = [c["title"] for c in listed["chats"] if c["chat_id"] == chat_id]
    return titles, [m["text"] for m in history["messages"] if m.get("kind") == "text"]


def test_data_and_secret_survive_a_sigterm_restart(tmp_path, user):
    alice, bob = user("alice"), user("bob")
    with _persistent(tmp_path) as first:
        assert f"data            {tmp_path} (nothing saved yet" in first.text, first.text
        token = first.token(alice)
        chat_id = run(_chat_with_message(f"{first.ws_base}?token={token}", alice, bob, "before restart"))
    assert first.process is not None and first.process.returncode == 0, first.text
    assert "Saved the local data" in first.text, first.text
    assert stat.S_IMODE((tmp_path / "jwt-secret").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "dynamodb.json").stat().st_mode) == 0o600
    saved = json.loads((tmp_path / "dynamodb.json").read_text())["tables"]
    assert saved["chat-local-connections"] == []  # every $disconnect ran before the save
    assert any(chat_id in json.dumps(item) for item in saved["chat-local-chats"])

    with _persistent(tmp_path) as second:
        assert f"data            {tmp_path} (restored " in second.text, second.text
        # The token from the first run still works: the secret came from the data folder.
        titles, texts = run(_chat_and_history(f"{second.ws_base}?token={token}", alice, chat_id))
    assert titles == ["Kept"]
    assert texts == ["before restart"]


def test_sigkill_after_a_periodic_save_keeps_the_data(tmp_path, user):
    alice, bob = user("alice"), user("bob")
    saved = tmp_path / "dynamodb.json"
    with _persistent(tmp_path, CHAT_SAVE_INTERVAL_SECONDS=str(SAVE_INTERVAL)) as first:
        chat_id = run(_chat_with_message(first.ws_url(alice), alice, bob, "before the crash"))
        deadline = time.monotonic() + SAVE_INTERVAL * 10
        while "before the crash" not in (saved.read_text() if saved.exists() else ""):  # the message too
            assert time.monotonic() < deadline, "no periodic save within ten intervals"
            time.sleep(0.2)
        first.stop(signal.SIGKILL)
    assert first.process is not None and first.process.returncode == -signal.SIGKILL

    with _persistent(tmp_path) as second:
        titles, texts = run(_chat_and_history(second.ws_url(alice), alice, chat_id))
    assert titles == ["Kept"]
    assert texts == ["before the crash"]
    assert json.loads(saved.read_text())["format"] == "chatlocal-dynamodb"


def test_two_stacks_cannot_share_a_data_folder(tmp_path):
    with _persistent(tmp_path, **ONE_PROCESS):
        second = _persistent(tmp_path, **ONE_PROCESS)
        with pytest.raises(RuntimeError, match="is in use by another local stack"):
            second.start()
        assert second.process is not None and second.process.returncode == 2


def test_test_stacks_keep_nothing():
    with LocalStack(**ONE_PROCESS) as stack:
        assert "nothing kept (CHAT_EPHEMERAL=1)" in stack.text, stack.text


def test_port_in_use_names_it_and_suggests_port_0():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = LocalStack(PORT=str(port))
        with pytest.raises(RuntimeError) as failed:
            stack.start()
    assert stack.process is not None and stack.process.returncode == 2
    lines = [line for line in str(failed.value).splitlines() if line.startswith("chatlocal:")]
    assert len(lines) == 1, failed.value
    assert f"127.0.0.1:{port} is already in use" in lines[0]
    assert "PORT=0" in lines[0]
    assert "Traceback" not in str(failed.value)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PORT", "abc", "PORT='abc' is not a whole number (0 to 65535)"),
        ("PORT", "70000", "PORT=70000 is out of range (0 to 65535)"),
        ("CHAT_IDLE_TIMEOUT_SECONDS", "soon", "CHAT_IDLE_TIMEOUT_SECONDS='soon' is not a number"),
    ],
)
def test_bad_settings_stop_with_one_line_and_status_2(variable, value, message):
    stack = LocalStack(**{variable: value})
    with pytest.raises(RuntimeError) as failed:
        stack.start()
    assert stack.process is not None and stack.process.returncode == 2
    output = str(failed.value).split("\n", 1)[1].strip()
    assert len(output.splitlines()) == 1, output
    assert output.startswith(f"chatlocal: cannot start: {message}"), output
