"""The deploy instructions, followed as a new user would up to the point that needs credentials:
every file they name exists, every script is there and parses, every chalice command and option
is spelled as the installed Chalice spells it, and the packaging step works as shown."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import pytest

from infra import signin
from tests.deploy import fake_aws
from tests.deploy.conftest import stage_env
from tests.stack import ROOT

CHALICE = str(Path(sys.executable).parent / "chalice")


def _deploy_texts() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Deploy") :]
    section = section[: section.index("\n## ", 5)] if "\n## " in section[5:] else section
    return {"README.md#deploy": section, "docs/deploy.md": (ROOT / "docs" / "deploy.md").read_text()}


ASSIGNMENT = re.compile(r"[A-Z_][A-Z0-9_]*=")


def _commands(text: str) -> list[list[str]]:
    """The commands of the text's shell blocks, in order: ``export VAR=...`` and ``VAR=value``
    set nothing to check, ``VAR=$(command)`` is its command."""
    commands = []
    for block in re.findall(r"```(?:sh|bash)?\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if not line or line.startswith(("#", ">", "export ")):
                continue
            if ASSIGNMENT.match(line):
                if not line.split("=", 1)[1].startswith("$("):
                    continue
                line = line[line.index("$(") + 2 : line.rindex(")")]
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
        elif program in ("python", "python3", "wscat", "npm"):  # a client the user brings
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


@cache
def _deploy_script_help() -> str:
    """``infra/deploy.sh --help``, with an `aws` that fails on PATH (a script without --help
    would take it for a stage and go on)."""
    with tempfile.TemporaryDirectory() as bin_dir:
        for program in ("aws", "chalice"):
            (Path(bin_dir) / program).write_text("#!/bin/sh\nexit 97\n")
            (Path(bin_dir) / program).chmod(0o755)
        done = subprocess.run(
            ["bash", str(ROOT / "infra" / "deploy.sh"), "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": f"{bin_dir}:/usr/bin:/bin", "CHALICE": f"{bin_dir}/chalice"},
        )
    assert done.returncode == 0 and "usage: infra/deploy.sh" in done.stdout, done.stdout + done.stderr
    return done.stdout


def _script_defaults() -> dict[str, str]:
    """The SSM names infra/deploy.sh uses when given none, by option, as --help prints them."""
    found = dict(re.findall(r"(--[\w-]+-param) NAME.*?default (/[\w/-]+)", _deploy_script_help(), re.S))
    assert set(found) == {"--jwt-secret-param", "--vapid-key-param"}, found
    return found


def _deploy_script_uses(text: str) -> list[list[str]]:
    """Every infra/deploy.sh command line of the text, in shell blocks or inline code."""
    inline = [shlex.split(m) for m in re.findall(r"`((?:[A-Z_]+=\S+ )*infra/deploy\.sh[^`]*)`", text)]
    return [c for c in [*_commands(text), *inline] if "infra/deploy.sh" in c]


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_every_deploy_script_option_the_guide_uses_exists(doc):
    uses = _deploy_script_uses(DOCS[doc])
    assert uses, f"{doc} never runs infra/deploy.sh"
    offered = set(re.findall(r"(?<![\w-])(--?[\w-]+)", _deploy_script_help()))
    for command in uses:
        given = [
            a.split("=")[0] for a in command[command.index("infra/deploy.sh") + 1 :] if a.startswith("-")
        ]
        assert set(given) <= offered, (
            f"{doc}: {' '.join(command)}: infra/deploy.sh has no {set(given) - offered}"
        )
    documented = set(re.findall(r"--[\w-]+-param", DOCS[doc]))
    assert documented <= offered


def _path_one(doc: str) -> str:
    text = DOCS[doc]
    if doc == "docs/deploy.md":
        text = text[text.index("## Path 1") :]
        text = text[: text.index("\n## ", 5)]
    return text


def _value(command: list[str], option: str) -> str:
    for i, arg in enumerate(command):
        if arg == option:
            return command[i + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{option} not in {command}")


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_the_guide_makes_the_bucket_and_both_secrets_before_it_deploys(doc):
    """Path 1 from an empty account: the artifacts bucket is made (`aws s3 mb`) before
    `aws cloudformation package` uploads to it, and the JWT secret and the VAPID key are in SSM
    under the script's names before the stack's functions can start."""
    commands = _path_one(doc) if doc == "docs/deploy.md" else DOCS[doc]
    steps = _commands(commands)
    defaults = {o: n.replace("STAGE", "dev") for o, n in _script_defaults().items()}

    def first(pred) -> int:
        found = [i for i, c in enumerate(steps) if pred(c)]
        assert found, f"{doc}: a step is missing from {[' '.join(c[:3]) for c in steps]}"
        return found[0]

    mb = first(lambda c: c[:3] == ["aws", "s3", "mb"])
    package = first(lambda c: c[:3] == ["aws", "cloudformation", "package"])
    deploy = first(lambda c: c[:3] == ["aws", "cloudformation", "deploy"] and "--s3-bucket" in c)
    puts = {
        option: first(lambda c, n=name: c[:3] == ["aws", "ssm", "put-parameter"] and _value(c, "--name") == n)
        for option, name in defaults.items()
    }
    new_key = first(lambda c: "infra.vapid_key" in c and c[c.index("infra.vapid_key") + 1 :][:1] == ["new"])
    assert mb < package < deploy
    assert (
        steps[mb][3]
        == "s3://" + _value(steps[package], "--s3-bucket")
        == "s3://" + _value(steps[deploy], "--s3-bucket")
    )
    assert new_key < puts["--vapid-key-param"] < deploy and puts["--jwt-secret-param"] < deploy
    outputs = first(lambda c: c[:3] == ["aws", "cloudformation", "describe-stacks"])
    assert deploy < outputs and _value(steps[outputs], "--stack-name") == _value(
        steps[deploy], "--stack-name"
    )
    assert "WebsocketConnectEndpointURL" in commands


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_the_guide_ends_in_a_wscat_session_with_a_token_signed_with_the_stage_secret(doc):
    steps = _commands(DOCS[doc])
    jwt = _script_defaults()["--jwt-secret-param"].replace("STAGE", "dev")
    reads = [i for i, c in enumerate(steps) if c[:3] == ["aws", "ssm", "get-parameter"] and jwt in c]
    signs = [i for i, c in enumerate(steps) if any("issue_token" in a for a in c)]
    sessions = [i for i, c in enumerate(steps) if c[0] == "wscat" and "token=$TOKEN" in c[-1]]
    assert reads and signs and sessions and reads[0] < signs[0] < sessions[-1]
    assert all("URL}" in steps[i][-1] for i in sessions)  # the endpoint the deploy steps kept
    assert re.search(r"^URL=\$\(", DOCS[doc], re.M)


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_the_ssm_names_in_the_guide_are_the_deploy_scripts_defaults(doc):
    defaults = _script_defaults()
    for stage in ("dev", "prod"):
        assert stage_env(stage)["CHAT_JWT_SECRET_PARAM"] == defaults["--jwt-secret-param"].replace(
            "STAGE", stage
        )
        assert stage_env(stage)["CHAT_VAPID_PRIVATE_KEY_PARAM"] == defaults["--vapid-key-param"].replace(
            "STAGE", stage
        )
    named = {
        re.sub(r"/(dev|prod|\{stage\}|STAGE)/", "/STAGE/", name)
        for name in re.findall(r"/chat-backend/[\w{}-]+/[\w-]+", DOCS[doc])
    }
    named |= {
        re.sub(r"/(dev|prod)/", "/STAGE/", _value(c, "--name"))
        for c in _commands(DOCS[doc])
        if c[:2] == ["aws", "ssm"] and "--name" in c
    }
    # The one name the stack makes itself (a Cognito pool's web client id: infra/signin.py).
    stack_made = {signin.client_id_parameter("STAGE")}
    assert named - stack_made <= set(defaults.values()), named - stack_made - set(defaults.values())
    if doc.startswith("README"):
        assert set(defaults.values()) <= named
