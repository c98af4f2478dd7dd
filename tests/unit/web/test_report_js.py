"""The web page's rule for whom "Report" is offered (web/js/report.js), run in Node: another
member's message that is not deleted; never one's own, a deleted one, or one not yet stored.
Skipped without Node (the browser tier drives the menu itself)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.stack import ROOT

NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="no node to run the page's modules")


def test_report_is_offered_on_other_members_messages_that_are_not_deleted():
    js = ROOT / "web" / "js"
    script = f"""
        import {{ canReport }} from "{(js / "report.js").as_uri()}";
        import {{ state }} from "{(js / "store.js").as_uri()}";
        state.me = "alice";
        const chat = {{ chat_id: "c1", kind: "group" }};
        const m = (fields) => ({{ seq: 3, sender_id: "bob", text: "hi", deleted: false, ...fields }});
        console.log(JSON.stringify([
          canReport(chat, m({{}})),
          canReport(chat, m({{ sender_id: "alice" }})),
          canReport(chat, m({{ deleted: true }})),
          canReport(chat, m({{ seq: undefined }})),
          canReport(null, m({{}})),
          canReport(chat, null),
        ]));
    """
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [True, False, False, False, False, False]
