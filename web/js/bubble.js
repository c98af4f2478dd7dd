// The parts of a bubble that messages which change have (protocol v3): the quote of the message
// it replies to (the original as it is now: "This message was deleted" once deleted; fetched
// when not loaded), the reaction chips under it (counts, the user's own highlighted, who
// reacted in the title), the "edited" mark, and the "⋯" button that opens its menu. Elements
// only: the clicks are handled for the whole timeline by menu.js.

import { el } from "./dom.js";
import { findMessage, state } from "./store.js";
import { fetchQuoted } from "./live.js";
import { reactorNames } from "./menu.js";

export const DELETED_TEXT = "This message was deleted";
const QUOTE_CHARS = 140;

export function quoteBlock(chatId, seq) {
  // The original above the reply's text; a click (or Enter) scrolls to it.
  const original = findMessage(chatId, seq);
  if (original === undefined) fetchQuoted(chatId, seq);
  const quote = el("div", "quote");
  quote.dataset.seq = String(seq);
  quote.setAttribute("role", "button");
  quote.tabIndex = 0;
  quote.title = "Show the original message";
  quote.append(el("span", "quote-sender", original ? original.sender_id : ""));
  let text = "…";
  if (original === null) text = "Message not available";
  else if (original?.deleted) text = DELETED_TEXT;
  else if (original) text = original.text.length > QUOTE_CHARS ? `${original.text.slice(0, QUOTE_CHARS - 1)}…` : original.text;
  quote.append(el("span", "quote-text" + (original?.deleted ? " deleted-text" : ""), text));
  if (original?.deleted) quote.classList.add("is-deleted");
  return quote;
}

export function reactionChips(message) {
  // One chip per emoji, in the order the server lists them: the emoji and how many; pressed
  // when one of them is the user's.
  const entries = Object.entries(message.reactions || {}).filter(([, users]) => users.length);
  if (!entries.length) return null;
  const row = el("div", "reactions");
  for (const [emoji, users] of entries) {
    const mine = users.includes(state.me);
    const chip = el("button", "chip" + (mine ? " mine" : ""));
    chip.type = "button";
    chip.dataset.emoji = emoji;
    chip.setAttribute("aria-pressed", String(mine));
    chip.title = reactorNames(users).join(", ");
    chip.setAttribute("aria-label", `${emoji} ${users.length}: ${chip.title}`);
    chip.append(el("span", "emoji", emoji), el("span", "count", String(users.length)));
    row.append(chip);
  }
  return row;
}

export function editedMark(message) {
  const mark = el("span", "edited", "edited");
  mark.title = `Edited ${new Date(message.edited_at).toLocaleString()}`;
  return mark;
}

export function menuButton() {
  const button = el("button", "msg-menu-btn", "⋯");
  button.type = "button";
  button.setAttribute("aria-label", "Message actions");
  button.setAttribute("aria-haspopup", "menu");
  return button;
}
