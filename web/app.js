// The web chat: one WebSocket that stays connected across the whole app.
//
// - Connection: request/reply by `req`, keep-alive, reconnect with backoff and jitter.
// - State: chats (with unread), loaded messages by seq, receipts, pending sends.
// - After every (re)connect: resync (chat.list, then chat.history `after` for loaded chats,
//   re-open the chat on screen, re-send unacknowledged messages with their client_msg_id).
// Rendering reads state only and uses textContent, never HTML from the network.

const $ = (id) => document.getElementById(id);
const KEEPALIVE_MS = 4 * 60 * 1000; // under API Gateway's 10-minute idle limit
const REQUEST_TIMEOUT_MS = 10000;
const TYPING_SHOW_MS = 6000;

class RequestError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// ------------------------------------------------------------------ connection

class Connection {
  constructor({ url, onFrame, onOpen, onState }) {
    this.url = url; // () => Promise<string>: a fresh URL (and token) for every attempt
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
    ws.onopen = () => {
      this.attempt = 0;
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
      if (frame.event === "error") waiter.reject(new RequestError(frame.code, frame.message));
      else waiter.resolve(frame);
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

// ------------------------------------------------------------------ state

const state = {
  me: null,
  chats: new Map(), // chat_id -> Chat (the protocol object, kept current)
  messages: new Map(), // chat_id -> Map(seq -> Message), for chats loaded on this page
  receipts: new Map(), // chat_id -> {user_id: {delivered_seq, read_seq}}
  pending: new Map(), // client_msg_id -> {chat_id, text, failed}
  typing: new Map(), // chat_id -> Map(user_id -> expiry ms)
  open: null, // chat_id on screen
};

let conn = null;

function newClientMsgId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function maxSeq(chatId) {
  const loaded = state.messages.get(chatId);
  return loaded && loaded.size ? Math.max(...loaded.keys()) : 0;
}

function addMessages(chatId, messages) {
  if (!state.messages.has(chatId)) state.messages.set(chatId, new Map());
  const loaded = state.messages.get(chatId);
  for (const m of messages) loaded.set(m.seq, m);
  const newest = messages.reduce((a, m) => (a && a.seq > m.seq ? a : m), null);
  if (newest) noteLast(state.chats.get(chatId), newest);
}

function noteLast(chat, message) {
  // Keep a chat's summary (last_seq, last_message, unread) current with a newer message.
  if (!chat || message.seq < chat.last_seq) return;
  chat.last_seq = message.seq;
  chat.last_message = message;
  chat.unread = Math.max(0, chat.last_seq - chat.read_seq);
}

function applyPointers(chatId, userId, pointers) {
  if (!state.receipts.has(chatId)) state.receipts.set(chatId, {});
  state.receipts.get(chatId)[userId] = {
    delivered_seq: pointers.delivered_seq,
    read_seq: pointers.read_seq,
  };
  const chat = state.chats.get(chatId);
  if (chat && userId === state.me) {
    chat.read_seq = pointers.read_seq;
    chat.delivered_seq = pointers.delivered_seq;
    chat.unread = Math.max(0, chat.last_seq - chat.read_seq);
  }
}

// ------------------------------------------------------------------ protocol events

async function resync() {
  const { chats } = await conn.request("chat.list");
  for (const chat of chats) state.chats.set(chat.chat_id, chat);
  for (const chatId of state.messages.keys()) {
    const chat = state.chats.get(chatId);
    if (chat && chat.last_seq > maxSeq(chatId)) await fetchAfter(chatId);
  }
  if (state.open) await openChat(state.open);
  for (const id of state.pending.keys()) trySend(id);
  render();
}

async function fetchAfter(chatId) {
  for (let page = 0; page < 100; page++) {
    const reply = await conn.request("chat.history", { chat_id: chatId, after: maxSeq(chatId), limit: 100 });
    addMessages(chatId, reply.messages);
    if (!reply.has_more) break;
  }
}

function onFrame(frame) {
  switch (frame.event) {
    case "chat:message":
    case "chat:message:background":
      onMessage(frame.message, frame.event === "chat:message");
      break;
    case "chat:added":
      state.chats.set(frame.chat.chat_id, frame.chat);
      break;
    case "chat:receipt":
      applyPointers(frame.chat_id, frame.user_id, frame);
      break;
    case "chat:typing": {
      if (!state.typing.has(frame.chat_id)) state.typing.set(frame.chat_id, new Map());
      const who = state.typing.get(frame.chat_id);
      if (frame.typing) who.set(frame.user_id, Date.now() + TYPING_SHOW_MS);
      else who.delete(frame.user_id);
      setTimeout(render, TYPING_SHOW_MS + 50);
      break;
    }
    default:
      break;
  }
  render();
}

function onMessage(message, live) {
  const chatId = message.chat_id;
  if (!state.chats.has(chatId)) {
    // A chat this page has not heard of (created on another device): learn it.
    resync().catch(() => {});
    return;
  }
  const loaded = state.messages.has(chatId);
  const gap = loaded && message.seq > maxSeq(chatId) + 1;
  if (loaded) addMessages(chatId, [message]);
  else noteLast(state.chats.get(chatId), message);
  state.typing.get(chatId)?.delete(message.sender_id);
  if (message.sender_id === state.me) {
    // Sent from another of my devices: the server moved my pointers with it.
    applyPointers(chatId, state.me, { delivered_seq: message.seq, read_seq: message.seq });
    return;
  }
  if (gap) fetchAfter(chatId).then(render).catch(() => {});
  if (live && state.open === chatId) markRead(chatId);
  else receipt("message.delivered", chatId, message.seq);
}

function receipt(action, chatId, seq) {
  conn
    .request(action, { chat_id: chatId, seq })
    .then((ok) => {
      applyPointers(chatId, state.me, ok);
      render();
    })
    .catch(() => {});
}

function markRead(chatId) {
  const chat = state.chats.get(chatId);
  if (chat && chat.last_seq > chat.read_seq) receipt("message.read", chatId, chat.last_seq);
}

async function openChat(chatId) {
  state.open = chatId;
  render();
  const reply = await conn.request("chat.open", { chat_id: chatId });
  state.chats.set(chatId, reply.chat);
  state.messages.set(chatId, state.messages.get(chatId) || new Map());
  addMessages(chatId, reply.messages);
  state.receipts.set(chatId, reply.receipts);
  if (reply.chat.last_seq > maxSeq(chatId)) await fetchAfter(chatId);
  markRead(chatId);
  render();
}

function send(chatId, text) {
  const id = newClientMsgId();
  state.pending.set(id, { chat_id: chatId, text, failed: false });
  render();
  trySend(id);
}

function trySend(id) {
  const p = state.pending.get(id);
  if (!p || !conn.online) return; // resent by resync after reconnecting
  conn
    .request("message.send", { chat_id: p.chat_id, client_msg_id: id, text: p.text })
    .then((ack) => {
      state.pending.delete(id);
      addMessages(p.chat_id, [
        {
          chat_id: p.chat_id, seq: ack.seq, message_id: ack.message_id, client_msg_id: id,
          sender_id: state.me, text: p.text, sent_at: ack.sent_at,
        },
      ]);
      applyPointers(p.chat_id, state.me, { delivered_seq: ack.seq, read_seq: ack.seq });
      render();
    })
    .catch((err) => {
      if (err.code === "timeout" || err.code === "disconnected" || err.code === "unavailable") {
        if (err.code !== "disconnected") setTimeout(() => trySend(id), 1000);
        return; // same client_msg_id: the server stores it once
      }
      p.failed = true;
      toast(`not sent: ${err.message}`);
      render();
    });
}

// ------------------------------------------------------------------ rendering

function chatTitle(chat) {
  if (chat.title) return chat.title;
  const others = chat.members.filter((m) => m !== state.me);
  return others.length ? others.join(", ") : "just you";
}

function tickStatus(chat, message) {
  const others = chat.members.filter((m) => m !== state.me);
  const pointers = state.receipts.get(chat.chat_id) || {};
  const all = (field) => others.every((u) => (pointers[u]?.[field] || 0) >= message.seq);
  if (others.length && all("read_seq")) return "read";
  if (others.length && all("delivered_seq")) return "delivered";
  return "sent";
}

const TICKS = { pending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!" };

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderList() {
  const list = $("chat-list");
  const chats = [...state.chats.values()].sort((a, b) => {
    const at = a.last_message ? a.last_message.sent_at : a.created_at;
    const bt = b.last_message ? b.last_message.sent_at : b.created_at;
    return bt.localeCompare(at);
  });
  list.replaceChildren(
    ...chats.map((chat) => {
      const item = el("li", "chat-item" + (chat.chat_id === state.open ? " active" : ""));
      item.dataset.chatId = chat.chat_id;
      item.append(el("span", "title", chatTitle(chat)));
      const unread = chat.chat_id === state.open ? 0 : chat.unread;
      const badge = el("span", "badge", String(unread));
      badge.dataset.count = String(unread);
      item.append(badge);
      const last = chat.last_message;
      item.append(el("span", "preview", last ? `${last.sender_id}: ${last.text}` : "no messages yet"));
      item.onclick = () => openChat(chat.chat_id).catch((e) => toast(e.message));
      return item;
    }),
  );
}

function renderConversation() {
  const chat = state.open && state.chats.get(state.open);
  $("composer").hidden = !chat;
  if (!chat) return;
  $("conv-title").textContent = chatTitle(chat);
  $("conv-members").textContent = chat.members.join(", ");
  const loaded = [...(state.messages.get(chat.chat_id) || new Map()).values()].sort((a, b) => a.seq - b.seq);
  const pending = [...state.pending.entries()].filter(([, p]) => p.chat_id === chat.chat_id);
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren(
    ...loaded.map((m) => {
      const mine = m.sender_id === state.me;
      const item = el("li", "msg" + (mine ? " mine" : ""));
      item.dataset.seq = String(m.seq);
      if (!mine && chat.members.length > 2) item.append(el("span", "sender", m.sender_id));
      item.append(el("span", "text", m.text));
      const meta = el("span", "meta", new Date(m.sent_at).toLocaleTimeString());
      if (mine) {
        const status = tickStatus(chat, m);
        const tick = el("span", "tick", TICKS[status]);
        tick.dataset.status = status;
        meta.append(tick);
      }
      item.append(meta);
      return item;
    }),
    ...pending.map(([, p]) => {
      const item = el("li", "msg mine pending");
      item.append(el("span", "text", p.text));
      const status = p.failed ? "failed" : "pending";
      const tick = el("span", "tick", TICKS[status]);
      tick.dataset.status = status;
      const meta = el("span", "meta");
      meta.append(tick);
      item.append(meta);
      return item;
    }),
  );
  if (atBottom) box.scrollTop = box.scrollHeight;
  const now = Date.now();
  const typing = [...(state.typing.get(chat.chat_id) || new Map()).entries()]
    .filter(([, until]) => until > now)
    .map(([user]) => user);
  $("typing").textContent = typing.length ? `${typing.join(", ")} ${typing.length > 1 ? "are" : "is"} typing…` : "";
}

function render() {
  renderList();
  renderConversation();
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 4000);
}

// ------------------------------------------------------------------ wiring

async function fetchToken(user) {
  const response = await fetch(`/dev/token?user=${encodeURIComponent(user)}`);
  if (!response.ok) throw new Error(`cannot log in as ${user}`);
  return (await response.json()).token;
}

function login(user) {
  state.me = user;
  $("me").textContent = user;
  $("login").hidden = true;
  $("app").hidden = false;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  conn = new Connection({
    url: async () => `${scheme}://${location.host}/ws?token=${encodeURIComponent(await fetchToken(user))}`,
    onFrame,
    onOpen: () => resync().catch((e) => toast(e.message)),
    onState: (s) => {
      $("conn-status").dataset.state = s;
      $("conn-status").textContent = s;
    },
  });
  conn.start();
}

let typingSent = 0;
let typingTimer = null;

function setup() {
  $("login-form").onsubmit = async (event) => {
    event.preventDefault();
    const user = $("login-user").value.trim();
    try {
      await fetchToken(user);
      login(user);
    } catch (err) {
      $("login-error").textContent = err.message;
      $("login-error").hidden = false;
    }
  };
  $("new-chat").onsubmit = async (event) => {
    event.preventDefault();
    const members = $("new-members").value.split(/[\s,]+/).filter(Boolean);
    const title = $("new-title").value.trim();
    try {
      const reply = await conn.request("chat.create", title ? { members, title } : { members });
      state.chats.set(reply.chat.chat_id, reply.chat);
      $("new-members").value = "";
      $("new-title").value = "";
      await openChat(reply.chat.chat_id);
    } catch (err) {
      toast(err.message);
    }
  };
  $("composer").onsubmit = (event) => {
    event.preventDefault();
    const text = $("composer-input").value;
    if (!text.trim() || !state.open) return;
    $("composer-input").value = "";
    send(state.open, text);
    conn.tell("typing", { chat_id: state.open, typing: false });
    typingSent = 0;
  };
  $("composer-input").oninput = () => {
    if (!state.open) return;
    const chatId = state.open;
    if (Date.now() - typingSent > 3000) {
      conn.tell("typing", { chat_id: chatId, typing: true });
      typingSent = Date.now();
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => {
      conn.tell("typing", { chat_id: chatId, typing: false });
      typingSent = 0;
    }, 4000);
  };
  const preset = new URLSearchParams(location.search).get("user");
  if (preset) login(preset);
}

setup();
// For tests and the curious: the page's state and connection.
window.chat = { state, get conn() { return conn; } };
