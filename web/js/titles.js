// How a chat is recognised: a group's icon (in the list and the header, so an untitled group,
// named after its members, does not look like a direct chat) and the first line of a group's
// timeline, saying who created it and when. Builds elements from state; no network.

import { el } from "./dom.js";
import { state } from "./store.js";

const SVG = "http://www.w3.org/2000/svg";

export function groupIcon() {
  // Two people (drawn here: no icon font to load).
  const icon = el("span", "chat-icon group-icon");
  icon.setAttribute("role", "img");
  icon.setAttribute("aria-label", "Group");
  icon.title = "Group";
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const shapes = [
    ["circle", { cx: "9", cy: "8", r: "3.5" }],
    ["path", { d: "M2 20c0-4 3-6.5 7-6.5s7 2.5 7 6.5z" }],
    ["circle", { cx: "17", cy: "9", r: "2.8" }],
    ["path", { d: "M17 13.5c3 0 5 2 5 5.5h-4.5c0-2-.6-3.8-2-5.2z" }],
  ];
  for (const [tag, attributes] of shapes) {
    const shape = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries({ ...attributes, fill: "currentColor" })) shape.setAttribute(name, value);
    svg.append(shape);
  }
  icon.append(svg);
  return icon;
}

export function chatIcon(chat) {
  // A group's icon; a direct chat has none (its title is the other person).
  return chat.kind === "direct" ? null : groupIcon();
}

export function createdLine(chat) {
  // "alice created this group on 7 December 2026, 10:00": the first line of a group's timeline.
  if (chat.kind === "direct" || !chat.created_by || !chat.created_at) return null;
  const who = chat.created_by === state.me ? "You" : chat.created_by;
  const when = new Date(chat.created_at).toLocaleString([], { dateStyle: "long", timeStyle: "short" });
  const item = el("li", "created", `${who} created this group on ${when}`);
  item.title = new Date(chat.created_at).toLocaleString();
  return item;
}
