// Keeping the reader's place in the timeline while the page around it changes (the members
// panel opening narrows the conversation, and its messages wrap again): readingPosition()
// notes, before a redraw, whether the timeline was at its bottom and which item was at its
// top; restore() puts that item back where it was, or the bottom at the bottom.

export function readingPosition(box) {
  const chatId = box.dataset.chatId;
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  let anchor = null;
  let offset = 0;
  if (!atBottom) {
    const top = box.getBoundingClientRect().top;
    for (const node of box.children) {
      const rect = node.getBoundingClientRect();
      if (rect.bottom > top && node.dataset.seq) {
        [anchor, offset] = [node, rect.top - top];
        break;
      }
    }
  }
  return {
    chatId,
    atBottom,
    restore() {
      if (atBottom) box.scrollTop = box.scrollHeight;
      else if (anchor && box.dataset.chatId === chatId) {
        // the same message, if a redraw replaced its element
        const node = anchor.isConnected ? anchor : box.querySelector(`:scope > [data-seq="${anchor.dataset.seq}"]`);
        if (node) box.scrollTop += node.getBoundingClientRect().top - box.getBoundingClientRect().top - offset;
      }
    },
  };
}
