// Notifications, the page's side (notify.js has the browser's): the page's Notifier, asking
// for permission from a click, and subscribing this browser for Web Push once per page, as a
// `webpush` device of this user (`webPush` says how that went). Which messages notify and
// opening a chat from a click are in sync.js: app.js points notifier.onOpenChat at its
// showChat (sync.js imports this module, so this one cannot import it).

import { conn } from "./connection.js";
import { toast } from "./dom.js";
import { render } from "./store.js";
import { Notifier } from "./notify.js";

export let webPush = "not tried"; // this page's Web Push subscription: "not tried", "trying", or the outcome
export const notifier = new Notifier({ onOpenChat: null }); // set by app.js

export async function enableNotifications() {
  // A click asks for permission; then this browser subscribes for Web Push too.
  const permission = await notifier.enable();
  render();
  if (permission === "granted") subscribeWebPush();
  else if (permission === "denied") toast("Notifications are blocked: allow them in the browser's site settings");
}

export function subscribeWebPush() {
  // Once per page, when notifications are allowed and the connection is up.
  if (notifier.permission !== "granted" || webPush !== "not tried" || !conn?.online) return;
  webPush = "trying";
  notifier
    .subscribe((subscription) =>
      conn.request("device.register", { platform: "webpush", subscription }).then((reply) => reply.device))
    .then((outcome) => (webPush = outcome))
    .catch((err) => (webPush = `failed: ${err.message}`));
}
