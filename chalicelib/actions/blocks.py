"""``user.block``, ``user.unblock`` and ``user.blocks``.

A block or an unblock costs the connection's turn, one BatchGetItem (the pair's direct chat
under its id, and under the id direct chats had before ids were keyed) and one transaction
(``storage/blocks.py``, which also says where block state lives): 3 requests. Only when the
pair's direct chat is created or changed at that very moment does it read and try again.

What a block does elsewhere: ``messages.send`` refuses a send in a blocked direct chat (from
the chat item it reads anyway), ``chats`` refuses a new direct chat and skips the blocker in a
group create or add by the blocked user, and the push worker (``push/worker.py``) notifies
nobody of a message from a user they block. A group create or add reads the blocks before its
write: a block stored in between lets that one add through, as if the add had come first (a
direct chat's creation, by contrast, checks in its own transaction).
"""

from __future__ import annotations

from chalicelib.actions.base import DirectChatActions
from chalicelib.actions.router import Context, Outcome, handles
from chalicelib.domain import ids
from chalicelib.domain.errors import BadRequest, Unavailable
from chalicelib.domain.protocol import UserBlock, UserBlocks, frame
from chalicelib.domain.records import ChatRecord
from chalicelib.storage import BlockConflict


class BlockActions(DirectChatActions):
    @handles(UserBlock)
    def block(self, ctx: Context, r: UserBlock) -> Outcome:
        if r.user_id == ctx.user_id:
            raise BadRequest("you cannot block yourself")
        for _ in self.contention.attempts():
            keyed, chat = self._direct_chat(ctx.user_id, r.user_id)
            try:
                if r.blocked:
                    self.store.block(ctx.user_id, r.user_id, chat, keyed)
                else:
                    self.store.unblock(ctx.user_id, r.user_id, chat)
                break
            except BlockConflict:
                continue
        else:
            raise Unavailable("your blocks are busy, retry")
        return Outcome(frame("user:blocked", ctx.req, user_id=r.user_id, blocked=r.blocked))

    @handles(UserBlocks)
    def blocks(self, ctx: Context, r: UserBlocks) -> Outcome:
        return Outcome(frame("user:blocks", ctx.req, users=self.store.blocked(ctx.user_id)))

    def _direct_chat(self, user: str, other: str) -> tuple[str, ChatRecord | None]:
        """The pair's direct chat id, and the chat if it exists (1 BatchGetItem): under the
        keyed id, or, as ``chat.create`` finds it first, under the legacy one."""
        keyed = self.direct_chat_id(user, other)
        legacy = ids.legacy_direct_chat_id(user, other)
        found = {c.chat_id: c for c in self.store.get_chats([keyed, legacy])}
        if legacy in found and found[legacy].is_direct:
            return keyed, found[legacy]
        return keyed, found.get(keyed)
