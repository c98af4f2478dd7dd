"""An asyncio client for the chat backend's WebSocket protocol (docs/protocol.md).

It stays connected (keep-alive, reconnect with backoff and jitter), resyncs after every
reconnect so the application sees each message exactly once and in ``seq`` order per chat, routes
messages to per-chat handlers or a background handler, and retries sends until acknowledged
without ever storing a duplicate. See docs/client.md.
"""

from chatclient.backoff import Backoff
from chatclient.client import ChatClient, ConnectionLost, RequestTimeout
from chatclient.models import Ack, Chat, ChatError, Message, Opened, Receipt, Typing

__all__ = [
    "Ack",
    "Backoff",
    "Chat",
    "ChatClient",
    "ChatError",
    "ConnectionLost",
    "Message",
    "Opened",
    "Receipt",
    "RequestTimeout",
    "Typing",
]
