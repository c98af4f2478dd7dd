// Blocking users (docs/protocol.md, "Blocking"): the list of users this user blocks, kept from
// user.blocks after every (re)connect and from each user.block / user.unblock reply; and how it
// shows, drawn after the page (decorate): a Block / Unblock button in a direct chat's header, a
// "Block" entry on each other member in a group's members panel, the "Blocked users" list in
// the sidebar's settings (each with Unblock), and a direct chat with someone you block saying
// so, with its composer disabled (sends would be refused). Group messages from a blocked user
// still show: the server delivers them, and hiding them would hide context from the group.
// Imports only connection.js, dom.js, store.js and errors.js.

import { conn } from "./connection.js";
import { $, button, el } from "./dom.js";
import { otherMembers, render, state } from "./store.js";
import { act } from "./errors.js";

export const blocked = new Set();

export async function loadBlocks() {
  const reply = await conn.request("user.blocks", {});
  blocked.clear();
  for (const user of reply.users) blocked.add(user);
  render();
}

export function setBlocked(user, block) {
  return conn.request(block ? "user.block" : "user.unblock", { user_id: user }).then((reply) => {
    if (reply.blocked) blocked.add(user);
    else blocked.delete(user);
    render();
  });
}

function toggle(user) {
  const block = !blocked.has(user);
  if (block && !confirm(`Block ${user}? You will not get messages from them in your direct chat, nor notifications.`)) return;
  act(block ? "user.block" : "user.unblock", setBlocked(user, block));
}

function peerOf(chat) {
  return chat && chat.kind === "direct" ? otherMembers(chat)[0] || null : null;
}

export function decorate() {
  // Drawn after renderPage: reads the state and `blocked` only.
  const chat = state.open && state.chats.get(state.open);
  const peer = peerOf(chat);
  const header = $("block-btn");
  header.hidden = !peer;
  if (peer) {
    header.textContent = blocked.has(peer) ? "Unblock" : "Block";
    header.onclick = () => toggle(peer);
  }
  const closed = Boolean(peer && blocked.has(peer));
  $("blocked-notice").hidden = !closed;
  if (closed) {
    $("blocked-text").textContent = `You blocked ${peer}. Neither of you can send messages here.`;
    $("blocked-unblock").onclick = () => act("user.unblock", setBlocked(peer, false));
  }
  $("composer").classList.toggle("blocked", closed);
  $("composer-input").disabled = closed;
  $("send-btn").disabled = closed;
  $("attach-btn").disabled = closed;
  if (chat && chat.kind !== "direct" && !$("members-panel").hidden) {
    for (const item of $("member-list").querySelectorAll("li.member")) {
      const user = item.dataset.user;
      if (user === state.me || item.querySelector(".block-member")) continue;
      item.append(button("plain block-member", blocked.has(user) ? "Unblock" : "Block", () => toggle(user)));
    }
  }
  const list = [...blocked].sort();
  $("blocked-count").textContent = String(list.length);
  $("blocked-list").replaceChildren(
    ...(list.length ? list.map(blockedItem) : [el("li", "muted", "You block nobody.")]),
  );
}

function blockedItem(user) {
  const item = el("li", "blocked-user");
  item.dataset.user = user;
  item.append(el("span", "name", user), button("plain unblock", "Unblock", () => act("user.unblock", setBlocked(user, false))));
  return item;
}
