// The unread divider: opening a chat with unread messages shows "N unread messages" above the
// first of them and scrolls there, once per opening (the line stays while the chat is open).
// noteUnread() is called as a chat opens (before it is marked read); the renderer asks where
// the line goes and scrolls to it.

import { el } from "./dom.js";

let mark = null; // {chat_id, after: the last read seq, count, scrolled} for the chat on screen

export function noteUnread(chat) {
  const count = chat.unread || 0;
  const after = Math.max(chat.read_seq || 0, chat.joined_seq || 0);
  mark = count > 0 ? { chat_id: chat.chat_id, after, count, scrolled: false } : null;
}

export function withDivider(chatId, items) {
  // items: [message seq or null, element]; the divider goes before the first message past the mark.
  if (!mark || mark.chat_id !== chatId) return items.map(([, node]) => node);
  const at = items.findIndex(([seq]) => seq !== null && seq > mark.after);
  const nodes = items.map(([, node]) => node);
  if (at < 0) return nodes;
  const line = el("li", "unread-divider", `${mark.count} unread message${mark.count === 1 ? "" : "s"}`);
  line.setAttribute("role", "separator");
  nodes.splice(at, 0, line);
  return nodes;
}

export function scrollToUnread(box) {
  // The first time the line is on screen after opening: scroll it to the top. True if it did.
  if (!mark || mark.scrolled || box.dataset.chatId !== mark.chat_id) return false;
  const line = box.querySelector(".unread-divider");
  if (!line) return false;
  mark.scrolled = true;
  box.scrollTop += line.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
  return true;
}
