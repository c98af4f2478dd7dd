"""The connections-and-presence part of the ``Store`` on DynamoDB: a connection's item and
its rate-limit turns (``ConnectionItem``), and each user's live connections, what they view and
their push flags (``PresenceItem``), and the push log of what was sent (``PushLogItem``).
``DynamoStore`` inherits it; none of it is a transaction.

May import the domain's records and errors, and the storage base, tables, mapping and calls.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from pynamodb.exceptions import PynamoDBException

from chalicelib.domain.errors import Unavailable
from chalicelib.domain.records import Connection, Reach
from chalicelib.storage.base import Turn
from chalicelib.storage.calls import applied, get_or_none, guarded, is_condition_failure
from chalicelib.storage.mapping import connection_from, datetime_at, epoch_of, reach_from
from chalicelib.storage.tables import ConnectionItem, PresenceItem, PushLogItem


class DynamoConnections:
    """``Store``'s "connections and presence" methods (see ``storage/base.py`` for their costs)."""

    @guarded
    def add_connection(self, connection: Connection) -> None:
        ConnectionItem(
            connection.connection_id,
            user_id=connection.user_id,
            name=connection.name,
            connected_at=connection.connected_at,
            expires_at=datetime_at(connection.expires_at),
        ).save()
        self._put_presence_entry(connection, viewing=None)

    def _put_presence_entry(self, connection: Connection, viewing: str | None) -> None:
        """Add (or restore) a connection to its user's presence item, pruning expired ones."""
        entry: dict[str, Any] = {"exp": connection.expires_at}
        if viewing:
            entry["chat"] = viewing
        for _ in range(5):
            current = get_or_none(PresenceItem, connection.user_id)
            try:
                if current is None:
                    PresenceItem(
                        connection.user_id,
                        conns={connection.connection_id: entry},
                        expires_at=datetime_at(connection.expires_at),
                    ).save(condition=PresenceItem.user_id.does_not_exist())
                    return
                now = int(time.time())
                old = current.conns.as_dict() if current.conns is not None else {}
                expired = [cid for cid, e in old.items() if int(e.get("exp", 0)) <= now]
                if current.conns is None:  # an item made for push flags, before any connection
                    actions = [PresenceItem.conns.set({connection.connection_id: entry})]
                else:
                    actions = [PresenceItem.conns[connection.connection_id].set(entry)]
                actions += [
                    PresenceItem.conns[cid].remove() for cid in expired if cid != connection.connection_id
                ]
                condition = PresenceItem.user_id.exists()
                if current.devices or current.muted or current.mentions_only:
                    actions.append(PresenceItem.expires_at.remove())  # push needs them: kept
                else:
                    latest = max([connection.expires_at, epoch_of(current.expires_at)])
                    actions.append(PresenceItem.expires_at.set(datetime_at(latest)))
                    condition &= (
                        PresenceItem.devices.does_not_exist()
                        & PresenceItem.muted.does_not_exist()
                        & PresenceItem.mentions_only.does_not_exist()
                    )
                current.update(actions=actions, condition=condition)
                return
            except PynamoDBException as exc:
                if not is_condition_failure(exc):
                    raise
        raise Unavailable("could not register the connection, retry")

    @guarded
    def get_connection(self, connection_id: str) -> Connection | None:
        item = get_or_none(ConnectionItem, connection_id)
        return connection_from(item) if item is not None else None

    @guarded
    def take_turn(
        self, connection_id: str, now_ms: int, interval_ms: int, tolerance_ms: int, busy: bool = False
    ) -> Turn:
        tat = ConnectionItem.rate_tat
        known = ConnectionItem.connection_id.exists()
        idle = (known & (tat.does_not_exist() | (tat <= now_ms)), tat.set(now_ms + interval_ms))
        burst = (known & (tat > now_ms) & (tat <= now_ms + tolerance_ms), tat.set(tat + interval_ms))
        # Idle first, then burst: when both fail the turn is refused (tat only grows, so a
        # failed idle stays failed). Busy first needs a third try: another invocation may take
        # the idle turn between a failed burst and the idle attempt.
        for condition, action in (burst, idle, burst) if busy else (idle, burst):
            item = ConnectionItem(connection_id)
            try:
                item.update(actions=[action], condition=condition)  # returns ALL_NEW into item
            except PynamoDBException as exc:
                if not is_condition_failure(exc):
                    raise
                continue
            return Turn(connection_from(item), True, int(item.rate_tat))
        current = get_or_none(ConnectionItem, connection_id)
        if current is None:
            return Turn(None, False, 0)
        return Turn(connection_from(current), False, int(current.rate_tat or 0))

    @guarded
    def connection_users(self, connection_ids: Iterable[str]) -> Mapping[str, str]:
        keys = sorted(set(connection_ids))
        items = ConnectionItem.batch_get(
            keys, consistent_read=True, attributes_to_get=["connection_id", "user_id"]
        )
        return {item.connection_id: item.user_id for item in items}

    @guarded
    def remove_connection(self, connection_id: str, connected_before: int | None = None) -> Connection | None:
        connection = self.get_connection(connection_id)
        if connection is None:
            return None
        if connected_before is not None and connection.connected_at >= connected_before:
            return None
        ConnectionItem(connection_id).delete()
        try:
            PresenceItem(connection.user_id).update(
                actions=[PresenceItem.conns[connection_id].remove()],
                condition=PresenceItem.conns[connection_id].exists(),
            )
        except PynamoDBException as exc:
            if not is_condition_failure(exc):
                raise
        return connection

    @guarded
    def set_viewing(self, connection: Connection, chat_id: str) -> None:
        entry = PresenceItem.conns[connection.connection_id]
        try:
            PresenceItem(connection.user_id).update(
                actions=[entry["chat"].set(chat_id)], condition=entry.exists()
            )
        except PynamoDBException as exc:
            if not is_condition_failure(exc):
                raise
            # The entry was pruned or lost while the connection record lives on: restore it.
            self._put_presence_entry(connection, viewing=chat_id)

    @guarded
    def clear_viewing(self, connection: Connection, chat_id: str) -> None:
        path = PresenceItem.conns[connection.connection_id]["chat"]
        try:
            PresenceItem(connection.user_id).update(actions=[path.remove()], condition=path == chat_id)
        except PynamoDBException as exc:
            if not is_condition_failure(exc):
                raise  # not viewing that chat: nothing to change

    @guarded
    def reach(self, user_ids: Iterable[str]) -> Mapping[str, Reach]:
        keys = sorted(set(user_ids))
        now = int(time.time())
        return {
            item.user_id: reach_from(item, now) for item in PresenceItem.batch_get(keys, consistent_read=True)
        }

    # -- the push log: what was sent (push jobs, fan-out shards and slices claim their keys)

    @guarded
    def claim_push(self, key: str, ttl_seconds: int = 86400) -> bool:
        """Record that a push is being sent; False if it was already (a retried batch)."""
        item = PushLogItem(key, expires_at=datetime_at(int(time.time()) + ttl_seconds))
        return applied(lambda: item.save(condition=PushLogItem.push_key.does_not_exist()))

    @guarded
    def release_push(self, key: str) -> None:
        """A push that failed in a way worth retrying: let the retry send it."""
        PushLogItem(key).delete()
