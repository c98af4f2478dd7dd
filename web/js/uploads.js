// Uploads (protocol v3, "Attachments"): a file goes straight to the bucket, never through the
// WebSocket. attachment.create gives a presigned POST; the page posts its fields and then the file
// as the field `file` with an XMLHttpRequest (for the upload's progress, and to cancel it), and
// the bucket answers 204. A send then names the attachment ids (outbox.js).
//
// Checked before any request: at most 25 MiB a file (the server's limit) and 10 files a message.
// Each upload is an object the composer's tray and a pending bubble show: its progress, and
// "uploading", "done", "failed" (with why) or "canceled". Listeners hear when one settles; the
// progress bars are moved in place (no full redraw for every progress event).

import { conn } from "./connection.js";
import { plainError } from "./errors.js";

export const MAX_FILE_BYTES = 26214400; // 25 MiB
export const MAX_FILES = 10; // per message
const NAME_CHARS = 200;
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export const uploads = new Map(); // upload id -> upload
const settledListeners = [];
let nextId = 1;

export function onSettled(listener) {
  // listener(upload): an upload is done, failed or canceled
  settledListeners.push(listener);
}

export function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function isImage(contentType) {
  // Shown inline: the image types every browser draws (not SVG, which is a document).
  return /^image\/(png|jpeg|gif|webp|avif|bmp)$/.test(contentType || "");
}

export function fileName(name) {
  // What the server takes: 1-200 characters, no control characters; the extension kept.
  let clean = Array.from(String(name || "").replace(/[\u0000-\u001f\u007f-\u009f]/g, " ").trim());
  if (!clean.length) clean = Array.from("file");
  if (clean.length <= NAME_CHARS) return clean.join("");
  const text = clean.join("");
  const dot = text.lastIndexOf(".");
  const ext = dot > 0 && text.length - dot <= 16 ? Array.from(text.slice(dot)) : [];
  return clean.slice(0, NAME_CHARS - ext.length - 1).join("") + "…" + ext.join("");
}

export function mediaType(file) {
  const type = (file.type || "").split(";")[0].trim().toLowerCase();
  return MEDIA_TYPE.test(type) ? type : "application/octet-stream";
}

export function refusal(file) {
  // Why a file cannot be sent, before anything is asked of the server (null: it can).
  if (file.size > MAX_FILE_BYTES) {
    const bytes = (n) => n.toLocaleString("en-US");
    return `${fileName(file.name)} is too large (${humanSize(file.size)}, ${bytes(file.size)} bytes): files can be at most 25 MB (${bytes(MAX_FILE_BYTES)} bytes)`;
  }
  if (file.size === 0) return `${fileName(file.name)} is empty`;
  return null;
}

function settle(upload, status, error = null) {
  if (upload.status !== "uploading") return;
  upload.status = status;
  upload.error = error;
  upload.xhr = null;
  for (const listener of settledListeners) listener(upload);
}

export function startUpload(chatId, file) {
  // attachment.create, then the POST of the form with the file; the upload object at once.
  const upload = {
    id: `u${nextId++}`, chat_id: chatId, file, name: fileName(file.name), content_type: mediaType(file),
    size: file.size, loaded: 0, status: "uploading", error: null, attachment: null, xhr: null,
    preview: isImage(mediaType(file)) ? URL.createObjectURL(file) : null,
  };
  uploads.set(upload.id, upload);
  const fields = { chat_id: chatId, name: upload.name, content_type: upload.content_type, size: upload.size };
  conn
    .request("attachment.create", fields)
    .then((reply) => {
      if (upload.status !== "uploading") return; // canceled meanwhile
      upload.attachment = reply.attachment;
      post(upload, reply.upload);
    })
    .catch((err) => settle(upload, "failed", `${upload.name} was not uploaded: ${plainError(err, "attachment.create")}`));
  return upload;
}

function post(upload, form) {
  const body = new FormData();
  for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
  body.append("file", upload.file, upload.name); // last: S3 ignores fields after the file
  const xhr = new XMLHttpRequest();
  upload.xhr = xhr;
  xhr.upload.onprogress = (event) => {
    upload.loaded = event.lengthComputable ? Math.min(upload.size, Math.round((event.loaded / event.total) * upload.size)) : upload.loaded;
    showProgress(upload);
  };
  xhr.onload = () => {
    if (xhr.status >= 200 && xhr.status < 300) {
      upload.loaded = upload.size;
      settle(upload, "done");
    } else {
      settle(upload, "failed", `${upload.name} was not uploaded: the file store answered ${xhr.status}`);
    }
  };
  xhr.onerror = () => settle(upload, "failed", `${upload.name} was not uploaded: the file store could not be reached`);
  xhr.ontimeout = () => settle(upload, "failed", `${upload.name} was not uploaded: the file store did not answer`);
  xhr.open("POST", form.url);
  xhr.send(body);
}

export function cancelUpload(upload) {
  // The user took the file back: the upload stops (an upload never attached is deleted later).
  const xhr = upload.xhr;
  settle(upload, "canceled");
  if (xhr) xhr.abort();
  forget(upload);
}

export function forget(upload) {
  // No longer shown anywhere: its preview's memory is let go.
  if (upload.status === "uploading") return;
  uploads.delete(upload.id);
  if (upload.preview && upload.status !== "done") URL.revokeObjectURL(upload.preview);
}

export function percent(upload) {
  return upload.size ? Math.floor((upload.loaded / upload.size) * 100) : 100;
}

function showProgress(upload) {
  for (const bar of document.querySelectorAll(`.upload[data-upload="${upload.id}"] progress`)) {
    bar.value = percent(upload);
    bar.textContent = `${percent(upload)}%`;
  }
}
