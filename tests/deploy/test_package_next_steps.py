"""Path 1's next steps as infra/package.sh prints them, and the "Try it" commands of
docs/deploy.md, run as a user would with the AWS CLI against moto's server
(tests/deploy/aws_harness.py), up to what moto cannot do: deploying the packaged template
(moto's CloudFormation has no AWS::Serverless transform and no AWS::ApiGatewayV2 resources)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from chalicelib.auth import verify_token
from infra import vapid_key
from tests.deploy import fake_aws
from tests.deploy.aws_harness import REGION, aws_env, client, moto_server
from tests.deploy.conftest import STAGES, stage_env
from tests.stack import ROOT

BUCKET = "chat-deploy-test"
INLINE_TEMPLATE_LIMIT = 51_200  # bytes: `aws cloudformation deploy` needs --s3-bucket above this
needs_aws_cli = pytest.mark.skipif(shutil.which("aws") is None, reason="needs the AWS CLI (aws) on PATH")


def _steps(printed: str) -> list[str]:
    """The commands in the printed text, continuation lines joined, trailing comments dropped."""
    lines = printed.replace("\\\n", " ").splitlines()
    commands = [re.sub(r"\s+#\s.*$", "", line).strip() for line in lines]
    return [" ".join(c.split()) for c in commands if c.startswith(("aws ", ".venv/bin/"))]


def _run(command: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.mark.parametrize("stage", STAGES)
def test_printed_next_steps_name_the_stage_secrets_and_are_spelled_as_the_cli_spells_them(
    package_runs, stage
):
    _, printed = package_runs[stage]
    steps = _steps(printed)
    settings = stage_env(stage)
    puts = [shlex.split(s) for s in steps if s.startswith("aws ssm put-parameter")]
    assert [p[p.index("--name") + 1] for p in puts] == [
        settings["CHAT_JWT_SECRET_PARAM"],
        settings["CHAT_VAPID_PRIVATE_KEY_PARAM"],
    ]
    assert all(p[p.index("--type") + 1] == "SecureString" for p in puts)
    # Printed for the user's shell to run, not run while printing.
    # --value=...: a generated secret can begin with '-', which the CLI would read as an option.
    assert "--value=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')\"" in printed
    for step in steps:
        if step.startswith("aws "):
            args = shlex.split(step)[1:]
            fake_aws.check(args[0], args[1], fake_aws.options(args[2:]))
    (deploy,) = [s for s in steps if s.startswith("aws cloudformation deploy")]
    assert f"--s3-bucket YOUR-BUCKET --stack-name chat-backend-{stage} " in deploy


def test_package_script_refuses_a_stage_the_config_lacks(tmp_path):
    done = subprocess.run(
        ["bash", "infra/package.sh", "nosuch", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert (
        done.stderr.strip()
        == "infra/package.sh: .chalice/config.json has no stage 'nosuch' (it has dev, prod)"
    )
    assert not (tmp_path / "out").exists()


@needs_aws_cli
def test_printed_next_steps_run_against_moto_up_to_the_stack_deploy(package_runs, tmp_path):
    """The user's shell runs the printed commands in order: the bucket, `cloudformation package`
    (the code lands in the bucket), the secrets. The stack deploy itself is moto's gap."""
    _, printed = package_runs["dev"]
    steps = [s.replace("YOUR-BUCKET", BUCKET) for s in _steps(printed)]
    with moto_server(tmp_path / "moto.log") as endpoint:
        env = aws_env(endpoint, tmp_path / "home")
        private_key = ""
        for step in steps:
            if step.startswith("aws cloudformation deploy"):
                packaged = Path(shlex.split(step)[shlex.split(step).index("--template-file") + 1])
                # Why the printed deploy carries --s3-bucket: without it the CLI refuses this template.
                assert packaged.stat().st_size > INLINE_TEMPLATE_LIMIT
                continue
            output = _run(step.replace("PRIVATE-KEY", private_key), env)
            if "vapid_key new" in step:
                private_key, public_key = output.split()
                assert vapid_key.public_key(private_key) == public_key

        s3 = client("s3", endpoint)
        (code,) = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
        assert f"s3://{BUCKET}/{code['Key']}" in packaged.read_text()  # the template points at it
        ssm = client("ssm", endpoint)
        settings = stage_env("dev")
        jwt = ssm.get_parameter(Name=settings["CHAT_JWT_SECRET_PARAM"], WithDecryption=True)["Parameter"]
        vapid = ssm.get_parameter(Name=settings["CHAT_VAPID_PRIVATE_KEY_PARAM"], WithDecryption=True)[
            "Parameter"
        ]
    assert jwt["Type"] == vapid["Type"] == "SecureString"
    assert len(jwt["Value"]) >= 48
    assert vapid["Value"] == private_key


def _try_it_block() -> list[str]:
    text = (ROOT / "docs" / "deploy.md").read_text()
    section = text[text.index("## Try it") :]
    (block,) = re.findall(r"```sh\n(.*?)```", section[: section.index("\n## ", 5)], re.S)
    return [line for line in block.splitlines() if line and not line.startswith((">", "wscat"))]


@needs_aws_cli
def test_try_it_reads_the_secret_back_and_signs_a_token_the_backend_accepts(tmp_path):
    secret = "a-secret-long-enough-for-hs256-0123456789abcdef"
    with moto_server(tmp_path / "moto.log") as endpoint:
        env = aws_env(endpoint, tmp_path / "home")
        name = stage_env("dev")["CHAT_JWT_SECRET_PARAM"]
        client("ssm", endpoint).put_parameter(Name=name, Type="SecureString", Value=secret)
        lines = _try_it_block()
        assert any(name in line for line in lines)
        token = _run("\n".join([*lines, 'echo "$TOKEN"']), env).strip()
    assert verify_token(token, secret).user_id == "alice"


def _setup_lines(doc: str) -> list[str]:
    """Path 1's commands in ``doc``, from the first through the last before infra/package.sh."""
    text = (ROOT / doc).read_text()
    section = text[text.index("**Path 1") if doc == "README.md" else text.index("## Path 1") :]
    block = re.findall(r"```sh\n(.*?)```", section, re.S)[0]
    lines = block.splitlines()
    return lines[: next(i for i, line in enumerate(lines) if line.startswith("infra/package.sh"))]


@needs_aws_cli
@pytest.mark.parametrize("doc", ["README.md", "docs/deploy.md"])
def test_path_one_from_an_empty_account_makes_the_bucket_and_both_secrets(tmp_path, doc):
    """Run as written (in the harness's region) against an empty moto account: the artifacts
    bucket `aws cloudformation package` is given, the JWT secret and a usable VAPID key under
    the names the stage's functions read."""
    lines = [
        re.sub(r"AWS_DEFAULT_REGION=\S+", f"AWS_DEFAULT_REGION={REGION}", line) for line in _setup_lines(doc)
    ]
    assert any(line.startswith("aws s3 mb") for line in lines)
    with moto_server(tmp_path / "moto.log") as endpoint:
        env = aws_env(endpoint, tmp_path / "home")
        bucket = _run("\n".join(["set -e", *lines, 'echo "$BUCKET"']), env).strip().splitlines()[-1]
        buckets = [b["Name"] for b in client("s3", endpoint).list_buckets()["Buckets"]]
        ssm = client("ssm", endpoint)
        settings = stage_env("dev")
        jwt, vapid = (
            ssm.get_parameter(Name=settings[name], WithDecryption=True)["Parameter"]
            for name in ("CHAT_JWT_SECRET_PARAM", "CHAT_VAPID_PRIVATE_KEY_PARAM")
        )
    assert buckets == [bucket] and bucket.startswith("chat-backend-artifacts-") and bucket.endswith(REGION)
    assert jwt["Type"] == vapid["Type"] == "SecureString"
    assert len(jwt["Value"]) >= 48
    assert len(vapid["Value"]) == 43 and vapid_key.public_key(vapid["Value"])
