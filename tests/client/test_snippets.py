"""README.md's snippets as a reader runs them, against the local stack.

Each ```python block runs as a script, as written, except that the stack's address replaces
``127.0.0.1:8000`` (the test stack listens on a free port). A block that keeps running (a client
that listens until Ctrl-C) is marked in the markdown just before it with
``<!-- snippet: keeps running; the test stops it once it prints "TEXT" -->``: the test waits for
that line, then stops it. The CLI lines (```sh blocks calling ``.venv/bin/chat``) run in order
too, with the chat id the first one prints in place of ``c_01...``, and stdin at its end (the
interactive ones then exit), and with fresh user ids for alice and bob (other tests share the
stack, and "open Weekend" must name one chat). docs/client.md's examples run in tests/client/test_docs.py.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatclient.cli.program import ONE_SHOT
from tests.stack import ROOT, LocalStack

README = (ROOT / "README.md").read_text()
KEEPS_RUNNING = re.compile(r'<!-- snippet: keeps running; the test stops it once it prints "(.*?)" -->\s*$')


@dataclass(frozen=True)
class Snippet:
    code: str
    stop_after: str | None  # keeps running: stop it once this line is printed


def python_snippets(markdown: str) -> list[Snippet]:
    snippets = []
    for match in re.finditer(r"```python\n(.*?)```", markdown, re.S):
        before = markdown[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = KEEPS_RUNNING.search(before)
        snippets.append(Snippet(match.group(1), marker.group(1) if marker else None))
    return snippets


SNIPPETS = python_snippets(README)
LOCAL_STACK_SNIPPETS = python_snippets((ROOT / "docs" / "local-stack.md").read_text())
PROTOCOL_SNIPPETS = python_snippets((ROOT / "docs" / "protocol.md").read_text())
BANNER_SQS = "http://127.0.0.1:40861"  # docs/local-stack.md's example of the banner's SQS line
CLI_LINES = [
    line.split("  #")[0].strip()
    for block in re.findall(r"```sh\n(.*?)```", README, re.S)
    for line in block.splitlines()
    if line.startswith(".venv/bin/chat ")
]


def test_the_readme_has_its_snippets():
    assert len(SNIPPETS) >= 2 and len(CLI_LINES) >= 4
    assert any(s.stop_after for s in SNIPPETS)


@pytest.mark.parametrize("doc", ["README.md", "docs/client.md", "docs/protocol.md"])
def test_every_snippet_that_defines_main_calls_it(doc):
    for snippet in python_snippets((ROOT / doc).read_text()):
        if "def main(" in snippet.code:
            assert re.search(r"^asyncio\.run\(main\(", snippet.code, re.M), snippet.code


def _script(stack: LocalStack, snippet: Snippet, tmp_path: Path) -> Path:
    host = stack.url.removeprefix("http://")
    script = tmp_path / "snippet.py"
    code = snippet.code.replace("127.0.0.1:8000", host).replace(BANNER_SQS, stack.sqs_endpoint)
    script.write_text(code)
    return script


def _run_until(process: subprocess.Popen[str], line: str, timeout: float) -> str:
    """Output up to the first line containing ``line``, or all of it if the process ends first."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for each in process.stdout:
            lines.put(each)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen = ""
    deadline = time.monotonic() + timeout
    while line not in seen:
        try:
            each = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if each is None:
            break
        seen += each
    return seen


@pytest.mark.parametrize("number", range(len(SNIPPETS)))
def test_readme_python_snippet_runs_as_written(stack, number, tmp_path):
    snippet = SNIPPETS[number]
    command = [sys.executable, "-u", str(_script(stack, snippet, tmp_path))]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if snippet.stop_after is None:
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stdout + done.stderr
        return
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output = _run_until(process, snippet.stop_after, timeout=60)
        assert process.poll() is None, f"it stopped by itself:\n{output}"  # it keeps running
        assert snippet.stop_after in output and "Traceback" not in output, output
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.parametrize("number", range(len(LOCAL_STACK_SNIPPETS)))
def test_local_stack_doc_python_snippet_runs_as_written(stack, number, tmp_path):
    """docs/local-stack.md's examples, the stack's own address and SQS endpoint put in."""
    assert stack.sqs_endpoint, "the stack's banner names its SQS endpoint"
    script = _script(stack, LOCAL_STACK_SNIPPETS[number], tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-u", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_protocol_doc_has_its_attachments_example():
    assert any("attachment.create" in s.code for s in PROTOCOL_SNIPPETS)


@pytest.mark.parametrize("number", range(len(PROTOCOL_SNIPPETS)))
def test_protocol_doc_python_snippet_runs_as_written(stack, number, tmp_path):
    """docs/protocol.md's examples (the attachments round trip: create, upload with requests,
    send, download byte for byte), the stack's own address put in."""
    script = _script(stack, PROTOCOL_SNIPPETS[number], tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-u", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "downloaded byte for byte" in done.stdout


def test_readme_cli_lines_run_in_order(stack, user):
    people = {"alice": user("alice"), "bob": user("bob")}  # the session's stack has other alices
    env = {k: v for k, v in os.environ.items() if k != "CHAT_TOKEN"}
    env["CHAT_SERVER"] = stack.url
    chat_id = None
    for line in CLI_LINES:
        words = shlex.split(line)
        assert len(words) == 3 or words[3] in ONE_SHOT, line  # interactive, or a real subcommand
        words = [people.get(word, word) for word in words]
        if chat_id is not None:
            words = [chat_id if word == "c_01..." else word for word in words]
        done = subprocess.run(
            [sys.executable, "-m", "chatclient", *words[1:]],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        if chat_id is None:
            chat_id = done.stdout.split()[1]
            assert done.stdout.startswith(f"[created] {chat_id} Weekend"), done.stdout
