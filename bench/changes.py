"""What messages that change and attachments cost: DynamoDB requests, read and write units,
posts and S3 calls, per ``message.edit``, ``reaction.set``, ``message.delete``, ``chat.changes``,
``attachment.create`` and a send carrying a file on chats of N members, beside a plain
``message.send`` and one with a reply and mentions, measured in one run.

The real handlers under moto, as ``bench.scenario`` runs a send (its meter counts every AWS call
and its units from the items' stored sizes). Each chat has three members viewing it on a second
connection (they get ``chat:message:updated``) and the rest connected elsewhere. Counts only, no
timings: ``python -m bench.changes`` (part of ``make bench``), ``--sizes 2,100`` for fewer.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import scenario
from bench.counting import Meter

DEFAULT_SIZES = (2, 10, 50, 100, 1000)
BUCKET = "bench-attachments"
ACTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("message.send", {"client_msg_id": "plain", "text": "a plain message"}),
    ("message.send (reply, mentions)", {"client_msg_id": "reply", "text": "yes", "reply_to": 1}),
    ("message.edit", {"seq": 1, "text": "first, edited"}),
    ("reaction.set", {"seq": 1, "emoji": "👍"}),
    ("message.delete", {"seq": 1}),
    ("chat.changes", {"after_rev": 0}),
)


@dataclass
class Cost:
    action: str
    members: int
    requests: int
    rru: float
    wru: float
    posts: int
    other_calls: list[str] = field(default_factory=list)  # SQS, SNS, S3: none for a change

    @property
    def bound(self) -> int | None:
        """Issue 22's bound for a change; None for the others."""
        if self.action in ("message.edit", "reaction.set", "message.delete"):
            return 4 + math.ceil(self.members / 100)
        return None


def measure(world: scenario.World, members: int) -> list[Cost]:
    import app as chalice_app
    from chalicelib import runtime
    from chalicelib.testing import FakeManagementApi, Harness

    api = FakeManagementApi()
    runtime.use_service(world.setup_service(api))
    harness = Harness(chalice_app, api, sqs=world.sqs, queue_url=world.queue_url)
    users = [f"c{members:04d}-{i:04d}" for i in range(members)]
    clients = [harness.connect(user) for user in users]
    owner = clients[0]
    chat_id = harness.chat(owner, *users[1:], title=f"{members} members")
    owner.send("message.send", chat_id=chat_id, client_msg_id="first", text="first")
    harness.drain_fanout()
    for viewer in [harness.connect(user) for user in users[1:4]]:
        viewer.send("chat.open", chat_id=chat_id)
    owner.send("chat.open", chat_id=chat_id)
    costs = [*_attachment_costs(world, api, owner, chat_id, members)]
    for action, fields in ACTIONS:
        mentions = {"mentions": users[1:3]} if "mentions" in action else {}
        name = action.split(" ")[0]
        posted = sum(len(frames) for frames in api.frames.values())
        mark = world.meter.mark()
        reply = owner.send(name, chat_id=chat_id, **fields, **mentions)
        assert reply is not None and reply["event"] != "error", reply
        calls = world.meter.since(mark)
        harness.drain_fanout()
        dynamo = [c for c in calls if c.service == "dynamodb"]
        costs.append(
            Cost(
                action=action,
                members=members,
                requests=len(dynamo),
                rru=sum(c.rru for c in dynamo),
                wru=sum(c.wru for c in dynamo),
                posts=sum(len(frames) for frames in api.frames.values()) - posted,  # the reply was taken
                other_calls=[c.operation for c in calls if c.service not in ("dynamodb", "execute-api")],
            )
        )
    return costs


def _attachment_costs(world: scenario.World, api: Any, owner: Any, chat_id: str, members: int) -> list[Cost]:
    """``attachment.create``, then a send carrying the file (uploaded in between, unmetered)."""
    import requests

    out = []
    for action in ("attachment.create", "message.send (1 file)"):
        posted = sum(len(frames) for frames in api.frames.values())
        mark = world.meter.mark()
        if action == "attachment.create":
            reply = owner.send(
                "attachment.create", chat_id=chat_id, name="photo.jpg", content_type="image/jpeg", size=1000
            )
            assert reply is not None and reply["event"] == "attachment:created", reply
            form, file_id = reply["upload"], reply["attachment"]["attachment_id"]
        else:
            reply = owner.send("message.send", chat_id=chat_id, client_msg_id="file", attachments=[file_id])
            assert reply is not None and reply["event"] == "message:ack", reply
        calls = world.meter.since(mark)
        dynamo = [c for c in calls if c.service == "dynamodb"]
        out.append(
            Cost(
                action=action,
                members=members,
                requests=len(dynamo),
                rru=sum(c.rru for c in dynamo),
                wru=sum(c.wru for c in dynamo),
                posts=sum(len(frames) for frames in api.frames.values()) - posted,
                other_calls=[c.operation for c in calls if c.service not in ("dynamodb", "execute-api")],
            )
        )
        if action == "attachment.create":
            answer = requests.post(
                form["url"], data=form["fields"], files={"file": ("p", b"x" * 1000)}, timeout=30
            )
            assert int(answer.status_code) == 204, answer.text
    return out


def run(sizes: Sequence[int]) -> list[Cost]:
    os.environ.setdefault("CHAT_ATTACHMENTS_BUCKET", BUCKET)
    scenario.prepare_environment()
    meter = Meter(scenario.stored_size, scenario.key_of, scenario.query_sizes)
    meter.install()
    world = scenario.World(meter)
    with world.running():
        import boto3

        boto3.client("s3", region_name="us-east-1").create_bucket(
            Bucket=os.environ["CHAT_ATTACHMENTS_BUCKET"]
        )
        return [cost for size in sizes for cost in measure(world, size)]


def table(costs: Sequence[Cost]) -> str:
    lines = [
        "| action | members | DynamoDB requests | bound | RRU | WRU | posts | other AWS calls |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for c in costs:
        bound = str(c.bound) if c.bound is not None else ""
        others = ", ".join(c.other_calls) or "none"
        cells = [c.action, c.members, c.requests, bound, f"{c.rru:g}", f"{c.wru:g}", c.posts, others]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="chat sizes, comma-separated"
    )
    args = parser.parse_args(argv)
    costs = run([int(s) for s in args.sizes.split(",") if s])
    print(table(costs))
    over = [c for c in costs if c.bound is not None and c.requests > c.bound]
    for c in over:
        print(f"OVER THE BOUND: {c.action} at {c.members} members: {c.requests} > {c.bound}")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
