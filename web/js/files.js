// How files show (protocol v3, "Attachments"): a message's images inline as thumbnails (the
// attachment's url) that open full size in the viewer, other files as a chip with name, type and
// size that downloads (<a download>); an upload in the composer's tray or in a message still
// being sent, with its progress bar and its cancel button. Elements only: the clicks are
// attach.js's.

import { $, el } from "./dom.js";
import { humanSize, isImage, percent } from "./uploads.js";

const PREVIEWS = new Map(); // attachment_id -> a local copy of the sender's own image (object URL)

export function keepPreview(attachmentId, objectUrl) {
  // The sender's own image shows from its local copy until the server's link is loaded.
  if (objectUrl) PREVIEWS.set(attachmentId, objectUrl);
}

export function attachmentsBlock(message) {
  // The files of a message (none once it is deleted), in the order they were sent.
  const files = message.deleted ? [] : message.attachments || [];
  if (!files.length) return null;
  const block = el("div", "files");
  for (const file of files) block.append(isImage(file.content_type) ? thumbnail(file) : fileChip(file));
  return block;
}

function thumbnail(file) {
  const url = file.url || PREVIEWS.get(file.attachment_id);
  const link = document.createElement("a");
  link.className = "thumb";
  link.dataset.attachment = file.attachment_id;
  link.dataset.name = file.name;
  link.title = `${file.name} (${humanSize(file.size)}): open full size`;
  if (url) {
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  const img = document.createElement("img");
  img.alt = file.name;
  img.loading = "lazy";
  if (url) img.src = url;
  link.append(img);
  return link;
}

function fileChip(file) {
  const link = document.createElement("a");
  link.className = "file-chip";
  link.dataset.attachment = file.attachment_id;
  if (file.url) {
    link.href = file.url;
    link.download = file.name; // the link names the file too (Content-Disposition)
  }
  link.title = `Download ${file.name}`;
  link.append(fileIcon(), el("span", "file-name", file.name));
  const about = el("span", "file-about");
  about.append(el("span", "file-type", file.content_type), el("span", "file-size", humanSize(file.size)));
  link.append(about);
  return link;
}

// Drawn here, as the bell is (render.js): no icon font or emoji font to count on.
const ICONS = {
  file: "M6 2h8l5 5v15H6z M14 2v5h5",
  clip: "M16.5 6.5l-8 8a2 2 0 0 0 2.8 2.8l8.5-8.5a4 4 0 0 0-5.7-5.7L5.6 11.6a6 6 0 0 0 8.5 8.5l6.4-6.4",
};

export function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  const look = { d: ICONS[name], fill: "none", stroke: "currentColor", "stroke-width": "1.8", "stroke-linejoin": "round" };
  for (const [key, value] of Object.entries(look)) path.setAttribute(key, value);
  svg.append(path);
  return svg;
}

function fileIcon() {
  const box = el("span", "file-icon");
  box.append(icon("file"));
  return box;
}

export function uploadItem(upload) {
  // One file being uploaded (or that failed): its name, size, progress and a cancel button.
  const item = el("div", `upload is-${upload.status}`);
  item.dataset.upload = upload.id;
  item.dataset.name = upload.name;
  if (upload.preview) {
    const img = document.createElement("img");
    img.src = upload.preview;
    img.alt = "";
    item.append(img);
  } else item.append(fileIcon());
  const body = el("span", "upload-body");
  body.append(el("span", "file-name", upload.name), el("span", "file-size", humanSize(upload.size)));
  if (upload.status === "uploading") {
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = percent(upload);
    bar.textContent = `${percent(upload)}%`;
    bar.setAttribute("aria-label", `Uploading ${upload.name}`);
    body.append(bar);
  } else if (upload.status === "failed") {
    const why = el("span", "upload-error", upload.error);
    why.setAttribute("role", "alert");
    body.append(why);
  } else if (upload.status === "done") {
    body.append(el("span", "upload-done", "Uploaded"));
  }
  item.append(body);
  const cancel = el("button", "plain upload-cancel", "✕");
  cancel.type = "button";
  cancel.dataset.upload = upload.id;
  cancel.setAttribute("aria-label", upload.status === "uploading" ? `Cancel ${upload.name}` : `Remove ${upload.name}`);
  cancel.title = cancel.getAttribute("aria-label");
  item.append(cancel);
  return item;
}

export function openViewer(link) {
  // An image full size over the page, with a link to open it in a tab and one to download it.
  const url = link.getAttribute("href");
  if (!url) return;
  const name = link.dataset.name || "";
  $("viewer-img").src = url;
  $("viewer-img").alt = name;
  $("viewer-name").textContent = name;
  $("viewer-open").href = url;
  $("viewer-download").href = url;
  $("viewer-download").download = name;
  $("viewer").hidden = false;
  $("viewer-close").focus();
}

export function closeViewer() {
  if ($("viewer").hidden) return false;
  $("viewer").hidden = true;
  $("viewer-img").removeAttribute("src");
  return true;
}
