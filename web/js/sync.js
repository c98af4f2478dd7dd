// Sync: keeping the page's state in step with the server.
//
// - After every (re)connect, resync(): every page of chat.list, chat.members for a chat missing
//   from it (removed while away, or gone), chat.history `after` for loaded chats, re-open the
//   chat on screen, then the outbox goes again and Web Push is subscribed (once).
// - Frames the server sends unasked: messages (a gap fetches what is missing; a chat not yet
//   known resyncs), chat:added / chat:updated / chat:removed, receipts, typing, and
//   chat:message:updated (a message edited, deleted or reacted to).
// - Changes missed (offline, or viewing another chat: only the connections viewing a chat get
//   chat:message:updated): after every (re)connect and on opening a chat, chat.changes from the
//   highest rev this page has applied, for every chat whose messages are loaded.
// - Opening a chat (chat.open joined to what is loaded), older pages on request (`has_more`),
//   delivered / read receipts (read only while the tab is visible; delivered through
//   confirm.js, at most once a second per chat), notifying a message the user cannot see, and
//   dropping a chat this user is no longer in.

import { conn } from "./connection.js";
import { keepScrollPosition, toast } from "./dom.js";
import {
  addMessages, applyChange, applyPointers, chatTitle, findMessage, maxSeq, minSeq, newerReceipts, noteMessages, noteRev,
  render, state, storeChat, takeLatestPage,
} from "./store.js";
import { plainError } from "./errors.js";
import { dropUnknownOutbox, saveOutbox, sendAll } from "./outbox.js";
import { pageHidden } from "./notify.js";
import { notifier, subscribeWebPush } from "./notifications.js";
import { Confirmer } from "./confirm.js";
import { noteUnread } from "./unread.js";

const TYPING_SHOW_MS = 6000;

const confirmer = new Confirmer((chatId, seq) => receipt("message.delivered", chatId, seq));

let chatToOpen = null; // a chat to open once the chat list is loaded (/?chat=ID, a notification)

export function openWhenListed(chatId) {
  chatToOpen = chatId;
}

export function dropChat(chatId, how) {
  // This user is no longer a member: forget the chat, and say so if it was on screen.
  const chat = state.chats.get(chatId);
  if (!chat) return;
  const text = {
    left: `You left ${chatTitle(chat)}`,
    removed: `You were removed from ${chatTitle(chat)}`,
    gone: `${chatTitle(chat)} no longer exists on the server`, // a local stack started afresh
  }[how];
  state.gone.set(chatId, chat.last_seq);
  confirmer.forget(chatId);
  for (const map of [
    state.chats, state.metaSeq, state.messages, state.olderExist,
    state.receipts, state.receiptsMin, state.typing, state.notify, state.revs, state.changed, state.quoted,
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

export async function resync() {
  const known = new Set(state.chats.keys());
  state.notify.clear(); // the list below says each chat's level, this page's settings included
  const listed = await listAllChats();
  for (const chat of listed.values()) storeChat(chat);
  for (const chatId of known) {
    if (!listed.has(chatId) && state.chats.has(chatId)) await confirmMembership(chatId);
  }
  for (const chatId of state.messages.keys()) {
    const chat = state.chats.get(chatId);
    if (chat && chat.last_seq > maxSeq(chatId)) await fetchAfter(chatId);
    if (chat && (chat.last_rev || 0) > (state.revs.get(chatId) || 0)) await fetchChanges(chatId);
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

export async function loadMembers(chatId) {
  const reply = await conn.request("chat.members", { chat_id: chatId });
  const chat = state.chats.get(chatId);
  if (!chat) return;
  chat.members = reply.members;
  chat.admins = reply.admins;
  chat.member_count = reply.members.length;
  render();
}

export async function fetchAfter(chatId) {
  for (let page = 0; page < 100; page++) {
    const reply = await conn.request("chat.history", { chat_id: chatId, after: maxSeq(chatId), limit: 100 });
    addMessages(chatId, reply.messages);
    if (!reply.has_more || !reply.messages.length) break;
  }
}

const changesAsked = new Map(); // chat_id -> the chat.changes on its way

export function fetchChanges(chatId, from = null) {
  // What changed after `from` (by default the highest rev applied here when it is asked), by
  // rev ascending, page by page; one at a time per chat (a second ask follows the first).
  const before = changesAsked.get(chatId) || Promise.resolve();
  const asking = before.catch(() => {}).then(() => changesAfter(chatId, from ?? (state.revs.get(chatId) || 0)));
  changesAsked.set(chatId, asking);
  asking.finally(() => changesAsked.get(chatId) === asking && changesAsked.delete(chatId)).catch(() => {});
  return asking;
}

export function takeChange(chatId, message) {
  // A change heard of (a frame, or the reply to this page's own): applied, and if its rev is
  // past the next one, what came between is asked for (a frame still on its way, or a change
  // made while this connection was not yet viewing the chat; revs may also skip a number).
  const seen = state.revs.get(chatId);
  if (state.messages.has(chatId) && seen !== undefined && (message.rev || 0) > seen + 1) {
    fetchChanges(chatId, seen).catch(() => {});
  }
  applyChange(chatId, message);
}

async function changesAfter(chatId, rev) {
  let after = rev;
  for (let page = 0; page < 100; page++) {
    const reply = await conn.request("chat.changes", { chat_id: chatId, after_rev: after, limit: 100 });
    for (const m of reply.messages) applyChange(chatId, m);
    if (!reply.has_more || !reply.messages.length) {
      noteRev(chatId, reply.last_rev); // revs need not be gapless: the last may be no message's
      break;
    }
    after = Math.max(after, ...reply.messages.map((m) => m.rev));
  }
  render();
}

export const loadingEarlier = new Map(); // chat_id -> the page of older messages on its way

export function loadEarlier(chatId, limit = 50) {
  // One page below the oldest loaded message; the reply may be short of `limit` (128 KiB cap).
  if (loadingEarlier.has(chatId)) return loadingEarlier.get(chatId);
  if (!state.olderExist.get(chatId)) return Promise.resolve();
  const loading = (async () => {
    try {
      const reply = await conn.request("chat.history", { chat_id: chatId, before: minSeq(chatId), limit });
      addMessages(chatId, reply.messages);
      state.olderExist.set(chatId, reply.has_more && reply.messages.length > 0);
    } finally {
      loadingEarlier.delete(chatId);
    }
    keepScrollPosition(render);
  })();
  loadingEarlier.set(chatId, loading);
  return loading;
}

export function onFrame(frame) {
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
    case "chat:message:updated":
      if (frame.message && state.chats.has(frame.message.chat_id)) takeChange(frame.message.chat_id, frame.message);
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
  const repliesToMe = message.reply_to ? findMessage(chatId, message.reply_to)?.sender_id === state.me : false;
  if (notifier.wanted(state.chats.get(chatId), message, state.me, repliesToMe)) notifier.show(state.chats.get(chatId), message);
  // In a hidden tab nobody reads it yet: delivered now, read when the tab is shown.
  if (live && state.open === chatId && !pageHidden()) markRead(chatId);
  else confirmer.received(chatId, message.seq);
}

function receipt(action, chatId, seq) {
  // The promise fails when the receipt did (confirm.js then confirms again with the next one).
  return conn.request(action, { chat_id: chatId, seq }).then((ok) => {
    applyPointers(chatId, state.me, ok);
    render();
  });
}

export function markRead(chatId) {
  const chat = state.chats.get(chatId);
  if (!chat || chat.last_seq <= chat.read_seq || pageHidden()) return;
  confirmer.confirmed(chatId, chat.last_seq);
  receipt("message.read", chatId, chat.last_seq).catch(() => {});
}

export async function openChat(chatId) {
  const chat = state.chats.get(chatId);
  if (chat && state.open !== chatId) noteUnread(chat); // before it is read: where the divider goes
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
  const firstLoad = !state.messages.get(chatId)?.size;
  takeLatestPage(chatId, reply);
  // A first page shows its messages as they are now: changes after it are what to ask for.
  if (firstLoad && !state.revs.has(chatId)) state.revs.set(chatId, reply.chat.last_rev || 0);
  else if ((reply.chat.last_rev || 0) > (state.revs.get(chatId) || 0)) await fetchChanges(chatId);
  state.receipts.set(chatId, newerReceipts(state.receipts.get(chatId), reply.receipts || {}));
  state.receiptsMin.set(chatId, reply.receipts_min || null);
  // Newer than the reply's chat: messages that arrived while it was on its way.
  if (state.chats.get(chatId).last_seq > maxSeq(chatId)) await fetchAfter(chatId);
  markRead(chatId);
  render();
}

export function showChat(chatId) {
  // From a notification (its click focused the tab): the chat on screen, now or once the chat
  // list has it.
  if (!state.chats.has(chatId)) {
    chatToOpen = chatId;
    return;
  }
  chatToOpen = null;
  openChat(chatId).catch((err) => toast(plainError(err)));
}
