"""The Sans-I/O parts of sending a file (chatclient.files.form): the checks before any request,
the multipart body of the presigned POST, and the decisions after a failed upload."""

from __future__ import annotations

import io

import pytest

from chatclient.files.form import (
    MAX_SIZE,
    FileChanged,
    Multipart,
    Next,
    UploadRetry,
    form_fields,
    outgoing,
)

FIELDS = {
    "Content-Type": "image/png",
    "success_action_status": "204",
    "tagging": "<Tagging><TagSet><Tag><Key>pending</Key><Value>true</Value></Tag></TagSet></Tagging>",
    "key": "attachments/c_1/a_1",
    "policy": "eyJleHBpcmF0aW9uIjo=",
    "x-amz-signature": "abc123",
}


def parse(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """A multipart/form-data body's parts: headers and content, strictly (RFC 7578 framing)."""
    delimiter = f"--{boundary}".encode()
    assert body.startswith(delimiter + b"\r\n") and body.endswith(b"\r\n" + delimiter + b"--\r\n")
    inner = body[len(delimiter) + 2 : -(len(delimiter) + 6)]
    parts = []
    for raw in inner.split(b"\r\n" + delimiter + b"\r\n"):
        head, _, content = raw.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        parts.append((headers, content))
    return parts


def body_of(form: Multipart, data: bytes, chunk: int = 1 << 20) -> bytes:
    return b"".join(form.chunks(io.BytesIO(data), chunk))


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_the_body_has_every_form_field_in_order_then_the_file_last_byte_for_byte(chunk):
    data = b"\x89PNG\r\n\x1a\n" + b"\r\n--not-the-boundary--\r\n" + bytes(range(256)) * 3
    form = Multipart(FIELDS, "cat.png", "image/png", len(data))
    body = body_of(form, data, chunk)
    assert len(body) == form.length
    assert form.header == f"multipart/form-data; boundary={form.boundary}"
    parts = parse(body, form.boundary)
    names = [headers["Content-Disposition"] for headers, _ in parts]
    file_part = 'form-data; name="file"; filename="cat.png"'
    assert names == [*(f'form-data; name="{key}"' for key in FIELDS), file_part]
    assert [content.decode() for _, content in parts[:-1]] == list(FIELDS.values())
    assert parts[-1][0]["Content-Type"] == "image/png"
    assert parts[-1][1] == data


def test_a_name_with_quotes_line_breaks_or_any_script_stays_one_parameter():
    form = Multipart({"key": "k"}, 'say "hi"\r\n.txt', "text/plain", 1)
    assert b'filename="say %22hi%22%0D%0A.txt"' in form.head
    form = Multipart({"key": "k"}, "фото 🐱.jpg", "image/jpeg", 1)
    assert 'filename="фото 🐱.jpg"'.encode() in form.head


def test_each_upload_has_its_own_boundary_and_a_field_holding_it_is_refused():
    first, second = Multipart({}, "a", "text/plain", 1), Multipart({}, "a", "text/plain", 1)
    assert first.boundary != second.boundary and len(first.boundary) >= 32
    with pytest.raises(ValueError, match="boundary"):
        Multipart({"key": "--x"}, "a", "text/plain", 1, boundary="x")
    with pytest.raises(ValueError, match="'file'"):
        Multipart({"file": "x"}, "a", "text/plain", 1)


def test_a_file_that_changed_size_since_its_check_stops_the_body():
    form = Multipart(FIELDS, "a.bin", "application/octet-stream", 10)
    with pytest.raises(FileChanged, match="shorter"):
        body_of(form, b"123456789")
    with pytest.raises(FileChanged, match="longer"):
        body_of(form, b"12345678901")


def test_outgoing_guesses_the_type_from_the_name_and_keeps_a_given_one(tmp_path):
    guesses = (("a.jpg", "image/jpeg"), ("b.PDF", "application/pdf"), ("noext", "application/octet-stream"))
    for name, expected in guesses:
        path = tmp_path / name
        path.write_bytes(b"x")
        file = outgoing(path)
        assert (file.name, file.content_type, file.size, file.path) == (name, expected, 1, str(path))
    assert outgoing(tmp_path / "a.jpg", "Image/WebP").content_type == "image/webp"


def test_outgoing_refuses_what_the_server_would_with_the_reason(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    big = tmp_path / "big"
    with open(big, "wb") as file:
        file.truncate(MAX_SIZE + 1)
    ok = tmp_path / "ok.txt"
    ok.write_bytes(b"x")
    cases = [
        (tmp_path / "missing", None, None, "no file"),
        (tmp_path, None, None, "not a regular file"),
        (tmp_path / "empty", None, None, "is empty"),
        (big, None, None, "26,214,401 bytes: files are at most 26,214,400 bytes"),
        (ok, "image", None, "type/subtype"),
        (ok, "text/plain; charset=utf-8", None, "type/subtype"),
        (ok, None, "x" * 201, "1 to 200 characters"),
        (ok, None, "line\nbreak", "no control characters"),
        (ok, None, "", "1 to 200 characters"),
    ]
    for path, kind, name, said in cases:
        with pytest.raises(ValueError, match=said):
            outgoing(path, kind, name)


def test_a_file_of_exactly_25_mib_is_accepted(tmp_path):
    path = tmp_path / "exact"
    with open(path, "wb") as file:
        file.truncate(MAX_SIZE)
    assert outgoing(path).size == MAX_SIZE


def test_the_servers_form_must_have_an_http_url_and_fields():
    assert form_fields({"url": "http://127.0.0.1:1/b", "fields": {"key": "k", "n": 1}}) == (
        "http://127.0.0.1:1/b",
        {"key": "k", "n": "1"},
    )
    for bad in ({"url": "file:///etc/passwd", "fields": {}}, {"url": "https://s3/", "fields": None}, {}):
        with pytest.raises(ValueError, match="upload form"):
            form_fields(bad)


def test_transient_failures_post_the_same_form_until_too_many():
    retry = UploadRetry(expires_at=1000.0, max_failures=3)
    assert [retry.after(status, now=0.0) for status in (None, 503, 500)] == [Next.SAME_FORM] * 3
    assert retry.after(429, now=0.0) is Next.GIVE_UP


def test_a_form_about_to_expire_or_expired_is_replaced_a_few_times_at_most():
    retry = UploadRetry(expires_at=100.0, margin=30.0, max_forms=3)
    assert retry.after(None, now=69.0) is Next.SAME_FORM
    assert retry.after(None, now=71.0) is Next.NEW_FORM  # transient, but the form ends soon
    retry.renewed(1000.0)
    assert retry.after(None, now=72.0) is Next.SAME_FORM
    assert retry.after(403, now=73.0, code="AccessDenied", message="Policy expired.") is Next.NEW_FORM
    retry.renewed(2000.0)
    assert retry.after(400, now=74.0, code="ExpiredToken") is Next.GIVE_UP  # a third form was the last


def test_a_refusal_gives_up_at_once():
    for status, code in ((403, "AccessDenied"), (400, "EntityTooLarge"), (404, "NoSuchBucket")):
        assert UploadRetry(expires_at=1000.0).after(status, now=0.0, code=code) is Next.GIVE_UP
