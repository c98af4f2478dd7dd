"""Reporting a message for an operator to review (PROTOCOL v3, ``message.report``): a mixin of
``ChatClient`` (``client.report``), in a package of its own
(``chatclient/`` holds at most 12 modules).

Imports ``models`` only: ``ChatClient`` supplies ``request``."""

from __future__ import annotations

from typing import Any

MAX_REASON_CHARS = 500


class Reporting:
    async def request(self, action: str, **fields: Any) -> dict[str, Any]:
        raise NotImplementedError  # ChatClient's

    async def report(self, chat_id: str, seq: int, reason: str | None = None) -> None:
        """Report another member's message ``seq`` of a chat you can see, with an optional
        reason (at most 500 characters). Reporting it again changes nothing. Raises
        ``ChatError``: ``bad_request`` for your own message, ``not_found`` for a message you
        cannot see, ``forbidden`` for a chat you are not in."""
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise ValueError(f"report: seq is a message's number (an int from 1), not {seq!r}")
        fields: dict[str, Any] = {"chat_id": chat_id, "seq": seq}
        if reason is not None:
            if not isinstance(reason, str):
                raise TypeError(f"report: reason must be a string, not {reason!r}")
            if len(reason) > MAX_REASON_CHARS:
                raise ValueError(
                    f"report: a reason has at most {MAX_REASON_CHARS} characters, not {len(reason)}"
                )
            if reason.strip():
                fields["reason"] = reason
        await self.request("message.report", **fields)
