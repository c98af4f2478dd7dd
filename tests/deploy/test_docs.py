"""The deploy instructions, followed as a new user would up to the point that needs credentials:
every file they name exists, every script is there and parses, every chalice command and option
is spelled as the installed Chalice spells it, and the packaging step works as shown."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.deploy import fake_aws
from tests.stack import ROOT

CHALICE = str(Path(sys.executable).parent / "chalice")


def _deploy_texts() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Deploy") :]
    section = section[: section.index("\n## ", 5)] if "\n## " in section[5:] else section
    return {"README.md#deploy": section, "docs/deploy.md": (ROOT / "docs" / "deploy.md").read_text()}


def _commands(text: str) -> list[list[str]]:
    commands = []
    for block in re.findall(r"```(?:sh|bash)?\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if not line or line.startswith(("#", ">")):
                continue
            if "=$(" in line.split()[0]:  # VAR=$(...): check the command inside
                continue
            commands.append(shlex.split(line))
    return commands


@cache
def _chalice_help(subcommand: str) -> str:
    done = subprocess.run([CHALICE, subcommand, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"chalice {subcommand}: {done.stderr}"
    return done.stdout


DOCS = _deploy_texts()


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_every_named_file_exists(doc):
    text = DOCS[doc]
    named = set(re.findall(r"`((?:infra|\.chalice|chalicelib|docs)/[\w./-]+)`", text))
    named |= {m for m in re.findall(r"\]\(((?!http)[\w./-]+)\)", text)}
    assert named, "the deploy docs name no files?"
    base = ROOT if doc.startswith("README") else ROOT / "docs"
    produced = {".chalice/deployed/dev.json"}  # written by `chalice deploy` itself
    missing = [n for n in sorted(named - produced) if not ((ROOT / n).exists() or (base / n).exists())]
    assert missing == []


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_every_command_is_spelled_right(doc):
    commands = _commands(DOCS[doc])
    assert any(c[0] == "infra/package.sh" or c[0] == "infra/deploy.sh" for c in commands)
    for command in commands:
        program = command[0]
        if program.startswith(("infra/", ".venv/bin/")):
            path = ROOT / program
            if program.startswith("infra/"):
                assert path.exists() and path.stat().st_mode & 0o111, (
                    f"{program} is missing or not executable"
                )
                assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
            if program.endswith("/chalice"):
                _check_chalice(command[1:])
        elif program == "chalice":
            _check_chalice(command[1:])
        elif program == "aws":
            _check_aws(command[1:])
        elif program in ("python", "python3", "wscat"):  # a client the user brings
            continue
        else:
            pytest.fail(f"{doc}: unexpected command {program!r}: teach this test about it")


def _check_chalice(args: list[str]) -> None:
    subcommand, options = args[0], [a.split("=")[0] for a in args[1:] if a.startswith("--")]
    help_text = _chalice_help(subcommand)
    for option in options:
        assert re.search(rf"(^|\s|/){re.escape(option)}\b", help_text), (
            f"chalice {subcommand} has no {option}"
        )


def _check_aws(args: list[str]) -> None:
    # The AWS CLI is not installed here: check each command and option against botocore's
    # service models (as tests/deploy/fake_aws.py does for infra/deploy.sh), and that the files
    # these commands read exist, or are produced by infra/package.sh as the docs run it.
    service, command = args[0], args[1]
    rest = args[3:] if (service, command) == ("cloudformation", "wait") else args[2:]
    try:
        fake_aws.check(service, command, fake_aws.options(rest))
    except SystemExit as wrong:
        pytest.fail(f"aws {' '.join(args)}: {wrong}")
    for flag in ("--template-file",):
        if flag in args:
            path = args[args.index(flag) + 1]
            if not path.startswith("build/"):
                assert (ROOT / path).exists(), path
    if args[:2] == ["cloudformation", "deploy"]:
        assert "--stack-name" in args
        overrides = args[args.index("--parameter-overrides") + 1 :] if "--parameter-overrides" in args else []
        assert any(o.startswith("TablePrefix=chat-") for o in overrides), args


def test_packaging_as_documented_writes_what_the_next_commands_read(tmp_path):
    done = subprocess.run(
        ["infra/package.sh", "dev", str(tmp_path / "build" / "dev")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "build" / "dev" / "package" / "sam.json").exists()
    assert (tmp_path / "build" / "dev" / "package" / "deployment.zip").exists()
    assert "build/dev/package/sam.json" in DOCS["docs/deploy.md"].replace(str(tmp_path) + "/", "")


def test_protocol_doc_speaks_to_client_authors_and_names_where_the_secret_lives():
    """docs/protocol.md opened with notes for the team and named only CHAT_JWT_SECRET (issue 11)."""
    text = (ROOT / "docs" / "protocol.md").read_text()
    opening = text.split("\n\n")[1]
    assert "people who write clients" in opening
    assert "CHAT_JWT_SECRET_PARAM" in text and "SSM" in text
