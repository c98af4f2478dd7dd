"""docs/client.md as a reader uses it: every Python example runs as written against the local
stack, and every command it shows is one the CLI has (and every CLI command is shown)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from chatclient import ChatClient
from chatclient.cli import main
from chatclient.cli.arguments import ENVIRONMENT, HELP, INTERACTIVE
from chatclient.cli.program import ONE_SHOT
from chatclient.cli.shell import Shell
from tests.stack import ROOT

DOC = (ROOT / "docs" / "client.md").read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC, re.S)
SHELL_LINES = [
    line for block in re.findall(r"```sh\n(.*?)```", DOC, re.S) for line in block.splitlines() if line.strip()
]
GLOBAL_OPTIONS = {"--user", "--server", "--url", "--timeout"}


def test_the_page_has_examples():
    assert len(EXAMPLES) >= 4 and SHELL_LINES


@pytest.mark.parametrize("number", range(len(EXAMPLES)))
def test_python_example_runs_against_the_local_stack(stack, number, tmp_path):
    script = tmp_path / f"example_{number}.py"
    script.write_text(EXAMPLES[number])
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={**os.environ, "CHAT_SERVER": stack.url, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _subcommand(line: str) -> str | None:
    words = shlex.split(line.split("  #")[0])
    words = words[words.index(".venv/bin/chat") + 1 :]
    while words and words[0] in GLOBAL_OPTIONS:
        words = words[2:]
    return words[0] if words else None


def test_every_cli_line_uses_a_real_subcommand_and_every_subcommand_is_shown():
    shown = {_subcommand(line) for line in SHELL_LINES}
    assert shown - {None} <= set(ONE_SHOT)
    assert set(ONE_SHOT) - {"shell", "chats", "read", "open"} <= shown


def test_every_interactive_command_is_documented():
    cli_section = DOC[DOC.index("## The CLI") :]
    documented = set(re.findall(r"`(/[a-z]+)", cli_section))
    shell = Shell(ChatClient("ws://unused", "unused"))
    assert documented == set(shell.commands) | {"/quit"}
    assert all(command in HELP for command in documented)


READS_ENVIRONMENT = re.compile(
    r"""(?:environ\.get|environ\.setdefault|getenv)\(\s*["']([A-Za-z_]\w*)["']|environ\[\s*["']([A-Za-z_]\w*)["']"""
)


def test_every_environment_variable_the_client_reads_is_documented_in_the_page_help_and_usage(capsys):
    sources = [path.read_text() for path in (ROOT / "chatclient").rglob("*.py")]
    read = {a or b for text in sources for a, b in READS_ENVIRONMENT.findall(text)}
    assert {"CHAT_SERVER", "CHAT_TOKEN"} <= read  # the grep finds what is there
    every_read = sum(len(re.findall(r"\b(?:environ|getenv)\b", text)) for text in sources)
    assert every_read == sum(len(READS_ENVIRONMENT.findall(text)) for text in sources)  # none by a variable
    assert read == set(ENVIRONMENT)  # a new variable needs its line in ENVIRONMENT
    with pytest.raises(SystemExit):
        main(["--help"])
    usage = capsys.readouterr().out
    cli_section = DOC[DOC.index("## The CLI") :]
    for name in read:
        assert f"- `{name}`: " in cli_section, name
        assert f"\n  {name} " in HELP and f"\n  {name} " in usage, name


def test_mute_and_unmute_are_documented_as_the_levels_they_set():
    cli_section = " ".join(DOC[DOC.index("## The CLI") :].split())
    assert "it sets the chat's notification level to `none`, exactly as `/notify none` does" in cli_section
    assert "`/unmute` sets the level to `all`, exactly as `/notify all`" in cli_section
    assert "as /notify none" in INTERACTIVE["/mute"].help and "as /notify all" in INTERACTIVE["/unmute"].help
    assert "as chat notify none" in ONE_SHOT["mute"][0].help
    assert "as chat notify all" in ONE_SHOT["unmute"][0].help
