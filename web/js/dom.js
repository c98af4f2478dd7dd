// DOM helpers every layer of the page uses: $ (an element by id), el and button (new
// elements, text set with textContent, never HTML), toast (the error banner) and
// keepScrollPosition (redraw without moving what the reader looks at). No state, no network.

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function button(className, text, onclick) {
  const node = el("button", className, text);
  node.type = "button";
  node.onclick = onclick;
  return node;
}

export function keepScrollPosition(update) {
  // Content added above (earlier messages) must not move what the reader is looking at.
  const box = $("messages");
  const fromBottom = box.scrollHeight - box.scrollTop;
  update();
  box.scrollTop = box.scrollHeight - fromBottom;
}

export function toast(text) {
  // A banner above the composer, and on a phone's chat list (where the conversation is hidden)
  // one at the top of the list; CSS shows the one that is on screen.
  const boxes = [$("toast"), $("list-notice")];
  for (const box of boxes) {
    box.textContent = text;
    box.hidden = false;
  }
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => boxes.forEach((box) => (box.hidden = true)), 6000);
}
