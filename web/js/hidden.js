// Chats this user deleted from their list: a direct chat's "Delete chat". The protocol has no
// "hide" (chat.leave on a direct chat would make the other person's later messages invisible
// for good), so the page keeps, per user in localStorage, the last seq each deleted chat had;
// the chat stays out of the list until a message past it arrives, then shows again (with its
// history: nothing is deleted on the server, and the other person keeps the conversation).

import { state } from "./store.js";

const key = () => `chat.hidden.${state.me}`;

function load() {
  try {
    const kept = JSON.parse(localStorage.getItem(key()) || "{}");
    return kept && typeof kept === "object" ? kept : {};
  } catch {
    return {};
  }
}

function save(hidden) {
  const { __user, ...chats } = hidden;
  try {
    localStorage.setItem(key(), JSON.stringify(chats));
  } catch {
    // storage refused: hidden until the page reloads
  }
  memory = { ...chats, __user: state.me };
}

let memory = null; // what load() gave, for the user logged in

function kept() {
  if (!memory || memory.__user !== state.me) memory = { ...load(), __user: state.me };
  return memory;
}

export function hideChat(chat) {
  save({ ...kept(), [chat.chat_id]: chat.last_seq || 0 });
}

export function unhideChat(chatId) {
  const hidden = { ...kept() };
  if (!(chatId in hidden)) return;
  delete hidden[chatId];
  save(hidden);
}

export function isHidden(chat) {
  // Hidden until a message newer than the one it had when deleted (then it is unhidden for good).
  const at = kept()[chat.chat_id];
  if (typeof at !== "number") return false;
  if ((chat.last_seq || 0) > at) {
    unhideChat(chat.chat_id);
    return false;
  }
  return true;
}
