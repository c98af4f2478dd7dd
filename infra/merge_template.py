"""Build the file ``chalice package --merge-template`` takes: the resources of infra/tables.json
(tables, the fan-out queue and its dead-letter queue) plus their wiring into Chalice's functions.

    python -m infra.merge_template build/merge.json            # write the merge template
    python -m infra.merge_template --check build/package/sam.json   # after chalice package

infra/tables.json stays a template of its own (infra/deploy.sh deploys it alone for the
`chalice deploy` path); this adds what only makes sense beside Chalice's resources:

- every function's ``CHAT_TABLE_PREFIX`` and ``CHAT_FANOUT_QUEUE`` come from the stack (the
  ``TablePrefix`` parameter, the queue's name), not from .chalice/config.json;
- the fan-out worker's SQS event reads the stack's queue (``${FanoutQueue.Arn}``: this also makes
  CloudFormation create the queue before the event source mapping) and reports partial batch
  failures (``FunctionResponseTypes: [ReportBatchItemFailures]``), which Chalice cannot express.

The deep merge only adds to what Chalice generated, so a name here that Chalice no longer
generates would leave a half resource behind: ``--check`` fails the packaging step if it does.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

TABLES = Path(__file__).resolve().parent / "tables.json"
# Chalice's logical ids for the functions behind $connect, $default and $disconnect, and for
# the fan-out worker (app.fanout) and its SQS event (the Events key of that function).
WEBSOCKET_FUNCTIONS = ("WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect")
WORKER = "Fanout"
WORKER_EVENT = "FanoutSqsEventSource"
FUNCTIONS = (*WEBSOCKET_FUNCTIONS, WORKER)
ENVIRONMENT = {
    "CHAT_TABLE_PREFIX": {"Ref": "TablePrefix"},
    "CHAT_FANOUT_QUEUE": {"Fn::GetAtt": ["FanoutQueue", "QueueName"]},
}
WORKER_EVENT_PROPERTIES = {
    "Queue": {"Fn::Sub": "${FanoutQueue.Arn}"},  # Chalice's value is an Fn::Sub too: replaced
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
}


def build(tables: Path = TABLES) -> dict[str, Any]:
    merged: dict[str, Any] = json.loads(tables.read_text())
    for function in FUNCTIONS:
        variables = copy.deepcopy(ENVIRONMENT)
        merged["Resources"][function] = {"Properties": {"Environment": {"Variables": variables}}}
    worker = merged["Resources"][WORKER]["Properties"]
    worker["Events"] = {WORKER_EVENT: {"Type": "SQS", "Properties": copy.deepcopy(WORKER_EVENT_PROPERTIES)}}
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
    events = resources.get(WORKER, {}).get("Properties", {}).get("Events", {})
    stray = sorted(name for name in events if name != WORKER_EVENT)
    if events.get(WORKER_EVENT, {}).get("Properties", {}).get("BatchSize") is None:
        found.append(f"{WORKER}: Chalice generated no SQS event {WORKER_EVENT} (found {stray})")
    elif stray:
        found.append(f"{WORKER}: events besides {WORKER_EVENT} that the merge does not wire: {stray}")
    return found


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--check":
        found = problems(json.loads(Path(argv[1]).read_text()))
        for problem in found:
            print(f"infra/merge_template.py: {problem}", file=sys.stderr)
        return 1 if found else 0
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m infra.merge_template OUTPUT.json | --check PACKAGED.json", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(build(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
