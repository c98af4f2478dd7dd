"""The cost harness itself: the tables are busy, the chats it writes straight into DynamoDB are
the ones ``chat.create`` and ``$connect`` write, and the meter sees every request (Scans
included), names the function that made it, and meters units as bench/counting.py does."""

from __future__ import annotations

import boto3

from bench.scenario import _backend
from chalicelib.storage.tables import (
    ChatItem,
    ChatMembersItem,
    ConnectionItem,
    MembershipItem,
    PresenceItem,
)
from tests.functional.costs.conftest import UNRELATED
from tests.functional.costs.metering import DEFAULT
from tests.functional.costs.world import build_chat, new_tag

VOLATILE = {
    "chat_id",
    "created_at",
    "last_activity",
    "joined_at",
    "connection_id",
    "connected_at",
    "expires_at",
    "rate_tat",
}  # rate_tat: set by the first action; expires_at: connected_at + the TTL (a second apart or not)


def _count(table: str) -> int:
    return len(list(_backend().get_table(f"test-{table}").all_items()))


def test_the_tables_are_busy_before_anything_is_measured(world):
    assert _count("connections") >= UNRELATED and _count("presence") >= UNRELATED
    assert _count("chats") >= UNRELATED and _count("memberships") >= 3 * UNRELATED
    assert _count("messages") >= UNRELATED and _count("chat_members") >= UNRELATED


def _shape(item, users: dict[str, str]) -> dict:
    """An item's attributes with the volatile ones dropped and user ids made generic."""

    def generic(value):
        if isinstance(value, str):
            for user, name in users.items():
                value = value.replace(user, name)
            return value
        if isinstance(value, list | set | tuple):
            return sorted(generic(v) for v in value)
        if hasattr(value, "as_dict"):
            value = value.as_dict()
        if isinstance(value, dict):
            return {generic(k): generic(v) for k, v in value.items() if k not in ("exp",)}
        return value

    return {k: generic(v) for k, v in item.attribute_values.items() if k not in VOLATILE}


def test_a_built_chat_is_stored_as_chat_create_and_connect_store_it(world):
    harness = world.harness
    tag = new_tag("real")
    users = [f"{tag}m{i:04d}" for i in range(3)]
    clients = [harness.connect(u) for u in users]
    real_id = clients[0].send("chat.create", members=users[1:], title="cost")["chat"]["chat_id"]
    for c in clients[:2]:
        c.send("chat.open", chat_id=real_id)
    built = build_chat(harness, 3, viewing=2)
    real = {"users": users, "chat": real_id, "conns": [c.connection_id for c in clients]}
    made = {
        "users": built.users,
        "chat": built.chat_id,
        "conns": [built.clients[u].connection_id for u in built.users],
    }

    def items(world_of):
        names = {u: f"u{i}" for i, u in enumerate(world_of["users"])}
        u, c = world_of["users"], world_of["chat"]
        found = [ChatItem.get(c), ChatMembersItem.get(c, 0)]
        found += [MembershipItem.get(user, c) for user in u]
        found += [ConnectionItem.get(conn) for conn in world_of["conns"]]
        shapes = [_shape(item, names) for item in found]
        for user in u:  # presence: which chat each connection views
            entries = PresenceItem.get(user).conns.as_dict().values()
            shapes.append(sorted(str(e.get("chat") == c) for e in entries))
        return shapes

    assert items(real) == items(made)
    # and the handlers take it as theirs: a send reaches the two others
    ack = built.owner.send("message.send", chat_id=built.chat_id, client_msg_id="k", text="hi")
    assert ack["event"] == "message:ack" and ack["seq"] == 1
    assert [len(built.clients[u].frames()) for u in built.users[1:]] == [1, 1]


def test_the_meter_names_the_function_and_meters_units_from_stored_sizes(world):
    client = boto3.client("dynamodb", region_name="us-east-1")
    item = {"connection_id": {"S": "meter-test"}, "user_id": {"S": "x" * 3000}, "connected_at": {"N": "1"}}
    with world.meter.measure() as requests:
        client.put_item(TableName="test-connections", Item=item)
        client.get_item(
            TableName="test-connections", Key={"connection_id": {"S": "meter-test"}}, ConsistentRead=True
        )
        client.delete_item(TableName="test-connections", Key={"connection_id": {"S": "meter-test"}})
    assert [(r.function, r.operation, r.tables, r.wru, r.rru) for r in requests] == [
        ("", "PutItem", ("connections",), 3, 0),
        ("", "GetItem", ("connections",), 0, 1),
        ("", "DeleteItem", ("connections",), 3, 0),
    ]
    built = build_chat(world.harness, 2)
    with world.meter.measure() as requests:
        built.owner.send("message.send", chat_id=built.chat_id, client_msg_id="k", text="hi")
    assert requests.of(DEFAULT).ops() == requests.of().ops() != []  # all of it in $default
