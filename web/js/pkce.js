// OAuth 2.0 helpers with no DOM and no storage (run in Node by tests/unit/web/test_auth_js.py):
// PKCE (RFC 7636, S256), the authorize URL, the token endpoint's form bodies, reading a JWT's
// claims, and when a kept token set needs refreshing.

export const REFRESH_MARGIN_MS = 2 * 60 * 1000; // refresh this long before the token expires
// ...or, for a token that lives less than twice that, halfway through its life (never in a loop)

export function base64url(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function randomString(size = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

export async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export function authorizeUrl(endpoint, { clientId, redirectUri, scope, state, challenge }) {
  const url = new URL(endpoint);
  const params = {
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: scope || "openid profile",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.toString();
}

export function codeGrant({ clientId, redirectUri, code, verifier }) {
  return new URLSearchParams({
    grant_type: "authorization_code",
    client_id: clientId,
    redirect_uri: redirectUri,
    code,
    code_verifier: verifier,
  });
}

export function refreshGrant({ clientId, refreshToken }) {
  return new URLSearchParams({ grant_type: "refresh_token", client_id: clientId, refresh_token: refreshToken });
}

export function claimsOf(jwt) {
  const part = String(jwt || "").split(".")[1];
  if (!part) throw new Error("not a JWT");
  const padded = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// A token set as the page keeps it, from a token endpoint's answer (OAuth names) or Cognito's
// AuthenticationResult: the token to connect with, the refresh token (a refresh answer may
// leave it out: the old one stays), and when the connect token expires (its `exp`).
export function tokenSet(answer, previous = null, use = "id", now = Date.now()) {
  const id = answer.id_token || answer.IdToken || null;
  const access = answer.access_token || answer.AccessToken || null;
  const token = use === "access" ? access : id || access;
  if (!token) throw new Error("the answer holds no token");
  const refresh = answer.refresh_token || answer.RefreshToken || previous?.refresh || null;
  return { token, refresh, expiresAt: claimsOf(token).exp * 1000, receivedAt: now };
}

function refreshAt(set, margin) {
  const lifetime = set.expiresAt - (set.receivedAt ?? set.expiresAt - 2 * margin);
  return set.expiresAt - Math.min(margin, lifetime / 2);
}

export function needsRefresh(set, now = Date.now(), margin = REFRESH_MARGIN_MS) {
  return !set || now >= refreshAt(set, margin);
}

// When to refresh ahead of time (ms from now), never in the past.
export function refreshDelay(set, now = Date.now(), margin = REFRESH_MARGIN_MS) {
  return Math.max(0, refreshAt(set, margin) - now);
}
