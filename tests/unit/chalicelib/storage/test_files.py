"""The attachments bucket's small rules (chalicelib/storage/files.py): what counts as no object,
and the file name a download link gives."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from chalicelib.domain.errors import Unavailable
from chalicelib.storage.files import Files, content_disposition


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "HeadObject")


class _Head:
    def __init__(self, code: str) -> None:
        self.code = code

    def head_object(self, **_: object) -> dict:
        raise _error(self.code)


@pytest.mark.parametrize("code", ["404", "NoSuchKey", "403", "AccessDenied"])
def test_a_missing_object_is_none_even_as_s3_answers_it_without_list_bucket(code):
    assert Files("b", lambda: _Head(code)).stat(["k"]) == {"k": None}


@pytest.mark.parametrize("code", ["500", "SlowDown", "InternalError"])
def test_other_failures_are_unavailable(code):
    with pytest.raises(Unavailable):
        Files("b", lambda: _Head(code)).stat(["k"])


def test_the_download_names_the_file_in_ascii_and_utf8():
    value = content_disposition('été "plan".pdf')
    assert value == "attachment; filename=\"_t_ _plan_.pdf\"; filename*=UTF-8''%C3%A9t%C3%A9%20%22plan%22.pdf"
