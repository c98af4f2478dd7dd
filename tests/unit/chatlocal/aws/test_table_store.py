"""The embedded DynamoDB's dump and restore (``chatlocal.aws.table_store``), read from and written
to moto's backend (through ``mock_aws`` here, in a region of its own)."""

from __future__ import annotations

import json
import stat

import boto3
import pytest
from moto import mock_aws

from chatlocal.aws.moto_atomic import serialize_dynamodb_requests
from chatlocal.aws.table_store import TableStore
from chatlocal.config import StartupError

serialize_dynamodb_requests()
REGION = "eu-west-3"  # not the functional tier's: its session-wide mock may be active
TABLE = "datadir-test"
ITEM = {
    "pk": {"S": "chat#1"},
    "sk": {"N": "7"},
    "raw": {"B": b"\x00\xffbytes"},
    "nested": {"M": {"list": {"L": [{"S": "a"}, {"N": "2"}, {"BOOL": True}, {"NULL": True}]}}},
    "blobs": {"BS": [b"\x01", b"\x02\x03"]},
    "in_list": {"L": [{"B": b"\xfe"}, {"M": {"deep": {"B": b"\x00"}}}]},
    "tags": {"SS": ["x", "y"]},
    "counts": {"NS": ["1", "2"]},
}


def _create_table(client) -> None:
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        _create_table(client)
        yield client
        client.delete_table(TableName=TABLE)


def _get(client) -> dict | None:
    return client.get_item(TableName=TABLE, Key={"pk": {"S": "chat#1"}, "sk": {"N": "7"}}).get("Item")


def test_items_survive_save_and_restore(dynamodb, tmp_path):
    store = TableStore(tmp_path / "dynamodb.json", REGION)
    assert store.restore() is None  # nothing saved yet
    dynamodb.put_item(TableName=TABLE, Item=ITEM)
    assert store.save() == 1
    assert not list(tmp_path.glob("*.tmp-*"))
    assert stat.S_IMODE((tmp_path / "dynamodb.json").stat().st_mode) == 0o600

    dynamodb.delete_table(TableName=TABLE)  # a new process: the table is created empty
    _create_table(dynamodb)
    assert _get(dynamodb) is None
    restored = TableStore(tmp_path / "dynamodb.json", REGION).restore()
    assert restored is not None and restored.items == 1 and restored.tables == 1
    assert restored.missing_tables == ()
    assert _get(dynamodb) == ITEM


def test_saves_only_after_a_write(dynamodb, tmp_path):
    store = TableStore(tmp_path / "dynamodb.json", REGION)
    store.restore()
    assert store.save_if_changed() is False
    _get(dynamodb)  # a read is not a change
    assert store.save_if_changed() is False
    dynamodb.put_item(TableName=TABLE, Item=ITEM)
    assert store.save_if_changed() is True
    assert store.save_if_changed() is False
    saved = json.loads((tmp_path / "dynamodb.json").read_text())
    assert saved["tables"][TABLE][0]["pk"] == {"S": "chat#1"}


def test_save_before_restore_is_refused(dynamodb, tmp_path):
    """Saving an empty database over the saved one would lose it all."""
    store = TableStore(tmp_path / "dynamodb.json", REGION)
    with pytest.raises(RuntimeError, match="save before restore"):
        store.save()
    assert store.save_if_changed() is False
    assert not (tmp_path / "dynamodb.json").exists()


def test_items_of_tables_not_created_are_reported(dynamodb, tmp_path):
    file = tmp_path / "dynamodb.json"
    item = {"pk": {"S": "chat#1"}, "sk": {"N": "7"}}
    document = {"format": "chatlocal-dynamodb", "version": 1, "saved_at": "then", "tables": {"gone": [item]}}
    file.write_text(json.dumps(document))
    restored = TableStore(file, REGION).restore()
    assert restored is not None
    assert (restored.items, restored.tables, restored.missing_tables) == (0, 0, ("gone",))


@pytest.mark.parametrize("content", ["{not json", '{"format": "other"}', "[]"])
def test_unreadable_saved_data_stops_the_start(dynamodb, tmp_path, content):
    file = tmp_path / "dynamodb.json"
    file.write_text(content)
    with pytest.raises(StartupError, match="make clean-data"):
        TableStore(file, REGION).restore()
