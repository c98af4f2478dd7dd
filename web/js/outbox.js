// The outbox: messages written but not yet acknowledged.
//
// Kept in localStorage (per user) so a reload or a closed tab does not lose them. Each chat
// sends one message at a time, in the order written, so the server stores them in that order;
// a retry (timeout, lost connection, busy, rate limited after the server's retry_after_ms)
// reuses the client_msg_id, which the server stores once. A message the server refuses shows as
// not sent and the ones after it go on. An acknowledged message joins the loaded timeline.
// A message may answer another (`reply_to`, a seq) and mention members (`mentions`).
// A message may carry files (uploads.js): it waits in the outbox until every one of its uploads
// is done, then sends their attachment ids; one that fails makes the message not sent (nothing
// is sent), one canceled is left out. Only messages whose files are all uploaded are kept
// across reloads (a File cannot be stored); a retry names the same attachments again.

import { conn } from "./connection.js";
import { toast } from "./dom.js";
import { addMessages, applyPointers, render, state } from "./store.js";
import { plainError } from "./errors.js";
import { cancelUpload, forget, onSettled } from "./uploads.js";
import { keepPreview } from "./files.js";

function newClientMsgId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function send(chatId, text, { replyTo = null, mentions = [], files = [] } = {}) {
  const id = newClientMsgId();
  state.pending.set(id, { chat_id: chatId, text, reply_to: replyTo, mentions, files, failed: false });
  saveOutbox();
  render();
  sendNext(chatId);
}

function outboxKey() {
  return `chat.outbox.${state.me}`;
}

export function saveOutbox() {
  const unsent = [...state.pending.entries()]
    .filter(([, p]) => !p.failed && (p.files || []).every((u) => u.status === "done"))
    .map(([id, p]) => ({
      id, chat_id: p.chat_id, text: p.text, reply_to: p.reply_to, mentions: p.mentions,
      attachments: (p.files || []).map((u) => u.attachment),
    }));
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
      const files = (Array.isArray(m.attachments) ? m.attachments : []).filter((a) => typeof a?.attachment_id === "string").map(uploaded);
      state.pending.set(m.id, { chat_id: m.chat_id, text: m.text, reply_to: replyTo, mentions, files, failed: false });
    }
  }
}

function uploaded(attachment) {
  // A file of a message kept from before a reload: uploaded already.
  const { name, content_type, size } = attachment;
  return { id: `saved-${attachment.attachment_id}`, name, content_type, size, loaded: size, status: "done", attachment, preview: null };
}

export function entryOf(upload) {
  // The unsent message an upload belongs to: [client_msg_id, pending] or null.
  return [...state.pending.entries()].find(([, p]) => (p.files || []).includes(upload)) || null;
}

export function removeFile(upload) {
  // The user took a file out of a message not sent yet: the message goes without it, or is
  // dropped when nothing is left of it.
  const entry = entryOf(upload);
  if (upload.status === "uploading") return cancelUpload(upload); // settles: back here through onSettled
  forget(upload);
  if (!entry) return;
  const [id, p] = entry;
  p.files = p.files.filter((u) => u !== upload);
  if (!p.files.length && !p.text.trim()) state.pending.delete(id);
  saveOutbox();
  render();
  sendNext(p.chat_id);
}

onSettled((upload) => {
  const entry = entryOf(upload);
  if (!entry) return; // still in the composer's tray
  const [id, p] = entry;
  if (upload.status === "canceled") {
    p.files = p.files.filter((u) => u !== upload);
    if (!p.files.length && !p.text.trim()) state.pending.delete(id);
  } else if (upload.status === "failed" && !p.failed) {
    p.failed = true; // nothing is sent: the message's other uploads stop too
    for (const other of p.files) if (other.status === "uploading") cancelUpload(other);
    toast(`Not sent: ${upload.error}`);
  }
  saveOutbox();
  render();
  sendNext(p.chat_id);
});

export function sendAll() {
  for (const chatId of new Set([...state.pending.values()].map((p) => p.chat_id))) sendNext(chatId);
}

function sendNext(chatId) {
  // The oldest unsent message of a chat, once the one before it is acknowledged.
  if (state.sending.has(chatId) || !conn.online) return; // resync sends again after reconnecting
  const next = [...state.pending.entries()].find(([, p]) => p.chat_id === chatId && !p.failed);
  if (next && !(next[1].files || []).some((u) => u.status !== "done")) trySend(next[0]); // files first
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
  const files = (p.files || []).map((u) => u.attachment);
  if (files.length) fields.attachments = files.map((a) => a.attachment_id);
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
          mentions: [...new Set(p.mentions || [])].filter((u) => u !== state.me).sort(),
          attachments: files.map((a) => ({ ...a, url: null })),
          reactions: {}, edited_at: null, deleted: false, rev: 0,
        },
      ]);
      applyPointers(p.chat_id, state.me, { delivered_seq: ack.seq, read_seq: ack.seq });
      for (const u of p.files || []) keepPreview(u.attachment.attachment_id, u.preview);
      if (files.length) fetchLinks(p.chat_id, ack.seq);
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

function fetchLinks(chatId, seq) {
  // The ack carries no links to the files: the message as the server has it, with them.
  conn
    .request("chat.history", { chat_id: chatId, before: seq + 1, limit: 1 })
    .then((reply) => {
      if (!state.chats.has(chatId)) return;
      addMessages(chatId, reply.messages.filter((m) => m.seq === seq));
      render();
    })
    .catch(() => {}); // the local copies show until the chat's history is loaded again
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
