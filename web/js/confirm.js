// Confirming what arrives (PROTOCOL v3, "Reach"): the backend pushes a notification to a
// member whose connection got a message but did not confirm it within 10 seconds, so the page
// sends `message.delivered` for the highest seq of each chat it received as `chat:message` or
// `chat:message:background`: the first of a quiet chat at once, then at most once a second per
// chat (a burst is confirmed once more, for its highest seq, when the second is up). A
// `message.read` the page sends counts as a confirmation too (`confirmed`).
//
// No I/O of its own: `send(chatId, seq)` is what confirms (it returns a promise; a failure lets
// the next message confirm again), and the clock and timers can be swapped for tests.

export const CONFIRM_INTERVAL_MS = 1000;

export class Confirmer {
  constructor(send, options = {}) {
    const { intervalMs = CONFIRM_INTERVAL_MS, now = () => Date.now(), later = (fn, ms) => setTimeout(fn, ms) } = options;
    this.send = send;
    this.intervalMs = intervalMs;
    this.now = now;
    this.later = later;
    this.chats = new Map(); // chat_id -> {received, confirmed, lastAt, timer}
  }

  received(chatId, seq) {
    const chat = this.chat(chatId);
    chat.received = Math.max(chat.received, seq);
    if (chat.received <= chat.confirmed || chat.timer) return;
    const wait = chat.lastAt === null ? 0 : chat.lastAt + this.intervalMs - this.now();
    if (wait > 0) {
      chat.timer = true;
      this.later(() => this.due(chatId), wait);
    } else {
      this.confirm(chatId, chat);
    }
  }

  confirmed(chatId, seq) {
    // Confirmed some other way (a read receipt, a send of our own): nothing below it to send.
    const chat = this.chat(chatId);
    chat.confirmed = Math.max(chat.confirmed, seq);
  }

  forget(chatId) {
    this.chats.delete(chatId);
  }

  due(chatId) {
    const chat = this.chats.get(chatId);
    if (!chat) return;
    chat.timer = false;
    if (chat.received > chat.confirmed) this.confirm(chatId, chat);
  }

  confirm(chatId, chat) {
    const seq = chat.received;
    chat.confirmed = seq;
    chat.lastAt = this.now();
    Promise.resolve(this.send(chatId, seq)).catch(() => {
      if (chat.confirmed === seq) chat.confirmed = 0; // the next message confirms again
    });
  }

  chat(chatId) {
    if (!this.chats.has(chatId)) this.chats.set(chatId, { received: 0, confirmed: 0, lastAt: null, timer: false });
    return this.chats.get(chatId);
  }
}
