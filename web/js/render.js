// Rendering: the page drawn from the state, all of it on every render (renderPage, plugged
// into store.js's render() by app.js): the chat list (unread badges, muted bells, times,
// previews), the conversation (title, notification level, timeline, pending sends, typing,
// "load earlier"), the members panel (with an admin's buttons), the notifications control and
// the tab title; then the composer's draft (composer.js) and the message menus (menu.js).
// Below 700 px one view shows at a time (the list, or the conversation with a back button).
// It reads state only and uses textContent, never HTML from the network.

import { $, button, el, toast } from "./dom.js";
import { chatTitle, isAdmin, membersOf, state } from "./store.js";
import { act, plainError } from "./errors.js";
import { messageWords, pageHidden } from "./notify.js";
import { notificationStatus } from "./notifications.js";
import { loadEarlier, loadingEarlier, loadMembers, openChat } from "./sync.js";
import { changeChat } from "./actions.js";
import { syncComposer } from "./composer.js";
import { syncMenus } from "./menu.js";
import { DELETED_TEXT } from "./bubble.js";
import { dayKey, daySeparator, joinedAt, listTime, messageItem, pendingItem, systemItem } from "./messages.js";
import { isHidden } from "./hidden.js";
import { chatIcon, createdLine } from "./titles.js";
import { scrollToUnread, withDivider } from "./unread.js";
import { readingPosition } from "./anchor.js";

function preview(message) {
  if (!message) return "no messages yet";
  if (message.kind === "system") return message.text;
  return `${message.sender_id}: ${message.deleted ? DELETED_TEXT : messageWords(message)}`;
}

function renderList() {
  const list = $("chat-list");
  const listed = [...state.chats.values()].filter((chat) => chat.chat_id === state.open || !isHidden(chat));
  const chats = listed.sort((a, b) => {
    const at = a.last_message ? a.last_message.sent_at : a.created_at;
    const bt = b.last_message ? b.last_message.sent_at : b.created_at;
    return bt.localeCompare(at);
  });
  list.replaceChildren(
    ...chats.map((chat) => {
      const item = el("li", "chat-item" + (chat.chat_id === state.open ? " active" : ""));
      item.dataset.chatId = chat.chat_id;
      item.dataset.kind = chat.kind || "group";
      item.classList.toggle("is-muted", Boolean(chat.muted));
      const titleRow = el("span", "title-row");
      titleRow.style.gridColumn = "1";
      const icon = chatIcon(chat);
      if (icon) titleRow.append(icon);
      titleRow.append(el("span", "title", chatTitle(chat)));
      if (chat.muted) titleRow.append(mutedIcon());
      else if (chat.notify === "mentions") titleRow.append(mentionsIcon());
      item.append(titleRow);
      const unread = chat.chat_id === state.open ? 0 : chat.unread;
      const badge = el("span", "badge", String(unread));
      badge.dataset.count = String(unread);
      item.append(badge);
      const at = chat.last_message ? chat.last_message.sent_at : chat.created_at;
      const time = el("time", "time", listTime(at));
      time.dateTime = at;
      time.title = new Date(at).toLocaleString();
      item.append(time);
      item.append(el("span", "preview", preview(chat.last_message)));
      item.onclick = () => openChat(chat.chat_id).catch((e) => toast(plainError(e)));
      return item;
    }),
  );
  if (!chats.length) list.append(el("li", "empty-list muted", "No chats yet: start one with “New chat”."));
}

function mutedIcon() {
  const icon = el("span", "mute-icon");
  icon.setAttribute("role", "img");
  icon.setAttribute("aria-label", "Muted");
  icon.title = "Muted: no notifications";
  icon.append(bellIcon(true));
  return icon;
}

function bellIcon(off) {
  // A bell, struck through when off (drawn here: no icon font to load).
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const shapes = [
    ["path", { d: "M6 16v-5a6 6 0 0 1 12 0v5l2 2H4z", fill: "currentColor" }],
    ["circle", { cx: "12", cy: "20.5", r: "2", fill: "currentColor" }],
  ];
  if (off) {
    shapes.push(["line", { x1: "3", y1: "3", x2: "21", y2: "21", stroke: "#fff", "stroke-width": "5" }]);
    shapes.push(["line", { x1: "3", y1: "3", x2: "21", y2: "21", stroke: "currentColor", "stroke-width": "2" }]);
  }
  for (const [tag, attributes] of shapes) {
    const shape = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attributes)) shape.setAttribute(name, value);
    svg.append(shape);
  }
  return svg;
}

function mentionsIcon() {
  const icon = el("span", "mentions-icon", "@");
  icon.setAttribute("role", "img");
  icon.setAttribute("aria-label", "Mentions only");
  icon.title = "Notifications only for mentions and replies to you";
  return icon;
}

function renderNotifyLevel(chat) {
  // The chat's notification level in the header: All, Mentions or Off (the server's `notify`).
  $("notify-level-wrap").hidden = !chat;
  if (!chat) return;
  const level = chat.notify || (chat.muted ? "none" : "all");
  if ($("notify-level").value !== level) $("notify-level").value = level;
  $("notify-level-wrap").dataset.level = level;
  if (!$("notify-level-icon").childElementCount || $("notify-level-icon").dataset.off !== String(level === "none")) {
    $("notify-level-icon").replaceChildren(bellIcon(level === "none"));
    $("notify-level-icon").dataset.off = String(level === "none");
  }
}

function renderNotifyControl() {
  // The real state: on only when Web Push is registered; otherwise why not, and a retry.
  const status = notificationStatus();
  $("notify").hidden = status.state === "unsupported";
  $("notify").dataset.state = status.state;
  $("notify-btn").hidden = !status.enable;
  if (!$("notify-btn").childElementCount) $("notify-btn").prepend(bellIcon(false));
  $("notify-retry").hidden = !status.retry;
  if ($("notify-state").textContent !== status.text) $("notify-state").textContent = status.text;
}

function renderConversation(reading) {
  const chat = state.open && state.chats.get(state.open);
  $("composer").hidden = !chat;
  $("members-btn").hidden = !chat;
  renderNotifyLevel(chat);
  $("conv-notice").hidden = Boolean(chat) || !state.notice;
  $("conv-notice").textContent = state.notice || "";
  if (!chat) {
    $("conv-title").textContent = "Pick a chat";
    $("conv-members").textContent = "";
    $("messages").replaceChildren();
    delete $("messages").dataset.chatId;
    $("typing").textContent = "";
    return;
  }
  $("conv-title").textContent = chatTitle(chat);
  const icon = chatIcon(chat);
  if ($("conv-icon").dataset.kind !== (chat.kind || "group")) {
    $("conv-icon").replaceChildren(...(icon ? [icon] : []));
    $("conv-icon").dataset.kind = chat.kind || "group";
  }
  $("conv-icon").hidden = !icon;
  $("conv-members").textContent = chat.kind === "direct" ? "direct chat"
    : chat.members ? chat.members.join(", ") : `${chat.member_count} members`;
  renderTimeline(chat, reading);
  const now = Date.now();
  const typing = [...(state.typing.get(chat.chat_id) || new Map()).entries()]
    .filter(([, until]) => until > now)
    .map(([user]) => user);
  $("typing").textContent = typing.length ? `${typing.join(", ")} ${typing.length > 1 ? "are" : "is"} typing…` : "";
}

function renderTimeline(chat, reading) {
  const loaded = [...(state.messages.get(chat.chat_id) || new Map()).values()].sort((a, b) => a.seq - b.seq);
  const pending = [...state.pending.entries()].filter(([, p]) => p.chat_id === chat.chat_id);
  const joined = joinedAt(chat.chat_id);
  const box = $("messages");
  const switched = box.dataset.chatId !== chat.chat_id;
  box.dataset.chatId = chat.chat_id;
  if (switched) box.replaceChildren(); // nothing of another chat's timeline is kept
  const earlier = [];
  if (state.olderExist.get(chat.chat_id)) {
    const item = el("li", "load-earlier");
    item.append(button("plain", loadingEarlier.has(chat.chat_id) ? "Loading…" : "Load earlier messages", () =>
      loadEarlier(chat.chat_id).catch((e) => toast(plainError(e)))));
    earlier.push(item);
  }
  const items = []; // [seq or null, element]
  let day = null;
  const created = state.olderExist.get(chat.chat_id) ? null : createdLine(chat); // the whole history is loaded
  if (created) {
    items.push([null, daySeparator(chat.created_at)], [null, created]);
    day = dayKey(chat.created_at);
  }
  for (const m of loaded) {
    const thisDay = dayKey(m.sent_at);
    if (thisDay !== day) items.push([null, daySeparator(m.sent_at)]);
    day = thisDay;
    items.push([m.seq, m.kind === "system" ? systemItem(m) : messageItem(chat, m, joined)]);
  }
  if (pending.length && day !== dayKey(new Date().toISOString())) items.push([null, daySeparator(new Date().toISOString())]);
  keepUnchanged(box, [...earlier, ...withDivider(chat.chat_id, items), ...pending.map(([, p]) => pendingItem(p))]);
  if (scrollToUnread(box)) return;
  if (switched) box.scrollTop = box.scrollHeight;
  else reading.restore(); // where the reader was, though the page around it changed
}

function keepUnchanged(box, fresh) {
  // Show the fresh items, keeping the elements already shown that are the same (by their
  // HTML): a frame that changes one message leaves the others, their hover, focus and text
  // selection alone.
  const shown = new Map();
  for (const node of box.children) {
    if (!shown.has(node.outerHTML)) shown.set(node.outerHTML, []);
    shown.get(node.outerHTML).push(node);
  }
  const next = fresh.map((node) => shown.get(node.outerHTML)?.shift() || node);
  next.forEach((node, i) => {
    if (box.children[i] !== node) box.insertBefore(node, box.children[i] || null);
  });
  while (box.children.length > next.length) box.lastElementChild.remove();
}

function renderMembersPanel() {
  const chat = state.open && state.chats.get(state.open);
  const shown = Boolean(chat) && state.panel;
  $("members-panel").hidden = !shown;
  $("app").classList.toggle("with-panel", shown);
  $("members-btn").setAttribute("aria-pressed", String(shown));
  if (!shown) return;
  const group = chat.kind !== "direct";
  const admin = group && isAdmin(chat, state.me);
  if (!chat.members) loadMembersOnce(chat.chat_id);
  $("member-count").textContent = String(chat.member_count ?? membersOf(chat).length);
  $("member-list").replaceChildren(...membersOf(chat).map((user) => memberItem(chat, user, admin)));
  $("add-form").hidden = !admin;
  $("rename-form").hidden = !admin;
  $("rename-input").placeholder = chat.title || "a name for this chat";
  $("admin-hint").hidden = !group || admin;
  $("leave-btn").hidden = !group;
  $("delete-chat-btn").hidden = group; // a direct chat is deleted from the list, not left
}

export const membersRequested = new Set(); // a failed load is not retried until the panel is reopened

function loadMembersOnce(chatId) {
  if (membersRequested.has(chatId)) return;
  membersRequested.add(chatId);
  loadMembers(chatId)
    .then(() => membersRequested.delete(chatId))
    .catch((e) => toast(plainError(e)));
}

function memberItem(chat, user, iAmAdmin) {
  const item = el("li", "member");
  item.dataset.user = user;
  item.append(el("span", "name", user === state.me ? `${user} (you)` : user));
  if (isAdmin(chat, user)) item.append(el("span", "role", "admin"));
  if (iAmAdmin && user !== state.me) {
    const actions = el("span", "actions");
    if (!isAdmin(chat, user)) {
      actions.append(button("plain make-admin", "Make admin", () =>
        act("admins", changeChat("chat.update", { chat_id: chat.chat_id, admins: [...chat.admins, user] }))));
    }
    actions.append(button("plain danger remove", "Remove", () => {
      if (!confirm(`Remove ${user} from ${chatTitle(chat)}?`)) return;
      act("chat.remove", changeChat("chat.remove", { chat_id: chat.chat_id, members: [user] }));
    }));
    item.append(actions);
  }
  return item;
}

export function renderPage() {
  const reading = readingPosition($("messages")); // before anything moves
  const inChat = Boolean(state.open || state.notice); // below 700 px: one view at a time
  $("app").classList.toggle("view-chat", inChat);
  $("app").classList.toggle("view-list", !inChat);
  renderTabTitle();
  renderNotifyControl();
  renderList();
  renderMembersPanel(); // first: it narrows the conversation, whose timeline then keeps its place
  renderConversation(reading);
  syncComposer();
  syncMenus();
}

function renderTabTitle() {
  // "(3) Chat": unread messages in chats other than the one being read.
  let unread = 0;
  const reading = pageHidden() ? null : state.open; // a hidden tab reads nothing
  for (const chat of state.chats.values()) {
    if (chat.chat_id !== reading && !chat.muted && !isHidden(chat)) unread += chat.unread || 0;
  }
  const title = unread ? `(${unread}) Chat` : "Chat";
  if (document.title !== title) document.title = title;
}
