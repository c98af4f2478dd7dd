// Reporting a message (PROTOCOL v3, "Blocking and reporting"): "Report" in a message's menu
// (another member's message that is not deleted; menu.js asks canReport), a small dialog with an
// optional reason (at most 500 characters), then `message.report`; its `message:reported`
// reply shows a confirmation. Reporting again changes nothing on the server; the page says the
// same. The operators review reports with `python -m chatadmin` (docs/operators.md).

import { conn } from "./connection.js";
import { el, toast } from "./dom.js";
import { plainError } from "./errors.js";
import { findMessage, state } from "./store.js";

export const MAX_REASON_CHARS = 500;

const REFUSED = {
  bad_request: "You cannot report your own message",
  not_found: "That message is not there any more",
};

let dialog = null; // built on first use: <dialog id="report-dialog">

export function canReport(chat, message) {
  return Boolean(
    chat && message && typeof message.seq === "number" && !message.deleted && message.sender_id !== state.me,
  );
}

function build() {
  const box = el("dialog", "report-dialog");
  box.id = "report-dialog";
  box.setAttribute("aria-labelledby", "report-title");
  const form = el("form");
  form.method = "dialog";
  const title = el("h3", null, "Report this message");
  title.id = "report-title";
  const quote = el("p", "muted report-quote");
  const label = el("label", null, "Why? (optional)");
  label.htmlFor = "report-reason";
  const reason = el("textarea");
  reason.id = "report-reason";
  reason.maxLength = MAX_REASON_CHARS;
  reason.rows = 3;
  const cancel = el("button", "plain", "Cancel");
  cancel.type = "button";
  cancel.value = "cancel";
  cancel.onclick = () => box.close("cancel");
  const send = el("button", "danger-btn", "Report");
  send.type = "submit";
  send.value = "report";
  send.id = "report-send";
  const actions = el("div", "report-actions");
  actions.append(cancel, send);
  form.append(title, quote, label, reason, actions);
  box.append(form);
  document.body.append(box);
  return box;
}

export function openReport(chatId, seq) {
  const message = findMessage(chatId, seq);
  if (!canReport(state.chats.get(chatId), message)) return;
  dialog = dialog || build();
  const text = message.text || (message.attachments || []).map((a) => a.name).join(", ");
  dialog.querySelector(".report-quote").textContent = `${message.sender_id}: ${text}`.slice(0, 200);
  const reason = dialog.querySelector("#report-reason");
  reason.value = "";
  dialog.onclose = () => {
    if (dialog.returnValue === "report") send(chatId, seq, reason.value.trim());
  };
  dialog.returnValue = "";
  dialog.showModal();
  reason.focus();
}

export async function send(chatId, seq, reason) {
  const fields = { chat_id: chatId, seq };
  if (reason) fields.reason = reason.slice(0, MAX_REASON_CHARS);
  try {
    const reply = await conn.request("message.report", fields);
    if (reply.event === "message:reported") toast("Reported. Thank you: the operators will review it.");
  } catch (err) {
    toast(REFUSED[err.code] || plainError(err, "message.report"));
  }
}
