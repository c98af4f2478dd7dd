// The composer: a multi-line box (Enter sends, Shift+Enter starts a new line, it grows with its
// text up to a cap, then scrolls), a draft per chat (text and the message it replies to, kept
// when switching chats and in localStorage across reloads, per user), the quote of the message
// being answered above the box (cancelable), editing one's own message in the same box, the
// `@` picker of the chat's members (sends carry `mentions`), the typing indicator, and the files
// attached to the next message (attach.js: its tray, the attach button, drop and paste).

import { conn } from "./connection.js";
import { $, el, toast } from "./dom.js";
import { findMessage, render, state } from "./store.js";
import { plainError } from "./errors.js";
import { send } from "./outbox.js";
import { loadMembers } from "./sync.js";
import { editMessage, fetchQuoted } from "./live.js";
import { mentionCandidates, mentionQuery, mentionsIn } from "./mentions.js";
import { hasFiles, renderTray, setupAttach, takeFiles } from "./attach.js";

const MAX_HEIGHT_PX = 160;
const drafts = new Map(); // chat_id -> {text, replyTo, edit: {seq, stash: {text, replyTo}} | null, picked: Set}
let bound = null; // the chat whose draft the box shows
let picker = null; // {start, users, active}: the member picker while it is open
let typingSent = 0;
let typingTimer = null;
const membersAsked = new Set();

const input = () => $("composer-input");

function draft(chatId) {
  if (!drafts.has(chatId)) drafts.set(chatId, { text: "", replyTo: null, edit: null, picked: new Set() });
  return drafts.get(chatId);
}

function draftsKey() {
  return `chat.drafts.${state.me}`;
}

function saveDrafts() {
  // What is kept across reloads: each chat's text and reply (an edit keeps what it put aside).
  const kept = {};
  for (const [chatId, d] of drafts) {
    const { text, replyTo } = d.edit ? d.edit.stash : d;
    if (text || replyTo) kept[chatId] = { text, reply_to: replyTo };
  }
  try {
    if (Object.keys(kept).length) localStorage.setItem(draftsKey(), JSON.stringify(kept));
    else localStorage.removeItem(draftsKey());
  } catch {
    // storage refused (private mode, full): drafts last as long as the page
  }
}

export function loadDrafts() {
  let kept = {};
  try {
    kept = JSON.parse(localStorage.getItem(draftsKey()) || "{}");
  } catch {
    kept = {};
  }
  if (!kept || typeof kept !== "object") return;
  for (const [chatId, d] of Object.entries(kept)) {
    if (!d || typeof d.text !== "string") continue;
    Object.assign(draft(chatId), { text: d.text, replyTo: Number.isInteger(d.reply_to) ? d.reply_to : null });
  }
}

function grow() {
  // As tall as its text, up to a cap (then it scrolls).
  const box = input();
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight + 2, MAX_HEIGHT_PX)}px`;
}

export function syncComposer() {
  // From every render: show the open chat's draft when the chat on screen changed, and the
  // reply or edit above the box.
  const chatId = state.open;
  if (bound !== chatId) {
    if (bound && drafts.has(bound) && state.chats.has(bound)) draft(bound).text = input().value;
    bound = chatId;
    input().value = chatId ? draft(chatId).text : "";
    closePicker();
    grow();
  }
  renderContext();
  renderTray();
}

function quoteText(message) {
  if (message === undefined) return "…";
  if (message === null) return "Message not available";
  if (message.deleted) return "This message was deleted";
  return message.text;
}

function renderContext() {
  const d = state.open && draft(state.open);
  const seq = d && (d.edit ? d.edit.seq : d.replyTo);
  $("composer-context").hidden = !seq;
  if (!seq) return;
  const message = findMessage(state.open, seq);
  if (message === undefined) fetchQuoted(state.open, seq);
  $("composer-context").dataset.mode = d.edit ? "edit" : "reply";
  $("composer-context").dataset.seq = String(seq);
  $("context-title").textContent = d.edit ? "Edit message" : `Replying to ${message ? message.sender_id : "a message"}`;
  $("context-text").textContent = quoteText(message);
  $("context-cancel").setAttribute("aria-label", d.edit ? "Cancel editing" : "Cancel the reply");
}

export function startReply(chatId, seq) {
  const d = draft(chatId);
  if (d.edit) endEdit(chatId);
  d.replyTo = seq;
  saveDrafts();
  render();
  input().focus();
}

export function startEdit(chatId, seq) {
  const message = findMessage(chatId, seq);
  if (!message || message.deleted) return;
  const d = draft(chatId);
  if (!d.edit) d.edit = { seq, stash: { text: chatId === bound ? input().value : d.text, replyTo: d.replyTo } };
  d.edit.seq = seq;
  d.replyTo = null;
  d.text = message.text;
  d.picked = new Set(message.mentions || []);
  if (chatId === bound) {
    input().value = message.text;
    grow();
  }
  render();
  input().focus();
}

function endEdit(chatId) {
  // Back to what was being written before the edit.
  const d = draft(chatId);
  if (!d.edit) return;
  Object.assign(d, { text: d.edit.stash.text, replyTo: d.edit.stash.replyTo, edit: null, picked: new Set() });
  if (chatId === bound) {
    input().value = d.text;
    grow();
  }
  saveDrafts();
  render();
}

function cancelContext() {
  if (!state.open) return;
  const d = draft(state.open);
  if (d.edit) endEdit(state.open);
  else {
    d.replyTo = null;
    saveDrafts();
    render();
  }
  input().focus();
}

function membersOfOpen() {
  const chat = state.chats.get(state.open);
  if (!chat) return [];
  if (!chat.members && !membersAsked.has(chat.chat_id)) {
    membersAsked.add(chat.chat_id); // a large group: its members come from chat.members
    loadMembers(chat.chat_id).catch(() => membersAsked.delete(chat.chat_id));
  }
  return chat.members || [];
}

function mentionsFor(chatId, text) {
  // The members the text mentions: any member written as @id, and those picked from the list.
  const known = new Set([...membersOfOpen(), ...draft(chatId).picked]);
  return mentionsIn(text, [...known], state.me);
}

async function submit(event) {
  event.preventDefault();
  const chatId = state.open;
  if (!chatId) return;
  const d = draft(chatId);
  const text = input().value.replace(/^\n+|\s+$/g, "");
  if (d.edit) return saveEdit(chatId, d, text);
  const files = hasFiles(chatId) ? takeFiles(chatId) : [];
  if (files === null) return; // one did not upload: said in the banner, nothing sent
  if (!text.trim() && !files.length) return;
  send(chatId, text, { replyTo: d.replyTo, mentions: mentionsFor(chatId, text), files });
  Object.assign(d, { text: "", replyTo: null, picked: new Set() });
  input().value = "";
  grow();
  closePicker();
  saveDrafts();
  stopTyping(chatId);
  render();
}

async function saveEdit(chatId, d, text) {
  const seq = d.edit.seq;
  const message = findMessage(chatId, seq);
  if (!text.trim()) {
    toast("A message needs some text: to take it back, delete it");
    return;
  }
  const mentions = mentionsFor(chatId, text);
  const same = message && message.text === text && String(message.mentions || []) === String(mentions);
  if (!same) {
    try {
      await editMessage(chatId, seq, text, mentions);
    } catch (err) {
      toast(plainError(err, "message.edit"));
      return;
    }
  }
  if (draft(chatId).edit?.seq === seq) endEdit(chatId);
}

function stopTyping(chatId) {
  clearTimeout(typingTimer);
  conn.tell("typing", { chat_id: chatId, typing: false });
  typingSent = 0;
}

function onInput() {
  if (!state.open) return;
  const chatId = state.open;
  draft(chatId).text = input().value;
  saveDrafts();
  grow();
  updatePicker();
  if (Date.now() - typingSent > 3000) {
    conn.tell("typing", { chat_id: chatId, typing: true });
    typingSent = Date.now();
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => stopTyping(chatId), 4000);
}

function updatePicker() {
  const box = input();
  const query = box.selectionStart === box.selectionEnd ? mentionQuery(box.value, box.selectionStart) : null;
  const users = query ? mentionCandidates(membersOfOpen(), query.prefix, state.me) : [];
  if (!users.length) return closePicker();
  const same = picker && String(picker.users) === String(users);
  picker = { start: query.start, users, active: same ? picker.active : 0 };
  renderPicker();
}

function renderPicker() {
  const list = $("mention-picker");
  list.hidden = !picker;
  if (!picker) return list.replaceChildren();
  list.replaceChildren(
    ...picker.users.map((user, i) => {
      const option = el("li", "mention-option" + (i === picker.active ? " active" : ""), `@${user}`);
      option.id = `mention-${i}`;
      option.dataset.user = user;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", String(i === picker.active));
      option.onmousedown = (event) => event.preventDefault(); // keep the focus in the box
      option.onclick = () => pick(user);
      return option;
    }),
  );
  input().setAttribute("aria-activedescendant", `mention-${picker.active}`);
}

function closePicker() {
  picker = null;
  input().removeAttribute("aria-activedescendant");
  renderPicker();
}

function pick(user) {
  // "@pa|" becomes "@paul |", and paul is mentioned.
  const box = input();
  const start = picker ? picker.start : box.selectionStart;
  const end = box.selectionStart;
  const inserted = `@${user} `;
  box.value = box.value.slice(0, start) + inserted + box.value.slice(end);
  box.selectionStart = box.selectionEnd = start + inserted.length;
  if (state.open) {
    draft(state.open).picked.add(user);
    draft(state.open).text = box.value;
    saveDrafts();
  }
  closePicker();
  grow();
  box.focus();
}

function onKeyDown(event) {
  if (picker) {
    const moves = { ArrowDown: 1, ArrowUp: -1 };
    if (event.key in moves) {
      event.preventDefault();
      picker.active = (picker.active + moves[event.key] + picker.users.length) % picker.users.length;
      return renderPicker();
    }
    if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      return pick(picker.users[picker.active]);
    }
    if (event.key === "Escape") {
      event.preventDefault();
      return closePicker();
    }
  }
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey) {
    event.preventDefault(); // Shift+Enter is a new line
    $("composer").requestSubmit();
  } else if (event.key === "Escape" && !$("composer-context").hidden) {
    event.preventDefault();
    cancelContext();
  }
}

export function setupComposer() {
  $("composer").onsubmit = submit;
  input().oninput = onInput;
  input().onkeydown = onKeyDown;
  input().onclick = updatePicker;
  input().onblur = () => closePicker();
  $("context-cancel").onclick = cancelContext;
  setupAttach();
}
