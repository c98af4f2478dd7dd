// Actions: the requests a user's clicks make to change chats, each applying the reply to the
// state: start (or find) the direct chat with someone, add / remove members, rename, make
// admins, leave, set the notification level. Sending a message is the outbox's (outbox.js); the forms and buttons
// that call these are wired in app.js and render.js.

import { conn } from "./connection.js";
import { maxSeq, render, state, storeChat } from "./store.js";
import { dropChat, fetchAfter, markRead } from "./sync.js";

export async function setNotify(chatId, level) {
  // The chat's notification level: "all", "mentions" or "none" (muted).
  const reply = await conn.request("chat.notify", { chat_id: chatId, level });
  const chat = state.chats.get(chatId);
  if (!chat) return; // left or removed meanwhile
  state.notify.set(chatId, reply.notify);
  chat.notify = reply.notify;
  chat.muted = reply.notify === "none";
  render();
}

export async function startDirect(user) {
  // The pair's one direct chat: created the first time, the same chat ever after.
  const reply = await conn.request("chat.create", { members: [user], direct: true });
  storeChat(reply.chat);
  return reply.chat.chat_id;
}

export async function changeChat(action, fields) {
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

export async function leaveChat(chatId) {
  await conn.request("chat.leave", { chat_id: chatId });
  dropChat(chatId, "left");
}
