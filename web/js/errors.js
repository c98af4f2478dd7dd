// Errors in words for people: what a refused request means (by action and error code, never
// the server's validator text), the user id format and its check, and act() to run a request
// from a button whose failure shows in the banner.

import { RequestError } from "./connection.js";
import { toast } from "./dom.js";

export const USER_ID = /^[A-Za-z0-9_.@-]{1,64}$/;
export const USER_ID_RULE = "user ids are 1-64 letters, digits, '_', '.', '@' or '-'";

const WHAT_FAILED = {
  "chat.mute": { forbidden: "You are not in this chat any more" },
  "chat.add": {
    forbidden: "Only admins can add people",
    too_large: "A chat can have at most 1,000 members",
    bad_request: `Check the user ids: ${USER_ID_RULE}`,
  },
  "chat.remove": { forbidden: "Only admins can remove people" },
  rename: { forbidden: "Only admins can rename the chat" },
  admins: { forbidden: "Only admins can make someone admin", too_large: "A chat can have at most 100 admins" },
  "chat.leave": { forbidden: "You are not in this chat any more" },
  "chat.create": {
    too_large: "A chat can have at most 1,000 members",
    bad_request: `Check the user ids: ${USER_ID_RULE}`,
  },
  "message.send": { too_large: "The message is too long", bad_request: "The message cannot be sent as written" },
  "message.edit": {
    forbidden: "Only the sender can edit a message",
    bad_request: "This message can no longer be edited",
    not_found: "That message is not there any more",
    too_large: "The message is too long",
  },
  "message.delete": {
    forbidden: "Only the sender or a group admin can delete this message",
    bad_request: "This message cannot be deleted",
    not_found: "That message is not there any more",
  },
  "reaction.set": {
    too_large: "A message can have at most 20 different reactions",
    bad_request: "You cannot react to this message",
    not_found: "That message is not there any more",
  },
  "chat.notify": { forbidden: "You are not in this chat any more" },
  "chat.history": { not_found: "That message is not there any more" },
};

const ANY_FAILED = {
  bad_request: "The server could not accept that request",
  forbidden: "You are not a member of this chat",
  not_found: "This chat no longer exists",
  too_large: "That is too large",
  rate_limited: "Too many requests: wait a moment and try again",
  unavailable: "The server is busy: try again",
  internal: "Something went wrong on the server: try again",
  timeout: "No answer from the server: try again",
  disconnected: "Not connected: try again when back online",
};

export function plainError(err, what) {
  // Words for people: never the server's validator text.
  const words = (WHAT_FAILED[what] || {})[err.code] || ANY_FAILED[err.code];
  if (words) return words;
  if (err instanceof RequestError) return "Something went wrong: try again";
  const text = err.message || "request refused";
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function badUserIds(ids) {
  // The first id that the server would refuse, with what the format is.
  const bad = ids.find((id) => !USER_ID.test(id));
  return bad === undefined ? null : `"${bad}" is not a user id: ${USER_ID_RULE}`;
}

export function act(what, promise) {
  return promise.catch((err) => toast(plainError(err, what)));
}

export function splitUserIds(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}
