"""The embedded moto in a process of its own (``chatlocal.aws.moto_process``), which keeps the
saved data too. Where the stack's invocations run: functions/test_workers.py."""

from __future__ import annotations

import io
import json

import boto3
import pytest

from chatlocal.aws import services as aws
from chatlocal.aws.moto_process import MotoProcess, MotoProcessError, RemoteTableStore, _handle, _Kept, serve
from chatlocal.config import StartupError


@pytest.fixture
def moto():
    process = MotoProcess.start("127.0.0.1")
    yield process
    process.stop()


def _dynamodb(url: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )


def _table(client, name: str) -> None:  # type: ignore[no-untyped-def]
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_the_stack_starts_moto_in_its_own_process_when_asked():
    env: dict[str, str] = {}
    services = aws.start(env, own_process=True)
    try:
        assert services.moto is not None and services.moto.process.poll() is None
        assert env["AWS_ENDPOINT_URL_DYNAMODB"] == services.moto.url == services["sqs"].url
        assert _dynamodb(services.moto.url).list_tables()["TableNames"] == []
    finally:
        services.stop()
    assert services.moto is None


def test_in_process_moto_has_no_moto_process():
    services = aws.start({})
    try:
        assert services.moto is None
    finally:
        services.stop()


def test_the_saved_data_is_kept_by_the_moto_process_across_runs(moto, tmp_path):
    file = tmp_path / "dynamodb.json"
    client = _dynamodb(moto.url)
    _table(client, "kept")
    store = RemoteTableStore(moto, file, "us-east-1")
    assert store.restore() is None and store.restored
    assert store.save_if_changed() is False  # nothing written since the restore
    client.put_item(TableName="kept", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    assert store.save_if_changed() is True
    assert store.save_if_changed() is False
    moto.stop()
    assert moto.process.returncode == 0

    again = MotoProcess.start("127.0.0.1")
    try:
        _table(_dynamodb(again.url), "kept")
        restored = RemoteTableStore(again, file, "us-east-1").restore()
        assert restored is not None
        assert (restored.items, restored.tables, restored.missing_tables) == (1, 1, ())
        item = _dynamodb(again.url).get_item(TableName="kept", Key={"pk": {"S": "a"}})["Item"]
        assert item == {"pk": {"S": "a"}, "n": {"N": "1"}}
    finally:
        again.stop()


def test_unreadable_saved_data_stops_the_stack_with_its_message(moto, tmp_path):
    file = tmp_path / "dynamodb.json"
    file.write_text("not json")
    with pytest.raises(StartupError, match="cannot read the saved data"):
        RemoteTableStore(moto, file, "us-east-1").restore()


def test_a_save_before_the_restore_is_an_os_error(moto, tmp_path):
    with pytest.raises(OSError, match="save before restore"):
        RemoteTableStore(moto, tmp_path / "dynamodb.json", "us-east-1").save_if_changed()


def test_a_save_the_child_cannot_write_is_an_os_error(moto, tmp_path):
    folder = tmp_path / "gone"
    folder.mkdir()
    store = RemoteTableStore(moto, folder / "dynamodb.json", "us-east-1")
    store.restore()
    client = _dynamodb(moto.url)
    _table(client, "t")
    client.put_item(TableName="t", Item={"pk": {"S": "a"}})
    folder.rmdir()
    with pytest.raises(OSError):
        store.save_if_changed()


def test_an_unknown_request_is_answered_with_an_error(moto):
    with pytest.raises(MotoProcessError, match="unknown request"):
        moto.request(op="explode")


def test_a_request_after_the_process_ended_is_an_error(moto):
    moto.stop()
    with pytest.raises(MotoProcessError):
        moto.request(op="save_if_changed")


def test_a_malformed_request_line_is_answered_not_raised():
    kept = _Kept()
    answer = _handle(kept, "{not json\n")
    assert kept.tables is None and kept.objects is None
    assert answer["startup"] is False and "JSONDecodeError" in answer["error"]


def test_serve_answers_each_line_then_stops_at_the_end_of_input():
    requests = io.StringIO(json.dumps({"op": "save_if_changed"}) + "\n" + json.dumps({"op": "x"}) + "\n")
    answers = io.StringIO()
    assert serve("127.0.0.1", requests, answers) == 0
    lines = [json.loads(line) for line in answers.getvalue().splitlines()]
    assert lines[0]["url"].startswith("http://127.0.0.1:")
    assert lines[1] == {"error": "save before restore", "startup": False}
    assert "unknown request" in lines[2]["error"]


def test_the_child_journals_each_write_before_answering_and_replays_it_after_a_kill(moto, tmp_path):
    file, journal_file = tmp_path / "dynamodb.json", tmp_path / "dynamodb.journal"
    client = _dynamodb(moto.url)
    _table(client, "kept")
    store = RemoteTableStore(moto, file, "us-east-1", journal_file, "1")
    store.restore()
    client.put_item(TableName="kept", Item={"pk": {"S": "a"}})
    assert '"pk":{"S":"a"}' in journal_file.read_text()  # on file before put_item returned
    moto.process.kill()  # SIGKILL: no save
    moto.process.wait()
    assert not file.exists()

    again = MotoProcess.start("127.0.0.1")
    try:
        _table(_dynamodb(again.url), "kept")
        restored = RemoteTableStore(again, file, "us-east-1", journal_file, "1").restore()
        assert restored is not None and (restored.items, restored.replayed) == (1, 1)
        assert _dynamodb(again.url).get_item(TableName="kept", Key={"pk": {"S": "a"}})["Item"] == {
            "pk": {"S": "a"}
        }
    finally:
        again.stop()


def test_the_child_saves_when_its_parent_goes_away(moto, tmp_path):
    """The parent killed: its end of the pipe closes, and the child saves before it exits
    (the journal off here, so the save is what keeps the write)."""
    file = tmp_path / "dynamodb.json"
    client = _dynamodb(moto.url)
    _table(client, "kept")
    RemoteTableStore(moto, file, "us-east-1", tmp_path / "dynamodb.journal", "0").restore()
    client.put_item(TableName="kept", Item={"pk": {"S": "a"}})
    assert not file.exists()
    moto.stop()  # closes the pipe without asking for a save
    assert moto.process.returncode == 0
    assert '"pk":{"S":"a"}' in file.read_text()
    assert not (tmp_path / "dynamodb.journal").exists()
