"""Blocking users (docs/protocol.md, "Blocking"): ``Blocks``, the part of ``ChatClient`` that
blocks, unblocks and lists the users you block. Needs only ``request`` (``ChatClient``'s).

While you block someone, your direct chat with them takes no messages from either of you
(``ChatError`` forbidden), neither of you can start one, their new groups and ``chat.add``
leave you out, and you get no push for what they write in groups you share (their messages
still arrive; an application may hide them).
"""

from __future__ import annotations

from typing import Any


def _user(what: str, user_id: object) -> str:
    """A user id as given (the server checks its form: ``ChatError`` bad_request)."""
    if not isinstance(user_id, str) or not user_id:
        raise ValueError(f"{what}: give a user id, not {user_id!r}")
    return user_id


class Blocks:
    async def request(self, action: str, **fields: Any) -> dict[str, Any]:  # ChatClient's
        raise NotImplementedError

    async def block(self, user_id: str) -> bool:
        """Block a user (blocking one you block already changes nothing). Returns True.
        ``ChatError`` bad_request for yourself, too_large past 1,000 blocked users."""
        reply = await self.request("user.block", user_id=_user("block", user_id))
        return bool(reply["blocked"])

    async def unblock(self, user_id: str) -> bool:
        """Stop blocking a user (one you do not block changes nothing). Returns False."""
        reply = await self.request("user.unblock", user_id=_user("unblock", user_id))
        return bool(reply["blocked"])

    async def blocks(self) -> list[str]:
        """The users you block, sorted."""
        return [str(u) for u in (await self.request("user.blocks"))["users"]]
