"""Files in the ``chat`` CLI against the local stack: ``/file`` and ``chat file`` send one,
messages list their files (name, type, size), ``/save`` and ``chat save`` write them byte for
byte, ``/help`` lists both; misuse is one line and sends nothing."""

from __future__ import annotations

import os
import re

from tests.client.conftest import Cli
from tests.client.test_cli import run_chat


def test_files_sent_listed_and_saved_interactively_and_in_one_shot(stack, user, clis, tmp_path):
    alice_id, bob_id = user("alice"), user("bob")
    photo = tmp_path / "my photo.png"
    photo.write_bytes(os.urandom(3000))
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"line one\r\nline two\n")
    alice, bob = Cli(stack.url, alice_id), Cli(stack.url, bob_id)
    clis += [alice, bob]
    alice.expect(r"^\[ready\]")
    bob.expect(r"^\[ready\]")
    alice.type(f"/create {bob_id} -- Files")
    chat_id = alice.expect(r"^\[created\] (c_\S+) Files").group(1)
    alice.type(f"/open {chat_id}")
    alice.expect(rf"^\[opened\] {chat_id}")
    bob.type(f"/open {chat_id}")
    bob.expect(rf"^\[opened\] {chat_id}")

    alice.type(f'/file "{photo}" look at @{bob_id}')
    alice.expect(rf"^\[ack\] {chat_id} seq 1$")
    label = re.escape("[file my photo.png, image/png, 2.9 KiB]")
    bob.expect(rf"^\[{chat_id}\] 1 {alice_id}: look at @{bob_id} {label} \(mentions you\)$")

    rc, output, _ = run_chat("--server", stack.url, "--user", alice_id, "file", chat_id, str(notes))
    assert rc == 0 and f"[ack] {chat_id} seq 2" in output, output
    bob.expect(rf"^\[{chat_id}\] 2 {alice_id}: {re.escape('[file notes.txt, text/plain, 19 bytes]')}$")

    folder = tmp_path / "bob"
    folder.mkdir()
    bob.type(f'/save 1 "{folder}"')
    bob.expect(rf"^\[saved\] {re.escape(str(folder / 'my photo.png'))} {label}$")
    assert (folder / "my photo.png").read_bytes() == photo.read_bytes()
    rc, output, _ = run_chat("--server", stack.url, "--user", bob_id, "save", chat_id, "2", str(folder))
    assert rc == 0 and f"[saved] {folder / 'notes.txt'}" in output, output
    assert (folder / "notes.txt").read_bytes() == notes.read_bytes()

    bob.type("/history")
    bob.expect(rf"^  2 {alice_id}: {re.escape('[file notes.txt, text/plain, 19 bytes]')}$")
    bob.type("/help")
    bob.expect(r"^  /file PATH \[TEXT\.\.\.\] +send the file at PATH")
    bob.expect(r"^  /save SEQ \[DIR\] +save the files of message SEQ")

    # Misuse: one line each, nothing sent.
    bob.type(f"/file {tmp_path / 'missing.bin'}")
    bob.expect(r"^\[error\] no file .*missing\.bin$")
    bob.type("/save 1 /no/such/folder")
    bob.expect(r"^\[error\] no folder '/no/such/folder' to save into$")
    bob.type("/save 99")
    bob.expect(r"^\[error\] no message 99 ")
    bob.type("/file")
    bob.expect(r"^\[error\] usage: /file PATH")
    bob.type("hello")
    bob.expect(rf"^\[ack\] {chat_id} seq 3$")  # the refusals stored nothing
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    rc, output, _ = run_chat("--server", stack.url, "--user", alice_id, "file", chat_id, str(empty))
    assert rc == 2 and "is empty: there is nothing to send" in output, output
    assert alice.quit() == 0 and bob.quit() == 0
