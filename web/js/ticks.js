// Ticks that never go backwards. A message's "delivered to / read by everyone" is judged
// against the members it was sent to: the members now, less those added after it, plus those
// who left (or were removed) after it, by the last pointers this page heard from them; and
// what a message's tick showed on this page is never taken back (a leaver's pointers are not
// known after a reload, nor a large chat's members).

import { otherMembers, state } from "./store.js";

const RANK = { sent: 0, delivered: 1, read: 2 };
const shown = new Map(); // `${chat_id}:${seq}` -> the highest status shown

export function neverBackwards(chatId, seq, status) {
  const key = `${chatId}:${seq}`;
  const before = shown.get(key);
  if (before !== undefined && RANK[before] >= RANK[status]) return before;
  shown.set(key, status);
  return status;
}

let leftCache = { loaded: null, size: -1, left: new Map() };

function leftAt(chatId) {
  // Who left or was removed, and at which seq (the last time), as far as the loaded timeline shows.
  const loaded = state.messages.get(chatId) || new Map();
  if (leftCache.loaded === loaded && leftCache.size === loaded.size) return leftCache.left;
  const left = new Map();
  for (const m of [...loaded.values()].sort((a, b) => a.seq - b.seq)) {
    const type = m.kind === "system" ? m.system?.type : null;
    if (type === "left" || type === "removed") for (const u of m.system.users || []) left.set(u, m.seq);
  }
  leftCache = { loaded, size: loaded.size, left };
  return left;
}

export function recipients(chat, message, joined) {
  // The other members the message went to, whose pointers this page knows or may learn.
  const now = otherMembers(chat).filter((u) => !(joined.get(u) > message.seq));
  const pointers = state.receipts.get(chat.chat_id) || {};
  const gone = [...leftAt(chat.chat_id).entries()]
    .filter(([u, seq]) => seq > message.seq && u !== state.me && !now.includes(u) && pointers[u])
    .map(([u]) => u);
  return [...now, ...gone];
}
