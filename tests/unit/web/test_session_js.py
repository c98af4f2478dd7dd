"""web/js/session.js (the session kept across reloads) and web/js/ticks.js's ratchet, run in
Node with a Map standing in for localStorage: a session merges, a new user starts afresh,
Log out clears it (and the older `chat.user` key), storage that throws loses nothing but the
session, a token's `exp` decides when it has expired, and a tick shown never goes back.
Skipped without Node (the browser tier drives the page itself)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.stack import ROOT

NODE = shutil.which("node")

SCRIPT = """
const items = new Map();
let refuse = false;
globalThis.localStorage = {
  getItem: (k) => { if (refuse) throw new Error("denied"); return items.has(k) ? items.get(k) : null; },
  setItem: (k, v) => { if (refuse) throw new Error("denied"); items.set(k, String(v)); },
  removeItem: (k) => { if (refuse) throw new Error("denied"); items.delete(k); },
};
const { loadSession, saveSession, clearSession, tokenExpired } = await import("%(session)s");
const { neverBackwards } = await import("%(ticks)s");
const jwt = (claims) => `e30.${btoa(JSON.stringify(claims)).replace(/=+$/, "")}.sig`;
const out = {};
out.empty = loadSession();
saveSession({ user: "alice", token: "t1" });
saveSession({ user: "alice", chat: "c1" });
out.merged = loadSession();
saveSession({ user: "bob" });
out.newUser = loadSession();
items.set("chat.user", "bob");
clearSession();
out.cleared = [loadSession(), items.has("chat.user")];
items.set("chat.session", "not json");
out.garbage = loadSession();
refuse = true;
out.refused = [loadSession(), saveSession({ user: "carol" }).user];
clearSession();
refuse = false;
const now = 1_800_000_000_000;
out.expired = [
  tokenExpired(jwt({ exp: now / 1000 - 1 }), now),
  tokenExpired(jwt({ exp: now / 1000 + 10 }), now),
  tokenExpired(jwt({ exp: now / 1000 + 3600 }), now),
  tokenExpired(jwt({ sub: "x" }), now),
  tokenExpired("not a token", now),
];
out.ticks = ["read", "sent", "delivered"].map((s) => neverBackwards("c1", 4, s))
  .concat([neverBackwards("c1", 5, "sent"), neverBackwards("c1", 5, "delivered")]);
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="no node to run the page's modules")
def test_session_storage_and_token_expiry_and_ticks_that_never_go_back():
    modules = {name: (ROOT / "web" / "js" / f"{name}.js").as_uri() for name in ("session", "ticks")}
    result = subprocess.run(
        [NODE, "--input-type=module", "-e", SCRIPT % modules],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["empty"] is None
    assert out["merged"] == {"user": "alice", "token": "t1", "chat": "c1"}
    assert out["newUser"] == {"user": "bob"}  # alice's token is not bob's
    assert out["cleared"] == [None, False]  # the older chat.user key goes too
    assert out["garbage"] is None
    assert out["refused"] == [None, "carol"]  # private mode: nothing kept, nothing thrown
    # past, within the 30 s margin, valid, no exp, not a JWT
    assert out["expired"] == [True, True, False, False, False]
    assert out["ticks"] == ["read", "read", "read", "sent", "delivered"]
