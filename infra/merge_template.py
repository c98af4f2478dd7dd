"""Build the file ``chalice package --merge-template`` takes: the resources of infra/tables.json
(tables, the attachments bucket, the fan-out and push queues with their dead-letter queues) plus
their wiring into Chalice's functions.

    python -m infra.merge_template --stage dev build/merge.json     # write the merge template
    python -m infra.merge_template --check build/package/sam.json   # after chalice package

infra/tables.json stays a template of its own (infra/deploy.sh deploys it alone for the
`chalice deploy` path); this adds what only makes sense beside Chalice's resources:

- every function's ``CHAT_TABLE_PREFIX``, ``CHAT_FANOUT_QUEUE``, ``CHAT_PUSH_QUEUE`` and
  ``CHAT_ATTACHMENTS_BUCKET`` come from the stack (the ``TablePrefix`` parameter, the queues' and
  the attachments bucket's names), not from .chalice/config.json;
- the SNS platform applications push uses (``CHAT_SNS_APNS_APP_ARN``, ``CHAT_SNS_FCM_APP_ARN``)
  are stack parameters, empty by default (that platform is refused at ``device.register``);
- each worker's SQS event reads the stack's queue (``${FanoutQueue.Arn}``, ``${PushQueue.Arn}``:
  this also makes CloudFormation create the queue before the event source mapping) and reports
  partial batch failures (``FunctionResponseTypes: [ReportBatchItemFailures]``), which Chalice
  cannot express;
- sign-in (infra/signin.py): the OpenID Connect parameters, the Cognito user pool behind
  ``CreateUserPool``, and the web page's settings (its config.json), with the page's URL as an
  output.

The deep merge only adds to what Chalice generated, so a name here that Chalice no longer
generates would leave a half resource behind: ``--check`` fails the packaging step if it does.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from infra import signin

ROOT = Path(__file__).resolve().parent.parent
TABLES = Path(__file__).resolve().parent / "tables.json"
# Chalice's logical ids for the functions behind $connect, $default and $disconnect, and for
# the SQS workers (app.fanout, app.push): worker -> (its SQS event, the queue it reads).
WEBSOCKET_FUNCTIONS = ("WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect")
WORKERS = {
    "Fanout": ("FanoutSqsEventSource", "FanoutQueue"),
    "Push": ("PushSqsEventSource", "PushQueue"),
}
PAGE_FUNCTION = signin.PAGE_FUNCTION  # the REST API's: the web page and its config.json
FUNCTIONS = (*WEBSOCKET_FUNCTIONS, *WORKERS, PAGE_FUNCTION)
# The SNS platform application ARNs differ per account: stack parameters. The app names are the
# ones the stage's policy file grants (docs/deploy.md): {TablePrefix}-apns, {TablePrefix}-fcm.
SNS_ARN = r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:app"
PARAMETERS = {
    "ApnsPlatformApplicationArn": {
        "Type": "String",
        "Default": "",
        "Description": (
            "SNS platform application for APNs (token-based, APNS or APNS_SANDBOX), named "
            "{TablePrefix}-apns as the stage's policy file grants; empty: iOS devices are refused"
        ),
        "AllowedPattern": rf"^({SNS_ARN}/(APNS|APNS_SANDBOX)/[A-Za-z0-9_.-]{{1,251}}-apns)?$",
    },
    "FcmPlatformApplicationArn": {
        "Type": "String",
        "Default": "",
        "Description": (
            "SNS platform application for FCM (HTTP v1, platform GCM), named {TablePrefix}-fcm "
            "as the stage's policy file grants; empty: Android devices are refused"
        ),
        "AllowedPattern": rf"^({SNS_ARN}/GCM/[A-Za-z0-9_.-]{{1,252}}-fcm)?$",
    },
}
ENVIRONMENT = {
    "CHAT_TABLE_PREFIX": {"Ref": "TablePrefix"},
    "CHAT_FANOUT_QUEUE": {"Fn::GetAtt": ["FanoutQueue", "QueueName"]},
    "CHAT_PUSH_QUEUE": {"Fn::GetAtt": ["PushQueue", "QueueName"]},
    "CHAT_ATTACHMENTS_BUCKET": {"Ref": "AttachmentsBucket"},
    "CHAT_SNS_APNS_APP_ARN": {"Ref": "ApnsPlatformApplicationArn"},
    "CHAT_SNS_FCM_APP_ARN": {"Ref": "FcmPlatformApplicationArn"},
}


def worker_event_properties(queue: str) -> dict[str, Any]:
    return {
        "Queue": {"Fn::Sub": f"${{{queue}.Arn}}"},  # Chalice's value is an Fn::Sub too: replaced
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }


def api_stage(stage: str) -> str:
    """The API Gateway stage .chalice/config.json gives ``stage`` (both APIs use it)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    if stage not in config["stages"]:
        raise SystemExit(f"infra/merge_template.py: .chalice/config.json has no stage {stage!r}")
    return str(config["stages"][stage].get("api_gateway_stage", "api"))


def build(stage: str = "dev", tables: Path = TABLES) -> dict[str, Any]:
    merged: dict[str, Any] = json.loads(tables.read_text())
    on_api = api_stage(stage)
    merged["Parameters"].update(copy.deepcopy(PARAMETERS))
    merged["Parameters"].update(copy.deepcopy(signin.PARAMETERS))
    merged.setdefault("Conditions", {}).update(copy.deepcopy(signin.CONDITIONS))
    merged["Rules"] = copy.deepcopy(signin.RULES)
    merged["Resources"].update(signin.resources(on_api, stage))
    merged.setdefault("Outputs", {}).update(signin.outputs(on_api))
    for function in FUNCTIONS:
        variables = copy.deepcopy(ENVIRONMENT)
        if function in WEBSOCKET_FUNCTIONS:
            variables.update(signin.websocket_environment())
        elif function == PAGE_FUNCTION:
            variables.update(signin.page_environment(on_api, stage))
        merged["Resources"][function] = {"Properties": {"Environment": {"Variables": variables}}}
    for worker, (event, queue) in WORKERS.items():
        properties = merged["Resources"][worker]["Properties"]
        properties["Events"] = {event: {"Type": "SQS", "Properties": worker_event_properties(queue)}}
    merged.pop("AWSTemplateFormatVersion", None)  # Chalice's own template carries it
    return merged


def problems(packaged: dict[str, Any]) -> list[str]:
    """What the merge wired that Chalice did not generate: each is a broken resource."""
    resources = packaged.get("Resources", {})
    found = []
    for function in FUNCTIONS:
        resource = resources.get(function, {})
        generated = "Handler" in resource.get("Properties", {})
        if resource.get("Type") != "AWS::Serverless::Function" or not generated:
            found.append(f"{function}: Chalice generated no such function (was it renamed in app.py?)")
    for worker, (event, _) in WORKERS.items():
        events = resources.get(worker, {}).get("Properties", {}).get("Events", {})
        stray = sorted(name for name in events if name != event)
        if events.get(event, {}).get("Properties", {}).get("BatchSize") is None:
            found.append(f"{worker}: Chalice generated no SQS event {event} (found {stray})")
        elif stray:
            found.append(f"{worker}: events besides {event} that the merge does not wire: {stray}")
    return found


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--check":
        found = problems(json.loads(Path(argv[1]).read_text()))
        for problem in found:
            print(f"infra/merge_template.py: {problem}", file=sys.stderr)
        return 1 if found else 0
    if len(argv) != 3 or argv[0] != "--stage" or argv[2].startswith("-"):
        print(
            "usage: python -m infra.merge_template --stage STAGE OUTPUT.json | --check PACKAGED.json",
            file=sys.stderr,
        )
        return 2
    out = Path(argv[2])
    merged = build(argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(merged, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
