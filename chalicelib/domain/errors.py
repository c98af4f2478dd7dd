"""The one error tree. Each error renders as exactly one ``error`` frame.

    ChatError                 internal     (anything unexpected)
    +-- BadRequest            bad_request  (not JSON, not an object, unknown action, bad field)
    +-- Forbidden             forbidden    (not a member of that chat, unknown connection)
    +-- NotFound              not_found    (no such chat)
    +-- TooLarge              too_large    (frame, text, title or member list past its limit)
    +-- RateLimited           rate_limited (this connection acts too fast; retry_after_ms)
    +-- Unavailable           unavailable  (storage failed after retries: safe to retry)

A request that ends in any of these has changed nothing.
"""

from __future__ import annotations


class ChatError(Exception):
    code = "internal"
    default_message = "internal error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message

    def fields(self) -> dict[str, object]:
        """Fields the error frame carries besides ``code`` and ``message``."""
        return {}


class BadRequest(ChatError):
    code = "bad_request"
    default_message = "bad request"


class Forbidden(ChatError):
    code = "forbidden"
    default_message = "not a member of this chat"


class Unregistered(Forbidden):
    """The backend has no record of the connection (it expired, or ``$connect`` did not complete):
    a ``forbidden`` about the connection, not a chat, marked so clients can tell (``reason``)."""

    default_message = "this connection is not registered; reconnect"

    def fields(self) -> dict[str, object]:
        return {"reason": "unregistered"}


class NotFound(ChatError):
    code = "not_found"
    default_message = "no such chat"


class TooLarge(ChatError):
    code = "too_large"
    default_message = "too large"


class RateLimited(ChatError):
    code = "rate_limited"
    default_message = "too many requests"

    def __init__(self, message: str | None = None, retry_after_ms: int = 1000) -> None:
        super().__init__(message)
        self.retry_after_ms = max(1, retry_after_ms)

    def fields(self) -> dict[str, object]:
        return {"retry_after_ms": self.retry_after_ms}


class Unavailable(ChatError):
    code = "unavailable"
    default_message = "storage unavailable, safe to retry"


ERROR_CODES = frozenset(
    cls.code for cls in (ChatError, BadRequest, Forbidden, NotFound, TooLarge, RateLimited, Unavailable)
)
