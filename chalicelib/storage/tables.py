"""PynamoDB models: one table per kind of item, each keyed for its access pattern.

| table              | key                      | read by                                   |
| ------------------ | ------------------------ | ----------------------------------------- |
| connections        | connection_id            | UpdateItem: who is it; its rate limit     |
| presence           | user_id                  | BatchGetItem: members' live connections   |
| chats              | chat_id                  | GetItem / BatchGetItem                    |
| chat_members       | chat_id + page           | Query: the roster (and receipts summary)  |
| memberships        | user_id + chat_id        | Query: my chats; BatchGetItem: receipts   |
| messages           | chat_id + seq            | Query: history pages                      |
| changes            | chat_id + rev            | Query: what changed after a rev           |
| attachments        | attachment_id            | BatchGetItem: the files a send names      |
| send_keys          | send_key                 | conditional Put: idempotent sends (TTL)   |
| devices            | user_id + device_id      | Query: a user's push devices              |
| device_tokens      | token_key                | GetItem: who holds this token now         |
| push_log           | push_key                 | conditional Put: one push per device+seq  |
| blocks             | user_id + other_id       | Query: my blocks; BatchGetItem: who blocks |
| reports            | report_id                | conditional Put; Query on index by_status |

Table names are ``{CHAT_TABLE_PREFIX}-{table}``; the region and endpoint follow the standard
AWS environment variables (``AWS_ENDPOINT_URL_DYNAMODB`` included), read when this module is
imported.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    NumberSetAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib import config

_PREFIX = config.table_prefix()
_REGION = config.region()


class _Meta:
    region = _REGION
    # Fail fast inside a Lambda invocation rather than hang on a bad network.
    connect_timeout_seconds = 3
    read_timeout_seconds = 10
    max_retry_attempts = 3
    # One pool per process, shared by the threads of an invocation (fan-out forgetting gone
    # connections) and, in the local stack, by every concurrent invocation.
    max_pool_connections = 64


class ConnectionItem(Model):
    class Meta(_Meta):
        table_name = f"{_PREFIX}-connections"

    connection_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    connected_at = NumberAttribute()
    expires_at = TTLAttribute()
    # The per-connection rate limit's theoretical arrival time (GCRA), epoch milliseconds;
    # absent until the connection's first action (chalicelib/ratelimit.py).
    rate_tat = NumberAttribute(null=True)


class PresenceItem(Model):
    """A user's live connections: ``conns`` maps connection id -> {"exp": epoch, "chat"?: id};
    and what a send needs to decide on push: ``devices`` (ids), ``muted`` (chat ids at the
    notification level "none") and ``mentions_only`` (chat ids at the level "mentions").

    One item per user so that fan-out fetches 100 members' connections in one BatchGetItem. The
    TTL removes the item of a user gone for good, but never while it holds devices or mutes.
    """

    class Meta(_Meta):
        table_name = f"{_PREFIX}-presence"

    user_id = UnicodeAttribute(hash_key=True)
    conns = MapAttribute(null=True)  # type: ignore[var-annotated]
    devices = UnicodeSetAttribute(null=True)
    muted = UnicodeSetAttribute(null=True)
    mentions_only = UnicodeSetAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class MessageAttributes:
    """A message's own attributes, declared once: a messages-table item (``MessageItem``) and a
    chat's ``last_message`` map (``MessageMap``) both inherit them, and
    ``storage/mapping.py``'s ``message_attributes`` fills them from a ``Message``.

    A plain class, not an ``AttributeContainer``: PynamoDB gathers a model's or a map's
    attributes from its whole class tree (``inspect.getmembers``), names each once where it is
    declared (``__set_name__``), and gives every map held by a model its own copies (so
    ``ChatItem.last_message.text`` is the path ``last_message.text``). The two containers share
    these instances; nothing mutates them after their names are set.
    """

    seq = NumberAttribute()
    message_id = UnicodeAttribute()
    client_msg_id = UnicodeAttribute()
    sender_id = UnicodeAttribute()
    text = UnicodeAttribute()
    sent_at = UnicodeAttribute()
    system = UnicodeAttribute(null=True)  # JSON of the system event; absent on text messages
    # Messages that change (PROTOCOL v3); each absent while empty, so an unchanged message is
    # stored as it was before v3.
    reply_to = NumberAttribute(null=True)
    mentions = ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[var-annotated]
    reactions = UnicodeAttribute(null=True)  # JSON: user id -> emoji
    edited_at = UnicodeAttribute(null=True)
    deleted = BooleanAttribute(null=True)
    rev = NumberAttribute(null=True)  # the chat's rev at the latest change
    attachments = UnicodeAttribute(null=True)  # JSON: [{attachment_id, name, content_type, size}]


class MessageMap(MessageAttributes, MapAttribute):  # type: ignore[type-arg]
    """The message a chat item keeps as ``last_message`` (no ``chat_id``: the chat holds it)."""


class ChatItem(Model):
    class Meta(_Meta):
        table_name = f"{_PREFIX}-chats"

    chat_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(null=True)  # group (absent on chats made before v2) | direct
    title = UnicodeAttribute(null=True)
    members = ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[var-annotated]  # <= 50
    member_count = NumberAttribute(null=True)
    admins = ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[var-annotated]
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()
    last_seq = NumberAttribute(default=0)
    members_seq = NumberAttribute(null=True)
    last_message = MessageMap(null=True)
    last_activity = UnicodeAttribute(null=True)
    last_rev = NumberAttribute(null=True)  # the rev of the chat's latest message change
    blocked_by = UnicodeSetAttribute(null=True)  # a direct chat's: who of the pair blocks the other
    pages = NumberSetAttribute(null=True)  # the roster's page numbers while members are not inline


class ChatMembersItem(Model):
    """One page of a chat's roster: ``users`` maps user id -> the seq that added them. Page
    ``RECEIPTS_PAGE`` (-1, below every page) is no page: the chat's receipts summary
    (``domain/receipts.py``), whose ``users`` is empty and whose other attributes pages lack."""

    class Meta(_Meta):
        table_name = f"{_PREFIX}-chat_members"

    chat_id = UnicodeAttribute(hash_key=True)
    page = NumberAttribute(range_key=True)
    users = MapAttribute()  # type: ignore[var-annotated]
    # the receipts summary's (absent on pages)
    listed = ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[var-annotated]
    rest_delivered = NumberAttribute(null=True)
    rest_read = NumberAttribute(null=True)
    base_seq = NumberAttribute(null=True)
    computed_ms = NumberAttribute(null=True)


RECEIPTS_PAGE = -1  # ChatMembersItem's page number of a chat's receipts summary


class MembershipItem(Model):
    class Meta(_Meta):
        table_name = f"{_PREFIX}-memberships"

    user_id = UnicodeAttribute(hash_key=True)
    chat_id = UnicodeAttribute(range_key=True)
    delivered_seq = NumberAttribute(default=0)
    read_seq = NumberAttribute(default=0)
    joined_seq = NumberAttribute(null=True)
    joined_rev = NumberAttribute(null=True)  # the chat's last_rev when they were added
    joined_at = UnicodeAttribute(null=True)
    muted = BooleanAttribute(null=True)  # v2's flag: true exactly when notify is "none"
    notify = UnicodeAttribute(null=True)  # all (when absent and not muted) | mentions | none


class MessageItem(MessageAttributes, Model):
    """A message in its chat's history, keyed by the chat and its place in it."""

    class Meta(_Meta):
        table_name = f"{_PREFIX}-messages"

    chat_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)  # MessageAttributes.seq, made this table's range key


class ChangeItem(MessageAttributes, Model):
    """A changed message's current state under the chat's rev at its latest change: what
    ``chat.changes`` reads with one Query (``rev > after_rev``). Only changed messages are here,
    each once: a change writes its new rev's item and deletes the previous rev's, in the same
    transaction as the message itself. A table of its own, not an index of ``messages``: a
    Query on it is strongly consistent, so a client that read the chat's ``last_rev`` never
    misses a change committed before it (a GSI lags; an LSI cannot be added to a live table)."""

    class Meta(_Meta):
        table_name = f"{_PREFIX}-changes"

    chat_id = UnicodeAttribute(hash_key=True)
    rev = NumberAttribute(range_key=True)  # MessageAttributes.rev, made this table's range key


class AttachmentItem(Model):
    """A file ``attachment.create`` allowed a user to upload for a chat; ``seq`` once a message
    of theirs carries it (the send's transaction sets it, on the condition that it is unset).
    Unattached, it goes with its TTL a day after its upload form expired, as its object does
    (the bucket's lifecycle rule)."""

    class Meta(_Meta):
        table_name = f"{_PREFIX}-attachments"

    attachment_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    chat_id = UnicodeAttribute()
    name = UnicodeAttribute()
    content_type = UnicodeAttribute()
    size = NumberAttribute()
    created_at = UnicodeAttribute()
    seq = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class SendKeyItem(Model):
    """``{chat_id}|{sender_id}|{client_msg_id}`` -> the seq it was stored as; ``fanned_out``
    once the message was handed to delivery (a retry finding it absent delivers it); gone after
    ``expires_at`` (``SEND_KEY_TTL_SECONDS``; keys stored before the TTL existed never expire)."""

    class Meta(_Meta):
        table_name = f"{_PREFIX}-send_keys"

    send_key = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute()
    message_id = UnicodeAttribute()
    sent_at = UnicodeAttribute()
    fanned_out = BooleanAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class DeviceItem(Model):
    class Meta(_Meta):
        table_name = f"{_PREFIX}-devices"

    user_id = UnicodeAttribute(hash_key=True)
    device_id = UnicodeAttribute(range_key=True)
    platform = UnicodeAttribute()
    token = UnicodeAttribute()
    preview = BooleanAttribute(default=True)
    registered_at = UnicodeAttribute()
    p256dh = UnicodeAttribute(null=True)
    auth = UnicodeAttribute(null=True)
    endpoint_arn = UnicodeAttribute(null=True)


class DeviceTokenItem(Model):
    """sha256(platform, token) -> the user and device holding that token now."""

    class Meta(_Meta):
        table_name = f"{_PREFIX}-device_tokens"

    token_key = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    device_id = UnicodeAttribute()


class PushLogItem(Model):
    """``{chat_id}|{seq}|{device_id}`` of every push sent: a retried worker sends nothing twice;
    ``fanout:{shard id}`` of every fan-out shard posted (chalicelib/delivery/fanout.py)."""

    class Meta(_Meta):
        table_name = f"{_PREFIX}-push_log"

    push_key = UnicodeAttribute(hash_key=True)
    expires_at = TTLAttribute()


class BlockItem(Model):
    """``user_id`` blocks ``other_id`` (since ``blocked_at``). The item ``(user_id, BLOCK_COUNT_KEY)``
    counts them (``total``), so the limit of 1,000 is one condition in the block's transaction;
    ``#`` is in no user id, so it never names a user."""

    class Meta(_Meta):
        table_name = f"{_PREFIX}-blocks"

    user_id = UnicodeAttribute(hash_key=True)
    other_id = UnicodeAttribute(range_key=True)
    blocked_at = UnicodeAttribute(null=True)
    total = NumberAttribute(null=True)  # on the BLOCK_COUNT_KEY item only: how many they block


BLOCK_COUNT_KEY = "#count"


class ReportsByStatus(GlobalSecondaryIndex["ReportItem"]):
    """Reports by status ("open", "resolved"), newest first with ``scan_index_forward=False``:
    what the operator's list reads (one Query; eventually consistent, as every GSI)."""

    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    queued_at = UnicodeAttribute(range_key=True)


class ReportItem(Model):
    """A user's report of a message (``domain/reports.py``): ``message`` is a copy of the message
    as it was when reported; ``queued_at`` is ``{reported_at}#{report_id}`` (the index's order,
    unique); ``actions`` the operator's, JSON."""

    class Meta(_Meta):
        table_name = f"{_PREFIX}-reports"

    report_id = UnicodeAttribute(hash_key=True)
    chat_id = UnicodeAttribute()
    seq = NumberAttribute()
    reporter = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    reported_at = UnicodeAttribute()
    message = MessageMap()
    status = UnicodeAttribute()
    queued_at = UnicodeAttribute()
    actions = UnicodeAttribute(null=True)
    by_status = ReportsByStatus()


ALL_MODELS: tuple[type[Model], ...] = (
    ConnectionItem,
    PresenceItem,
    ChatItem,
    ChatMembersItem,
    MembershipItem,
    MessageItem,
    ChangeItem,
    AttachmentItem,
    SendKeyItem,
    DeviceItem,
    DeviceTokenItem,
    PushLogItem,
    BlockItem,
    ReportItem,
)
# Push's tables (a subset of ALL_MODELS, which infra/tables.json provisions).
PUSH_MODELS: tuple[type[Model], ...] = (DeviceItem, DeviceTokenItem, PushLogItem)
TTL_ATTRIBUTE = "expires_at"


def create_tables(wait: bool = False) -> list[str]:
    """Create any missing table (local stack, tests). Returns the names created."""
    created = []
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=wait)
            created.append(model.Meta.table_name)
    return created
