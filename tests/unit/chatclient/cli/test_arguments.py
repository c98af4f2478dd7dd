"""The CLI's argument parsing: create's members and title, rename's title, register-device."""

from __future__ import annotations

import json

import pytest

from chatclient.cli.arguments import UsageError, parse_create, parse_register, parse_title
from tests.unit.chatclient.fake_server import SUBSCRIPTION


def test_one_shot_create_takes_title_before_or_after_the_members_and_a_quoted_title():
    assert parse_create(["--title", "Weekend trip", "bob", "carol"], "chat create") == (
        ["bob", "carol"],
        "Weekend trip",
    )
    assert parse_create('bob --title="Weekend trip"') == (["bob"], "Weekend trip")
    assert parse_create("bob -t Trip carol") == (["bob", "carol"], "Trip")
    assert parse_title(["New", "name"], "/rename") == "New name"
    assert parse_title(["--title", "New name"], "/rename") == "New name"
    assert parse_title([], "/rename") is None


def test_parse_create_takes_both_title_spellings():
    assert parse_create("bob carol -- Weekend trip") == (["bob", "carol"], "Weekend trip")
    assert parse_create("bob --title Weekend") == (["bob"], "Weekend")
    assert parse_create("bob") == (["bob"], None)


def test_parse_register_reads_the_platform_token_preview_and_a_webpush_subscription():
    assert parse_register(["apns", "tok"]) == ("apns", "tok", None, True)
    assert parse_register(["fcm", "--no-preview", "tok"]) == ("fcm", "tok", None, False)
    assert parse_register(["webpush", json.dumps(SUBSCRIPTION)]) == ("webpush", None, SUBSCRIPTION, True)
    for words in (["apns"], ["apns", "a", "b"], []):
        with pytest.raises(UsageError, match="usage: chat register-device PLATFORM TOKEN"):
            parse_register(words)
    for bad in ("not json", '"a string"'):
        with pytest.raises(UsageError, match="subscription as JSON"):
            parse_register(["webpush", bad])
