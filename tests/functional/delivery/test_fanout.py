"""Fan-out posts run in parallel, with bounded concurrency."""

from __future__ import annotations

import pytest

import app as chalice_app
from chalicelib import runtime
from chalicelib.testing import FakeManagementApi, Harness
from tests.functional.conftest import build_service


@pytest.mark.parametrize("concurrency", [8, 32])
def test_send_to_50_connections_overlaps_posts_within_the_bound(tables, concurrency):
    api = FakeManagementApi()
    runtime.use_service(build_service(api, concurrency=concurrency))
    try:
        harness = Harness(chalice_app, api)
        alice = harness.connect("alice")
        users = [f"u{i}" for i in range(25)]
        receivers = [harness.connect(u) for u in users for _ in range(2)]  # 50 connections
        chat_id = harness.chat(alice, *users)
        api.delay = (
            0.1  # each post now takes 100 ms: long enough for every worker to start, even on a busy machine
        )
        api.max_active = 0

        ack = alice.send("message.send", chat_id=chat_id, client_msg_id="k", text="to fifty")

        assert ack["event"] == "message:ack"
        assert all(len(r.frames()) == 2 for r in receivers)  # chat:added + the message
        # 50 posts of 100 ms in a row would take 5 s; they overlapped instead, up to the bound.
        assert api.max_active == concurrency
    finally:
        runtime.use_service(None)
