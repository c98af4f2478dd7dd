// The state store: what the page knows, and the rules that keep it current.
//
// Owns `state` (chats with unread counts, loaded messages by seq, receipts, pending sends,
// typing, what is on screen) and the updates that need no network: taking a chat object from
// the server unless this page applied newer events to it, adding messages, applying system
// messages (title, members, admins) and read pointers, joining a chat:opened page to what is
// loaded, and naming a chat. render() asks for a redraw: the renderer (render.js) is plugged
// in by app.js, so the modules that change state need not import the DOM code.
// Messages change (protocol v3): every message has a `rev`; of two copies of one message the
// higher `rev` is the newer, so a late reply never undoes a change that arrived before it.

export const state = {
  me: null,
  chats: new Map(), // chat_id -> Chat (the protocol object, kept current)
  metaSeq: new Map(), // chat_id -> the seq a chat's title, members and admins reflect
  messages: new Map(), // chat_id -> Map(seq -> Message), for chats loaded on this page
  olderExist: new Map(), // chat_id -> the server said older visible messages exist (has_more)
  receipts: new Map(), // chat_id -> {user_id: {delivered_seq, read_seq}}
  receiptsMin: new Map(), // chat_id -> {delivered_seq, read_seq}: the lowest over the other members
  pending: new Map(), // client_msg_id -> {chat_id, text, failed}, in the order they were written
  sending: new Set(), // chat_ids with a message.send in flight: one at a time per chat keeps order
  typing: new Map(), // chat_id -> Map(user_id -> expiry ms)
  open: null, // chat_id on screen
  panel: false, // the members panel is shown
  notice: null, // why the conversation on screen closed ("You left Weekend")
  gone: new Map(), // chat_id -> last_seq this page knew when the user left or was removed
  notify: new Map(), // chat_id -> notification level ("all", "mentions", "none") as this page set
  //                    it since it connected: newer than any chat object still on its way (nothing
  //                    tells a page about levels set elsewhere)
  revs: new Map(), // chat_id -> the highest rev this page has applied: chat.changes asks after it
  changed: new Map(), // chat_id -> Map(seq -> Message): the newest copy of each changed message heard of
  quoted: new Map(), // chat_id -> Map(seq -> Message or null): originals of replies, fetched for
  //                    their quotes while not loaded in the timeline (null: not visible to this user)
  highlight: null, // {chat_id, seq}: the message a quote's click scrolled to
};

let renderer = () => {};

export function setRenderer(draw) {
  renderer = draw;
}

export function render() {
  // The state changed: redraw the page from it.
  renderer();
}

export function maxSeq(chatId) {
  const loaded = state.messages.get(chatId);
  return loaded && loaded.size ? Math.max(...loaded.keys()) : 0;
}

export function minSeq(chatId) {
  const loaded = state.messages.get(chatId);
  return loaded && loaded.size ? Math.min(...loaded.keys()) : 0;
}

export function storeChat(chat) {
  // Take a chat object from the server, unless this page already applied newer events to it,
  // or it is a late reply about a chat the user has left (being added again raises joined_seq).
  if (state.gone.has(chat.chat_id)) {
    if ((chat.joined_seq || 0) <= state.gone.get(chat.chat_id)) return;
    state.gone.delete(chat.chat_id);
  }
  const known = state.chats.get(chat.chat_id);
  if (known && known.last_seq > chat.last_seq) return;
  if (known && known.joined_seq !== chat.joined_seq) {
    // Removed and added again: the messages loaded before are no longer visible to this user.
    for (const map of [state.messages, state.olderExist, state.revs, state.changed, state.quoted]) map.delete(chat.chat_id);
  }
  if (state.notify.has(chat.chat_id)) chat.notify = state.notify.get(chat.chat_id);
  chat.notify = chat.notify || (chat.muted ? "none" : "all");
  chat.muted = chat.notify === "none";
  if (chat.last_message) chat.last_message = newer(chat.last_message, state.changed.get(chat.chat_id)?.get(chat.last_message.seq));
  state.chats.set(chat.chat_id, chat);
  state.metaSeq.set(chat.chat_id, chat.last_seq);
}

function recountUnread(chat) {
  chat.unread = Math.max(0, chat.last_seq - Math.max(chat.read_seq, chat.joined_seq || 0));
}

export function addMessages(chatId, messages) {
  if (!state.messages.has(chatId)) state.messages.set(chatId, new Map());
  const loaded = state.messages.get(chatId);
  const changed = state.changed.get(chatId);
  const newest = messages.map((m) => newer(newer(m, changed?.get(m.seq)), loaded.get(m.seq)));
  for (const m of newest) loaded.set(m.seq, m);
  noteMessages(chatId, newest);
}

export function newer(a, b) {
  // Of two copies of one message, the one with the higher rev (a on a tie: it came later).
  if (!b) return a;
  if (!a) return b;
  return (b.rev || 0) > (a.rev || 0) ? b : a;
}

export function applyChange(chatId, message) {
  // An edited, deleted or reacted message (a chat:message:updated frame, a message:updated
  // reply, chat.changes): replace the copies this page holds, unless they are newer. A message
  // not loaded yet is remembered, so a page that loads it later shows it as it is now.
  if (!state.changed.has(chatId)) state.changed.set(chatId, new Map());
  const changed = state.changed.get(chatId);
  const latest = newer(message, changed.get(message.seq));
  changed.set(message.seq, latest);
  noteRev(chatId, latest.rev);
  const loaded = state.messages.get(chatId);
  if (loaded?.has(message.seq)) loaded.set(message.seq, newer(latest, loaded.get(message.seq)));
  const quoted = state.quoted.get(chatId);
  if (quoted?.get(message.seq)) quoted.set(message.seq, newer(latest, quoted.get(message.seq)));
  const chat = state.chats.get(chatId);
  if (chat?.last_message?.seq === message.seq) chat.last_message = newer(latest, chat.last_message);
}

export function noteRev(chatId, rev) {
  if ((rev || 0) > (state.revs.get(chatId) || 0)) state.revs.set(chatId, rev);
}

export function findMessage(chatId, seq) {
  // A message as this page knows it now: loaded, changed, or fetched for a quote (null: the
  // user cannot see it; undefined: not known yet).
  const loaded = state.messages.get(chatId)?.get(seq);
  const known = newer(loaded, state.changed.get(chatId)?.get(seq));
  if (known) return newer(known, state.quoted.get(chatId)?.get(seq) || undefined);
  return state.quoted.get(chatId)?.get(seq);
}

export function noteMessages(chatId, messages) {
  // Keep a chat's summary and, for system messages, its title, members and admins current.
  const chat = state.chats.get(chatId);
  if (!chat || !messages.length) return;
  const ascending = [...messages].sort((a, b) => a.seq - b.seq);
  for (const m of ascending) if (m.kind === "system") applySystem(chat, m);
  noteLast(chat, ascending[ascending.length - 1]);
}

function noteLast(chat, message) {
  if (!chat || message.seq < chat.last_seq) return;
  chat.last_seq = message.seq;
  chat.last_message = message;
  recountUnread(chat);
}

function applySystem(chat, message) {
  // A membership event newer than what the chat object shows: apply it in place.
  if (message.seq <= (state.metaSeq.get(chat.chat_id) ?? 0)) return;
  state.metaSeq.set(chat.chat_id, message.seq);
  const { type, users = [], title, admins } = message.system || {};
  if (type === "added") setMembers(chat, [...new Set([...membersOf(chat), ...users])], users.length);
  if (type === "removed" || type === "left") {
    setMembers(chat, membersOf(chat).filter((u) => !users.includes(u)), -users.length);
    chat.admins = (chat.admins || []).filter((u) => !users.includes(u));
  }
  if (type === "updated" && title !== undefined) chat.title = title;
  if (admins) chat.admins = [...admins].sort();
}

function setMembers(chat, members, countChange) {
  if (chat.members) chat.members = members.sort();
  chat.member_count = chat.members ? chat.members.length : Math.max(1, (chat.member_count || 0) + countChange);
}

export function membersOf(chat) {
  return chat.members || [];
}

export function applyPointers(chatId, userId, pointers) {
  if (!state.receipts.get(chatId)) state.receipts.set(chatId, {});
  state.receipts.get(chatId)[userId] = {
    delivered_seq: pointers.delivered_seq,
    read_seq: pointers.read_seq,
  };
  const chat = state.chats.get(chatId);
  if (chat && userId === state.me) {
    chat.read_seq = pointers.read_seq;
    chat.delivered_seq = pointers.delivered_seq;
    recountUnread(chat);
  }
}

export function newerReceipts(known = {}, replied) {
  // A chat:opened reply can be older than chat:receipt frames that overtook it: pointers only move up.
  const merged = { ...replied };
  for (const [user, pointers] of Object.entries(known)) {
    const other = merged[user] || { delivered_seq: 0, read_seq: 0 };
    merged[user] = {
      delivered_seq: Math.max(pointers.delivered_seq || 0, other.delivered_seq || 0),
      read_seq: Math.max(pointers.read_seq || 0, other.read_seq || 0),
    };
  }
  return merged;
}

export function takeLatestPage(chatId, reply) {
  // Join chat:opened's page to what is loaded; a page that leaves a gap replaces it.
  const loaded = state.messages.get(chatId);
  // An empty page (a reply older than what acks already added) leaves the loaded ones alone.
  const lowest = reply.messages.length ? reply.messages[0].seq : null;
  const fresh = !loaded || !loaded.size || (lowest !== null && lowest > maxSeq(chatId) + 1);
  if (fresh) state.messages.set(chatId, new Map());
  if (fresh || (lowest !== null && lowest <= minSeq(chatId))) state.olderExist.set(chatId, Boolean(reply.has_more));
  addMessages(chatId, reply.messages);
}

export function otherMembers(chat) {
  return membersOf(chat).filter((m) => m !== state.me);
}

export function chatTitle(chat) {
  if (chat.kind === "direct") return otherMembers(chat)[0] || directPeer(chat);
  if (chat.title) return chat.title;
  if (!chat.members) return `Group of ${chat.member_count}`;
  const others = otherMembers(chat);
  return others.length ? others.join(", ") : "just you";
}

function directPeer(chat) {
  // The other person of a direct chat they have left: its creator, or whoever left it.
  if (chat.created_by && chat.created_by !== state.me) return chat.created_by;
  const left = chat.last_message?.system?.type === "left" ? chat.last_message.sender_id : null;
  return left && left !== state.me ? left : "direct chat";
}

export function isAdmin(chat, user) {
  return (chat.admins || []).includes(user);
}
