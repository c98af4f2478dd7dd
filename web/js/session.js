// The session kept across reloads: who is logged in, their token, and the chat last open, in
// localStorage under one key. A tiny API (loadSession / saveSession / clearSession) so any way
// of signing in (the local stack's dev token, an OIDC sign-in) stores its token the same way;
// "Log out" is the one thing that clears it. A token's `exp` (JWT, seconds) says when it stops
// working: tokenExpired() reads it, without checking the signature (the server does that).
// No imports: every layer may use it.

const KEY = "chat.session";
const LEGACY_USER_KEY = "chat.user"; // written by earlier pages (a notification's click used it)

export function loadSession() {
  // {user, token, chat, ...} or null: nothing kept, or storage refused (private mode).
  try {
    const session = JSON.parse(localStorage.getItem(KEY) || "null");
    return session && typeof session.user === "string" && session.user ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(fields) {
  // Merge `fields` into the kept session (a new user starts a new one).
  const kept = loadSession();
  const session = kept && (!fields.user || fields.user === kept.user) ? { ...kept, ...fields } : { ...fields };
  try {
    localStorage.setItem(KEY, JSON.stringify(session));
  } catch {
    // storage refused: the session lasts as long as the page
  }
  return session;
}

export function clearSession() {
  try {
    localStorage.removeItem(KEY);
    localStorage.removeItem(LEGACY_USER_KEY);
  } catch {
    // storage refused: nothing was kept
  }
}

export function tokenClaims(token) {
  // The JWT's payload, or null when it is not one.
  try {
    const part = String(token).split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
  } catch {
    return null;
  }
}

export function tokenExpired(token, nowMs = Date.now(), marginMs = 30000) {
  // True when the token's `exp` is past (or nearly); a token without `exp` never expires here.
  const exp = tokenClaims(token)?.exp;
  return typeof exp === "number" && exp * 1000 <= nowMs + marginMs;
}
