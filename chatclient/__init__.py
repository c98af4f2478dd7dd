"""An asyncio client for the chat backend's WebSocket protocol (docs/protocol.md).

It stays connected (keep-alive, reconnect with backoff and jitter), resyncs after every
reconnect so the application sees each message exactly once and in ``seq`` order per chat, routes
messages to per-chat handlers or a background handler, and retries sends until acknowledged
without ever storing a duplicate. Version 2: direct chats, groups whose members and admins
change (their system messages are delivered like any message), paged chat lists, devices for
push notifications and muted chats. See docs/client.md.
"""

from chatclient.backoff import Backoff
from chatclient.client import (
    UNSET,
    AuthError,
    CannotConnect,
    ChatClient,
    ConnectionLost,
    ProtocolViolation,
    RequestTimeout,
)
from chatclient.models import (
    Ack,
    Chat,
    ChatError,
    ChatPage,
    Device,
    Members,
    Message,
    Opened,
    Pointers,
    Receipt,
    SystemEvent,
    Typing,
)

__all__ = [
    "UNSET",
    "Ack",
    "AuthError",
    "Backoff",
    "CannotConnect",
    "Chat",
    "ChatClient",
    "ChatError",
    "ChatPage",
    "ConnectionLost",
    "Device",
    "Members",
    "Message",
    "Opened",
    "Pointers",
    "ProtocolViolation",
    "Receipt",
    "RequestTimeout",
    "SystemEvent",
    "Typing",
]
