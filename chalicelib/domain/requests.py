"""The requests a client can make: one frozen dataclass per action, as ``protocol.parse_request``
returns them, and ``Request``, their union (what the actions router dispatches on).

Plain data, no parsing and no I/O; the limits they were checked against live in ``protocol``.
"""

from __future__ import annotations

from dataclasses import dataclass

LIST_DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class ChatCreate:
    members: tuple[str, ...]
    title: str | None
    direct: bool = False


@dataclass(frozen=True)
class ChatList:
    limit: int = LIST_DEFAULT_LIMIT
    cursor: str | None = None


@dataclass(frozen=True)
class ChatMembers:
    chat_id: str


@dataclass(frozen=True)
class ChatAdd:
    chat_id: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class ChatRemove:
    chat_id: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class ChatLeave:
    chat_id: str


@dataclass(frozen=True)
class ChatUpdate:
    chat_id: str
    title: str | None
    title_given: bool
    admins: tuple[str, ...] | None


@dataclass(frozen=True)
class ChatOpen:
    chat_id: str


@dataclass(frozen=True)
class ChatClose:
    chat_id: str


@dataclass(frozen=True)
class ChatHistory:
    chat_id: str
    before: int | None
    after: int | None
    limit: int


@dataclass(frozen=True)
class MessageSend:
    chat_id: str
    client_msg_id: str
    text: str
    reply_to: int | None = None
    mentions: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()  # attachment ids, in the order the files are shown


@dataclass(frozen=True)
class AttachmentCreate:
    chat_id: str
    name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class MessageEdit:
    chat_id: str
    seq: int
    text: str
    mentions: tuple[str, ...] | None  # None: the mentions stay as they are


@dataclass(frozen=True)
class MessageDelete:
    chat_id: str
    seq: int


@dataclass(frozen=True)
class ReactionSet:
    chat_id: str
    seq: int
    emoji: str | None  # None takes the user's reaction back


@dataclass(frozen=True)
class ChatChanges:
    chat_id: str
    after_rev: int
    limit: int


@dataclass(frozen=True)
class ChatNotify:
    chat_id: str
    level: str


@dataclass(frozen=True)
class Receipt:
    chat_id: str
    seq: int
    read: bool  # message.read (True) or message.delivered (False)


@dataclass(frozen=True)
class Typing:
    chat_id: str
    typing: bool


@dataclass(frozen=True)
class DeviceRegister:
    platform: str
    token: str  # APNs/FCM token, or the Web Push endpoint
    preview: bool
    p256dh: str | None = None
    auth: str | None = None


@dataclass(frozen=True)
class DeviceList:
    pass


@dataclass(frozen=True)
class DeviceUnregister:
    device_id: str


@dataclass(frozen=True)
class ChatMute:
    chat_id: str
    muted: bool


@dataclass(frozen=True)
class UserBlock:
    user_id: str
    blocked: bool  # user.block (True) or user.unblock (False)


@dataclass(frozen=True)
class UserBlocks:
    pass


@dataclass(frozen=True)
class MessageReport:
    chat_id: str
    seq: int
    reason: str | None  # None: no reason given


Request = (
    Ping
    | ChatCreate
    | ChatList
    | ChatOpen
    | ChatClose
    | ChatHistory
    | ChatMembers
    | ChatAdd
    | ChatRemove
    | ChatLeave
    | ChatUpdate
    | MessageSend
    | AttachmentCreate
    | MessageEdit
    | MessageDelete
    | ReactionSet
    | ChatChanges
    | ChatNotify
    | Receipt
    | Typing
    | DeviceRegister
    | DeviceList
    | DeviceUnregister
    | ChatMute
    | UserBlock
    | UserBlocks
    | MessageReport
)
