// Attaching files in the composer: the attach button (a file picker, several at once), files
// dropped onto the conversation, and images pasted into the box. Each file is checked first
// (uploads.js: 25 MB, 10 a message; a refusal is said at once and asks nothing of the server),
// then uploads at once, shown in the tray above the box with its progress and a cancel button,
// one tray per chat. Send takes the tray into the message (outbox.js waits for the uploads).
// Also the clicks on files: a thumbnail opens the viewer, a cancel button stops its upload; and
// an image whose link no longer loads (links last two hours) asks chat.history for fresh links.

import { conn } from "./connection.js";
import { $, toast } from "./dom.js";
import { addMessages, render, state } from "./store.js";
import { cancelUpload, forget, MAX_FILES, onSettled, refusal, startUpload } from "./uploads.js";
import { closeViewer, icon, openViewer, uploadItem } from "./files.js";
import { entryOf, removeFile } from "./outbox.js";

const trays = new Map(); // chat_id -> [upload], the files chosen for the next message
const relinked = new Map(); // "chat_id:seq" -> when fresh links were last asked for
const RELINK_MS = 60000;

function tray(chatId) {
  if (!trays.has(chatId)) trays.set(chatId, []);
  return trays.get(chatId);
}

export function hasFiles(chatId) {
  return Boolean(trays.get(chatId)?.length);
}

export function addFiles(files) {
  // Check each file, then upload the ones that may go; say why the others may not.
  const chatId = state.open;
  if (!chatId || !files?.length) return;
  const chosen = tray(chatId);
  const refused = [];
  for (const file of files) {
    const why = refusal(file);
    if (why) refused.push(why);
    else if (chosen.length >= MAX_FILES) refused.push(`${file.name} was left out: a message can carry at most ${MAX_FILES} files`);
    else chosen.push(startUpload(chatId, file));
  }
  if (refused.length) toast(refused.join(". "));
  render();
}

export function takeFiles(chatId) {
  // The tray's files for the message being sent, or null (and why) if one of them failed.
  const chosen = tray(chatId);
  if (chosen.some((u) => u.status === "failed")) {
    toast("Not sent: remove the files that did not upload, or attach them again");
    return null;
  }
  trays.set(chatId, []);
  return chosen;
}

function inTray(upload) {
  const chosen = trays.get(upload.chat_id);
  return chosen && chosen.includes(upload) ? chosen : null;
}

function takeBack(upload) {
  // The cancel button of a file: in the tray, or in a message waiting for its uploads.
  const chosen = inTray(upload);
  if (chosen) {
    if (upload.status === "uploading") cancelUpload(upload);
    else forget(upload);
    chosen.splice(chosen.indexOf(upload), 1);
    render();
  } else if (entryOf(upload)) removeFile(upload);
}

onSettled((upload) => {
  if (!inTray(upload)) return;
  if (upload.status === "failed") toast(upload.error);
  render();
});

export function renderTray() {
  // The open chat's tray, above the box.
  const box = $("attach-tray");
  const chosen = (state.open && trays.get(state.open)) || [];
  box.hidden = !chosen.length;
  const fresh = chosen.map(uploadItem);
  if (fresh.map((n) => n.outerHTML).join() !== [...box.children].map((n) => n.outerHTML).join()) box.replaceChildren(...fresh);
}

function findUpload(id) {
  for (const chosen of trays.values()) for (const u of chosen) if (u.id === id) return u;
  for (const p of state.pending.values()) for (const u of p.files || []) if (u.id === id) return u;
  return null;
}

function onClick(event) {
  const cancel = event.target.closest(".upload-cancel[data-upload]");
  if (cancel) {
    const upload = findUpload(cancel.dataset.upload);
    if (upload) takeBack(upload);
    return;
  }
  const thumb = event.target.closest("#messages .thumb[href]");
  if (thumb && !event.defaultPrevented && !event.ctrlKey && !event.metaKey && !event.shiftKey && event.button === 0) {
    event.preventDefault(); // the viewer, not a new tab (which the link still opens with a modifier)
    openViewer(thumb);
  }
}

function carriesFiles(event) {
  return [...(event.dataTransfer?.types || [])].includes("Files");
}

function setupDrop() {
  // Files dropped anywhere on the conversation of an open chat.
  const area = document.querySelector(".conversation");
  let depth = 0;
  const shown = (on) => area.classList.toggle("dropping", on && Boolean(state.open));
  area.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth += 1;
    shown(true);
  });
  area.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = state.open ? "copy" : "none";
  });
  area.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) shown(false);
  });
  area.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth = 0;
    shown(false);
    addFiles([...event.dataTransfer.files]);
  });
}

function onPaste(event) {
  // A pasted image (a screenshot) is attached; pasted text stays text.
  const files = [...(event.clipboardData?.files || [])];
  if (!files.length) return;
  event.preventDefault();
  addFiles(files);
}

function onBrokenImage(event) {
  // A thumbnail that did not load: its link expired (or the file store was away). The message
  // as the server has it now carries fresh links; at most once a minute per message.
  const img = event.target;
  const thumb = img instanceof HTMLImageElement && img.closest("#messages .thumb");
  const bubble = thumb && thumb.closest(".msg[data-seq]");
  const chatId = state.open;
  if (!bubble || !chatId || !conn?.online) return;
  const seq = Number(bubble.dataset.seq);
  const key = `${chatId}:${seq}`;
  if (Date.now() - (relinked.get(key) || 0) < RELINK_MS) return;
  relinked.set(key, Date.now());
  conn
    .request("chat.history", { chat_id: chatId, before: seq + 1, limit: 1 })
    .then((reply) => {
      const message = reply.messages.find((m) => m.seq === seq);
      if (!message || !state.chats.has(chatId)) return;
      addMessages(chatId, [message]);
      render();
      const fresh = (message.attachments || []).find((a) => a.attachment_id === thumb.dataset.attachment);
      if (img.isConnected && fresh?.url) img.src = fresh.url; // loads again even when signed alike
    })
    .catch(() => relinked.delete(key));
}

export function setupAttach() {
  $("attach-btn").replaceChildren(icon("clip"));
  $("attach-btn").onclick = () => $("attach-input").click();
  $("attach-input").onchange = () => {
    addFiles([...$("attach-input").files]);
    $("attach-input").value = ""; // the same file can be chosen again
  };
  $("composer-input").addEventListener("paste", onPaste);
  setupDrop();
  document.addEventListener("click", onClick);
  document.addEventListener("error", onBrokenImage, true); // errors do not bubble: caught on the way down
  $("viewer-close").onclick = closeViewer;
  $("viewer").addEventListener("click", (event) => {
    if (event.target === $("viewer")) closeViewer(); // the backdrop
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && closeViewer()) event.preventDefault();
  });
}
