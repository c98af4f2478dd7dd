"""message.report over real sockets through the local stack, as ``make run`` starts it (moto in
a process of its own): every rule and refusal of the protocol, that nobody else hears of a
report, and that the operator's ``python -m chatadmin``, pointed at the stack's DynamoDB URL,
finds the report with its copy of the message after the message was deleted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.integration.conftest import run
from tests.integration.peer import Peer
from tests.stack import ROOT


def chatadmin(stack, *argv: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHAT_"))}
    done = subprocess.run(
        [sys.executable, "-m", "chatadmin", "--endpoint", stack.dynamodb_endpoint, "--json", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_every_report_rule_over_real_sockets(stack, user):
    async def scenario():
        names = user("alice"), user("bob"), user("carol"), user("eve")
        a, b, c, e = [await Peer.connect(stack.ws_url(n), n) for n in names]
        created = await a.request("chat.create", members=[b.user, c.user], title="Rules")
        chat_id = created["chat"]["chat_id"]
        for peer in (b, c):
            await peer.expect("chat:added")
        await a.request("message.send", chat_id=chat_id, client_msg_id="k1", text="rude words")
        for peer in (b, c):
            await peer.expect("chat:message:background")

        ok = await b.request("message.report", chat_id=chat_id, seq=1, reason="insults")
        assert ok == {"event": "message:reported", "req": ok["req"], "chat_id": chat_id, "seq": 1}
        again = await b.request("message.report", chat_id=chat_id, seq=1, reason="changed my mind")
        assert again["event"] == "message:reported"
        refusals = [
            (a, {"seq": 1}, "bad_request"),  # one's own message
            (b, {"seq": 2}, "not_found"),  # past the chat's last seq
            (e, {"seq": 1}, "forbidden"),  # not a member
            (b, {"seq": 1, "reason": "x" * 501}, "too_large"),
            (b, {"seq": 1, "reason": 42}, "bad_request"),
            (b, {}, "bad_request"),  # no seq
        ]
        for peer, fields, code in refusals:
            refused = await peer.request("message.report", chat_id=chat_id, **fields)
            assert (refused["event"], refused["code"]) == ("error", code), (fields, refused)
        dave = user("dave")
        await a.request("chat.add", chat_id=chat_id, members=[dave])
        d = await Peer.connect(stack.ws_url(dave), dave)
        before_joining = await d.request("message.report", chat_id=chat_id, seq=1)
        assert before_joining["code"] == "not_found"

        deleted = await a.request("message.delete", chat_id=chat_id, seq=1)
        assert deleted["message"]["deleted"] is True
        await a.request("ping")  # everything above has been answered: nothing was pushed for a report
        assert [f["event"] for f in a.pushed] == []
        assert [f["event"] for f in c.pushed if f["event"] != "chat:message:background"] == []
        for peer in (a, b, c, d, e):
            await peer.close()
        return chat_id, b.user

    chat_id, reporter = run(scenario())
    listed = [r for r in chatadmin(stack, "reports")["reports"] if r["chat_id"] == chat_id]
    assert [(r["seq"], r["reporter"], r["reason"]) for r in listed] == [(1, reporter, "insults")]
    shown = chatadmin(stack, "show", listed[0]["report_id"])
    assert shown["report"]["message"]["text"] == "rude words" and shown["message_now"]["deleted"] is True
