// How one message shows: its text with http(s) URLs as links and mentions marked (built node by
// node, never as HTML), a reply's quote, "edited" and reaction chips (bubble.js), its time, its
// ticks (sent, delivered, read: each its own shape and words, counting only the members who
// could see it), day separators, and the chat list's times. Builds elements from state; it asks
// nothing of the server (but the original of a reply, for its quote).

import { el } from "./dom.js";
import { state } from "./store.js";
import { neverBackwards, recipients } from "./ticks.js";
import { splitMentions } from "./mentions.js";
import { DELETED_TEXT, editedMark, menuButton, quoteBlock, reactionChips } from "./bubble.js";
import { attachmentsBlock, uploadItem } from "./files.js";

const LARGE_CHAT = 50; // above this many members, chats come without `members` and `receipts`

export function joinedAt(chatId) {
  // Who was added after the chat began, and at which seq, as far as the loaded timeline shows.
  const joined = new Map();
  const loaded = [...(state.messages.get(chatId) || new Map()).values()].sort((a, b) => a.seq - b.seq);
  for (const m of loaded) {
    if (m.kind === "system" && m.system?.type === "added") for (const u of m.system.users) joined.set(u, m.seq);
  }
  return joined;
}

function tickStatus(chat, message, joined) {
  return neverBackwards(chat.chat_id, message.seq, reachedStatus(chat, message, joined));
}

function reachedStatus(chat, message, joined) {
  // A member added after a message never sees it: they do not hold its ticks back; one who
  // left after it still counts, by the pointers last heard from them (ticks.js).
  const reached = (field) => {
    if (chat.member_count > LARGE_CHAT || !chat.members) return (state.receiptsMin.get(chat.chat_id)?.[field] || 0) >= message.seq;
    const others = recipients(chat, message, joined);
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

function messageText(text, mentions = []) {
  // The text as text nodes, with http(s) URLs as links and mentions marked (the user's own
  // apart): built node by node, never as HTML.
  const span = el("span", "text");
  const plain = (part) => {
    for (const run of splitMentions(part, mentions)) {
      if (!run.user) span.append(document.createTextNode(run.text));
      else span.append(el("span", "mention" + (run.user === state.me ? " me" : ""), run.text));
    }
  };
  let at = 0;
  for (const match of text.matchAll(LINK)) {
    const url = match[0].replace(/[.,;:!?)\]'"]+$/, ""); // trailing punctuation is not the link's
    if (match.index > at) plain(text.slice(at, match.index));
    span.append(link(url));
    at = match.index + url.length;
  }
  if (at < text.length) plain(text.slice(at));
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

export function dayKey(iso) {
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

export function daySeparator(iso) {
  const item = el("li", "day", dayLabel(iso));
  item.setAttribute("role", "separator");
  return item;
}

function clockTime(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function listTime(iso) {
  // The chat list: the time today, the weekday this week, the date before that.
  if (!iso) return "";
  const ago = daysAgo(iso);
  if (ago === 0) return clockTime(iso);
  if (ago === 1) return "Yesterday";
  if (ago < 7) return new Date(iso).toLocaleDateString([], { weekday: "short" });
  return new Date(iso).toLocaleDateString([], { day: "numeric", month: "short", year: "2-digit" });
}

export function systemItem(m) {
  const item = el("li", "system", m.text);
  item.dataset.seq = String(m.seq);
  item.title = new Date(m.sent_at).toLocaleString();
  return item;
}

export function messageItem(chat, m, joined) {
  const mine = m.sender_id === state.me;
  const item = el("li", "msg" + (mine ? " mine" : ""));
  item.dataset.seq = String(m.seq);
  item.classList.toggle("deleted", Boolean(m.deleted));
  item.classList.toggle("mentions-me", !m.deleted && (m.mentions || []).includes(state.me));
  const highlight = state.highlight;
  item.classList.toggle("highlight", highlight?.chat_id === chat.chat_id && highlight.seq === m.seq);
  if (!mine && chat.kind !== "direct" && chat.member_count > 2) item.append(el("span", "sender", m.sender_id));
  if (m.reply_to && !m.deleted) item.append(quoteBlock(chat.chat_id, m.reply_to));
  const files = attachmentsBlock(m); // none once deleted
  if (files) item.append(files);
  if (m.deleted) item.append(el("span", "text deleted-text", DELETED_TEXT));
  else if (m.text || !files) item.append(messageText(m.text, m.mentions || []));
  const meta = el("span", "meta");
  if (m.edited_at && !m.deleted) meta.append(editedMark(m));
  const time = el("time", null, clockTime(m.sent_at));
  time.dateTime = m.sent_at;
  time.title = new Date(m.sent_at).toLocaleString();
  meta.append(time);
  if (mine) meta.append(tickIcon(tickStatus(chat, m, joined)));
  item.append(meta);
  const chips = m.deleted ? null : reactionChips(m);
  if (chips) item.append(chips);
  item.append(menuButton());
  return item;
}

export function pendingItem(p) {
  const item = el("li", "msg mine pending");
  if (p.reply_to) item.append(quoteBlock(p.chat_id, p.reply_to));
  if (p.files?.length) {
    const files = el("div", "files uploads");
    files.append(...p.files.map(uploadItem));
    item.append(files);
  }
  if (p.text || !p.files?.length) item.append(messageText(p.text, p.mentions || []));
  if (p.failed && p.files?.some((u) => u.status === "failed")) item.classList.add("failed");
  const meta = el("span", "meta");
  meta.append(tickIcon(p.failed ? "failed" : "pending"));
  item.append(meta);
  return item;
}
