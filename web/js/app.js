// The web chat: one WebSocket that stays connected across the whole app.
//
// - Connection: request/reply by `req`, keep-alive, reconnect with backoff and jitter.
// - State: chats (with unread), loaded messages by seq, receipts, pending sends.
// - Sends: an outbox in localStorage (per user) keeps unacknowledged messages across reloads;
//   each chat sends one message at a time, in the order written, so the server stores them in
//   that order; a retry reuses the client_msg_id, which the server stores once.
// - After every (re)connect: resync (every page of chat.list, then chat.history `after` for
//   loaded chats, re-open the chat on screen, re-send unacknowledged messages with their
//   client_msg_id).
// - Layout: below 700 px one view at a time (the chat list, or the conversation with a back
//   button); the tab title counts unread messages; errors show in a banner above the composer.
// - Chats change (protocol v2): system messages (kind "system") patch a chat's title, members
//   and admins in place and show as notices; chat:added / chat:removed add and drop chats; the
//   members panel adds, removes, renames, makes admins and leaves; direct chats are named after
//   the other person. Pages may be short (128 KiB frames): older history follows `has_more`.
// - Push (notify.js, sw.js): a browser notification for a message the user cannot see (tab
//   hidden, chat not muted); a mute toggle per chat (server-side `muted`, marked in the list);
//   a Web Push subscription registered as this user's device, for when no page is connected.
//   Opening the page at /?chat=ID (a notification's click) opens that chat.
// Rendering reads state only and uses textContent, never HTML from the network.

import { Notifier, pageHidden } from "./notify.js";

const $ = (id) => document.getElementById(id);
const KEEPALIVE_MS = 4 * 60 * 1000; // under API Gateway's 10-minute idle limit
const REQUEST_TIMEOUT_MS = 10000;
const TYPING_SHOW_MS = 6000;

class RequestError extends Error {
  constructor(code, message, retryAfterMs = null) {
    super(message);
    this.code = code;
    this.retryAfterMs = retryAfterMs; // rate_limited: when the server takes the next action
  }
}

// ------------------------------------------------------------------ connection

// A "forbidden" error about the connection itself (its record expired, or $connect did not
// complete), not about a chat: see docs/protocol.md.
function isUnregistered(frame) {
  if (frame.code !== "forbidden") return false;
  if (typeof frame.reason === "string") return frame.reason === "unregistered";
  return String(frame.message || "").startsWith("this connection is not registered"); // older servers
}

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

// ------------------------------------------------------------------ state

const state = {
  me: null,
  chats: new Map(), // chat_id -> Chat (the protocol object, kept current)
  metaSeq: new Map(), // chat_id -> the seq a chat's title, members and admins reflect
  messages: new Map(), // chat_id -> Map(seq -> Message), for chats loaded on this page
  olderExist: new Map(), // chat_id -> the server said older visible messages exist (has_more)
  receipts: new Map(), // chat_id -> {user_id: {delivered_seq, read_seq}}
  receiptsMin: new Map(), // chat_id -> {delivered_seq, read_seq}: the lowest over the other members
  pending: new Map(), // client_msg_id -> {chat_id, text, failed}, in the order they were written
  sending: new Set(), // chat_ids with a message.send in flight: one at a time per chat keeps order
  typing: new Map(), // chat_id -> Map(user_id -> expiry ms)
  open: null, // chat_id on screen
  panel: false, // the members panel is shown
  notice: null, // why the conversation on screen closed ("You left Weekend")
  gone: new Map(), // chat_id -> last_seq this page knew when the user left or was removed
  muted: new Map(), // chat_id -> muted, as this page set it since it connected: newer than any
  //                   chat object still on its way (nothing tells a page about mutes made elsewhere)
};

const USER_ID = /^[A-Za-z0-9_.@-]{1,64}$/;
const USER_ID_RULE = "user ids are 1-64 letters, digits, '_', '.', '@' or '-'";
const LARGE_CHAT = 50; // above this many members, chats come without `members` and `receipts`
let conn = null;
let chatToOpen = null; // a chat to open once the chat list is loaded (/?chat=ID, a notification)
let webPush = "not tried"; // this page's Web Push subscription: "not tried", "trying", or the outcome
const notifier = new Notifier({ onOpenChat: (chatId) => showChat(chatId) });

function newClientMsgId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function maxSeq(chatId) {
  const loaded = state.messages.get(chatId);
  return loaded && loaded.size ? Math.max(...loaded.keys()) : 0;
}

function minSeq(chatId) {
  const loaded = state.messages.get(chatId);
  return loaded && loaded.size ? Math.min(...loaded.keys()) : 0;
}

function storeChat(chat) {
  // Take a chat object from the server, unless this page already applied newer events to it,
  // or it is a late reply about a chat the user has left (being added again raises joined_seq).
  if (state.gone.has(chat.chat_id)) {
    if ((chat.joined_seq || 0) <= state.gone.get(chat.chat_id)) return;
    state.gone.delete(chat.chat_id);
  }
  const known = state.chats.get(chat.chat_id);
  if (known && known.last_seq > chat.last_seq) return;
  if (known && known.joined_seq !== chat.joined_seq) {
    // Removed and added again: the messages loaded before are no longer visible to this user.
    state.messages.delete(chat.chat_id);
    state.olderExist.delete(chat.chat_id);
  }
  if (state.muted.has(chat.chat_id)) chat.muted = state.muted.get(chat.chat_id);
  state.chats.set(chat.chat_id, chat);
  state.metaSeq.set(chat.chat_id, chat.last_seq);
}

function recountUnread(chat) {
  chat.unread = Math.max(0, chat.last_seq - Math.max(chat.read_seq, chat.joined_seq || 0));
}

function addMessages(chatId, messages) {
  if (!state.messages.has(chatId)) state.messages.set(chatId, new Map());
  const loaded = state.messages.get(chatId);
  for (const m of messages) loaded.set(m.seq, m);
  noteMessages(chatId, messages);
}

function noteMessages(chatId, messages) {
  // Keep a chat's summary and, for system messages, its title, members and admins current.
  const chat = state.chats.get(chatId);
  if (!chat || !messages.length) return;
  const ascending = [...messages].sort((a, b) => a.seq - b.seq);
  for (const m of ascending) if (m.kind === "system") applySystem(chat, m);
  noteLast(chat, ascending[ascending.length - 1]);
}

function noteLast(chat, message) {
  if (!chat || message.seq < chat.last_seq) return;
  chat.last_seq = message.seq;
  chat.last_message = message;
  recountUnread(chat);
}

function applySystem(chat, message) {
  // A membership event newer than what the chat object shows: apply it in place.
  if (message.seq <= (state.metaSeq.get(chat.chat_id) ?? 0)) return;
  state.metaSeq.set(chat.chat_id, message.seq);
  const { type, users = [], title, admins } = message.system || {};
  if (type === "added") setMembers(chat, [...new Set([...membersOf(chat), ...users])], users.length);
  if (type === "removed" || type === "left") {
    setMembers(chat, membersOf(chat).filter((u) => !users.includes(u)), -users.length);
    chat.admins = (chat.admins || []).filter((u) => !users.includes(u));
  }
  if (type === "updated" && title !== undefined) chat.title = title;
  if (admins) chat.admins = [...admins].sort();
}

function setMembers(chat, members, countChange) {
  if (chat.members) chat.members = members.sort();
  chat.member_count = chat.members ? chat.members.length : Math.max(1, (chat.member_count || 0) + countChange);
}

function membersOf(chat) {
  return chat.members || [];
}

function applyPointers(chatId, userId, pointers) {
  if (!state.receipts.get(chatId)) state.receipts.set(chatId, {});
  state.receipts.get(chatId)[userId] = {
    delivered_seq: pointers.delivered_seq,
    read_seq: pointers.read_seq,
  };
  const chat = state.chats.get(chatId);
  if (chat && userId === state.me) {
    chat.read_seq = pointers.read_seq;
    chat.delivered_seq = pointers.delivered_seq;
    recountUnread(chat);
  }
}

function dropChat(chatId, how) {
  // This user is no longer a member: forget the chat, and say so if it was on screen.
  const chat = state.chats.get(chatId);
  if (!chat) return;
  const text = {
    left: `You left ${chatTitle(chat)}`,
    removed: `You were removed from ${chatTitle(chat)}`,
    gone: `${chatTitle(chat)} no longer exists on the server`, // a local stack started afresh
  }[how];
  state.gone.set(chatId, chat.last_seq);
  for (const map of [
    state.chats, state.metaSeq, state.messages, state.olderExist,
    state.receipts, state.receiptsMin, state.typing, state.muted,
  ]) map.delete(chatId);
  for (const [id, p] of state.pending) if (p.chat_id === chatId) state.pending.delete(id);
  saveOutbox();
  if (state.open === chatId) {
    state.open = null;
    state.notice = text;
  } else {
    toast(text);
  }
  render();
}

// ------------------------------------------------------------------ protocol events

async function resync() {
  const known = new Set(state.chats.keys());
  state.muted.clear(); // the list below says what is muted, this page's mutes included
  const listed = await listAllChats();
  for (const chat of listed.values()) storeChat(chat);
  for (const chatId of known) {
    if (!listed.has(chatId) && state.chats.has(chatId)) await confirmMembership(chatId);
  }
  for (const chatId of state.messages.keys()) {
    const chat = state.chats.get(chatId);
    if (chat && chat.last_seq > maxSeq(chatId)) await fetchAfter(chatId);
  }
  if (state.open) await openChat(state.open);
  dropUnknownOutbox();
  sendAll();
  render();
  const requested = chatToOpen; // asked for before the list was loaded
  chatToOpen = null;
  if (requested && state.chats.has(requested)) await openChat(requested);
  else if (requested) toast("That chat is not one of yours any more");
  subscribeWebPush();
}

function dropUnknownOutbox() {
  // Kept from before a reload for a chat this user is no longer in: it can never be sent.
  const stale = [...state.pending.entries()].filter(([, p]) => !state.chats.has(p.chat_id));
  for (const [id] of stale) state.pending.delete(id);
  if (stale.length) {
    saveOutbox();
    toast(`${stale.length} unsent message${stale.length > 1 ? "s" : ""} dropped: you are no longer in that chat`);
  }
}

async function listAllChats() {
  // chat.list pages newest activity first; a chat may show up on two pages (keyed by chat_id).
  const listed = new Map();
  let cursor = null;
  do {
    const page = await conn.request("chat.list", cursor ? { cursor } : {});
    for (const chat of page.chats) listed.set(chat.chat_id, chat);
    if (page.next_cursor && page.next_cursor === cursor) break; // a server that repeats itself
    cursor = page.next_cursor ?? null;
  } while (cursor);
  return listed;
}

async function confirmMembership(chatId) {
  // Missing from the list: removed while this page was away, or moved between pages as we read.
  try {
    await loadMembers(chatId);
  } catch (err) {
    if (err.code === "forbidden" || err.code === "not_found") dropChat(chatId, err.code === "not_found" ? "gone" : "removed");
    else throw err;
  }
}

async function loadMembers(chatId) {
  const reply = await conn.request("chat.members", { chat_id: chatId });
  const chat = state.chats.get(chatId);
  if (!chat) return;
  chat.members = reply.members;
  chat.admins = reply.admins;
  chat.member_count = reply.members.length;
  render();
}

async function fetchAfter(chatId) {
  for (let page = 0; page < 100; page++) {
    const reply = await conn.request("chat.history", { chat_id: chatId, after: maxSeq(chatId), limit: 100 });
    addMessages(chatId, reply.messages);
    if (!reply.has_more || !reply.messages.length) break;
  }
}

const loadingEarlier = new Set();

async function loadEarlier(chatId) {
  // One page below the oldest loaded message; the reply may be short of `limit` (128 KiB cap).
  if (loadingEarlier.has(chatId) || !state.olderExist.get(chatId)) return;
  loadingEarlier.add(chatId);
  try {
    const reply = await conn.request("chat.history", { chat_id: chatId, before: minSeq(chatId), limit: 50 });
    addMessages(chatId, reply.messages);
    state.olderExist.set(chatId, reply.has_more && reply.messages.length > 0);
  } finally {
    loadingEarlier.delete(chatId);
  }
  keepScrollPosition(render);
}

function onFrame(frame) {
  switch (frame.event) {
    case "chat:message":
    case "chat:message:background":
      onMessage(frame.message, frame.event === "chat:message");
      break;
    case "chat:added":
    case "chat:updated":
      storeChat(frame.chat);
      break;
    case "chat:removed":
      dropChat(frame.chat_id, "removed");
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
  else noteMessages(chatId, [message]);
  if (message.kind === "system" && state.open === chatId) loadMembers(chatId).catch(() => {});
  state.typing.get(chatId)?.delete(message.sender_id);
  if (message.sender_id === state.me) {
    // Sent from another of my devices: the server moved my pointers with it.
    applyPointers(chatId, state.me, { delivered_seq: message.seq, read_seq: message.seq });
    return;
  }
  if (gap) fetchAfter(chatId).then(render).catch(() => {});
  if (notifier.wanted(state.chats.get(chatId), message, state.me)) notifier.show(state.chats.get(chatId), message);
  // In a hidden tab nobody reads it yet: delivered now, read when the tab is shown.
  if (live && state.open === chatId && !pageHidden()) markRead(chatId);
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
  if (chat && chat.last_seq > chat.read_seq && !pageHidden()) receipt("message.read", chatId, chat.last_seq);
}

async function openChat(chatId) {
  state.open = chatId;
  state.notice = null;
  notifier.closeFor(chatId);
  render();
  let reply;
  try {
    reply = await conn.request("chat.open", { chat_id: chatId });
  } catch (err) {
    if (err.code === "forbidden" || err.code === "not_found") {
      return dropChat(chatId, err.code === "not_found" ? "gone" : "removed");
    }
    throw err;
  }
  storeChat(reply.chat);
  if (!state.chats.has(chatId)) return; // removed while the reply was on its way
  takeLatestPage(chatId, reply);
  state.receipts.set(chatId, newerReceipts(state.receipts.get(chatId), reply.receipts || {}));
  state.receiptsMin.set(chatId, reply.receipts_min || null);
  // Newer than the reply's chat: messages that arrived while it was on its way.
  if (state.chats.get(chatId).last_seq > maxSeq(chatId)) await fetchAfter(chatId);
  markRead(chatId);
  render();
}

function newerReceipts(known = {}, replied) {
  // A chat:opened reply can be older than chat:receipt frames that overtook it: pointers only move up.
  const merged = { ...replied };
  for (const [user, pointers] of Object.entries(known)) {
    const other = merged[user] || { delivered_seq: 0, read_seq: 0 };
    merged[user] = {
      delivered_seq: Math.max(pointers.delivered_seq || 0, other.delivered_seq || 0),
      read_seq: Math.max(pointers.read_seq || 0, other.read_seq || 0),
    };
  }
  return merged;
}

function takeLatestPage(chatId, reply) {
  // Join chat:opened's page to what is loaded; a page that leaves a gap replaces it.
  const loaded = state.messages.get(chatId);
  // An empty page (a reply older than what acks already added) leaves the loaded ones alone.
  const lowest = reply.messages.length ? reply.messages[0].seq : null;
  const fresh = !loaded || !loaded.size || (lowest !== null && lowest > maxSeq(chatId) + 1);
  if (fresh) state.messages.set(chatId, new Map());
  if (fresh || (lowest !== null && lowest <= minSeq(chatId))) state.olderExist.set(chatId, Boolean(reply.has_more));
  addMessages(chatId, reply.messages);
}

function send(chatId, text) {
  const id = newClientMsgId();
  state.pending.set(id, { chat_id: chatId, text, failed: false });
  saveOutbox();
  render();
  sendNext(chatId);
}

// The outbox: messages not yet acknowledged, kept in localStorage (per user) so a reload or a
// closed tab does not lose them; they are sent again with the same client_msg_id, which the
// server stores once.
function outboxKey() {
  return `chat.outbox.${state.me}`;
}

function saveOutbox() {
  const unsent = [...state.pending.entries()]
    .filter(([, p]) => !p.failed)
    .map(([id, p]) => ({ id, chat_id: p.chat_id, text: p.text }));
  try {
    if (unsent.length) localStorage.setItem(outboxKey(), JSON.stringify(unsent));
    else localStorage.removeItem(outboxKey());
  } catch {
    // storage refused (private mode, full): the page still sends, it just cannot keep them
  }
}

function loadOutbox() {
  let saved = [];
  try {
    saved = JSON.parse(localStorage.getItem(outboxKey()) || "[]");
  } catch {
    saved = [];
  }
  if (!Array.isArray(saved)) return;
  for (const m of saved) {
    if (m && typeof m.id === "string" && typeof m.chat_id === "string" && typeof m.text === "string") {
      state.pending.set(m.id, { chat_id: m.chat_id, text: m.text, failed: false });
    }
  }
}

function sendAll() {
  for (const chatId of new Set([...state.pending.values()].map((p) => p.chat_id))) sendNext(chatId);
}

function sendNext(chatId) {
  // The oldest unsent message of a chat, once the one before it is acknowledged.
  if (state.sending.has(chatId) || !conn.online) return; // resync sends again after reconnecting
  const next = [...state.pending.entries()].find(([, p]) => p.chat_id === chatId && !p.failed);
  if (next) trySend(next[0]);
}

function retryDelay(err) {
  // rate_limited says when the next action is taken (cut to 30 s); otherwise a second.
  if (err.code === "rate_limited" && err.retryAfterMs !== null) return Math.min(err.retryAfterMs, 30000) + 50;
  return 1000;
}

function trySend(id) {
  const p = state.pending.get(id);
  state.sending.add(p.chat_id);
  const done = () => {
    state.sending.delete(p.chat_id);
    sendNext(p.chat_id);
  };
  conn
    .request("message.send", { chat_id: p.chat_id, client_msg_id: id, text: p.text })
    .then((ack) => {
      state.pending.delete(id);
      saveOutbox();
      done();
      if (!state.chats.has(p.chat_id)) return;
      addMessages(p.chat_id, [
        {
          chat_id: p.chat_id, seq: ack.seq, message_id: ack.message_id, client_msg_id: id,
          sender_id: state.me, text: p.text, sent_at: ack.sent_at, kind: "text",
        },
      ]);
      applyPointers(p.chat_id, state.me, { delivered_seq: ack.seq, read_seq: ack.seq });
      render();
    })
    .catch((err) => {
      const again = ["timeout", "disconnected", "unavailable", "rate_limited"];
      if (again.includes(err.code)) {
        state.sending.delete(p.chat_id); // same client_msg_id again: the server stores it once
        if (err.code !== "disconnected") setTimeout(() => sendNext(p.chat_id), retryDelay(err));
        return;
      }
      if (state.pending.has(id)) {
        p.failed = true; // shown as not sent; the ones after it go on
        saveOutbox();
        toast(`Not sent: ${plainError(err, "message.send")}`);
        render();
      }
      done();
    });
}

// ------------------------------------------------------------------ push: notifications, mute

function showChat(chatId) {
  // From a notification (its click focused the tab): the chat on screen, now or once the chat
  // list has it.
  if (!state.chats.has(chatId)) {
    chatToOpen = chatId;
    return;
  }
  chatToOpen = null;
  openChat(chatId).catch((err) => toast(plainError(err)));
}

async function setMuted(chatId, muted) {
  const reply = await conn.request("chat.mute", { chat_id: chatId, muted });
  const chat = state.chats.get(chatId);
  if (!chat) return; // left or removed meanwhile
  state.muted.set(chatId, reply.muted);
  chat.muted = reply.muted;
  render();
}

async function enableNotifications() {
  // A click asks for permission; then this browser subscribes for Web Push too.
  const permission = await notifier.enable();
  render();
  if (permission === "granted") subscribeWebPush();
  else if (permission === "denied") toast("Notifications are blocked: allow them in the browser's site settings");
}

function subscribeWebPush() {
  // Once per page, when notifications are allowed and the connection is up.
  if (notifier.permission !== "granted" || webPush !== "not tried" || !conn?.online) return;
  webPush = "trying";
  notifier
    .subscribe((subscription) =>
      conn.request("device.register", { platform: "webpush", subscription }).then((reply) => reply.device))
    .then((outcome) => (webPush = outcome))
    .catch((err) => (webPush = `failed: ${err.message}`));
}

// ------------------------------------------------------------------ membership

async function startDirect(user) {
  // The pair's one direct chat: created the first time, the same chat ever after.
  const reply = await conn.request("chat.create", { members: [user], direct: true });
  storeChat(reply.chat);
  return reply.chat.chat_id;
}

async function changeChat(action, fields) {
  // chat.add / chat.remove / chat.update: the reply is the chat; this connection gets no
  // copy of the system message, so it fetches it to show the notice in its own timeline.
  const reply = await conn.request(action, fields);
  storeChat(reply.chat);
  const chatId = reply.chat.chat_id;
  if (!state.chats.has(chatId)) return; // removed by someone else meanwhile
  if (state.messages.has(chatId) && reply.chat.last_seq > maxSeq(chatId)) await fetchAfter(chatId);
  if (state.open === chatId) markRead(chatId);
  render();
}

async function leaveChat(chatId) {
  await conn.request("chat.leave", { chat_id: chatId });
  dropChat(chatId, "left");
}

const WHAT_FAILED = {
  "chat.mute": { forbidden: "You are not in this chat any more" },
  "chat.add": {
    forbidden: "Only admins can add people",
    too_large: "A chat can have at most 1,000 members",
    bad_request: `Check the user ids: ${USER_ID_RULE}`,
  },
  "chat.remove": { forbidden: "Only admins can remove people" },
  rename: { forbidden: "Only admins can rename the chat" },
  admins: { forbidden: "Only admins can make someone admin", too_large: "A chat can have at most 100 admins" },
  "chat.leave": { forbidden: "You are not in this chat any more" },
  "chat.create": {
    too_large: "A chat can have at most 1,000 members",
    bad_request: `Check the user ids: ${USER_ID_RULE}`,
  },
  "message.send": { too_large: "The message is too long", bad_request: "The message cannot be sent as written" },
};

const ANY_FAILED = {
  bad_request: "The server could not accept that request",
  forbidden: "You are not a member of this chat",
  not_found: "This chat no longer exists",
  too_large: "That is too large",
  rate_limited: "Too many requests: wait a moment and try again",
  unavailable: "The server is busy: try again",
  internal: "Something went wrong on the server: try again",
  timeout: "No answer from the server: try again",
  disconnected: "Not connected: try again when back online",
};

function plainError(err, what) {
  // Words for people: never the server's validator text.
  const words = (WHAT_FAILED[what] || {})[err.code] || ANY_FAILED[err.code];
  if (words) return words;
  if (err instanceof RequestError) return "Something went wrong: try again";
  const text = err.message || "request refused";
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function badUserIds(ids) {
  // The first id that the server would refuse, with what the format is.
  const bad = ids.find((id) => !USER_ID.test(id));
  return bad === undefined ? null : `"${bad}" is not a user id: ${USER_ID_RULE}`;
}

function act(what, promise) {
  return promise.catch((err) => toast(plainError(err, what)));
}

function splitUserIds(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

// ------------------------------------------------------------------ rendering

function otherMembers(chat) {
  return membersOf(chat).filter((m) => m !== state.me);
}

function chatTitle(chat) {
  if (chat.kind === "direct") return otherMembers(chat)[0] || directPeer(chat);
  if (chat.title) return chat.title;
  if (!chat.members) return `Group of ${chat.member_count}`;
  const others = otherMembers(chat);
  return others.length ? others.join(", ") : "just you";
}

function directPeer(chat) {
  // The other person of a direct chat they have left: its creator, or whoever left it.
  if (chat.created_by && chat.created_by !== state.me) return chat.created_by;
  const left = chat.last_message?.system?.type === "left" ? chat.last_message.sender_id : null;
  return left && left !== state.me ? left : "direct chat";
}

function isAdmin(chat, user) {
  return (chat.admins || []).includes(user);
}

function joinedAt(chatId) {
  // Who was added after the chat began, and at which seq, as far as the loaded timeline shows.
  const joined = new Map();
  const loaded = [...(state.messages.get(chatId) || new Map()).values()].sort((a, b) => a.seq - b.seq);
  for (const m of loaded) {
    if (m.kind === "system" && m.system?.type === "added") for (const u of m.system.users) joined.set(u, m.seq);
  }
  return joined;
}

function tickStatus(chat, message, joined) {
  // A member added after a message never sees it: they do not hold its ticks back.
  const reached = (field) => {
    if (chat.member_count > LARGE_CHAT || !chat.members) return (state.receiptsMin.get(chat.chat_id)?.[field] || 0) >= message.seq;
    const others = otherMembers(chat).filter((u) => !(joined.get(u) > message.seq));
    const pointers = state.receipts.get(chat.chat_id) || {};
    return others.length > 0 && others.every((u) => (pointers[u]?.[field] || 0) >= message.seq);
  };
  if (reached("read_seq")) return "read";
  if (reached("delivered_seq")) return "delivered";
  return "sent";
}

// Each status has its own shape, not only its own colour, and says what it means in words.
const TICKS = {
  pending: { label: "Sending", shapes: [["circle", { cx: "9", cy: "7", r: "5.5", fill: "none" }], ["path", { d: "M9 4v3.5l2.5 1.5", fill: "none" }]] },
  sent: { label: "Sent", shapes: [["path", { d: "M4 7.5l3 3 6-7", fill: "none" }]] },
  delivered: { label: "Delivered to everyone", shapes: [["path", { d: "M1 7.5l3 3 6-7M7.5 9l1.5 1.5 6-7", fill: "none" }]] },
  read: { label: "Read by everyone", shapes: [["path", { d: "M1 7.5l3 3 6-7M7.5 9l1.5 1.5 6-7", fill: "none" }]] },
  failed: { label: "Not sent", shapes: [["circle", { cx: "9", cy: "7", r: "5.5", fill: "none" }], ["path", { d: "M9 4v4M9 9.5v1", fill: "none" }]] },
};

function tickIcon(status) {
  const tick = el("span", "tick");
  tick.dataset.status = status;
  tick.setAttribute("role", "img");
  tick.setAttribute("aria-label", TICKS[status].label);
  tick.title = TICKS[status].label;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 18 14");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "1.8");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  for (const [tag, attributes] of TICKS[status].shapes) {
    const shape = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attributes)) shape.setAttribute(name, value);
    svg.append(shape);
  }
  tick.append(svg);
  return tick;
}

const LINK = /https?:\/\/[^\s<>"]+/gi;

function messageText(text) {
  // The text as text nodes, with http(s) URLs as links: built node by node, never as HTML.
  const span = el("span", "text");
  let at = 0;
  for (const match of text.matchAll(LINK)) {
    const url = match[0].replace(/[.,;:!?)\]'"]+$/, ""); // trailing punctuation is not the link's
    if (match.index > at) span.append(document.createTextNode(text.slice(at, match.index)));
    span.append(link(url));
    at = match.index + url.length;
  }
  if (at < text.length) span.append(document.createTextNode(text.slice(at)));
  return span;
}

function link(url) {
  let parsed = null;
  try {
    parsed = new URL(url);
  } catch {
    parsed = null;
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) return document.createTextNode(url);
  const a = document.createElement("a");
  a.href = parsed.href;
  a.textContent = url;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

function dayKey(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

function daysAgo(iso) {
  const start = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  return Math.round((start(new Date()) - start(new Date(iso))) / 86400000);
}

function dayLabel(iso) {
  const ago = daysAgo(iso);
  if (ago === 0) return "Today";
  if (ago === 1) return "Yesterday";
  const d = new Date(iso);
  const sameYear = d.getFullYear() === new Date().getFullYear();
  return d.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long", year: sameYear ? undefined : "numeric" });
}

function daySeparator(iso) {
  const item = el("li", "day", dayLabel(iso));
  item.setAttribute("role", "separator");
  return item;
}

function clockTime(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function listTime(iso) {
  // The chat list: the time today, the weekday this week, the date before that.
  if (!iso) return "";
  const ago = daysAgo(iso);
  if (ago === 0) return clockTime(iso);
  if (ago === 1) return "Yesterday";
  if (ago < 7) return new Date(iso).toLocaleDateString([], { weekday: "short" });
  return new Date(iso).toLocaleDateString([], { day: "numeric", month: "short", year: "2-digit" });
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(className, text, onclick) {
  const node = el("button", className, text);
  node.type = "button";
  node.onclick = onclick;
  return node;
}

function preview(message) {
  if (!message) return "no messages yet";
  return message.kind === "system" ? message.text : `${message.sender_id}: ${message.text}`;
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
      item.dataset.kind = chat.kind || "group";
      item.classList.toggle("is-muted", Boolean(chat.muted));
      const titleRow = el("span", "title-row");
      titleRow.style.gridColumn = "1";
      titleRow.append(el("span", "title", chatTitle(chat)));
      if (chat.muted) titleRow.append(mutedIcon());
      item.append(titleRow);
      const unread = chat.chat_id === state.open ? 0 : chat.unread;
      const badge = el("span", "badge", String(unread));
      badge.dataset.count = String(unread);
      item.append(badge);
      const at = chat.last_message ? chat.last_message.sent_at : chat.created_at;
      const time = el("time", "time", listTime(at));
      time.dateTime = at;
      time.title = new Date(at).toLocaleString();
      item.append(time);
      item.append(el("span", "preview", preview(chat.last_message)));
      item.onclick = () => openChat(chat.chat_id).catch((e) => toast(plainError(e)));
      return item;
    }),
  );
  if (!chats.length) list.append(el("li", "empty-list muted", "No chats yet: start one with “New chat”."));
}

function mutedIcon() {
  const icon = el("span", "mute-icon");
  icon.setAttribute("role", "img");
  icon.setAttribute("aria-label", "Muted");
  icon.title = "Muted: no notifications";
  icon.append(bellIcon(true));
  return icon;
}

function bellIcon(off) {
  // A bell, struck through when off (drawn here: no icon font to load).
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const shapes = [
    ["path", { d: "M6 16v-5a6 6 0 0 1 12 0v5l2 2H4z", fill: "currentColor" }],
    ["circle", { cx: "12", cy: "20.5", r: "2", fill: "currentColor" }],
  ];
  if (off) {
    shapes.push(["line", { x1: "3", y1: "3", x2: "21", y2: "21", stroke: "#fff", "stroke-width": "5" }]);
    shapes.push(["line", { x1: "3", y1: "3", x2: "21", y2: "21", stroke: "currentColor", "stroke-width": "2" }]);
  }
  for (const [tag, attributes] of shapes) {
    const shape = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attributes)) shape.setAttribute(name, value);
    svg.append(shape);
  }
  return svg;
}

function renderMuteToggle(chat) {
  // A toggle: its name stays "Mute", aria-pressed says whether the chat is muted.
  const button = $("mute-btn");
  button.hidden = !chat;
  if (!chat) return;
  const muted = Boolean(chat.muted);
  if (button.getAttribute("aria-pressed") === String(muted) && button.childElementCount) return;
  button.setAttribute("aria-pressed", String(muted));
  button.title = muted ? "Muted: no notifications for this chat. Click to unmute" : "Mute this chat's notifications";
  button.replaceChildren(bellIcon(muted), document.createTextNode("Mute"));
}

function renderNotifyControl() {
  const permission = notifier.permission;
  $("notify").hidden = permission === "unsupported";
  $("notify-btn").hidden = permission !== "default";
  if (!$("notify-btn").childElementCount) $("notify-btn").prepend(bellIcon(false));
  $("notify-state").textContent =
    permission === "granted" ? "Notifications on" : permission === "denied" ? "Notifications blocked by the browser" : "";
}

function renderConversation() {
  const chat = state.open && state.chats.get(state.open);
  $("composer").hidden = !chat;
  $("members-btn").hidden = !chat;
  renderMuteToggle(chat);
  $("conv-notice").hidden = Boolean(chat) || !state.notice;
  $("conv-notice").textContent = state.notice || "";
  if (!chat) {
    $("conv-title").textContent = "Pick a chat";
    $("conv-members").textContent = "";
    $("messages").replaceChildren();
    delete $("messages").dataset.chatId;
    $("typing").textContent = "";
    return;
  }
  $("conv-title").textContent = chatTitle(chat);
  $("conv-members").textContent = chat.kind === "direct" ? "direct chat"
    : chat.members ? chat.members.join(", ") : `${chat.member_count} members`;
  renderTimeline(chat);
  const now = Date.now();
  const typing = [...(state.typing.get(chat.chat_id) || new Map()).entries()]
    .filter(([, until]) => until > now)
    .map(([user]) => user);
  $("typing").textContent = typing.length ? `${typing.join(", ")} ${typing.length > 1 ? "are" : "is"} typing…` : "";
}

function renderTimeline(chat) {
  const loaded = [...(state.messages.get(chat.chat_id) || new Map()).values()].sort((a, b) => a.seq - b.seq);
  const pending = [...state.pending.entries()].filter(([, p]) => p.chat_id === chat.chat_id);
  const joined = joinedAt(chat.chat_id);
  const box = $("messages");
  const switched = box.dataset.chatId !== chat.chat_id;
  box.dataset.chatId = chat.chat_id;
  const atBottom = switched || box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const earlier = [];
  if (state.olderExist.get(chat.chat_id)) {
    const item = el("li", "load-earlier");
    item.append(button("plain", loadingEarlier.has(chat.chat_id) ? "Loading…" : "Load earlier messages", () =>
      loadEarlier(chat.chat_id).catch((e) => toast(plainError(e)))));
    earlier.push(item);
  }
  const items = [];
  let day = null;
  for (const m of loaded) {
    const thisDay = dayKey(m.sent_at);
    if (thisDay !== day) items.push(daySeparator(m.sent_at));
    day = thisDay;
    items.push(m.kind === "system" ? systemItem(m) : messageItem(chat, m, joined));
  }
  if (pending.length && day !== dayKey(new Date().toISOString())) items.push(daySeparator(new Date().toISOString()));
  box.replaceChildren(...earlier, ...items, ...pending.map(([, p]) => pendingItem(p)));
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function systemItem(m) {
  const item = el("li", "system", m.text);
  item.dataset.seq = String(m.seq);
  item.title = new Date(m.sent_at).toLocaleString();
  return item;
}

function messageItem(chat, m, joined) {
  const mine = m.sender_id === state.me;
  const item = el("li", "msg" + (mine ? " mine" : ""));
  item.dataset.seq = String(m.seq);
  if (!mine && chat.kind !== "direct" && chat.member_count > 2) item.append(el("span", "sender", m.sender_id));
  item.append(messageText(m.text));
  const meta = el("span", "meta");
  const time = el("time", null, clockTime(m.sent_at));
  time.dateTime = m.sent_at;
  time.title = new Date(m.sent_at).toLocaleString();
  meta.append(time);
  if (mine) meta.append(tickIcon(tickStatus(chat, m, joined)));
  item.append(meta);
  return item;
}

function pendingItem(p) {
  const item = el("li", "msg mine pending");
  item.append(messageText(p.text));
  const meta = el("span", "meta");
  meta.append(tickIcon(p.failed ? "failed" : "pending"));
  item.append(meta);
  return item;
}

function keepScrollPosition(update) {
  // Content added above (earlier messages) must not move what the reader is looking at.
  const box = $("messages");
  const fromBottom = box.scrollHeight - box.scrollTop;
  update();
  box.scrollTop = box.scrollHeight - fromBottom;
}

function renderMembersPanel() {
  const chat = state.open && state.chats.get(state.open);
  const shown = Boolean(chat) && state.panel;
  $("members-panel").hidden = !shown;
  $("app").classList.toggle("with-panel", shown);
  $("members-btn").setAttribute("aria-pressed", String(shown));
  if (!shown) return;
  const group = chat.kind !== "direct";
  const admin = group && isAdmin(chat, state.me);
  if (!chat.members) loadMembersOnce(chat.chat_id);
  $("member-count").textContent = String(chat.member_count ?? membersOf(chat).length);
  $("member-list").replaceChildren(...membersOf(chat).map((user) => memberItem(chat, user, admin)));
  $("add-form").hidden = !admin;
  $("rename-form").hidden = !admin;
  $("rename-input").placeholder = chat.title || "a name for this chat";
  $("admin-hint").hidden = !group || admin;
  $("leave-btn").hidden = !group;
}

const membersRequested = new Set(); // a failed load is not retried until the panel is reopened

function loadMembersOnce(chatId) {
  if (membersRequested.has(chatId)) return;
  membersRequested.add(chatId);
  loadMembers(chatId)
    .then(() => membersRequested.delete(chatId))
    .catch((e) => toast(plainError(e)));
}

function memberItem(chat, user, iAmAdmin) {
  const item = el("li", "member");
  item.dataset.user = user;
  item.append(el("span", "name", user === state.me ? `${user} (you)` : user));
  if (isAdmin(chat, user)) item.append(el("span", "role", "admin"));
  if (iAmAdmin && user !== state.me) {
    const actions = el("span", "actions");
    if (!isAdmin(chat, user)) {
      actions.append(button("plain make-admin", "Make admin", () =>
        act("admins", changeChat("chat.update", { chat_id: chat.chat_id, admins: [...chat.admins, user] }))));
    }
    actions.append(button("plain danger remove", "Remove", () => {
      if (!confirm(`Remove ${user} from ${chatTitle(chat)}?`)) return;
      act("chat.remove", changeChat("chat.remove", { chat_id: chat.chat_id, members: [user] }));
    }));
    item.append(actions);
  }
  return item;
}

function render() {
  const inChat = Boolean(state.open || state.notice); // below 700 px: one view at a time
  $("app").classList.toggle("view-chat", inChat);
  $("app").classList.toggle("view-list", !inChat);
  renderTabTitle();
  renderNotifyControl();
  renderList();
  renderConversation();
  renderMembersPanel();
}

function renderTabTitle() {
  // "(3) Chat": unread messages in chats other than the one being read.
  let unread = 0;
  const reading = pageHidden() ? null : state.open; // a hidden tab reads nothing
  for (const chat of state.chats.values()) if (chat.chat_id !== reading && !chat.muted) unread += chat.unread || 0;
  const title = unread ? `(${unread}) Chat` : "Chat";
  if (document.title !== title) document.title = title;
}

function toast(text) {
  // A banner above the composer, and on a phone's chat list (where the conversation is hidden)
  // one at the top of the list; CSS shows the one that is on screen.
  const boxes = [$("toast"), $("list-notice")];
  for (const box of boxes) {
    box.textContent = text;
    box.hidden = false;
  }
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => boxes.forEach((box) => (box.hidden = true)), 6000);
}

// ------------------------------------------------------------------ wiring

async function fetchToken(user) {
  const response = await fetch(`/dev/token?user=${encodeURIComponent(user)}`);
  if (!response.ok) throw new Error(`cannot log in as ${user}`);
  return (await response.json()).token;
}

function login(user) {
  state.me = user;
  try {
    localStorage.setItem("chat.user", user); // so a notification's click can open the page as you
  } catch {
    // storage refused (private mode): only /?user= logs in then
  }
  $("me").textContent = user;
  loadOutbox();
  $("login").hidden = true;
  $("app").hidden = false;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  conn = new Connection({
    url: async () => `${scheme}://${location.host}/ws?token=${encodeURIComponent(await fetchToken(user))}`,
    onFrame,
    onOpen: () => resync().catch((e) => toast(plainError(e))),
    onState: (s) => {
      $("conn-status").dataset.state = s;
      $("conn-status").textContent = s;
    },
  });
  conn.start();
}

let typingSent = 0;
let typingTimer = null;

function takeInput(id) {
  // Read and clear a field at once: a reply that comes late must not wipe what was typed since.
  const value = $(id).value.trim();
  $(id).value = "";
  return value;
}

function giveBack(id, value) {
  // The request failed: put back what was sent, unless something new was typed meanwhile.
  if (!$(id).value) $(id).value = value;
}

function formError(text) {
  // Problems with the new-chat forms show under them (the banner is in the conversation).
  $("new-chat-error").textContent = text || "";
  $("new-chat-error").hidden = !text;
}

function showNewChat(shown) {
  $("new-chat-panel").hidden = !shown;
  $("new-chat-btn").setAttribute("aria-expanded", String(shown));
  $("new-chat-btn").textContent = shown ? "Cancel" : "+ New chat";
  formError(null);
  if (shown) $("direct-user").focus();
}

function setupSidebar() {
  $("new-chat-btn").onclick = () => showNewChat($("new-chat-panel").hidden);
  $("logout-btn").onclick = logout;
  $("new-chat").onsubmit = async (event) => {
    event.preventDefault();
    const members = splitUserIds($("new-members").value);
    const problem = members.length ? badUserIds(members) : `Add at least one member: ${USER_ID_RULE}`;
    if (problem) return formError(problem);
    const [typed, title] = [takeInput("new-members"), takeInput("new-title")];
    let reply;
    try {
      reply = await conn.request("chat.create", title ? { members, title } : { members });
    } catch (err) {
      giveBack("new-members", typed);
      giveBack("new-title", title);
      return formError(plainError(err, "chat.create"));
    }
    showNewChat(false);
    storeChat(reply.chat);
    await openChat(reply.chat.chat_id).catch((err) => toast(plainError(err)));
  };
  $("new-direct").onsubmit = async (event) => {
    event.preventDefault();
    const typed = $("direct-user").value.trim();
    const problem = badUserIds([typed]);
    if (problem) return formError(problem);
    if (typed === state.me) return formError("Pick someone other than yourself");
    const user = takeInput("direct-user");
    let chatId;
    try {
      chatId = await startDirect(user);
    } catch (err) {
      giveBack("direct-user", user); // trying again is safe: it is always the same chat
      return formError(plainError(err, "chat.create"));
    }
    showNewChat(false); // before the chat shows, so a form opened after that stays open
    await openChat(chatId).catch((err) => toast(plainError(err)));
  };
}

function logout() {
  // Switch user: forget who is logged in (the outbox stays, kept per user) and start over.
  try {
    localStorage.removeItem("chat.user");
  } catch {
    // storage refused: nothing remembered anyway
  }
  location.assign("/");
}

function setupMembersPanel() {
  $("members-btn").onclick = () => {
    state.panel = !state.panel;
    membersRequested.clear();
    render();
  };
  $("panel-close").onclick = () => {
    state.panel = false;
    render();
  };
  $("add-form").onsubmit = (event) => {
    event.preventDefault();
    if (!state.open) return;
    const members = splitUserIds($("add-input").value);
    if (!members.length) return;
    const problem = badUserIds(members);
    if (problem) return toast(problem);
    const typed = takeInput("add-input");
    act("chat.add", changeChat("chat.add", { chat_id: state.open, members }).catch((err) => {
      giveBack("add-input", typed);
      throw err;
    }));
  };
  $("rename-form").onsubmit = (event) => {
    event.preventDefault();
    if (!state.open) return;
    const title = takeInput("rename-input");
    if (!title) return;
    act("rename", changeChat("chat.update", { chat_id: state.open, title }).catch((err) => {
      giveBack("rename-input", title);
      throw err;
    }));
  };
  $("leave-btn").onclick = () => {
    const chat = state.open && state.chats.get(state.open);
    if (!chat || !confirm(`Leave ${chatTitle(chat)}? You will no longer get its messages.`)) return;
    act("chat.leave", leaveChat(chat.chat_id));
  };
}

function setupConversation() {
  $("back-btn").onclick = () => {
    state.open = null;
    state.notice = null;
    state.panel = false;
    render();
  };
  $("messages").onscroll = () => {
    if (state.open && $("messages").scrollTop < 20) loadEarlier(state.open).catch(() => {});
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
}

function setup() {
  $("login-user").oninput = () => {
    const value = $("login-user").value.trim();
    $("login-user").setCustomValidity(!value || USER_ID.test(value) ? "" : `Use 1-64 letters, digits, '_', '.', '@' or '-'`);
  };
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
  setupSidebar();
  setupMembersPanel();
  setupConversation();
  setupNotifications();
  const query = new URLSearchParams(location.search);
  chatToOpen = query.get("chat");
  const preset = query.get("user") || (chatToOpen && rememberedUser());
  if (preset) login(preset);
}

function rememberedUser() {
  try {
    return localStorage.getItem("chat.user");
  } catch {
    return null;
  }
}

function setupNotifications() {
  notifier.registerWorker();
  $("notify-btn").onclick = () => enableNotifications().catch((err) => toast(plainError(err)));
  $("mute-btn").onclick = () => {
    const chat = state.open && state.chats.get(state.open);
    if (chat) act("chat.mute", setMuted(chat.chat_id, !chat.muted));
  };
  document.addEventListener("visibilitychange", () => {
    if (pageHidden() || !state.open) return;
    notifier.closeFor(state.open);
    markRead(state.open); // what arrived while the tab was hidden is read now
    render();
  });
}

setup();
// For tests and the curious: the page's state and connection.
window.chat = { state, notifier, get conn() { return conn; }, get webPush() { return webPush; } };
