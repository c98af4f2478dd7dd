// Notifications for the web chat.
//
// - While this page is connected, the server sends it every message as a frame, so the page
//   itself tells the user (Notification API) about messages they cannot see: the tab is hidden,
//   the chat's level lets it notify (not "none"; at "mentions" only a mention of the user or a
//   reply to them), and someone else wrote it. Clicking one focuses the tab and opens
//   the chat. Permission is asked only from a click on "Enable notifications".
// - While no page is connected, the server pushes (Web Push) to the subscription this page
//   registered: /static/sw.js shows those. Subscribing needs the browser's PushManager and the
//   server's VAPID public key (the local stack serves it at GET /dev/vapid); without either,
//   the page says so in the console and notifies only while it is open.

const BODY_CHARS = 120; // as the server cuts a push notification's body
const WORKER = "static/sw.js"; // relative to the page: under a deployed stage's path too
const WORKER_SCOPE = "static/"; // the stack serves web/ under static/ only

export function cut(text, limit = BODY_CHARS) {
  return text.length <= limit ? text : text.slice(0, limit - 1) + "…";
}

export function messageWords(message) {
  // A message in words: its text, or for files only "📎 " and the first file's name.
  const files = message.attachments || [];
  if (!message.text && files.length && !message.deleted) return `📎 ${files[0].name}`;
  return message.text || "";
}

export function notificationText(chat, message) {
  // The title and body the server gives a push notification of this message: a titled group's
  // title, else the sender; in groups the body names the sender.
  const group = chat.kind !== "direct";
  const title = group && chat.title ? chat.title : message.sender_id;
  const text = messageWords(message);
  return { title, body: cut(group ? `${message.sender_id}: ${text}` : text) };
}

export function pageHidden() {
  return document.visibilityState === "hidden";
}

export class Notifier {
  constructor({ onOpenChat, log = console }) {
    this.onOpenChat = onOpenChat; // (chatId) => void: show that chat
    this.log = log;
    this.shown = new Map(); // chat_id -> the Notification this page shows for it
    this.worker = null; // Promise<ServiceWorkerRegistration> once registered
  }

  get supported() {
    return "Notification" in window;
  }

  get permission() {
    return this.supported ? Notification.permission : "unsupported";
  }

  async enable() {
    // From a click: ask for permission (the browser shows its prompt at most once).
    if (!this.supported) return "unsupported";
    return Notification.requestPermission();
  }

  wanted(chat, message, me, repliesToMe = false) {
    // Someone else's words in a chat that is not muted, that the user cannot see now; at the
    // level "mentions", only a message that mentions the user or replies to one of theirs. (System
    // notices are not notified: the server pushes them only to the users they add.)
    if (!chat || chat.muted || message.kind === "system" || message.sender_id === me) return false;
    if (chat.notify === "mentions" && !(message.mentions || []).includes(me) && !repliesToMe) return false;
    return pageHidden() && this.permission === "granted";
  }

  show(chat, message) {
    const { title, body } = notificationText(chat, message);
    const chatId = message.chat_id;
    const options = { body, tag: chatId, data: { chat_id: chatId, seq: message.seq } };
    let notification;
    try {
      notification = new Notification(title, options);
    } catch (err) {
      // Some browsers (Chrome on Android) let only a service worker show notifications.
      this.showFromWorker(title, options);
      return;
    }
    this.shown.set(chatId, notification);
    notification.onclick = () => {
      window.focus();
      notification.close();
      this.onOpenChat(chatId);
    };
    notification.onclose = () => {
      if (this.shown.get(chatId) === notification) this.shown.delete(chatId);
    };
  }

  showFromWorker(title, options) {
    if (!this.worker) return;
    this.worker.then((registration) => registration.showNotification(title, options)).catch((err) => {
      this.log.info(`Notifications: cannot show one (${err.message})`);
    });
  }

  closeFor(chatId) {
    // The user is looking at the chat now: what was shown for it is old news.
    this.shown.get(chatId)?.close();
    this.shown.delete(chatId);
  }

  registerWorker() {
    // The worker shows Web Push notifications and routes their clicks here (see sw.js).
    if (!("serviceWorker" in navigator)) {
      this.log.info("Web Push: this browser has no service workers; notifications show only while this page is open");
      return;
    }
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data?.type === "open-chat" && typeof event.data.chat_id === "string") this.onOpenChat(event.data.chat_id);
    });
    navigator.serviceWorker.startMessages();
    this.worker = navigator.serviceWorker.register(WORKER, { scope: WORKER_SCOPE });
    this.worker.catch((err) => this.log.info(`Web Push: the service worker did not register (${err.message})`));
  }

  async subscribe(register) {
    // Subscribe this browser for Web Push and register it with the server (register: the
    // subscription's JSON -> Promise of the device). Returns what happened, also logged.
    const skip = (why) => {
      this.log.info(`Web Push: ${why}; notifications show only while this page is open`);
      return why;
    };
    if (!this.worker || !("PushManager" in window)) return skip("this browser does not offer push (no PushManager)");
    const key = await fetchVapidKey();
    if (!key.ok) return skip(`no VAPID public key from the server (GET /dev/vapid answered ${key.status}): not subscribing`);
    let subscription;
    try {
      subscription = await subscriptionFor(await this.worker, key.value);
    } catch (err) {
      return skip(`no push service reachable (${err.name}: ${err.message}): not subscribing`);
    }
    try {
      const device = await register(subscription.toJSON());
      this.log.info(`Web Push: subscribed; registered as device ${device.device_id}`);
      return "registered";
    } catch (err) {
      return skip(`the server refused the subscription (${err.code}: ${err.message})`);
    }
  }
}

async function fetchVapidKey() {
  // A deployed stage's config.json carries the key; the local stack answers dev/vapid.
  try {
    const config = await fetch("config.json").then((r) => (r.ok ? r.json() : {}));
    if (typeof config.vapid_public_key === "string" && config.vapid_public_key) {
      return { ok: true, value: config.vapid_public_key };
    }
  } catch {
    // no config.json (an older stack): ask dev/vapid
  }
  try {
    const response = await fetch("dev/vapid");
    if (!response.ok) return { ok: false, status: response.status };
    const { public_key: value } = await response.json();
    if (typeof value !== "string" || !value) return { ok: false, status: "no public_key" };
    return { ok: true, value };
  } catch (err) {
    return { ok: false, status: err.message };
  }
}

async function subscriptionFor(registration, publicKey) {
  // The existing subscription if it was made with this key, else a new one.
  const key = base64UrlBytes(publicKey);
  const existing = await registration.pushManager.getSubscription();
  if (existing && sameBytes(existing.options.applicationServerKey, key)) return existing;
  if (existing) await existing.unsubscribe();
  return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
}

export function base64UrlBytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

function sameBytes(buffer, bytes) {
  if (!buffer) return false;
  const have = new Uint8Array(buffer);
  return have.length === bytes.length && have.every((b, i) => b === bytes[i]);
}
