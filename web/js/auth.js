// Signing in: where the token the page connects with comes from, in the mode the server names
// at GET ./config.json (docs/protocol.md, "Signing in from the web page"):
// - "dev": a dev token from /dev/token for any user id (the local stack; app.js's login form);
// - "cognito-local": a user name and password against the local stack's Cognito (POST /cognito:
//   SignUp, then InitiateAuth with USER_PASSWORD_AUTH; REFRESH_TOKEN_AUTH to refresh);
// - "oidc": Authorization Code with PKCE at the provider (its endpoints from the config, else
//   from the issuer's discovery document); the token endpoint's refresh_token grant refreshes.
// The token set is kept in localStorage ("chat.signin") and refreshed before its token expires
// (pkce.js's margin), on a timer and whenever a connection attempt asks for a token: a
// reconnect then uses the new token, and the outbox (kept per user) is sent on it as always.

import {
  authorizeUrl,
  challengeOf,
  claimsOf,
  codeGrant,
  needsRefresh,
  randomString,
  refreshDelay,
  refreshGrant,
  tokenSet,
} from "./pkce.js";

const SESSION_KEY = "chat.signin"; // not session.js's "chat.session" (who, and the chat open last)
const PKCE_KEY = "chat.pkce";
const REFRESH_RETRY_MS = 10_000; // after a refresh that could not reach the provider
const COGNITO_TARGET = "AWSCognitoIdentityProviderService.";

export class SignInNeeded extends Error {}

export async function loadConfig() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (response.ok) return await response.json();
  } catch {
    // an older stack without the file: dev tokens
  }
  return { auth: "dev" };
}

function readJson(storage, key) {
  try {
    return JSON.parse(storage.getItem(key) || "null");
  } catch {
    return null;
  }
}

export class Auth {
  constructor(config, { storage = localStorage, fetchFn = fetch.bind(globalThis), now = Date.now } = {}) {
    this.config = config;
    this.storage = storage;
    this.fetch = fetchFn;
    this.now = now;
    this.set = readJson(storage, SESSION_KEY);
    this.refreshing = null;
    this.timer = null;
    this.endpoints = null;
  }

  get mode() {
    return this.config.auth || "dev";
  }

  // Who the kept tokens name: {id: sub, name}, or null when nobody is signed in.
  user() {
    if (!this.set) return null;
    const claims = claimsOf(this.set.token);
    return { id: claims.sub, name: claims.name || claims["cognito:username"] || claims.preferred_username || claims.sub };
  }

  keep(set) {
    this.set = set;
    this.storage.setItem(SESSION_KEY, JSON.stringify(set));
    this.schedule();
  }

  signOut() {
    this.set = null;
    clearTimeout(this.timer);
    this.storage.removeItem(SESSION_KEY);
  }

  schedule(delay = null) {
    clearTimeout(this.timer);
    if (!this.set?.refresh) return;
    this.timer = setTimeout(() => this.refreshDue(), delay ?? refreshDelay(this.set, this.now()));
  }

  // The timer's refresh. It refreshes even when the clock says it is not quite due yet (a timer
  // may fire a moment early, and token() would then keep the old token and schedule nothing),
  // and when the provider cannot be reached it tries again a little later: a chain of refreshes
  // never stops while somebody is signed in. A successful refresh schedules the next (keep).
  async refreshDue() {
    const before = this.set;
    if (!before) return;
    try {
      this.refreshing ||= this.refresh().finally(() => (this.refreshing = null));
      await this.refreshing;
    } catch (err) {
      if (!(err instanceof SignInNeeded) && this.set === before) this.schedule(REFRESH_RETRY_MS);
    }
  }

  // A token good for a while yet: the kept one, or a refreshed one (one refresh at a time).
  async token() {
    if (!this.set) throw new SignInNeeded("not signed in");
    if (!needsRefresh(this.set, this.now())) return this.set.token;
    if (!this.set.refresh) throw new SignInNeeded("the sign-in has expired");
    this.refreshing ||= this.refresh().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  async refresh() {
    const previous = this.set;
    let answer;
    if (this.mode === "cognito-local") {
      try {
        answer = (await this.cognito("InitiateAuth", {
          AuthFlow: "REFRESH_TOKEN_AUTH",
          AuthParameters: { REFRESH_TOKEN: previous.refresh },
        })).AuthenticationResult;
      } catch (err) {
        if (err.status !== 400) throw err; // the network: try again later
        this.signOut(); // refused (the local stack forgets its users when it stops)
        throw new SignInNeeded(err.message);
      }
    } else {
      const { token } = await this.providerEndpoints();
      answer = await this.post(token, refreshGrant({ clientId: this.config.client_id, refreshToken: previous.refresh }));
    }
    this.keep(tokenSet(answer, previous, this.config.token, this.now()));
    return this.set.token;
  }

  // ---- cognito-local: user name and password

  async cognito(operation, body) {
    const response = await this.fetch(this.config.cognito_url || "cognito", {
      method: "POST",
      headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": COGNITO_TARGET + operation },
      body: JSON.stringify({ ClientId: this.config.client_id, ...body }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(answer.message || answer.__type || `${operation} failed (${response.status})`);
      error.status = response.status;
      throw error;
    }
    return answer;
  }

  async signUp(username, password) {
    await this.cognito("SignUp", { Username: username, Password: password });
    return this.signIn(username, password);
  }

  async signIn(username, password) {
    const answer = await this.cognito("InitiateAuth", {
      AuthFlow: "USER_PASSWORD_AUTH",
      AuthParameters: { USERNAME: username, PASSWORD: password },
    });
    if (!answer.AuthenticationResult) throw new Error(`more is asked to sign in (${answer.ChallengeName})`);
    this.keep(tokenSet(answer.AuthenticationResult, null, this.config.token, this.now()));
    return this.user();
  }

  // ---- oidc: Authorization Code with PKCE

  async providerEndpoints() {
    if (this.endpoints) return this.endpoints;
    let { authorize_url: authorize, token_url: token } = this.config;
    if (!authorize || !token) {
      const discovery = `${String(this.config.issuer).replace(/\/$/, "")}/.well-known/openid-configuration`;
      const document = await (await this.fetch(discovery)).json();
      authorize ||= document.authorization_endpoint;
      token ||= document.token_endpoint;
    }
    this.endpoints = { authorize, token };
    return this.endpoints;
  }

  redirectUri() {
    return this.config.redirect_uri || location.origin + location.pathname;
  }

  async beginSignIn() {
    const { authorize } = await this.providerEndpoints();
    const state = randomString(16);
    const verifier = randomString(48);
    sessionStorage.setItem(PKCE_KEY, JSON.stringify({ state, verifier }));
    location.assign(authorizeUrl(authorize, {
      clientId: this.config.client_id,
      redirectUri: this.redirectUri(),
      scope: this.config.scope,
      state,
      challenge: await challengeOf(verifier),
    }));
  }

  // Back from the provider (?code=&state=): the code exchanged for tokens, the URL cleaned.
  async finishSignIn(params) {
    const code = params.get("code");
    const error = params.get("error");
    if (!code && !error) return null;
    const pending = readJson(sessionStorage, PKCE_KEY);
    sessionStorage.removeItem(PKCE_KEY);
    history.replaceState(null, "", this.redirectUri());
    if (error) throw new Error(params.get("error_description") || error);
    if (!pending || pending.state !== params.get("state")) throw new Error("this sign-in was not started here: try again");
    const { token } = await this.providerEndpoints();
    const grant = codeGrant({ clientId: this.config.client_id, redirectUri: this.redirectUri(), code, verifier: pending.verifier });
    this.keep(tokenSet(await this.post(token, grant), null, this.config.token, this.now()));
    return this.user();
  }

  async post(url, form) {
    const response = await this.fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      if (answer.error === "invalid_grant") this.signOut();
      throw new SignInNeeded(answer.error_description || answer.error || `token endpoint answered ${response.status}`);
    }
    return answer;
  }
}
