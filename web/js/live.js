// Messages that change (protocol v3): the requests a message's menu and its reaction chips make
// (message.edit, message.delete, reaction.set), each applying the message:updated reply to the
// state; what the user may do to a message; fetching the original of a reply for its quote
// when it is not loaded; and scrolling to that original from the quote, loading older pages
// (chat.history `before`) until it is there. The frames other people's changes arrive as, and
// chat.changes after a reconnect, are sync.js's.

import { conn } from "./connection.js";
import { toast } from "./dom.js";
import { findMessage, isAdmin, minSeq, render, state } from "./store.js";
import { loadEarlier, takeChange } from "./sync.js";

async function change(action, fields) {
  const reply = await conn.request(action, fields);
  takeChange(reply.chat_id, reply.message);
  render();
  return reply.message;
}

export function editMessage(chatId, seq, text, mentions) {
  return change("message.edit", { chat_id: chatId, seq, text, mentions });
}

export function deleteMessage(chatId, seq) {
  return change("message.delete", { chat_id: chatId, seq });
}

export function myReaction(message) {
  // The emoji this user reacted with (one per user and message), or null.
  for (const [emoji, users] of Object.entries(message?.reactions || {})) if (users.includes(state.me)) return emoji;
  return null;
}

export function toggleReaction(chatId, seq, emoji) {
  // The user's reaction becomes this emoji, or is taken back if it already was.
  const mine = myReaction(findMessage(chatId, seq));
  return change("reaction.set", { chat_id: chatId, seq, emoji: mine === emoji ? null : emoji });
}

export function allowed(chat, message) {
  // What the menu offers: nothing on system messages; no reacting to or editing a deleted one;
  // editing one's own text; deleting one's own, or (admins) any message of their group.
  const none = { reply: false, react: false, edit: false, delete: false, any: false };
  if (!chat || !message || message.kind === "system" || typeof message.seq !== "number") return none;
  const mine = message.sender_id === state.me;
  const can = {
    reply: true,
    react: !message.deleted,
    edit: mine && !message.deleted && (message.kind || "text") === "text",
    delete: !message.deleted && (mine || (chat.kind !== "direct" && isAdmin(chat, state.me))),
  };
  return { ...can, any: true };
}

const quoting = new Set(); // "chat_id:seq" of originals on their way

export function fetchQuoted(chatId, seq) {
  // The original of a reply, for its quote: one message of chat.history (null if this user
  // cannot see it: it was before they joined).
  const key = `${chatId}:${seq}`;
  if (quoting.has(key) || !conn?.online) return;
  quoting.add(key);
  conn
    .request("chat.history", { chat_id: chatId, before: seq + 1, limit: 1 })
    .then((reply) => {
      if (!state.chats.has(chatId)) return;
      if (!state.quoted.has(chatId)) state.quoted.set(chatId, new Map());
      state.quoted.get(chatId).set(seq, reply.messages.find((m) => m.seq === seq) || null);
      render();
    })
    .catch(() => {}) // shown as not loaded; asked again on a later render
    .finally(() => quoting.delete(key));
}

export async function jumpTo(chatId, seq) {
  // From a quote: the original on screen, highlighted, loading older pages until it is loaded.
  const loaded = () => state.messages.get(chatId)?.has(seq);
  while (state.open === chatId && !loaded() && state.olderExist.get(chatId) && minSeq(chatId) > seq) {
    await loadEarlier(chatId, 100);
  }
  if (state.open !== chatId) return;
  if (!loaded()) {
    toast("That message is not available");
    return;
  }
  state.highlight = { chat_id: chatId, seq };
  render();
  document.querySelector(`#messages .msg[data-seq="${seq}"]`)?.scrollIntoView({ block: "center" });
}
