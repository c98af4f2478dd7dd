"""`chat` processes driven through stdin/stdout like a person would: alice and bob chat, a
direct chat opened by user name, a group whose members change, with the notices each sees."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.client.conftest import Cli
from tests.stack import ONE_PROCESS, ROOT, LocalStack


def test_alice_and_bob_chat_and_bob_sees_the_background_notice(stack, user, clis):
    alice_id, bob_id = user("alice"), user("bob")
    alice, bob = Cli(stack.url, alice_id), Cli(stack.url, bob_id)
    clis += [alice, bob]
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
    bob.expect(rf"^\[bg\] {chat_id} Weekend - {alice_id}: hello bob$")  # the chat by its title

    bob.type("/chats")
    bob.expect(rf"^1\. {chat_id} Weekend \[1\] - {alice_id}: hello bob")
    bob.type(f"/open {chat_id}")
    bob.expect(rf"^\[opened\] {chat_id} Weekend \(1 message\)")
    bob.expect(rf"^  1 {alice_id}: hello bob")
    bob.type("hi alice")
    bob.expect(rf"^\[ack\] {chat_id} seq 2")
    alice.expect(rf"^\[{chat_id}\] 2 {bob_id}: hi alice$")  # alice views the chat: real time

    assert alice.quit() == 0 and bob.quit() == 0


def test_direct_chat_by_user_name_is_listed_under_the_other_person(stack, user, clis):
    alice_id, bob_id = user("alice"), user("bob")
    bob = Cli(stack.url, bob_id)
    clis.append(bob)
    bob.expect(r"^\[ready\]")
    alice = Cli(stack.url, alice_id, "dm", bob_id)  # one command: open (create) and chat
    clis.append(alice)
    chat_id = alice.expect(rf"^\[opened\] (\S+) {bob_id} \(0 messages\)$").group(1)
    alice.expect(r"^\[ready\]")
    bob.expect(rf"^\[added\] {chat_id} {alice_id}$")  # bob's list names it after alice

    alice.type("hi bob")
    alice.expect(rf"^\[ack\] {chat_id} seq 1")
    bob.expect(rf"^\[bg\] {chat_id} {alice_id} - {alice_id}: hi bob$")  # by the other person
    bob.type("/chats")
    bob.expect(rf"^1\. {chat_id} {alice_id} \[1\] - {alice_id}: hi bob$")
    bob.type(f"/dm {alice_id}")  # the same chat, not a new one
    bob.expect(rf"^\[opened\] {chat_id} {alice_id} \(1 message\)$")
    bob.type("hello alice")
    alice.expect(rf"^\[{chat_id}\] 2 {bob_id}: hello alice$")

    alice.type("/add someone")  # a direct chat keeps its two people
    alice.expect(r"^\[error\] refused: ")
    assert alice.quit() == 0 and bob.quit() == 0


def test_members_added_removed_and_leaving_print_notices_to_everyone(stack, user, clis):
    alice_id, bob_id, carol_id, dave_id = user("alice"), user("bob"), user("carol"), user("dave")
    alice, bob, carol = Cli(stack.url, alice_id), Cli(stack.url, bob_id), Cli(stack.url, carol_id)
    clis += [alice, bob, carol]
    for cli in (alice, bob, carol):
        cli.expect(r"^\[ready\]")
    alice.type(f"/create {bob_id} -- Team")
    chat_id = alice.expect(r"^\[created\] (c_\S+) Team").group(1)
    bob.expect(rf"^\[added\] {chat_id} Team")
    for cli in (alice, bob):
        cli.type(f"/open {chat_id}")
        cli.expect(rf"^\[opened\] {chat_id} Team")

    alice.type(f"/add {carol_id}")
    alice.expect(rf"^\[{chat_id}\] 1 \* {alice_id} added {carol_id}$")  # the acting user sees it too
    alice.expect(rf"^\[updated\] {chat_id} Team \(3 members\)$")
    bob.expect(rf"^\[{chat_id}\] 1 \* {alice_id} added {carol_id}$")
    carol.expect(rf"^\[added\] {chat_id} Team$")

    bob.type(f"/add {dave_id}")  # bob is not an admin
    bob.expect(r"^\[error\] not allowed: ")
    bob.type("/members")
    for member in sorted([alice_id, bob_id, carol_id]):
        bob.expect(rf"^  {member}( \(admin\))?$")
    bob.expect(r"^\[end\]$")

    carol.type(f"/open {chat_id}")
    carol.expect(rf"^\[opened\] {chat_id} Team \(0 messages\)$")  # nothing from before she joined
    alice.type(f"/remove {carol_id}")
    bob.expect(rf"^\[{chat_id}\] \d+ \* .*{alice_id}.* removed .*{carol_id}")
    carol.expect(rf"^\[removed\] {chat_id}: you are no longer a member; closed it$")
    carol.type("still here?")
    carol.expect(r"^\[error\] no chat open")

    bob.type("/leave")
    bob.expect(rf"^\[left\] {chat_id}$")
    alice.expect(rf"^\[{chat_id}\] \d+ \* .*{bob_id}.* left")
    alice.type("/rename")
    alice.expect(rf"^\[updated\] {chat_id} {alice_id} \(1 member\)$")  # no title: named by members
    carol.never(chat_id)  # removed: nothing about the chat reaches her any more
    for cli in (alice, bob, carol):
        assert cli.quit() == 0


def test_one_shot_subcommands_manage_a_group(stack, user):
    alice_id, bob_id, carol_id = user("alice"), user("bob"), user("carol")

    def chat(who: str, *args: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "chatclient", "--server", stack.url, "--user", who, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode in (0, 1, 2), done.stderr
        return [f"rc={done.returncode}", *done.stdout.splitlines()]

    created = chat(alice_id, "create", bob_id, "--title", "Plans")
    chat_id = next(line.split()[1] for line in created if line.startswith("[created]"))
    assert f"[created] {chat_id} Plans" in created
    assert f"[updated] {chat_id} Plans (3 members)" in chat(alice_id, "add", chat_id, carol_id)
    assert chat(alice_id, "members", chat_id)[1:] == [
        f"  {alice_id} (admin)",
        f"  {bob_id}",
        f"  {carol_id}",
        "[end]",
    ]
    assert f"[updated] {chat_id} Weekend plans (3 members)" in chat(
        alice_id, "rename", chat_id, "Weekend", "plans"
    )
    refused = chat(bob_id, "remove", chat_id, carol_id)
    assert refused[0] == "rc=1" and refused[-1].startswith("[error] not allowed: ")
    assert f"[updated] {chat_id} Weekend plans (2 members)" in chat(alice_id, "remove", chat_id, carol_id)
    assert f"[left] {chat_id}" in chat(bob_id, "leave", chat_id)
    assert chat(alice_id, "add", chat_id) == [
        "rc=2",
        "usage: chat add CHAT USER... (the following arguments are required: USER)",
    ]


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


def run_chat(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, str, float]:
    """``chat ARGS``: exit code, all output, and how long it took."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "chatclient", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or {k: v for k, v in os.environ.items() if k != "CHAT_TOKEN"},
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def test_mute_sets_level_none_and_unmute_level_all_as_documented(stack, user):
    """What /help and docs/client.md say (test_docs.py checks the words): mute is notify none,
    unmute is notify all, so a chat at mentions is at all after a mute and an unmute."""
    alice_id, bob_id = user("alice"), user("bob")

    def chat(*args: str) -> list[str]:
        rc, output, _ = run_chat("--server", stack.url, "--user", alice_id, *args)
        assert rc == 0, output
        return output.splitlines()

    created = chat("create", bob_id, "--title", "Quiet")
    chat_id = re.match(r"\[created\] (c_\S+) Quiet$", created[-1]).group(1)  # type: ignore[union-attr]
    assert chat("notify", "quiet", "mentions") == [f"[notify] {chat_id} mentions"]
    assert chat("chats") == [f"1. {chat_id} Quiet (mentions only)", "[end]"]
    assert chat("mute", "1") == [f"[muted] {chat_id}"]
    assert chat("chats") == [f"1. {chat_id} Quiet (muted)", "[end]"]
    assert chat("notify", chat_id, "none") == [f"[notify] {chat_id} none"]  # the same level
    assert chat("unmute", "Qui") == [f"[unmuted] {chat_id}"]
    assert chat("chats") == [f"1. {chat_id} Quiet", "[end]"]  # all: the mentions level is not kept
    assert chat("mute", chat_id) == [f"[muted] {chat_id}"]
    assert chat("mute", chat_id) == [f"[muted] {chat_id}"]  # not a toggle

    chat("create", bob_id, "--title", "Quieter")
    rc, output, _ = run_chat("--server", stack.url, "--user", alice_id, "mute", "qui")
    assert rc == 2 and re.fullmatch(
        r"\[error\] 'qui' matches 2 chats \(c_\S+ Quiet(er)?, c_\S+ Quiet(er)?\): say which\n", output
    )
    rc, output, _ = run_chat("--server", stack.url, "--user", alice_id, "unmute", "3")
    assert (rc, output) == (2, "[error] no chat number 3: /chats lists 2 chats\n")


def free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return int(listener.getsockname()[1])


def test_no_server_is_one_line_naming_the_url_and_make_run_and_exit_1():
    server = f"http://127.0.0.1:{free_port()}"
    rc, output, took = run_chat("--server", server, "--user", "alice", "chats")
    assert (rc, output) == (
        1,
        f"[error] cannot reach {server}: is `make run` running? (connection refused)\n",
    )
    assert took < 20
    url = f"ws://127.0.0.1:{free_port()}/ws"
    env = {**os.environ, "CHAT_TOKEN": "any"}
    rc, output, took = run_chat("--url", url, "--timeout", "2", "chats", env=env)
    assert (rc, output) == (1, f"[error] cannot reach {url}: check --url (connection refused)\n")
    assert took < 20  # bounded by --timeout, not retried forever


def test_a_dev_token_request_that_fails_says_so_in_one_line(stack):
    rc, output, _ = run_chat("--server", stack.url + "/nothing-here", "--user", "alice", "chats")
    assert rc == 1 and output.count("\n") == 1
    assert output.startswith(f"[error] {stack.url}/nothing-here/dev/token answered HTTP 404")
    assert "`make run`" in output and "Traceback" not in output


def test_a_bad_or_expired_token_is_refused_at_once_with_the_reason_and_exit_1(stack):
    env = {**os.environ, "CHAT_TOKEN": "not-a-valid-token"}
    rc, output, took = run_chat("--url", stack.ws_base, "chats", env=env)
    assert rc == 1 and took < 20
    assert output == (
        f"[error] {stack.ws_base} refused the token (HTTP 401 Unauthorized): "
        "CHAT_TOKEN is expired or not for this server: set a fresh one\n"
    )


def test_ctrl_c_at_the_prompt_exits_at_once_without_a_traceback(stack, user, clis):
    # Started as from a terminal: a test run launched in the background (`make test &`) ignores
    # SIGINT, and a child inherits an ignored SIGINT (Python then leaves it ignored).
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        cli = Cli(stack.url, user("alice"))
    finally:
        signal.signal(signal.SIGINT, ignored)
    clis.append(cli)
    cli.expect(r"^\[ready\]")
    cli.process.send_signal(signal.SIGINT)
    assert cli.process.wait(timeout=20) == 130  # not waiting on the socket: a hang fails here
    time.sleep(0.2)
    rest = list(cli.seen)
    while not cli.lines.empty():
        rest.append(cli.lines.get())
    assert not any("Traceback" in line or "Error" in line for line in rest), rest


def test_title_option_anywhere_and_open_by_title_prefix_or_number(stack, user, clis):
    alice_id, bob_id = user("alice"), user("bob")
    rc, output, _ = run_chat(
        "--server", stack.url, "--user", alice_id, "create", "--title", "Weekend trip", bob_id
    )
    assert rc == 0, output
    chat_id = output.split()[1]
    assert output == f"[created] {chat_id} Weekend trip\n"
    rc, output, _ = run_chat("--server", stack.url, "--user", alice_id, "send", "week", "hello", "bob")
    assert (rc, output) == (0, f"[ack] {chat_id} seq 1\n")

    bob = Cli(stack.url, bob_id)
    clis.append(bob)
    bob.expect(r"^\[ready\]")
    bob.type("/chats")
    bob.expect(rf"^1\. {chat_id} Weekend trip \[1\] - {alice_id}: hello bob$")
    bob.type("/open 1")
    bob.expect(rf"^\[opened\] {chat_id} Weekend trip \(1 message\)$")
    bob.type("/close")
    bob.expect(rf"^\[closed\] {chat_id}$")
    bob.type("/open WEEKEND")
    bob.expect(rf"^\[opened\] {chat_id} Weekend trip \(1 message\)$")
    bob.type(f"/open {chat_id[:8]}")
    bob.expect(rf"^\[opened\] {chat_id} Weekend trip \(1 message\)$")
    bob.type("/history abc")
    bob.expect(r"^\[error\] /history takes a message number")
    assert bob.quit() == 0
    assert not any("Traceback" in line for line in bob.seen)


def test_a_restarted_server_with_a_new_secret_ends_a_chat_token_cli_and_a_dev_token_cli_reconnects(user):
    port = free_port()
    alice_id, bob_id = user("alice"), user("bob")
    first = LocalStack(PORT=str(port), CHAT_JWT_SECRET="first-secret-" * 4, **ONE_PROCESS).start()
    started: list[subprocess.Popen[str]] = []
    try:
        with_token = Cli(first.ws_base, None, env={**os.environ, "CHAT_TOKEN": first.token(alice_id)})
        started.append(with_token.process)
        with_user = Cli(first.url, bob_id)
        started.append(with_user.process)
        with_user.expect(r"^\[ready\]")
        # Online once ([ready]): from then on it keeps trying to reconnect, with no deadline.
        with_token.expect(r"^\[ready\]", timeout=60)
        deadline = time.monotonic() + 30
        while {c["user"] for c in first.connections()} != {alice_id, bob_id}:
            assert time.monotonic() < deadline, first.connections()
            time.sleep(0.1)
        first.stop()
        second = LocalStack(PORT=str(port), CHAT_JWT_SECRET="second-secret-" * 4, **ONE_PROCESS).start()
        try:
            assert with_token.process.wait(timeout=60) == 1
            assert with_token.expect(r"^\[error\]", timeout=5).string == (
                f"[error] {first.ws_base} refused the token (HTTP 401 Unauthorized): "
                "CHAT_TOKEN is expired or not for this server: set a fresh one"
            ), with_token.seen
            with_user.expect(r"^\[online\]", timeout=60)  # a fresh dev token from the new stack
            deadline = time.monotonic() + 30
            while bob_id not in {c["user"] for c in second.connections()}:
                assert time.monotonic() < deadline, (second.connections(), with_user.seen)
                time.sleep(0.1)
            assert with_user.quit() == 0
        finally:
            second.stop()
    finally:
        first.kill()
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def test_reply_edit_delete_react_and_levels_by_message_number_with_multi_line_input(stack, user, clis):
    alice_id, bob_id = user("alice"), user("bob")
    alice, bob = Cli(stack.url, alice_id), Cli(stack.url, bob_id)
    clis += [alice, bob]
    alice.expect(r"^\[ready\]")
    bob.expect(r"^\[ready\]")
    alice.type(f"/create {bob_id} -- Live")
    chat_id = alice.expect(r"^\[created\] (c_\S+) Live").group(1)
    bob.expect(rf"^\[added\] {chat_id} Live")
    for cli in (alice, bob):
        cli.type(f"/open {chat_id}")
        cli.expect(rf"^\[opened\] {chat_id} Live")

    alice.type("helo bob,\\")  # a trailing backslash: the message goes on on the next line
    alice.type("see you at ten")
    alice.expect(rf"^\[ack\] {chat_id} seq 1$")
    bob.expect(rf"^\[{chat_id}\] 1 {alice_id}: helo bob,$")
    bob.expect(r"^    see you at ten$")
    bob.type(f"/reply 1 we'll be there @{alice_id}")
    bob.expect(rf"^\[ack\] {chat_id} seq 2$")
    alice.expect(
        rf'^\[{chat_id}\] 2 {bob_id}: \(re 1 {alice_id}: "helo bob, see you at ten"\) '
        rf"we'll be there @{alice_id} \(mentions you\)$"
    )

    alice.type("/edit 1 hello bob, see you at ten")
    alice.expect(rf"^\[edited\] {chat_id} 1 {alice_id}: hello bob, see you at ten \(edited\)$")
    bob.expect(rf"^\[changed\] {chat_id} 1 {alice_id}: hello bob, see you at ten \(edited\)$")
    bob.type("/react 1 👍")
    bob.expect(rf"^\[reacted\] {chat_id} 1 {alice_id}: hello bob, see you at ten \(edited\) \[👍 1\]$")
    alice.expect(rf"^\[changed\] {chat_id} 1 .* \[👍 1\]$")
    bob.type("/edit 1 not mine")
    bob.expect(r"^\[error\] not allowed: ")
    bob.type("/delete 2")
    bob.expect(rf"^\[deleted\] {chat_id} 2 {bob_id}: \(deleted\)$")
    alice.expect(rf"^\[changed\] {chat_id} 2 {bob_id}: \(deleted\)$")
    bob.type("/react 2 🎉")
    bob.expect(r"^\[error\] refused: ")

    alice.type("/history")
    alice.expect(rf"^  1 {alice_id}: hello bob, see you at ten \(edited\) \[👍 1\]$")
    alice.expect(rf"^  2 {bob_id}: \(deleted\)$")
    alice.type("/notify mentions")
    alice.expect(rf"^\[notify\] {chat_id} mentions$")
    alice.type("/notify loud")
    alice.expect(r"^\[error\] give a level: all, mentions")
    alice.type("/chats")
    alice.expect(rf"^1\. {chat_id} Live \(mentions only\) \[1\] - {bob_id}: \(deleted\)$")
    alice.type("/help")
    for command in (
        "/reply SEQ TEXT...",
        "/edit SEQ TEXT...",
        "/delete SEQ",
        "/react SEQ [EMOJI]",
        "/notify LEVEL",
    ):
        alice.expect(rf"^  {re.escape(command)} ")
    alice.expect(r"a line ending in \\ goes on on the next line")
    assert alice.quit() == 0 and bob.quit() == 0

    def chat(who: str, *args: str) -> tuple[int, list[str]]:
        rc, output, _ = run_chat("--server", stack.url, "--user", who, *args)
        return rc, output.splitlines()

    assert chat(bob_id, "react", chat_id, "1", "🎉") == (
        0,
        [f"[reacted] {chat_id} 1 {alice_id}: hello bob, see you at ten (edited) [🎉 1]"],
    )
    assert chat(alice_id, "reply", chat_id, "1", "see", "you") == (0, [f"[ack] {chat_id} seq 3"])
    assert chat(alice_id, "edit", chat_id, "3", "see you all") == (
        0,
        [f"[edited] {chat_id} 3 {alice_id}: (re 1) see you all (edited)"],  # a new process: 1 unseen
    )
    assert chat(alice_id, "delete", chat_id, "3") == (0, [f"[deleted] {chat_id} 3 {alice_id}: (deleted)"])
    assert chat(alice_id, "notify", chat_id, "none") == (0, [f"[notify] {chat_id} none"])
    assert chat(alice_id, "edit", chat_id, "x", "text") == (
        2,
        ["[error] give the message's number, as shown beside it, not 'x': chat edit CHAT SEQ TEXT..."],
    )
    rc, lines = chat(alice_id, "delete", chat_id, "99")
    assert rc == 1 and lines[-1].startswith("[error] not found: ")


def test_report_by_message_number_with_a_reason_as_typed(stack, user, clis):
    alice_id, bob_id = user("alice"), user("bob")
    alice, bob = Cli(stack.url, alice_id), Cli(stack.url, bob_id)
    clis += [alice, bob]
    alice.expect(r"^\[ready\]")
    bob.expect(r"^\[ready\]")
    alice.type(f"/create {bob_id} -- Reported")
    chat_id = alice.expect(r"^\[created\] (c_\S+) Reported").group(1)
    bob.expect(rf"^\[added\] {chat_id} Reported")
    bob.type(f"/open {chat_id}")
    bob.expect(rf"^\[opened\] {chat_id} Reported")
    alice.type(f"/open {chat_id}")
    alice.expect(rf"^\[opened\] {chat_id} Reported")
    alice.type("buy cheap watches")
    alice.expect(rf"^\[ack\] {chat_id} seq 1$")
    bob.expect(rf"^\[{chat_id}\] 1 {alice_id}: buy cheap watches$")
    bob.type('/report 1 it\'s spam, "again"')
    bob.expect(rf"^\[reported\] {chat_id} 1: the operators will review it$")
    alice.type("/report 1")
    alice.expect(r"^\[error\] refused: you cannot report your own message$")
    bob.type("/report 9")
    bob.expect(r"^\[error\] not found: ")
    bob.type("/help report")
    bob.expect(r"^usage: /report SEQ \[REASON\.\.\.\]")
    assert alice.quit() == 0 and bob.quit() == 0
