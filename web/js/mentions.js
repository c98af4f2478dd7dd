// Mentions in text, with no DOM and no state (Node's unit tests load this module as is):
// - the `@partial` being typed before the caret, which the composer's member picker completes;
// - the members a text mentions (`@user` with nothing of a user id right after it), which a send
//   or an edit carries as `mentions`;
// - a text cut into plain runs and mentions, so a bubble can mark `@user` (and `@you` apart).

const ID_CHAR = "A-Za-z0-9_.@\\-";
export const MAX_MENTIONS = 50; // as the server takes at most

function escaped(text) {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
}

// After a mention: the end, or a character no user id has (a final "." ends a sentence).
const AFTER = `(?![A-Za-z0-9_@\\-]|\\.[${ID_CHAR}])`;

export function mentionQuery(text, caret) {
  // The mention being typed: "@" at the start or after a space or "(", then id characters up to
  // the caret. Returns {start (the index of "@"), prefix} or null.
  const before = text.slice(0, caret);
  const match = new RegExp(`(^|[\\s(])@([${ID_CHAR}]{0,64})$`).exec(before);
  if (!match) return null;
  return { start: match.index + match[1].length, prefix: match[2] };
}

export function mentionCandidates(members, prefix, me, limit = 8) {
  // Members other than me: those starting with the prefix first, then those containing it.
  const wanted = prefix.toLowerCase();
  const others = members.filter((u) => u !== me);
  const starting = others.filter((u) => u.toLowerCase().startsWith(wanted));
  const containing = others.filter((u) => !u.toLowerCase().startsWith(wanted) && u.toLowerCase().includes(wanted));
  return [...starting, ...containing].slice(0, limit);
}

export function mentionsIn(text, users, me = null) {
  // Which of these users the text mentions, sorted, without me, at most MAX_MENTIONS.
  const found = new Set();
  for (const user of users) {
    if (user !== me && new RegExp(`@${escaped(user)}${AFTER}`).test(text)) found.add(user);
  }
  return [...found].sort().slice(0, MAX_MENTIONS);
}

export function splitMentions(text, users) {
  // [{text}, {text: "@bob", user: "bob"}, ...]: the text in runs, the mentions of these users
  // apart (the longest id first, so "@bob.smith" is not "@bob" followed by ".smith").
  if (!users.length) return [{ text }];
  const ids = [...users].sort((a, b) => b.length - a.length).map(escaped);
  const pattern = new RegExp(`@(${ids.join("|")})${AFTER}`, "g");
  const runs = [];
  let at = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > at) runs.push({ text: text.slice(at, match.index) });
    runs.push({ text: match[0], user: match[1] });
    at = match.index + match[0].length;
  }
  if (at < text.length) runs.push({ text: text.slice(at) });
  return runs;
}
