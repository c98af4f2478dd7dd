// Notifications, the page's side (notify.js has the browser's): the page's Notifier, asking
// for permission from a click, and subscribing this browser for Web Push once per page, as a
// `webpush` device of this user (`webPush` says how that went). Which messages notify and
// opening a chat from a click are in sync.js: app.js points notifier.onOpenChat at its
// showChat (sync.js imports this module, so this one cannot import it).
// notificationStatus() is what the header says: on only when the Web Push subscription is
// registered; off, blocked by the browser, setting up, or failed with the reason otherwise,
// with a retry (retryNotifications) where one can help.

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
    .catch((err) => (webPush = `failed: ${err.message}`))
    .finally(render);
  render();
}

export async function retryNotifications() {
  // The retry button: ask again (the browser answers at once if the person decided already)
  // and subscribe again.
  if (webPush !== "trying") webPush = "not tried";
  await enableNotifications();
  subscribeWebPush();
}

export function notificationStatus() {
  // {state, text, enable, retry}: state is "unsupported", "off", "blocked", "pending", "on" or
  // "failed"; enable and retry say which button to offer.
  const permission = notifier.permission;
  if (permission === "unsupported") return { state: "unsupported", text: "", enable: false, retry: false };
  if (permission === "default") return { state: "off", text: "Notifications off", enable: true, retry: false };
  if (permission === "denied") {
    return {
      state: "blocked",
      text: "Notifications blocked by the browser: allow them in its site settings, then retry",
      enable: false,
      retry: true,
    };
  }
  if (webPush === "registered") return { state: "on", text: "Notifications on", enable: false, retry: false };
  if (webPush === "not tried" || webPush === "trying") {
    return { state: "pending", text: "Notifications: setting up…", enable: false, retry: false };
  }
  return {
    state: "failed",
    text: `Notifications failed: ${webPush.replace(/^failed: /, "").replace(/: not subscribing$/, "")}; they show only while this page is open`,
    enable: false,
    retry: true,
  };
}
