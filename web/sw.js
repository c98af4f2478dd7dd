// The web chat's service worker: shows the Web Push notifications the server sends while no page
// of the chat is connected, and opens the chat when one is clicked.
//
// A push carries the notification as JSON (decrypted by the browser): chat_id, seq, message_id,
// title, body, badge, collapse_key, and sender_id when the device shows previews.
// Registered from /static/ (the local stack serves web/ there): its scope is /static/, which is
// all a push subscription needs; the page itself, at /, is reached through clients.matchAll.

const FALLBACK_TITLE = "New message";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  // userVisibleOnly: every push must show a notification, even one that cannot be read.
  event.waitUntil(showPush(readPayload(event.data)));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openChatWindow(event.notification.data || {}));
});

function readPayload(data) {
  if (!data) return null;
  try {
    const payload = data.json();
    return payload && typeof payload === "object" ? payload : null;
  } catch {
    return null;
  }
}

async function showPush(payload) {
  if (!payload || typeof payload.chat_id !== "string") {
    await self.registration.showNotification(FALLBACK_TITLE, { tag: "chat" });
    return;
  }
  const tag = payload.collapse_key || payload.chat_id; // a newer one of the chat replaces it
  await self.registration.showNotification(payload.title || FALLBACK_TITLE, {
    body: payload.body || "",
    tag,
    renotify: true,
    data: payload,
  });
  if (Number.isInteger(payload.badge) && "setAppBadge" in self.navigator) {
    await self.navigator.setAppBadge(payload.badge).catch(() => {});
  }
}

async function openChatWindow(data) {
  // A page of the chat that is open already: focus it and tell it which chat; else open one.
  const chatId = typeof data.chat_id === "string" ? data.chat_id : null;
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const home = new URL("..", self.registration.scope).pathname; // the page: the scope is its static/
  const page = pages.find((client) => new URL(client.url).pathname === home);
  if (page) {
    await page.focus().catch(() => {}); // allowed while handling a click
    if (chatId) page.postMessage({ type: "open-chat", chat_id: chatId });
    return page;
  }
  return self.clients.openWindow(chatId ? `${home}?chat=${encodeURIComponent(chatId)}` : home);
}
