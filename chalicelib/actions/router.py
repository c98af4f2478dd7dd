"""The actions router: which handler runs each request type.

A capability (``chats``, ``messages``, ``devices``) is a class whose methods carry
``@handles(RequestType)``; ``dispatch.Actions`` includes each capability on one ``Router``, as
Powertools' ``event_handler`` apps ``include_router`` the routers their modules declare. This
module imports no capability, so nothing here depends on them: a new capability is one module
and one include line. An action gets a ``Context`` (who is asking, on which connection, the
request's ``req``) and returns an ``Outcome``: the reply frame for the requesting connection,
the posts to other connections that follow it, and what to record once they were handed over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.frames import Post
from chalicelib.domain.protocol import Request
from chalicelib.domain.records import Connection as ConnectionRecord

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "_handles_request"


def _nothing() -> list[Post]:
    return []


def _no_op() -> None:
    pass


def _ignore_gone(gone: list[str]) -> None:
    pass


@dataclass
class Outcome:
    """An action's reply, the posts to others that follow it, what to record once those
    posts were handed to delivery (``done``: not run when producing or dispatching them failed),
    and what to do about the connections whose post answered 410 (``gone``, before they are
    forgotten; those posted from queued shards are not known here)."""

    reply: dict[str, Any] | None
    then: Callable[[], list[Post]] = field(default=_nothing)
    done: Callable[[], None] = field(default=_no_op)
    gone: Callable[[list[str]], None] = field(default=_ignore_gone)


@dataclass(frozen=True)
class Context:
    connection: ConnectionRecord
    req: str | None
    endpoint: str = ""  # the management API's, where frames to other connections go ("": unknown)

    @property
    def user_id(self) -> str:
        return self.connection.user_id

    @property
    def connection_id(self) -> str:
        return self.connection.connection_id


Handler = Callable[[Context, Any], Outcome]


def handles(request_type: type) -> Callable[[F], F]:
    """Mark a capability's method as the handler of one request type."""

    def mark(method: F) -> F:
        setattr(method, _MARK, request_type)
        return method

    return mark


def handlers_of(capability: object) -> dict[type, Handler]:
    """The request types a capability handles, each with its bound method."""
    found: dict[type, Handler] = {}
    for name in dir(type(capability)):
        request_type = getattr(getattr(type(capability), name), _MARK, None)
        if request_type is not None:
            found[request_type] = getattr(capability, name)
    return found


class Router:
    """Runs a request through the handler of its type."""

    def __init__(self) -> None:
        self._handlers: dict[type, Handler] = {}

    def include(self, capability: object) -> None:
        """Route every request type the capability handles to it; a type handled twice is a bug."""
        for request_type, handler in handlers_of(capability).items():
            if request_type in self._handlers:
                raise ValueError(f"{request_type.__name__} is handled twice")
            self._handlers[request_type] = handler

    @property
    def request_types(self) -> frozenset[type]:
        return frozenset(self._handlers)

    def run(self, ctx: Context, request: Request) -> Outcome:
        handler = self._handlers.get(type(request))
        if handler is None:
            raise BadRequest("unsupported action")
        return handler(ctx, request)
