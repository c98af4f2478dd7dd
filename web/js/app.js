// The web chat: one WebSocket that stays connected across the whole app.
//
// What the page does, feature by feature: docs/architecture.md, "The web page".
//
// This module is the page's entry (index.html loads it as a native ES module; no build step)
// and its wiring: log in, connect, and hook the forms and buttons up to the modules below.
// Each module imports only those listed before it (no cycles; the two ways back up are
// plugged in here: the renderer into store.js, the notifier's clicks into sync.js):
//   session.js        the session kept across reloads: user, token, the chat open last
//   connection.js     the WebSocket: requests by `req`, keep-alive, reconnect with backoff
//   dom.js            $, el, button, toast (the error banner)
//   store.js          the state and the rules that keep it current; render() asks for a redraw
//   errors.js         errors in words for people, the user id format
//   uploads.js        files to the bucket: attachment.create, the form's POST, progress, cancel
//   files.js          how files show: thumbnails, file chips, uploads with progress, the viewer
//   outbox.js         unacknowledged messages: localStorage, one send at a time per chat
//   notify.js         the browser's notifications and Web Push subscription (sw.js shows pushes)
//   notifications.js  the page's Notifier, the permission click, this page's Web Push device
//   sync.js           resync after (re)connect, frames from the server, opening a chat, receipts
//   actions.js        the requests a click makes to change chats (add, remove, rename, leave, level)
//   live.js           the requests that change a message (edit, delete, react), jumping to one
//   mentions.js       `@user` in text: the one being typed, the ones a text mentions (no DOM)
//   attach.js         the composer's files: attach button, drop, paste, the tray, their clicks
//   composer.js       the multi-line composer: drafts per chat, reply / edit, the `@` picker
//   report.js         reporting a message: the menu's "Report", its reason dialog, message.report
//   menu.js           a message's menu, the emoji picker, reaction chips' clicks, long presses
//   bubble.js         a bubble's quote, reaction chips, "edited" mark and menu button
//   ticks.js          ticks judged against the members a message went to, never going back
//   messages.js       how one message shows: text with links and mentions, time, ticks, days
//   hidden.js         direct chats deleted from the list, until a new message arrives
//   titles.js         a group's icon, and its timeline's first line (who created it, when)
//   unread.js         the "N unread messages" line and the scroll to it on opening a chat
//   anchor.js         the timeline's place kept while the page around it changes
//   render.js         the page drawn from the state: chat list, conversation, members panel
//   pkce.js           OAuth helpers without DOM: PKCE, the authorize URL, grants, when to refresh
//   auth.js           config.json, the kept tokens and their refresh, Cognito's and OIDC's sign-in
//   signin.js         the sign-in screen when the server is not in dev mode
//   blocks.js         blocking users: the list, the header and member buttons, a blocked chat

import { conn, connect } from "./connection.js";
import { $, toast } from "./dom.js";
import { chatTitle, render, setRenderer, state, storeChat } from "./store.js";
import { act, badUserIds, plainError, splitUserIds, USER_ID, USER_ID_RULE } from "./errors.js";
import { loadOutbox } from "./outbox.js";
import { pageHidden } from "./notify.js";
import { enableNotifications, notifier, retryNotifications, webPush } from "./notifications.js";
import { loadEarlier, markRead, onFrame, openChat, openWhenListed, resync, showChat } from "./sync.js";
import { changeChat, leaveChat, setNotify, startDirect } from "./actions.js";
import { loadDrafts, setupComposer } from "./composer.js";
import { setupMenus } from "./menu.js";
import { membersRequested, renderPage } from "./render.js";
import { hideChat, unhideChat } from "./hidden.js";
import { clearSession, loadSession, saveSession, tokenExpired } from "./session.js";
import { loadConfig, SignInNeeded } from "./auth.js";
import { startSignIn } from "./signin.js";
import { decorate, loadBlocks } from "./blocks.js";

// The page's own path: "/" on the local stack, "/{stage}/" where a deployed stage serves it. Every
// address the page asks for is relative to it.
const HOME = new URL(".", location.href).pathname;

let auth = null; // auth.js's Auth when the server is not in dev mode
let wsBase = null; // config.json's ws_url, else this host's /ws

async function fetchToken(user) {
  const response = await fetch(`dev/token?user=${encodeURIComponent(user)}`);
  if (!response.ok) throw new Error(`cannot log in as ${user}`);
  return (await response.json()).token;
}

function login(user, { name = user, token = null, keptToken = null } = {}) {
  // Connect as `user`. With a provider's sign-in (`token`, from auth.js), each connection takes
  // a fresh token from it. In dev mode, the token kept from an earlier visit first, if any (a
  // refused one sends the person back to the login form), then fresh dev tokens on every reconnect.
  state.me = user;
  saveSession({ user });
  $("me").textContent = name;
  $("me").title = user;
  loadOutbox();
  loadDrafts();
  $("login").hidden = true;
  $("app").hidden = false;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const base = wsBase || `${scheme}://${location.host}/ws`;
  let kept = keptToken;
  let triedKept = false;
  connect({
    url: async () => {
      if (token) return `${base}?token=${encodeURIComponent(await token())}`;
      triedKept = Boolean(kept);
      const devToken = kept || (await fetchToken(user));
      kept = null;
      saveSession({ user, token: devToken });
      return `${base}?token=${encodeURIComponent(devToken)}`;
    },
    onFrame,
    onOpen: () => {
      resync().catch((e) => toast(plainError(e)));
      loadBlocks().catch((e) => toast(plainError(e)));
    },
    onState: (s) => {
      $("conn-status").dataset.state = s;
      $("conn-status").textContent = s;
    },
    onRefused: () => {
      if (!triedKept) return false; // the server may be down: try again later, as ever
      sessionEnded(user, "The server did not accept your saved session (it may have expired): log in again.");
      return true;
    },
  });
}

function showLogin(message, user = "") {
  // The login form, saying why it shows (an expired session, a bad user id in the address).
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-user").value = user;
  $("login-error").textContent = message || "";
  $("login-error").hidden = !message;
}

function sessionEnded(user, message) {
  saveSession({ user, token: null });
  showLogin(message, user);
}

let rememberedChat = null;

function rememberOpenChat() {
  // The chat on screen, kept with the session so a reload reopens it.
  if (!state.me || state.open === rememberedChat) return;
  rememberedChat = state.open;
  saveSession({ user: state.me, chat: state.open });
}

function takeInput(id) {
  // Read and clear a field at once: a reply that comes late must not wipe what was typed since.
  const value = $(id).value.trim();
  $(id).value = "";
  return value;
}

function giveBack(id, value) {
  // The request failed: put back what was sent, unless something new was typed meanwhile.
  if (!$(id).value) $(id).value = value;
}

function formError(text) {
  // Problems with the new-chat forms show under them (the banner is in the conversation).
  $("new-chat-error").textContent = text || "";
  $("new-chat-error").hidden = !text;
}

function showNewChat(shown) {
  $("new-chat-panel").hidden = !shown;
  $("new-chat-btn").setAttribute("aria-expanded", String(shown));
  $("new-chat-btn").textContent = shown ? "Cancel" : "+ New chat";
  formError(null);
  if (shown) $("direct-user").focus();
}

function setupSidebar() {
  $("new-chat-btn").onclick = () => showNewChat($("new-chat-panel").hidden);
  $("logout-btn").onclick = logout;
  $("new-chat").onsubmit = async (event) => {
    event.preventDefault();
    const members = splitUserIds($("new-members").value);
    const problem = members.length ? badUserIds(members) : `Add at least one member: ${USER_ID_RULE}`;
    if (problem) return formError(problem);
    const [typed, title] = [takeInput("new-members"), takeInput("new-title")];
    let reply;
    try {
      reply = await conn.request("chat.create", title ? { members, title } : { members });
    } catch (err) {
      giveBack("new-members", typed);
      giveBack("new-title", title);
      return formError(plainError(err, "chat.create"));
    }
    showNewChat(false);
    storeChat(reply.chat);
    await openChat(reply.chat.chat_id).catch((err) => toast(plainError(err)));
  };
  $("new-direct").onsubmit = async (event) => {
    event.preventDefault();
    const typed = $("direct-user").value.trim();
    const problem = badUserIds([typed]);
    if (problem) return formError(problem);
    if (typed === state.me) return formError("Pick someone other than yourself");
    const user = takeInput("direct-user");
    let chatId;
    try {
      chatId = await startDirect(user);
    } catch (err) {
      giveBack("direct-user", user); // trying again is safe: it is always the same chat
      return formError(plainError(err, "chat.create"));
    }
    showNewChat(false); // before the chat shows, so a form opened after that stays open
    unhideChat(chatId); // asked for again: back in the list
    await openChat(chatId).catch((err) => toast(plainError(err)));
  };
}

function logout() {
  // The explicit end of a session: forget who is logged in and their token (the outbox stays,
  // kept per user), sign out of the provider if any, and start over at the login form.
  clearSession();
  try {
    auth?.signOut();
  } catch {
    // storage refused: nothing remembered anyway
  }
  location.assign(auth ? location.pathname : HOME);
}

function signedIn(user, signedInAuth) {
  // Not dev mode: the provider's tokens; a sign-in that can no longer be refreshed asks again.
  auth = signedInAuth;
  const token = () => auth.token().catch((err) => {
    if (err instanceof SignInNeeded) logout();
    throw err;
  });
  login(user.id, { name: user.name, token });
}

function setupMembersPanel() {
  $("members-btn").onclick = () => {
    state.panel = !state.panel;
    membersRequested.clear();
    render();
  };
  $("panel-close").onclick = () => {
    state.panel = false;
    render();
  };
  $("add-form").onsubmit = (event) => {
    event.preventDefault();
    if (!state.open) return;
    const members = splitUserIds($("add-input").value);
    if (!members.length) return;
    const problem = badUserIds(members);
    if (problem) return toast(problem);
    const typed = takeInput("add-input");
    act("chat.add", changeChat("chat.add", { chat_id: state.open, members }).catch((err) => {
      giveBack("add-input", typed);
      throw err;
    }));
  };
  $("rename-form").onsubmit = (event) => {
    event.preventDefault();
    if (!state.open) return;
    const title = takeInput("rename-input");
    if (!title) return;
    act("rename", changeChat("chat.update", { chat_id: state.open, title }).catch((err) => {
      giveBack("rename-input", title);
      throw err;
    }));
  };
  $("delete-chat-btn").onclick = () => {
    const chat = state.open && state.chats.get(state.open);
    if (!chat) return;
    const who = chatTitle(chat);
    const what = `Delete the chat with ${who}? It leaves your list until a new message arrives in it; ` +
      `${who} keeps the conversation, and when it comes back its earlier messages are still there.`;
    if (!confirm(what)) return;
    hideChat(chat);
    state.open = null;
    state.panel = false;
    state.notice = `Deleted the chat with ${who}: it comes back when a new message arrives.`;
    render();
  };
  $("leave-btn").onclick = () => {
    const chat = state.open && state.chats.get(state.open);
    if (!chat || !confirm(`Leave ${chatTitle(chat)}? You will no longer get its messages.`)) return;
    act("chat.leave", leaveChat(chat.chat_id));
  };
}

function setupConversation() {
  $("back-btn").onclick = () => {
    state.open = null;
    state.notice = null;
    state.panel = false;
    render();
  };
  $("messages").onscroll = () => {
    if (state.open && $("messages").scrollTop < 20) loadEarlier(state.open).catch(() => {});
  };
  setupComposer();
  setupMenus();
}

async function setup() {
  $("login-user").oninput = () => {
    const value = $("login-user").value.trim();
    $("login-user").setCustomValidity(!value || USER_ID.test(value) ? "" : `Use 1-64 letters, digits, '_', '.', '@' or '-'`);
  };
  $("login-form").onsubmit = async (event) => {
    event.preventDefault();
    const user = $("login-user").value.trim();
    let token;
    try {
      token = await fetchToken(user);
    } catch (err) {
      $("login-error").textContent = err.message;
      $("login-error").hidden = false;
      return;
    }
    if (state.me) {
      // This page was logged in before (its session ended): start afresh as the new user.
      saveSession({ user, token });
      location.assign(HOME);
      return;
    }
    if (new URLSearchParams(location.search).has("user")) history.replaceState(null, "", HOME); // not the bad id again
    login(user, { keptToken: token });
  };
  setupSidebar();
  setupMembersPanel();
  setupConversation();
  setupNotifications();
  const query = new URLSearchParams(location.search);
  const config = await loadConfig();
  wsBase = config.ws_url || null;
  if (config.auth && config.auth !== "dev") {
    openWhenListed(query.get("chat"));
    return startSignIn(config, signedIn);
  }
  start(query);
}

function start(query) {
  // Who to be: the address's ?user= (the local stack's shortcut), else the kept session; the
  // chat to open: the address's ?chat= (a notification's click), else the one open last time.
  const chatToOpen = query.get("chat");
  const kept = loadSession();
  const asked = query.get("user");
  if (asked && !USER_ID.test(asked)) {
    return showLogin(`The address asks to log in as “${asked}”, which is not a user id: ${USER_ID_RULE}.`);
  }
  const user = asked || kept?.user;
  openWhenListed(chatToOpen || (user && kept?.user === user && kept.chat) || null);
  if (!user) return showLogin(chatToOpen ? "Log in to open that chat." : "");
  if (asked) return login(asked); // a fresh dev token: the address says who, every time
  if (!kept.token || tokenExpired(kept.token)) {
    return sessionEnded(user, "Your session has expired: log in again.");
  }
  login(user, { keptToken: kept.token });
}

function setupNotifications() {
  notifier.registerWorker();
  $("notify-btn").onclick = () => enableNotifications().catch((err) => toast(plainError(err)));
  $("notify-retry").onclick = () => retryNotifications().catch((err) => toast(plainError(err)));
  $("notify-level").onchange = () => {
    const chat = state.open && state.chats.get(state.open);
    if (!chat) return;
    act("chat.notify", setNotify(chat.chat_id, $("notify-level").value).catch((err) => {
      render(); // the control shows the level the server kept
      throw err;
    }));
  };
  document.addEventListener("visibilitychange", () => {
    if (pageHidden() || !state.open) return;
    notifier.closeFor(state.open);
    markRead(state.open); // what arrived while the tab was hidden is read now
    render();
  });
}

setRenderer(() => {
  renderPage();
  rememberOpenChat();
  decorate();
});
notifier.onOpenChat = (chatId) => showChat(chatId);
setup();
// For tests and the curious: the page's state and connection.
window.chat = { state, notifier, get conn() { return conn; }, get webPush() { return webPush; } };
