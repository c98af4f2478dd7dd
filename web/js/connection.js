// The connection: the page's one WebSocket to the server, and requests over it.
//
// Owns request/reply by `req` (a reply or an error frame settles the request; a request times
// out after 10 s), fire-and-forget frames (typing), keep-alive pings, and reconnecting with
// backoff and jitter after a close. A "forbidden" error saying the connection is unregistered
// closes it, so it connects again. Frames that answer no request go to `onFrame`.
// `conn` is the page's connection once logged in (set by connect()); it knows nothing of chats.

const KEEPALIVE_MS = 4 * 60 * 1000; // under API Gateway's 10-minute idle limit
const REQUEST_TIMEOUT_MS = 10000;

export class RequestError extends Error {
  constructor(code, message, retryAfterMs = null) {
    super(message);
    this.code = code;
    this.retryAfterMs = retryAfterMs; // rate_limited: when the server takes the next action
  }
}

// A "forbidden" error about the connection itself (its record expired, or $connect did not
// complete), not about a chat: see docs/protocol.md.
function isUnregistered(frame) {
  if (frame.code !== "forbidden") return false;
  if (typeof frame.reason === "string") return frame.reason === "unregistered";
  return String(frame.message || "").startsWith("this connection is not registered"); // older servers
}

export class Connection {
  constructor({ url, onFrame, onOpen, onState, onRefused = () => false }) {
    this.url = url; // () => Promise<string>: a fresh URL (and token) for every attempt
    this.onRefused = onRefused; // () => bool: the handshake closed before opening; true stops retrying
    this.onFrame = onFrame;
    this.onOpen = onOpen;
    this.onState = onState;
    this.ws = null;
    this.waiting = new Map(); // req -> {resolve, reject, timer}
    this.nextReq = 1;
    this.attempt = 0;
    this.keepalive = null;
  }

  async start() {
    this.onState("connecting");
    let url;
    try {
      url = await this.url();
    } catch (err) {
      this.onState("offline");
      this.retryLater();
      return;
    }
    const ws = new WebSocket(url);
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      // The backoff starts over at the first answered request, not here: a connection the
      // server opens but does not know (every request refused) must not reconnect in a loop.
      this.onState("online");
      this.keepalive = setInterval(() => this.request("ping").catch(() => {}), KEEPALIVE_MS);
      this.onOpen();
    };
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      clearInterval(this.keepalive);
      this.ws = null;
      for (const [, w] of this.waiting) {
        clearTimeout(w.timer);
        w.reject(new RequestError("disconnected", "connection lost"));
      }
      this.waiting.clear();
      this.onState("offline");
      if (!opened && this.onRefused()) return; // the token was refused: the page asks to log in again
      this.retryLater();
    };
  }

  retryLater() {
    const base = Math.min(30000, 500 * 2 ** this.attempt++);
    setTimeout(() => this.start(), base / 2 + Math.random() * (base / 2));
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    const waiter = frame.req !== undefined && this.waiting.get(frame.req);
    if (waiter) {
      this.waiting.delete(frame.req);
      clearTimeout(waiter.timer);
      if (frame.event === "error" && isUnregistered(frame)) {
        // The server has no record of this connection: nothing ran, and nothing will on it.
        // Not "you left this chat": connect again (onclose does), as the error asks.
        waiter.reject(new RequestError("disconnected", frame.message));
        if (this.ws) this.ws.close();
      } else if (frame.event === "error") {
        const retryAfter = Number.isInteger(frame.retry_after_ms) ? frame.retry_after_ms : null;
        waiter.reject(new RequestError(frame.code, frame.message, retryAfter));
      } else {
        this.attempt = 0;
        waiter.resolve(frame);
      }
      return;
    }
    this.onFrame(frame);
  }

  get online() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  request(action, fields = {}) {
    if (!this.online) return Promise.reject(new RequestError("disconnected", "not connected"));
    const req = `w${this.nextReq++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(req);
        reject(new RequestError("timeout", `${action} timed out`));
      }, REQUEST_TIMEOUT_MS);
      this.waiting.set(req, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ action, req, ...fields }));
    });
  }

  tell(action, fields = {}) {
    // Fire and forget (typing): no reply unless it fails.
    if (this.online) this.ws.send(JSON.stringify({ action, ...fields }));
  }
}

export let conn = null; // the page's connection, from login on

export function connect(options) {
  conn = new Connection(options);
  conn.start();
}
