// Acting on a message: its menu (Reply, React, Edit, Delete, Report, as allowed), opened from the "⋯"
// button a bubble shows on hover (desktop) or by a long press on the bubble (touch); the emoji
// picker React opens; reaction chips (a tap toggles the user's reaction; a long press lists
// who reacted, as the chip's title does on hover); and a quote's click, which scrolls to the
// original. The menus float outside the timeline (re-rendered on every frame), so they stay
// open while messages arrive; each action checks again what is allowed when it runs.

import { $, el } from "./dom.js";
import { findMessage, render, state } from "./store.js";
import { act } from "./errors.js";
import { allowed, deleteMessage, jumpTo, myReaction, toggleReaction } from "./live.js";
import { startEdit, startReply } from "./composer.js";
import { canReport, openReport } from "./report.js";

export const EMOJI = ["👍", "❤️", "😂", "😮", "😢", "🙏", "🎉", "👀"];
const LONG_PRESS_MS = 500;
const MOVE_TOLERANCE_PX = 10;
const FLOATING = ["msg-menu", "emoji-picker", "reactors"];

let shown = null; // {chatId, seq}: what the open menu, picker or list is about
let press = null; // {x, y, timer}: a touch held on a bubble or chip
let swallowClick = false; // the click that ends a long press is not a tap

function place(box, anchor) {
  // Beside what it is about on a desktop; a sheet at the bottom on a phone (CSS).
  box.hidden = false;
  box.style.left = box.style.top = "";
  if (matchMedia("(max-width: 700px)").matches || !anchor?.isConnected) return;
  const at = anchor.getBoundingClientRect();
  const size = box.getBoundingClientRect();
  const left = Math.min(Math.max(8, at.right - size.width), window.innerWidth - size.width - 8);
  const below = at.bottom + 4 + size.height < window.innerHeight;
  box.style.left = `${left}px`;
  box.style.top = `${below ? at.bottom + 4 : Math.max(8, at.top - size.height - 4)}px`;
}

export function closeMenus() {
  for (const id of FLOATING) $(id).hidden = true;
  shown = null;
}

function bubbleOf(seq) {
  return document.querySelector(`#messages .msg[data-seq="${seq}"]`);
}

function menuItem(action, label, run) {
  const item = el("button", "plain", label);
  item.type = "button";
  item.dataset.act = action;
  item.setAttribute("role", "menuitem");
  item.onclick = () => {
    closeMenus();
    run();
  };
  return item;
}

export function openMenu(chatId, seq, anchor) {
  const chat = state.chats.get(chatId);
  const message = findMessage(chatId, seq);
  const can = allowed(chat, message);
  if (!can.any) return;
  closeMenus();
  const items = [];
  if (can.reply) items.push(menuItem("reply", "Reply", () => startReply(chatId, seq)));
  if (can.react) items.push(menuItem("react", "React", () => openPicker(chatId, seq)));
  if (can.edit) items.push(menuItem("edit", "Edit", () => startEdit(chatId, seq)));
  if (can.delete) items.push(menuItem("delete", "Delete", () => confirmDelete(chatId, seq)));
  if (canReport(chat, message)) items.push(menuItem("report", "Report", () => openReport(chatId, seq)));
  const box = $("msg-menu");
  box.replaceChildren(...items);
  box.dataset.seq = String(seq);
  place(box, anchor);
  shown = { chatId, seq };
  items[0].focus();
}

function confirmDelete(chatId, seq) {
  const message = findMessage(chatId, seq);
  if (!allowed(state.chats.get(chatId), message).delete) return;
  const whose = message.sender_id === state.me ? "this message" : `${message.sender_id}'s message`;
  if (!confirm(`Delete ${whose} for everyone?`)) return;
  act("message.delete", deleteMessage(chatId, seq));
}

export function openPicker(chatId, seq) {
  const mine = myReaction(findMessage(chatId, seq));
  const box = $("emoji-picker");
  box.replaceChildren(
    ...EMOJI.map((emoji) => {
      const choice = el("button", "emoji" + (emoji === mine ? " mine" : ""), emoji);
      choice.type = "button";
      choice.dataset.emoji = emoji;
      choice.setAttribute("aria-pressed", String(emoji === mine));
      choice.setAttribute("aria-label", emoji === mine ? `Take back ${emoji}` : `React with ${emoji}`);
      choice.onclick = () => {
        closeMenus();
        if (allowed(state.chats.get(chatId), findMessage(chatId, seq)).react) {
          act("reaction.set", toggleReaction(chatId, seq, emoji));
        }
      };
      return choice;
    }),
  );
  box.dataset.seq = String(seq);
  place(box, bubbleOf(seq));
  shown = { chatId, seq };
  box.querySelector("button").focus();
}

export function reactorNames(users) {
  return users.map((u) => (u === state.me ? `${u} (you)` : u));
}

function openReactors(chatId, seq, emoji, anchor) {
  const users = findMessage(chatId, seq)?.reactions?.[emoji] || [];
  const box = $("reactors");
  const list = el("ul");
  list.append(...reactorNames(users).map((name) => el("li", null, name)));
  box.replaceChildren(el("strong", null, `${emoji} ${users.length}`), list);
  box.dataset.seq = String(seq);
  place(box, anchor);
  shown = { chatId, seq };
}

export function syncMenus() {
  // From every render: a menu about a chat no longer on screen closes.
  if (shown && shown.chatId !== state.open) closeMenus();
}

function onTimelineClick(event) {
  if (swallowClick) {
    swallowClick = false;
    event.preventDefault();
    event.stopPropagation();
    return;
  }
  const chatId = state.open;
  const bubble = event.target.closest(".msg[data-seq]");
  if (!chatId || !bubble) return;
  const seq = Number(bubble.dataset.seq);
  const chip = event.target.closest(".chip");
  const quote = event.target.closest(".quote");
  if (!quote && state.highlight) {
    state.highlight = null; // the original a quote led to is marked until the next click
    render();
  }
  if (chip) act("reaction.set", toggleReaction(chatId, seq, chip.dataset.emoji));
  else if (quote) act("chat.history", jumpTo(chatId, Number(quote.dataset.seq)));
  else if (event.target.closest(".msg-menu-btn")) openMenu(chatId, seq, event.target.closest(".msg-menu-btn"));
}

function longPressed(target) {
  // Held without moving: a chip lists who reacted; a bubble opens its menu.
  press = null;
  swallowClick = true;
  const chatId = state.open;
  const bubble = target.closest(".msg[data-seq]");
  if (!chatId || !bubble) return;
  const seq = Number(bubble.dataset.seq);
  const chip = target.closest(".chip");
  const anchor = bubbleOf(seq) || bubble;
  if (chip) openReactors(chatId, seq, chip.dataset.emoji, anchor);
  else openMenu(chatId, seq, anchor);
}

function cancelPress() {
  if (press) clearTimeout(press.timer);
  press = null;
}

export function setupMenus() {
  const box = $("messages");
  box.addEventListener("click", onTimelineClick, true);
  box.addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && event.target.closest(".quote")) {
      event.preventDefault();
      event.target.click();
    }
  });
  box.addEventListener("pointerdown", (event) => {
    swallowClick = false;
    cancelPress();
    if (event.pointerType === "mouse") return;
    const target = event.target.closest(".chip, .msg[data-seq]:not(.pending)");
    if (!target) return;
    press = { x: event.clientX, y: event.clientY, timer: setTimeout(() => longPressed(target), LONG_PRESS_MS) };
  });
  box.addEventListener("pointermove", (event) => {
    if (press && Math.hypot(event.clientX - press.x, event.clientY - press.y) > MOVE_TOLERANCE_PX) cancelPress();
  });
  for (const type of ["pointerup", "pointercancel"]) box.addEventListener(type, cancelPress);
  box.addEventListener("contextmenu", (event) => {
    // A touch held long: the page's menu, not the browser's.
    if ((press || swallowClick) && event.target.closest(".msg[data-seq]")) event.preventDefault();
  });
  document.addEventListener("pointerdown", (event) => {
    if (shown && !FLOATING.some((id) => $(id).contains(event.target))) closeMenus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && shown) closeMenus();
  });
}
