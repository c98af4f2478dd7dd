"""Sans-I/O: when to confirm what arrived (``message.delivered``), with no asyncio and no clock.

The backend pushes a notification to a member whose connection got a message but did not
confirm it within 10 seconds (PROTOCOL v3, "Reach"): a live socket is no proof that anyone is
there. So the client confirms, on its own, the highest ``seq`` of each chat it received as
``chat:message`` or ``chat:message:background``, at most once a second per chat: the first
message of a quiet chat is confirmed at once, and a burst after it by one more confirmation of
its highest ``seq`` when the second is up. ``chatclient.delivery`` does the I/O: it passes the
time in, sends what it is told to, and arms a timer for the wait it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

CONFIRM_INTERVAL = 1.0  # seconds between two confirmations of one chat


@dataclass(frozen=True)
class Step:
    """What to do now: send ``message.delivered`` for ``confirm`` (a seq), or call ``due`` after
    ``wait`` seconds; neither when there is nothing to do (confirmed already, or a timer is
    armed and will take this message too)."""

    confirm: int | None = None
    wait: float | None = None


@dataclass
class _Chat:
    received: int = 0  # the highest seq received
    confirmed: int = 0  # the highest seq confirmed (or being confirmed)
    last_at: float | None = None  # when the last confirmation was sent
    timer: bool = False  # a ``due`` is coming


class Confirmations:
    def __init__(self, interval: float = CONFIRM_INTERVAL) -> None:
        self.interval = interval
        self._chats: dict[str, _Chat] = {}

    def received(self, chat_id: str, seq: int, now: float) -> Step:
        """A message ``seq`` of ``chat_id`` arrived at ``now``."""
        chat = self._chats.setdefault(chat_id, _Chat())
        chat.received = max(chat.received, seq)
        if chat.received <= chat.confirmed or chat.timer:
            return Step()
        wait = 0.0 if chat.last_at is None else chat.last_at + self.interval - now
        if wait > 0:
            chat.timer = True
            return Step(wait=wait)
        return Step(confirm=self._send(chat, now))

    def due(self, chat_id: str, now: float) -> int | None:
        """The timer ``received`` asked for went off: the seq to confirm now, if any."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return None
        chat.timer = False
        if chat.received <= chat.confirmed:
            return None
        return self._send(chat, now)

    def failed(self, chat_id: str, seq: int) -> None:
        """Confirming ``seq`` failed (the connection dropped, the server refused): the next
        message of the chat confirms again."""
        chat = self._chats.get(chat_id)
        if chat is not None and chat.confirmed == seq:
            chat.confirmed = 0

    def forget(self, chat_id: str) -> None:
        """We are out of the chat: nothing of it to confirm."""
        self._chats.pop(chat_id, None)

    def _send(self, chat: _Chat, now: float) -> int:
        chat.confirmed, chat.last_at = chat.received, now
        return chat.received
