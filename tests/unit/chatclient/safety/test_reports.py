"""``ChatClient.report`` (message.report) on the scripted in-memory server: what it sends, and
what it refuses before sending."""

from __future__ import annotations

import pytest

from chatclient import ChatClient, ChatError, Reporting
from tests.unit.chatclient.fake_server import ME, FakeServer, client_for, requests, run


def _with_client(server: FakeServer, body):  # type: ignore[no-untyped-def]
    async def scenario():
        client = client_for(server)
        await client.start()
        try:
            return await body(client)
        finally:
            await client.close()

    return run(scenario())


def test_report_is_a_method_of_the_client_from_its_own_module():
    assert issubclass(ChatClient, Reporting) and ChatClient.report is Reporting.report


def test_report_sends_chat_seq_and_a_reason_only_when_given():
    server = FakeServer()
    server.store("c1")

    async def body(client: ChatClient) -> None:
        assert await client.report("c1", 1, "spam") is None
        await client.report("c1", 1)
        await client.report("c1", 1, "  ")

    _with_client(server, body)
    assert [
        {k: r.get(k) for k in ("chat_id", "seq", "reason")} for r in requests(server, "message.report")
    ] == [
        {"chat_id": "c1", "seq": 1, "reason": "spam"},
        {"chat_id": "c1", "seq": 1, "reason": None},
        {"chat_id": "c1", "seq": 1, "reason": None},
    ]


def test_the_servers_refusals_are_chat_errors():
    server = FakeServer()
    server.store("c1", sender=ME)

    async def body(client: ChatClient) -> list[str]:
        codes = []
        for seq in (1, 5):
            with pytest.raises(ChatError) as refused:
                await client.report("c1", seq)
            codes.append(refused.value.code)
        return codes

    assert _with_client(server, body) == ["bad_request", "not_found"]


@pytest.mark.parametrize(
    ("seq", "reason", "error"),
    [
        (0, None, ValueError),
        (True, None, ValueError),
        ("1", None, ValueError),
        (1, 5, TypeError),
        (1, "x" * 501, ValueError),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(seq, reason, error):
    server = FakeServer()
    server.store("c1")

    async def body(client: ChatClient) -> None:
        with pytest.raises(error):
            await client.report("c1", seq, reason)

    _with_client(server, body)
    assert requests(server, "message.report") == []
