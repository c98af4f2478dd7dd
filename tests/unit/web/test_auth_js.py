"""The web page's sign-in logic, run in Node (no browser, no network: fetch is a recording fake):
web/js/pkce.js (PKCE S256 as RFC 7636's example, the authorize URL, when to refresh) and
web/js/auth.js (the refresh_token grant before the token expires, one refresh for concurrent
asks, a refused refresh signing out, Cognito's SignUp/InitiateAuth). Skipped without Node."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from tests.stack import ROOT

NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="no node to run the page's modules")

PRELUDE = """
import * as pkce from "PKCE";
import { Auth, SignInNeeded } from "AUTH";
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const jwt = (claims) => `${b64({ alg: "RS256" })}.${b64(claims)}.sig`;
const NOW = 1_700_000_000_000;
class Memory { constructor() { this.m = new Map(); } getItem(k) { return this.m.get(k) ?? null; }
  setItem(k, v) { this.m.set(k, String(v)); } removeItem(k) { this.m.delete(k); } }
function fakeFetch(answers) {
  const calls = [];
  const fn = async (url, init = {}) => {
    calls.push({ url, method: init.method || "GET", headers: init.headers || {}, body: init.body || null });
    const [status, body] = answers.shift();
    return { ok: status < 400, status, json: async () => body };
  };
  return { fn, calls };
}
"""


def run(script: str) -> Any:
    js = ROOT / "web" / "js"
    source = (
        (PRELUDE + script)
        .replace("PKCE", (js / "pkce.js").as_uri())
        .replace("AUTH", (js / "auth.js").as_uri())
    )
    result = subprocess.run(
        [NODE, "--input-type=module", "-e", source], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_pkce_s256_matches_rfc_7636_and_the_authorize_url_carries_it():
    out = run(
        """
        const challenge = await pkce.challengeOf("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        const url = new URL(pkce.authorizeUrl("https://id.test/authorize?x=1", { clientId: "web",
          redirectUri: "https://chat.test/", state: "st", challenge }));
        const verifier = pkce.randomString(48);
        console.log(JSON.stringify({ challenge, params: Object.fromEntries(url.searchParams),
          verifier: verifier.length, safe: /^[A-Za-z0-9_-]+$/.test(verifier) }));
        """
    )
    assert out["challenge"] == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert out["params"] == {
        "x": "1",
        "response_type": "code",
        "client_id": "web",
        "redirect_uri": "https://chat.test/",
        "scope": "openid profile",
        "state": "st",
        "code_challenge": out["challenge"],
        "code_challenge_method": "S256",
    }
    assert out["verifier"] == 64 and out["safe"]  # 43-128 characters of the unreserved set


def test_a_token_is_refreshed_before_it_expires_once_for_concurrent_asks_keeping_the_refresh_token():
    out = run(
        """
        const storage = new Memory();
        const exp = (ms) => Math.floor((NOW + ms) / 1000);
        storage.setItem("chat.signin", JSON.stringify({ token: jwt({ sub: "u1", exp: exp(60_000) }),
          refresh: "r1", expiresAt: NOW + 60_000 }));
        const fresh = jwt({ sub: "u1", exp: exp(3_600_000), name: "Una" });
        const { fn, calls } = fakeFetch([[200, { id_token: fresh, access_token: "opaque" }]]);
        const auth = new Auth({ auth: "oidc", client_id: "web", token_url: "https://id.test/token",
          authorize_url: "https://id.test/authorize" }, { storage, fetchFn: fn, now: () => NOW });
        const [a, b] = await Promise.all([auth.token(), auth.token()]);
        const kept = JSON.parse(storage.getItem("chat.signin"));
        const early = pkce.needsRefresh({ expiresAt: NOW + 3 * 60_000 }, NOW);
        const late = pkce.needsRefresh({ expiresAt: NOW + 60_000 }, NOW);
        // a token of 10 s: refreshed after 5 s, not at once (no refresh loop)
        const short = { expiresAt: NOW + 10_000, receivedAt: NOW };
        const shortTimes = [pkce.needsRefresh(short, NOW + 4_000), pkce.needsRefresh(short, NOW + 5_000),
          pkce.refreshDelay(short, NOW)];
        clearTimeout(auth.timer);
        console.log(JSON.stringify({ same: a === fresh && b === fresh, calls: calls.length,
          body: Object.fromEntries(new URLSearchParams(calls[0].body)), refresh: kept.refresh,
          user: auth.user(), early, late, shortTimes }));
        """
    )
    assert out["same"] and out["calls"] == 1
    assert out["body"] == {"grant_type": "refresh_token", "client_id": "web", "refresh_token": "r1"}
    assert out["refresh"] == "r1"  # the answer left it out: the old one stays
    assert out["user"] == {"id": "u1", "name": "Una"}
    assert (out["early"], out["late"]) == (False, True)
    assert out["shortTimes"] == [False, True, 5000]


def test_a_refused_refresh_signs_out_and_asks_to_sign_in_again():
    out = run(
        """
        const storage = new Memory();
        storage.setItem("chat.signin", JSON.stringify({ token: jwt({ sub: "u1", exp: 1 }), refresh: "old",
          expiresAt: NOW - 1 }));
        const { fn } = fakeFetch([[400, { error: "invalid_grant" }]]);
        const auth = new Auth({ auth: "oidc", client_id: "web", token_url: "https://id.test/token",
          authorize_url: "https://id.test/authorize" }, { storage, fetchFn: fn, now: () => NOW });
        let error = null;
        try { await auth.token(); } catch (err) { error = err instanceof SignInNeeded; }
        let second = null;
        try { await auth.token(); } catch (err) { second = err instanceof SignInNeeded; }
        console.log(JSON.stringify({ error, second, kept: storage.getItem("chat.signin") }));
        """
    )
    assert out == {"error": True, "second": True, "kept": None}


def test_cognito_local_signs_up_then_in_and_refreshes_with_refresh_token_auth():
    out = run(
        """
        const storage = new Memory();
        const first = jwt({ sub: "s-1", exp: Math.floor(NOW / 1000) + 3600, "cognito:username": "carol" });
        const second = jwt({ sub: "s-1", exp: Math.floor(NOW / 1000) + 7200, "cognito:username": "carol" });
        const { fn, calls } = fakeFetch([
          [200, { UserSub: "s-1" }],
          [200, { AuthenticationResult: { IdToken: first, AccessToken: "a", RefreshToken: "rt" } }],
          [200, { AuthenticationResult: { IdToken: second, AccessToken: "b" } }],
        ]);
        let now = NOW;
        const auth = new Auth({ auth: "cognito-local", client_id: "cid", cognito_url: "/cognito" },
          { storage, fetchFn: fn, now: () => now });
        const user = await auth.signUp("carol", "password1");
        now = NOW + 3600 * 1000 - 60_000;  // a minute before it expires
        const token = await auth.token();
        clearTimeout(auth.timer);
        const targets = calls.map((c) => c.headers["X-Amz-Target"]);
        const bodies = calls.map((c) => JSON.parse(c.body));
        console.log(JSON.stringify({ user, refreshed: token === second, targets, bodies }));
        """
    )
    assert out["user"] == {"id": "s-1", "name": "carol"}
    assert out["refreshed"]
    assert out["targets"] == [
        f"AWSCognitoIdentityProviderService.{op}" for op in ("SignUp", "InitiateAuth", "InitiateAuth")
    ]
    assert out["bodies"][0] == {"ClientId": "cid", "Username": "carol", "Password": "password1"}
    assert out["bodies"][1]["AuthFlow"] == "USER_PASSWORD_AUTH"
    assert out["bodies"][2] == {
        "ClientId": "cid",
        "AuthFlow": "REFRESH_TOKEN_AUTH",
        "AuthParameters": {"REFRESH_TOKEN": "rt"},
    }


def test_the_refresh_timer_refreshes_when_it_fires_a_moment_early_and_retries_after_a_network_failure():
    """A timer firing before the clock says the refresh is due still refreshes (before, token()
    then kept the old token and scheduled nothing: the chain of refreshes stopped for good), and
    a refresh that cannot reach the provider is tried again later rather than dropped."""
    out = run(
        """
        const storage = new Memory();
        const exp = (ms) => Math.floor((NOW + ms) / 1000);
        storage.setItem("chat.signin", JSON.stringify({ token: jwt({ sub: "u1", exp: exp(10_000) }),
          refresh: "r1", expiresAt: NOW + 10_000, receivedAt: NOW }));
        const fresh = jwt({ sub: "u1", exp: exp(20_000) });
        const failing = async () => { throw new TypeError("Failed to fetch"); };
        const { fn, calls } = fakeFetch([[200, { id_token: fresh }]]);
        let fetcher = failing;
        const auth = new Auth({ auth: "oidc", client_id: "web", token_url: "https://id.test/token",
          authorize_url: "https://id.test/authorize" },
          { storage, fetchFn: (...a) => fetcher(...a), now: () => NOW + 4_999 });  // due at 5 s
        const delays = [];
        const realSchedule = auth.schedule.bind(auth);
        auth.schedule = (delay = null) => { delays.push(delay); realSchedule(delay); };
        await auth.refreshDue();  // the provider is unreachable: tried again later
        fetcher = fn;
        await auth.refreshDue();  // a moment early by the clock: refreshed all the same
        clearTimeout(auth.timer);
        console.log(JSON.stringify({ delays, calls: calls.length,
          token: JSON.parse(storage.getItem("chat.signin")).token === fresh }));
        """
    )
    assert out["calls"] == 1 and out["token"]
    assert out["delays"][0] == 10_000  # the retry after the failure
    assert len(out["delays"]) == 2  # and the next refresh, scheduled by the successful one
