"""A stand-in for the AWS CLI (`python fake_aws.py ARGS...`), for testing infra/ scripts without an
account. tests/deploy/test_deploy_script.py puts it on PATH as `aws`.

Every call is checked against botocore's service models as the CLI would parse it (the
operation exists, every option is one of its parameters, the required ones are given), logged
to $FAKE_AWS_LOG (one JSON list of arguments per line), and answered from $FAKE_AWS_RESPONSES:
{"service operation": response or [responses, one per call, the last repeating]}. A response
{"Error": "Code"} fails the call as the CLI does (exit 254). --query and --output text are
applied as the CLI applies them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import botocore.session
import jmespath
from botocore import xform_name

GLOBAL_OPTIONS = {"--query", "--output", "--region", "--profile", "--no-cli-pager"}
# CLI commands that are not API operations (awscli customizations), with the options used here
# ("": positional arguments).
CUSTOM = {
    ("s3", "mb"): {""},
    ("cloudformation", "deploy"): {
        "--template-file",
        "--stack-name",
        "--parameter-overrides",
        "--capabilities",
        "--no-fail-on-empty-changeset",
        "--s3-bucket",
    },
    ("cloudformation", "package"): {"--template-file", "--s3-bucket", "--output-template-file"},
    ("cloudformation", "wait"): {"--stack-name"},
}


def options(args: list[str]) -> dict[str, list[str]]:
    """--option -> its values; arguments before the first option (s3 paths) under ""."""
    parsed: dict[str, list[str]] = {}
    current = ""
    for arg in args:
        if arg.startswith("--") and "=" in arg:  # the CLI's --option=value form
            name, value = arg.split("=", 1)
            parsed[name] = [value]
            current = ""
        elif arg.startswith("--"):
            current = arg
            parsed[current] = []
        elif arg.startswith("-") and current and not parsed[current]:
            # As the CLI's argparse: '--value -abc' reads '-abc' as an option, not the value.
            sys.exit(f"aws: error: argument {current}: expected one argument")
        else:
            parsed.setdefault(current, []).append(arg)
    return parsed


def check(service: str, command: str, given: dict[str, list[str]]) -> None:
    custom = CUSTOM.get((service, command))
    if "" in given and "" not in (custom or ()):
        sys.exit(f"fake aws: unexpected arguments {given['']}")
    if custom is not None:
        unknown = set(given) - custom - GLOBAL_OPTIONS
    else:
        model = botocore.session.get_session().get_service_model(service)
        operations = {xform_name(name, "-"): name for name in model.operation_names}
        if command not in operations:
            sys.exit(f"fake aws: aws {service} has no command {command}")
        shape = model.operation_model(operations[command]).input_shape
        members = {f"--{xform_name(m, '-')}": m for m in (shape.members if shape else {})}
        unknown = set(given) - set(members) - GLOBAL_OPTIONS
        required = {f"--{xform_name(m, '-')}" for m in (shape.required_members if shape else [])}
        if required - set(given):
            sys.exit(f"fake aws: aws {service} {command} needs {sorted(required - set(given))}")
    if unknown:
        sys.exit(f"fake aws: aws {service} {command} has no option {sorted(unknown)}")


def respond(key: str) -> object:
    responses = json.loads(Path(os.environ["FAKE_AWS_RESPONSES"]).read_text())
    answer = responses.get(key, {})
    if isinstance(answer, list):
        counter = Path(os.environ["FAKE_AWS_LOG"] + "." + key.replace(" ", "-"))
        seen = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(seen + 1))
        answer = answer[min(seen, len(answer) - 1)]
    return answer


def text(answer: object) -> str:
    """``--output text`` of a query result: a list of scalars is one tab-separated line."""
    if answer is None:
        return "None"
    if isinstance(answer, list):
        return "\t".join(text(item) for item in answer)
    return str(answer)


def main(argv: list[str]) -> int:
    with open(os.environ["FAKE_AWS_LOG"], "a") as log:
        log.write(json.dumps(["aws", *argv]) + "\n")
    service, command = argv[0], argv[1]
    rest = argv[3:] if (service, command) == ("cloudformation", "wait") else argv[2:]
    given = options(rest)
    check(service, command, given)
    answer = respond(f"{service} {command}")
    if isinstance(answer, dict) and "Error" in answer:
        print(f"An error occurred ({answer['Error']}) when calling the {command} operation", file=sys.stderr)
        return 254
    if "--query" in given:
        answer = jmespath.search(given["--query"][0], answer)
    if given.get("--output") == ["text"]:
        print(text(answer))
    elif answer:
        print(json.dumps(answer, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
