// The outbox: messages written but not yet acknowledged.
//
// Kept in localStorage (per user) so a reload or a closed tab does not lose them. Each chat
// sends one message at a time, in the order written, so the server stores them in that order;
// a retry (timeout, lost connection, busy, rate limited after the server's retry_after_ms)
// reuses the client_msg_id, which the server stores once. A message the server refuses shows as
// not sent and the ones after it go on. An acknowledged message joins the loaded timeline.
// A message may answer another (`reply_to`, a seq) and mention members (`mentions`).

import { conn } from "./connection.js";
import { toast } from "./dom.js";
import { addMessages, applyPointers, render, state } from "./store.js";
import { plainError } from "./errors.js";

function newClientMsgId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function send(chatId, text, { replyTo = null, mentions = [] } = {}) {
  const id = newClientMsgId();
  state.pending.set(id, { chat_id: chatId, text, reply_to: replyTo, mentions, failed: false });
  saveOutbox();
  render();
  sendNext(chatId);
}

function outboxKey() {
  return `chat.outbox.${state.me}`;
}

export function saveOutbox() {
  const unsent = [...state.pending.entries()]
    .filter(([, p]) => !p.failed)
    .map(([id, p]) => ({ id, chat_id: p.chat_id, text: p.text, reply_to: p.reply_to, mentions: p.mentions }));
  try {
    if (unsent.length) localStorage.setItem(outboxKey(), JSON.stringify(unsent));
    else localStorage.removeItem(outboxKey());
  } catch {
    // storage refused (private mode, full): the page still sends, it just cannot keep them
  }
}

export function loadOutbox() {
  let saved = [];
  try {
    saved = JSON.parse(localStorage.getItem(outboxKey()) || "[]");
  } catch {
    saved = [];
  }
  if (!Array.isArray(saved)) return;
  for (const m of saved) {
    if (m && typeof m.id === "string" && typeof m.chat_id === "string" && typeof m.text === "string") {
      const replyTo = Number.isInteger(m.reply_to) ? m.reply_to : null;
      const mentions = Array.isArray(m.mentions) ? m.mentions.filter((u) => typeof u === "string") : [];
      state.pending.set(m.id, { chat_id: m.chat_id, text: m.text, reply_to: replyTo, mentions, failed: false });
    }
  }
}

export function sendAll() {
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
  const fields = { chat_id: p.chat_id, client_msg_id: id, text: p.text };
  if (p.reply_to) fields.reply_to = p.reply_to;
  if (p.mentions?.length) fields.mentions = p.mentions;
  conn
    .request("message.send", fields)
    .then((ack) => {
      state.pending.delete(id);
      saveOutbox();
      done();
      if (!state.chats.has(p.chat_id)) return;
      addMessages(p.chat_id, [
        {
          chat_id: p.chat_id, seq: ack.seq, message_id: ack.message_id, client_msg_id: id,
          sender_id: state.me, text: p.text, sent_at: ack.sent_at, kind: "text", reply_to: p.reply_to || null,
          mentions: [...new Set(p.mentions || [])].filter((u) => u !== state.me).sort(), attachments: [],
          reactions: {}, edited_at: null, deleted: false, rev: 0,
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

export function dropUnknownOutbox() {
  // Kept from before a reload for a chat this user is no longer in: it can never be sent.
  const stale = [...state.pending.entries()].filter(([, p]) => !state.chats.has(p.chat_id));
  for (const [id] of stale) state.pending.delete(id);
  if (stale.length) {
    saveOutbox();
    toast(`${stale.length} unsent message${stale.length > 1 ? "s" : ""} dropped: you are no longer in that chat`);
  }
}
