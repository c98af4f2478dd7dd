"""An asyncio client for the chat backend's WebSocket protocol (docs/protocol.md).

It stays connected (keep-alive, reconnect with backoff and jitter), resyncs after every
reconnect so the application sees each message exactly once and in ``seq`` order per chat, routes
messages to per-chat handlers or a background handler, and retries sends until acknowledged
without ever storing a duplicate. Version 2: direct chats, groups whose members and admins
change (their system messages are delivered like any message), paged chat lists, devices for
push notifications and muted chats. Version 3: replies, mentions, edits, deletes, reactions
and notification levels; files (``send_file``, ``download``); blocking users (``block``,
``unblock``, ``blocks``). The client keeps a local copy
of each chat that follows every change, also those made while it was offline. See docs/client.md.

Its modules, each importing only those above it (the standard library and ``websockets``
aside; nothing of the backend, the emulator or the tests):

    models, backoff, token, push, errors   plain data and checks, no I/O
    ordering     ordering, gap detection and resync decisions: Sans-I/O, no asyncio, no socket
    confirm      when to confirm what arrived (message.delivered, once a second per chat): Sans-I/O
    connection   the socket: connect, keep-alive, reconnect with backoff, request and reply
    delivery     pushed frames, gap fill and resync, doing what ``ordering`` decides
    blocks       ``Blocks``: blocking users, a part of ``ChatClient``
    safety/      ``report``, a mixin of ``ChatClient`` (message.report)
    client       ``ChatClient``: the public API
    cli/         the ``chat`` command line (``python -m chatclient``), on top of ``ChatClient``
"""

from chatclient.backoff import Backoff
from chatclient.client import UNSET, ChatClient
from chatclient.errors import (
    AuthError,
    CannotConnect,
    ConnectionLost,
    DownloadFailed,
    ProtocolViolation,
    RequestTimeout,
    UploadFailed,
)
from chatclient.models import (
    NOTIFY_LEVELS,
    Ack,
    Attachment,
    Changes,
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
from chatclient.safety.blocks import Blocks
from chatclient.safety.reports import Reporting

__all__ = [
    "NOTIFY_LEVELS",
    "UNSET",
    "Ack",
    "Attachment",
    "AuthError",
    "Backoff",
    "Blocks",
    "CannotConnect",
    "Changes",
    "Chat",
    "ChatClient",
    "ChatError",
    "ChatPage",
    "ConnectionLost",
    "Device",
    "DownloadFailed",
    "Members",
    "Message",
    "Opened",
    "Pointers",
    "ProtocolViolation",
    "Receipt",
    "Reporting",
    "RequestTimeout",
    "SystemEvent",
    "Typing",
    "UploadFailed",
]
