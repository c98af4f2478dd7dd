"""The embedded DynamoDB's write-ahead journal (``chatlocal.aws.journal``) and its use by
``chatlocal.aws.table_store``: every answered write is in the file before its answer, replayed
over the snapshot at start (in order, idempotently, a torn last line ignored), and cut by each
save. Through ``mock_aws`` here, in a region of its own."""

from __future__ import annotations

import errno
import json
import os
import shutil

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from chatlocal.aws import journal
from chatlocal.aws.journal import Journal
from chatlocal.aws.journal import item_json as _item_json
from chatlocal.aws.moto_atomic import serialize_dynamodb_requests
from chatlocal.aws.table_store import TableStore
from chatlocal.config import StartupError

serialize_dynamodb_requests()
REGION = "eu-north-1"  # not the functional tier's: its session-wide mock may be active
TABLE = "journal-test"


def _create_table(client, name: str = TABLE) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def fresh_mock():
    """A started mock_aws whose DynamoDB in REGION is empty, even inside a mock already started
    (the functional tier's, in the same worker process): a nested mock_aws keeps its state."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    mock = mock_aws()
    mock.start()
    dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].reset()
    return mock


class Run:
    """One run of the stack's DynamoDB: a fresh moto, the table, a restored store."""

    def __init__(self, folder, mode: str = "1") -> None:
        self.folder = folder
        self.mode = mode

    def __enter__(self) -> Run:
        self.mock = fresh_mock()
        self.client = boto3.client("dynamodb", region_name=REGION)
        _create_table(self.client)
        self.store = TableStore(
            self.folder / "dynamodb.json", REGION, self.folder / "dynamodb.journal", self.mode
        )
        self.restored = self.store.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()  # the observer is process-wide: never leave it to other tests
        self.mock.stop()

    def put(self, pk: str, **attributes: str) -> None:
        item = {"pk": {"S": pk}, **{k: {"S": v} for k, v in attributes.items()}}
        self.client.put_item(TableName=TABLE, Item=item)

    def items(self) -> dict[str, dict]:
        """Read from moto's backend (the suite forbids Scan)."""
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[TABLE]
        return {item.attrs["pk"].value: _item_json(item) for item in table.all_items()}


def _lines(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "dynamodb.journal").read_text().splitlines()]


def _key(pk: str) -> dict:
    return {"pk": {"S": pk}}


def test_each_kind_of_write_is_journaled_before_its_answer(tmp_path):
    with Run(tmp_path) as run:
        run.put("a", v="1")
        assert _lines(tmp_path) == [{"w": [[TABLE, _key("a"), {"pk": {"S": "a"}, "v": {"S": "1"}}]]}]
        run.client.update_item(
            TableName=TABLE,
            Key=_key("a"),
            UpdateExpression="SET v = :v",
            ExpressionAttributeValues={":v": {"S": "2"}},
        )
        run.client.delete_item(TableName=TABLE, Key=_key("a"))
        run.client.batch_write_item(
            RequestItems={TABLE: [{"PutRequest": {"Item": _key("b")}}, {"DeleteRequest": {"Key": _key("z")}}]}
        )
        run.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": _key("c")}},
                {"Delete": {"TableName": TABLE, "Key": _key("b")}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": _key("z"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
        lines = _lines(tmp_path)
    assert lines[1:] == [
        {"w": [[TABLE, _key("a"), {"pk": {"S": "a"}, "v": {"S": "2"}}]]},
        {"w": [[TABLE, _key("a"), None]]},
        {"w": [[TABLE, _key("b"), _key("b")], [TABLE, _key("z"), None]]},
        {"w": [[TABLE, _key("c"), _key("c")], [TABLE, _key("b"), None]]},
    ]


def test_refused_writes_and_reads_are_not_journaled(tmp_path):
    with Run(tmp_path) as run:
        run.put("a")
        with pytest.raises(botocore.exceptions.ClientError, match="ConditionalCheckFailed"):
            run.client.put_item(
                TableName=TABLE, Item=_key("a"), ConditionExpression="attribute_not_exists(pk)"
            )
        with pytest.raises(botocore.exceptions.ClientError, match="TransactionCanceled"):
            run.client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": TABLE, "Item": _key("new")}},
                    {
                        "Put": {
                            "TableName": TABLE,
                            "Item": _key("a"),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        run.client.get_item(TableName=TABLE, Key=_key("a"))
        run.client.query(
            TableName=TABLE, KeyConditionExpression="pk = :a", ExpressionAttributeValues={":a": {"S": "a"}}
        )
        assert len(_lines(tmp_path)) == 1


def test_writes_to_another_region_are_not_journaled(tmp_path):
    with Run(tmp_path):
        other = boto3.client("dynamodb", region_name="ap-south-2")
        _create_table(other)
        other.put_item(TableName=TABLE, Item=_key("elsewhere"))
        assert not (tmp_path / "dynamodb.journal").read_text()


def test_a_kill_between_saves_loses_no_answered_write(tmp_path):
    with Run(tmp_path) as run:
        run.put("a", v="1")
        assert run.store.save_if_changed()  # a snapshot, then more writes: the journal only
        run.put("a", v="2")
        run.put("b")
        run.client.delete_item(TableName=TABLE, Key=_key("b"))
        run.put("c")
        # no save on stop: the process was killed
    os.utime(tmp_path / "dynamodb.journal", (1796600000, 1796600000))  # its last write's time
    with Run(tmp_path) as again:
        assert again.items() == {"a": {"pk": {"S": "a"}, "v": {"S": "2"}}, "c": _key("c")}
        assert again.restored is not None and again.restored.replayed == 4
        assert again.restored.items == 2
        assert again.restored.journaled_at == "2026-12-06T23:33:20+00:00"  # for the banner
        # the restore saved a snapshot holding the replayed lines: the journal starts empty
        assert (tmp_path / "dynamodb.journal").read_text() == ""
        assert '"v":{"S":"2"}' in (tmp_path / "dynamodb.json").read_text()


def test_a_journal_without_any_snapshot_is_replayed(tmp_path):
    with Run(tmp_path) as run:
        run.put("a")
    assert not (tmp_path / "dynamodb.json").exists()
    with Run(tmp_path) as again:
        assert set(again.items()) == {"a"}
        assert again.restored is not None and again.restored.saved_at == ""


def test_a_save_drops_only_the_lines_its_snapshot_holds(tmp_path):
    with Run(tmp_path) as run:
        run.put("a")
        run.put("b")
        assert run.store.save_if_changed()
        assert (tmp_path / "dynamodb.journal").read_text() == ""
        run.put("c")
        assert [line["w"][0][1] for line in _lines(tmp_path)] == [_key("c")]


def test_drop_before_keeps_what_was_appended_after_the_offset(tmp_path):
    kept = Journal(tmp_path / "j", REGION)
    kept.append({"w": [["t", {"n": 1}, None]]})
    offset = kept.size()
    kept.append({"w": [["t", {"n": 2}, None]]})
    kept.drop_before(offset)
    kept.append({"w": [["t", {"n": 3}, None]]})
    kept.close()
    entries, valid = journal.read(tmp_path / "j")
    assert [e["w"][0][1]["n"] for e in entries] == [2, 3]
    assert valid == (tmp_path / "j").stat().st_size
    assert oct((tmp_path / "j").stat().st_mode & 0o777) == oct(0o600)


def test_replaying_the_old_journal_over_a_newer_snapshot_changes_nothing(tmp_path):
    """A kill after a save wrote its snapshot and before it cut the journal: the whole journal
    is replayed over a snapshot that already holds it (idempotent: the items' latest states)."""
    with Run(tmp_path) as run:
        run.put("a", v="1")
        run.put("b")
        run.put("a", v="2")
        run.client.delete_item(TableName=TABLE, Key=_key("b"))
        uncut = (tmp_path / "dynamodb.journal").read_bytes()
        assert run.store.save_if_changed()
    (tmp_path / "dynamodb.journal").write_bytes(uncut)
    with Run(tmp_path) as again:
        assert again.items() == {"a": {"pk": {"S": "a"}, "v": {"S": "2"}}}
        assert again.restored is not None and again.restored.replayed == 4


def test_a_torn_last_line_is_ignored_and_cut(tmp_path):
    with Run(tmp_path) as run:
        run.put("a")
        run.put("b")
    file = tmp_path / "dynamodb.journal"
    whole = file.read_bytes()
    file.write_bytes(whole[: len(whole) - 5])  # the second line lost its end
    with Run(tmp_path) as again:
        assert set(again.items()) == {"a"}
        again.put("c")
        assert [line["w"][0][1] for line in _lines(tmp_path)] == [_key("c")]


def test_a_damaged_line_before_others_refuses_to_start(tmp_path):
    (tmp_path / "dynamodb.journal").write_text('{"w": []}\nnot json\n{"w": []}\n')
    mock = fresh_mock()
    try:
        _create_table(boto3.client("dynamodb", region_name=REGION))
        store = TableStore(tmp_path / "dynamodb.json", REGION, tmp_path / "dynamodb.journal")
        with pytest.raises(StartupError, match=r"line 2 of the journal .* is damaged"):
            store.restore()
    finally:
        mock.stop()


def test_deleting_and_creating_a_table_clears_it_at_replay(tmp_path):
    with Run(tmp_path) as run:
        run.put("a")
        assert run.store.save_if_changed()
        run.client.delete_table(TableName=TABLE)
        _create_table(run.client)
        run.put("b")
        assert [line.get("clear") for line in _lines(tmp_path)] == [TABLE, TABLE, None]
    with Run(tmp_path) as again:
        assert set(again.items()) == {"b"}


def test_with_the_journal_off_nothing_is_journaled_and_an_old_journal_is_replayed_once(tmp_path):
    with Run(tmp_path) as run:
        run.put("a")
    with Run(tmp_path, mode="0") as off:
        assert set(off.items()) == {"a"}  # replayed, then saved into the snapshot
        assert not (tmp_path / "dynamodb.journal").exists()
        off.put("b")
        assert not (tmp_path / "dynamodb.journal").exists()


def test_fsync_mode_waits_for_the_disk_on_each_write(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(journal.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    with Run(tmp_path, mode="fsync") as run:
        before = len(synced)
        run.put("a")
        run.put("b")
        assert len(synced) - before == 2


def test_a_write_the_journal_cannot_keep_is_not_acknowledged(tmp_path, monkeypatch):
    with Run(tmp_path) as run:
        real_write = os.write

        def full_disk(fd: int, data: bytes) -> int:
            if b'"w"' in data:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(fd, data)

        monkeypatch.setattr(journal.os, "write", full_disk)
        # mock_aws hands the error to the caller; moto's server answers 500 (botocore: ClientError)
        with pytest.raises((OSError, botocore.exceptions.ClientError)):
            run.put("a")


def test_the_journal_file_is_private(tmp_path):
    with Run(tmp_path) as run:
        run.put("a")
    assert (tmp_path / "dynamodb.journal").stat().st_mode & 0o077 == 0


def test_a_folder_copied_while_running_restores_too(tmp_path):
    """A backup copy of the data folder (snapshot and journal at one moment) restores."""
    source = tmp_path / "live"
    source.mkdir()
    copy = tmp_path / "copy"
    with Run(source) as run:
        run.put("a")
        run.store.save_if_changed()
        run.put("b")
        shutil.copytree(source, copy)
    with Run(copy) as again:
        assert set(again.items()) == {"a", "b"}
