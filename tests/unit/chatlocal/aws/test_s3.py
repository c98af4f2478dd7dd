"""The local stack's S3 (``chatlocal.aws.s3``), against a moto in a process of its own as the stack
runs it: upload forms tagged and answered by the bucket's CORS rules, and the bucket's objects
(content, content type, tags) saved to the data folder and put back by another run."""

from __future__ import annotations

import json

import boto3
import pytest
import requests

from chatlocal.aws import s3
from chatlocal.aws.moto_process import MotoProcess, RemoteObjectStore
from chatlocal.config import StartupError
from chatlocal.datadir import DataDir, clean

BUCKET = "unit-attachments"
PAGE = "http://127.0.0.1:8000"
PENDING = "<Tagging><TagSet><Tag><Key>pending</Key><Value>true</Value></Tag></TagSet></Tagging>"


@pytest.fixture
def moto(monkeypatch):
    process = MotoProcess.start("127.0.0.1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", process.url)
    yield process
    process.stop()


def _client(url: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )


def _bucket() -> s3.Bucket:
    return s3.ensure_bucket(
        {"CHAT_ATTACHMENTS_BUCKET": BUCKET, "AWS_REGION": "us-east-1"},
        s3.cors_origins("127.0.0.1", 8000),
        True,
    )


def _form(client, key: str, tagging: str = PENDING):  # type: ignore[no-untyped-def]
    return client.generate_presigned_post(
        BUCKET, key, Fields={"Content-Type": "image/png", "tagging": tagging}, ExpiresIn=60
    )


def _post(form, data: bytes, origin: str = PAGE):  # type: ignore[no-untyped-def]
    return requests.post(
        form["url"], data=form["fields"], files={"file": ("f", data)}, headers={"Origin": origin}, timeout=10
    )


def test_an_upload_forms_tagging_tags_the_object_and_the_answer_follows_the_buckets_cors(moto):
    assert _bucket() == s3.Bucket(BUCKET, created=True, cors=True)
    client = _client(moto.url)
    answer = _post(_form(client, "attachments/c/a1"), b"png")
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == PAGE
    assert client.get_object_tagging(Bucket=BUCKET, Key="attachments/c/a1")["TagSet"] == [
        {"Key": "pending", "Value": "true"}
    ]
    foreign = _post(_form(client, "attachments/c/a2"), b"png", origin="http://elsewhere.example")
    assert "Access-Control-Allow-Origin" not in foreign.headers
    # a tagging field S3 cannot read refuses the upload: nothing is stored
    refused = _post(_form(client, "attachments/c/a3", tagging="<Tagging><TagSet>"), b"png")
    assert refused.status_code == 400
    listed = client.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [o["Key"] for o in listed] == ["attachments/c/a1", "attachments/c/a2"]
    # the bucket exists now: a second start keeps it
    assert _bucket() == s3.Bucket(BUCKET, created=False, cors=True)
    # another S3's existing bucket keeps its own rules
    client.put_bucket_cors(Bucket=BUCKET, CORSConfiguration=s3.cors_rules(["https://theirs.example"]))
    env = {"CHAT_ATTACHMENTS_BUCKET": BUCKET, "AWS_REGION": "us-east-1"}
    assert s3.ensure_bucket(env, [PAGE], embedded=False) == s3.Bucket(BUCKET, created=False, cors=False)
    assert client.get_bucket_cors(Bucket=BUCKET)["CORSRules"][0]["AllowedOrigins"] == [
        "https://theirs.example"
    ]


def test_the_cors_origins_are_the_stacks_own_page():
    assert s3.cors_origins("0.0.0.0", 8000) == ["http://127.0.0.1:8000", "http://localhost:8000"]
    assert s3.cors_origins("192.168.1.5", 9000) == ["http://192.168.1.5:9000"]
    assert s3.cors_origins("fd00::5", 80) == ["http://[fd00::5]:80"]


def test_the_files_are_saved_and_put_back_by_another_run(moto, tmp_path, monkeypatch):
    _bucket()
    client = _client(moto.url)
    _post(_form(client, "attachments/c/pending"), b"\x89PNG not attached")
    client.put_object(
        Bucket=BUCKET, Key="attachments/c/kept", Body=b"\x00\xff" * 1000, ContentType="text/plain"
    )
    client.put_object(Bucket=BUCKET, Key="attachments/c/gone", Body=b"deleted before the save")
    folder = tmp_path / "s3"
    store = RemoteObjectStore(moto, folder)
    assert store.restore() is None  # nothing saved yet
    assert store.save_if_changed() is False  # nothing written since the restore
    client.delete_object(Bucket=BUCKET, Key="attachments/c/gone")
    assert store.save_if_changed() is True
    assert store.save_if_changed() is False
    manifest = json.loads((folder / "objects.json").read_text())
    assert sorted(o["key"] for o in manifest["buckets"][BUCKET]) == [
        "attachments/c/kept",
        "attachments/c/pending",
    ]
    assert len(list((folder / "blobs").iterdir())) == 2

    client.delete_object_tagging(Bucket=BUCKET, Key="attachments/c/pending")
    client.put_object_tagging(
        Bucket=BUCKET, Key="attachments/c/kept", Tagging={"TagSet": [{"Key": "pending", "Value": "true"}]}
    )
    client.put_object(Bucket=BUCKET, Key="attachments/c/kept2", Body=b"\x00\xff" * 1000)  # same content
    client.delete_object(Bucket=BUCKET, Key="attachments/c/kept2")
    moto.stop()  # the child saves on its way out

    again = MotoProcess.start("127.0.0.1")
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", again.url)
        _bucket()
        restored = RemoteObjectStore(again, folder).restore()
        assert restored is not None and (restored.objects, restored.buckets) == (2, 1)
        client = _client(again.url)
        kept = client.get_object(Bucket=BUCKET, Key="attachments/c/kept")
        assert kept["Body"].read() == b"\x00\xff" * 1000 and kept["ContentType"] == "text/plain"
        pending = client.get_object(Bucket=BUCKET, Key="attachments/c/pending")
        assert pending["Body"].read() == b"\x89PNG not attached" and pending["ContentType"] == "image/png"
        tagged = client.get_object_tagging(Bucket=BUCKET, Key="attachments/c/kept")["TagSet"]
        assert tagged == [{"Key": "pending", "Value": "true"}]
        assert client.get_object_tagging(Bucket=BUCKET, Key="attachments/c/pending")["TagSet"] == []
    finally:
        again.stop()


def test_a_bucket_this_run_lacks_is_dropped_and_said(moto, tmp_path, monkeypatch):
    _bucket()
    _client(moto.url).put_object(Bucket=BUCKET, Key="k", Body=b"x")
    store = RemoteObjectStore(moto, tmp_path)
    store.restore()
    _client(moto.url).put_object(Bucket=BUCKET, Key="k2", Body=b"y")
    assert store.save_if_changed()
    moto.stop()
    again = MotoProcess.start("127.0.0.1")
    try:
        restored = RemoteObjectStore(again, tmp_path).restore()
        assert restored is not None
        assert (restored.objects, restored.buckets, restored.missing_buckets) == (0, 0, (BUCKET,))
    finally:
        again.stop()


def test_unreadable_saved_files_stop_the_stack_with_their_message(moto, tmp_path):
    (tmp_path / "objects.json").write_text("{not json")
    with pytest.raises(StartupError, match="cannot read the saved files"):
        RemoteObjectStore(moto, tmp_path).restore()
    (tmp_path / "objects.json").write_text(
        json.dumps(
            {"format": s3.FORMAT, "version": s3.VERSION, "buckets": {BUCKET: [{"key": "k", "blob": "../x"}]}}
        )
    )
    _bucket()
    with pytest.raises(StartupError, match="not one of ours"):
        RemoteObjectStore(moto, tmp_path).restore()


def test_clean_data_removes_the_saved_files(tmp_path):
    folder = DataDir.open(tmp_path / "data")
    store = s3.ObjectStore(folder.objects_folder)
    (store.blobs).mkdir(parents=True)
    (store.blobs / ("0" * 32)).write_bytes(b"x")
    store.file.write_text("{}")
    folder.close()
    removed = clean(tmp_path / "data")
    assert store.file in removed and store.blobs / ("0" * 32) in removed
    assert not (tmp_path / "data").exists()


def test_parse_tagging():
    assert s3.parse_tagging(PENDING) == {"pending": "true"}
    from moto.s3.exceptions import MalformedXML

    with pytest.raises(MalformedXML):
        s3.parse_tagging("<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>")
