"""web/js/confirm.js, the page's confirmations of what arrives (PROTOCOL v3, "Reach"), run in
Node with a fake clock and fake timers: the first message of a chat confirmed at once, a burst
once more for its highest seq when the second is up, never two within a second per chat, a
failed confirmation sent again with the next message, and a read counting as a confirmation.
Skipped without Node (the browser tier drives the page itself)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.stack import ROOT

NODE = shutil.which("node")

SCRIPT = """
import { Confirmer } from "%(module)s";
let now = 0;
const timers = [];
const sent = [];
let fail = false;
const c = new Confirmer(
  (chatId, seq) => {
    sent.push([now, chatId, seq]);
    return fail ? Promise.reject(new Error("x")) : Promise.resolve();
  },
  { now: () => now, later: (fn, ms) => timers.push([now + ms, fn]) },
);
function advance(to) {
  timers.sort((a, b) => a[0] - b[0]);
  while (timers.length && timers[0][0] <= to) { const [at, fn] = timers.shift(); now = at; fn(); }
  now = to;
}
const steps = [];
c.received("c1", 1); c.received("c2", 1);
steps.push(sent.length);                       // 2: each chat's first at once
advance(200); c.received("c1", 2); advance(300); c.received("c1", 4); c.received("c1", 3);
steps.push(sent.length);                       // still 2: the timer takes them
advance(1000);
steps.push(sent.slice(-1)[0]);                 // [1000, "c1", 4]
for (let i = 5; i <= 200; i++) { advance(1000 + i * 20); c.received("c1", i); }
advance(10000);
const c1 = sent.filter((s) => s[1] === "c1");
const gaps = c1.slice(1).map((s, i) => s[0] - c1[i][0]);
steps.push(Math.min(...gaps), c1.slice(-1)[0][2]);
c.confirmed("c2", 9); c.received("c2", 8); c.received("c2", 9);
steps.push(sent.filter((s) => s[1] === "c2").length);  // 1: read up to 9 already
fail = true; advance(20000); c.received("c3", 1);
await Promise.resolve(); await Promise.resolve();
fail = false; advance(40000); c.received("c3", 1);
steps.push(sent.filter((s) => s[1] === "c3").length);  // 2: sent again after the failure
console.log(JSON.stringify(steps));
"""


@pytest.mark.skipif(NODE is None, reason="no node to run the page's module")
def test_confirmations_once_a_second_per_chat():
    module = (ROOT / "web" / "js" / "confirm.js").as_uri()
    result = subprocess.run(
        [NODE, "--input-type=module", "-e", SCRIPT % {"module": module}],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout)
    assert steps[0] == 2 and steps[1] == 2
    assert steps[2] == [1000, "c1", 4]
    assert steps[3] >= 1000 and steps[4] == 200  # never two within a second; the highest in the end
    assert steps[5] == 1
    assert steps[6] == 2
