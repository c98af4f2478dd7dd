"""The blocking HTTP of files (chatclient.files.transfer) against a small HTTP server on
127.0.0.1: the upload's body arrives whole with its Content-Length, S3's refusals are read,
a download is written only when complete, and where it goes."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from chatclient.files.form import Multipart
from chatclient.files.transfer import TransferError, destination, fetch, post_form, s3_error, safe_name

ERROR = b"<Error><Code>AccessDenied</Code><Message>Policy expired.</Message></Error>"


class Handler(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]
    answers: list[tuple[int, bytes, int | None]]  # status, body, Content-Length claimed

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append((dict(self.headers), self.rfile.read(length)))
        self.answer()

    def do_GET(self) -> None:
        self.answer()

    def answer(self) -> None:
        status, body, claimed = self.answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) if claimed is None else claimed))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[type[Handler]]:
    handler = type("H", (Handler,), {"received": [], "answers": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{httpd.server_address[1]}/"  # type: ignore[attr-defined]
    yield handler
    httpd.shutdown()
    httpd.server_close()


def test_an_upload_streams_the_whole_body_with_its_length(server, tmp_path):
    data = bytes(range(256)) * 5000
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    form = Multipart({"key": "k", "policy": "p"}, "f.bin", "application/octet-stream", len(data))
    server.answers.append((204, b"", None))
    post_form(server.url, form, str(path))
    [(headers, body)] = server.received
    assert headers["Content-Type"] == form.header
    assert int(headers["Content-Length"]) == form.length == len(body)
    assert body == form.head + data + form.tail


def test_an_upload_refused_says_s3s_code_and_status(server, tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"x")
    server.answers.append((403, ERROR, None))
    with pytest.raises(TransferError) as refused:
        post_form(server.url, Multipart({}, "f.txt", "text/plain", 1), str(path))
    said = (refused.value.status, refused.value.code, refused.value.detail)
    assert said == (403, "AccessDenied", "Policy expired.")
    assert "HTTP 403 (AccessDenied Policy expired.)" in str(refused.value)


def test_an_upload_to_nobody_is_a_failure_without_status(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"x")
    with pytest.raises(TransferError) as failed:
        post_form("http://127.0.0.1:9/", Multipart({}, "f.txt", "text/plain", 1), str(path), timeout=5)
    assert failed.value.status is None


def test_a_download_is_written_whole_or_not_at_all(server, tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    server.answers.append((200, b"new content", None))
    assert fetch(server.url, str(target), 11) == 11
    assert target.read_bytes() == b"new content"
    server.answers += [(403, ERROR, None), (200, b"short", 10)]
    with pytest.raises(TransferError, match="HTTP 403"):
        fetch(server.url, str(target), 11)
    with pytest.raises(TransferError):
        fetch(server.url, str(target), 10)  # the connection ends before 10 bytes
    assert target.read_bytes() == b"new content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]  # no partial file left


def test_a_download_of_another_size_than_announced_is_refused(server, tmp_path):
    server.answers.append((200, b"12345", None))
    with pytest.raises(TransferError, match="5 of 6 bytes"):
        fetch(server.url, str(tmp_path / "x"), 6)
    assert list(tmp_path.iterdir()) == []


def test_a_download_into_a_folder_takes_the_files_name_and_never_overwrites(tmp_path):
    assert destination("photo.jpg", "a_1", tmp_path) == str(tmp_path / "photo.jpg")
    (tmp_path / "photo.jpg").write_bytes(b"")
    (tmp_path / "photo (1).jpg").write_bytes(b"")
    assert destination("photo.jpg", "a_1", tmp_path) == str(tmp_path / "photo (2).jpg")
    assert destination("../../etc/passwd", "a_1", tmp_path) == str(tmp_path / "_.._etc_passwd")
    assert destination("..", "a_1", tmp_path) == str(tmp_path / "a_1")
    assert destination("x", "a_1", tmp_path / "given.bin") == str(tmp_path / "given.bin")
    with pytest.raises(ValueError, match="no folder"):
        destination("x", "a_1", tmp_path / "missing" / "given.bin")


def test_names_become_one_path_component():
    assert safe_name("a/b\\c\x00d.txt", "f") == "a_b_c_d.txt"
    assert safe_name(".hidden", "f") == "hidden"
    assert safe_name("...", "f") == "f"


def test_s3_errors_are_read_from_their_xml():
    assert s3_error(ERROR) == ("AccessDenied", "Policy expired.")
    assert s3_error(b"not xml") == ("", "")
