"""ChatClient's requests against a scripted in-memory server (no sockets): which send errors
are retried; the version 2 requests: direct chats, membership changes and their system
messages, paged chat lists, history paging, leaving; devices and muted chats."""

from __future__ import annotations

import pytest

from chatclient import UNSET, ChatError, ChatPage, Device, Members, Message
from chatclient.cli.output import chat_line, device_line, message_text
from tests.unit.chatclient.fake_server import (
    ME,
    SUBSCRIPTION,
    FakeServer,
    client_for,
    reconnect,
    requests,
    run,
    settle,
)


@pytest.mark.parametrize("code", ["bad_request", "forbidden", "not_found", "too_large"])
def test_send_does_not_retry_errors_that_would_fail_again(code):
    server = FakeServer()
    server.fail_sends = [code]

    async def scenario():
        client = client_for(server)
        await client.start()
        with pytest.raises(ChatError) as failed:
            await client.send("c1", "x")
        await client.close()
        return failed.value.code, len(requests(server, "message.send"))

    assert run(scenario()) == (code, 1)


def test_send_retries_unavailable_with_the_same_client_msg_id():
    server = FakeServer()
    server.fail_sends = ["unavailable", "rate_limited"]

    async def scenario():
        client = client_for(server)
        await client.start()
        ack = await client.send("c1", "x")
        await client.close()
        return ack, [r["client_msg_id"] for r in requests(server, "message.send")]

    ack, sends = run(scenario())
    assert ack.seq == 1 and len(sends) == 3 and len(set(sends)) == 1
    assert len(server.messages["c1"]) == 1


def test_create_direct_asks_for_a_direct_chat_and_gets_the_same_one_twice():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        await client.start()
        first = await client.create_direct("bob")
        again = await client.create_direct("bob")
        with pytest.raises(ValueError):
            await client.create_direct("")
        await client.close()
        return client.user_id, first, again

    me, first, again = run(scenario())
    assert me == ME
    assert requests(server, "chat.create")[0] | {"req": None} == {
        "action": "chat.create",
        "members": ["bob"],
        "direct": True,
        "req": None,
    }
    assert first.kind == "direct" and first.chat_id == again.chat_id and first.display_name(ME) == "bob"
    assert first.chat_id != "c1"  # c1 is a group of the same two people


def test_members_add_remove_and_their_frames():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        await client.start()
        added = await client.add_members("c1", ["carol", "dave"])
        removed = await client.remove_members("c1", ["dave"])
        members = await client.members("c1")
        with pytest.raises(TypeError):
            await client.add_members("c1", "carol")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            await client.remove_members("c1", [])
        await client.close()
        return added, removed, members

    added, removed, members = run(scenario())
    assert added.member_count == 4 and removed.member_count == 3
    assert members == Members("c1", ("alice", "bob", "carol"), ("alice",))
    sent = [
        (r["action"], r.get("members")) for r in server.requests if r["action"] in ("chat.add", "chat.remove")
    ]
    assert sent == [("chat.add", ["carol", "dave"]), ("chat.remove", ["dave"])]


def test_update_chat_tells_title_not_given_from_title_cleared():
    server = FakeServer()
    server.info["c1"]["title"] = "Weekend"

    async def scenario():
        client = client_for(server)
        await client.start()
        renamed = await client.update_chat("c1", title="Trip")
        admins_only = await client.update_chat("c1", admins=["alice", "bob"])
        cleared = await client.update_chat("c1", title=None)
        with pytest.raises(ValueError):
            await client.update_chat("c1")
        with pytest.raises(ValueError):
            await client.update_chat("c1", title=UNSET)
        await client.close()
        return renamed, admins_only, cleared

    renamed, admins_only, cleared = run(scenario())
    updates = [
        {k: v for k, v in r.items() if k not in ("req", "action")} for r in requests(server, "chat.update")
    ]
    assert updates == [
        {"chat_id": "c1", "title": "Trip"},
        {"chat_id": "c1", "admins": ["alice", "bob"]},  # no "title": it stays "Trip"
        {"chat_id": "c1", "title": None},
    ]
    assert renamed.title == "Trip" and admins_only.title == "Trip" and admins_only.admins == ("alice", "bob")
    assert cleared.title is None


def test_not_an_admin_is_refused_with_the_servers_forbidden():
    server = FakeServer()
    server.info["c1"]["admins"] = ["bob"]

    async def scenario():
        client = client_for(server)
        await client.start()
        with pytest.raises(ChatError) as refused:
            await client.add_members("c1", ["carol"])
        await client.close()
        return refused.value

    refused = run(scenario())
    assert refused.code == "forbidden" and "admin" in refused.message
    assert server.joined["c1"] == {"alice": 0, "bob": 0}


def test_own_membership_change_delivers_its_system_message_once_in_order():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        await client.start()
        in_chat: list[Message] = []
        await client.open_chat("c1", in_chat.append)
        await client.add_members("c1", ["carol"])  # stored as seq 1; not pushed to us
        delivered_by_the_reply = [m.seq for m in in_chat]
        reply = server.store("c1")  # bob answers: seq 2, pushed
        server.connections[-1].push({"event": "chat:message", "message": reply})
        await settle()
        await client.close()
        return delivered_by_the_reply, in_chat

    delivered_by_the_reply, in_chat = run(scenario())
    assert delivered_by_the_reply == [1]  # by the time add_members returns
    assert [(m.seq, m.kind) for m in in_chat] == [(1, "system"), (2, "text")]
    assert message_text(in_chat[0]) == "* alice added carol"


def test_list_chats_follows_next_cursor_to_the_last_page():
    server = FakeServer()
    for n in range(2, 6):
        server.add_chat(f"c{n}", [ME, "bob"])
    server.page_size = 2

    async def scenario():
        client = client_for(server)
        await client.start()
        before = len(requests(server, "chat.list"))
        chats = await client.list_chats()
        calls = requests(server, "chat.list")[before:]
        first = await client.list_chats_page(limit=2)
        await client.close()
        return chats, calls, first

    chats, calls, first = run(scenario())
    assert [c.chat_id for c in chats] == ["c1", "c2", "c3", "c4", "c5"]
    assert [c.get("cursor") for c in calls] == [None, "2", "4"]
    assert isinstance(first, ChatPage) and [c.chat_id for c in first.chats] == ["c1", "c2"]
    assert first.next_cursor == "2"


def test_history_pages_go_back_while_has_more_even_when_a_page_is_short():
    server = FakeServer()
    for _ in range(7):
        server.store("c1")
    server.history_cap = 2  # the server cuts pages short (frames stay within 128 KiB)

    async def scenario():
        client = client_for(server)
        await client.start()
        pages = [[m.seq for m in page] async for page in client.history_pages("c1", limit=3)]
        await client.close()
        return pages

    assert run(scenario()) == [[6, 7], [4, 5], [2, 3], [1]]


def test_open_chat_refused_leaves_no_handler_behind():
    server = FakeServer()
    server.add_chat("c9", ["bob", "carol"])

    async def scenario():
        client = client_for(server)
        await client.start()
        with pytest.raises(ChatError) as refused:
            await client.open_chat("c9", print)
        await client.close()
        return refused.value.code, client.open_chats

    assert run(scenario()) == ("forbidden", [])


def test_leave_forgets_the_chat_and_it_is_not_reopened_after_a_reconnect():
    server = FakeServer()
    server.add_chat("c2", [ME, "bob"])

    async def scenario():
        client = client_for(server)
        await client.start()
        await client.open_chat("c1", print)
        await client.leave("c1")
        opens_before = len(requests(server, "chat.open"))
        await reconnect(client, server, lambda: server.store("c1"))
        await client.close()
        return client.open_chats, len(requests(server, "chat.open")) - opens_before

    open_chats, reopened = run(scenario())
    assert open_chats == [] and reopened == 0
    assert [r for r in requests(server, "chat.history") if r["chat_id"] == "c1"] == []


def test_register_device_sends_the_contract_fields_and_a_token_registered_again_keeps_its_id():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        await client.start()
        phone = await client.register_device("apns", token="apns-token-1", preview=False)
        browser = await client.register_device("webpush", subscription=SUBSCRIPTION)
        again = await client.register_device("apns", token="apns-token-1", preview=False)
        listed = await client.devices()
        await client.close()
        return phone, browser, again, listed

    phone, browser, again, listed = run(scenario())
    sent = requests(server, "device.register")
    assert [{k: v for k, v in r.items() if k != "req"} for r in sent[:2]] == [
        {"action": "device.register", "platform": "apns", "token": "apns-token-1", "preview": False},
        {
            "action": "device.register",
            "platform": "webpush",
            "subscription": {"endpoint": SUBSCRIPTION["endpoint"], "keys": SUBSCRIPTION["keys"]},
            "preview": True,
        },
    ]
    assert phone == Device("dv_1", "apns", False, "2026-11-27T10:00:00.000Z")
    assert (browser.platform, browser.preview) == ("webpush", True)
    assert again == phone
    assert listed == [phone, browser]
    assert device_line(phone) == "  dv_1 apns (no preview) since 2026-11-27T10:00:00.000Z"


def test_unregister_device_forgets_it_and_an_unknown_id_is_the_servers_not_found():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        await client.start()
        device = await client.register_device("fcm", token="fcm-token")
        await client.unregister_device(device.device_id)
        left = await client.devices()
        with pytest.raises(ChatError) as refused:
            await client.unregister_device(device.device_id)
        await client.close()
        return left, refused.value

    left, refused = run(scenario())
    assert left == []
    assert refused.code == "not_found" and not refused.retryable


@pytest.mark.parametrize(
    ("args", "error", "says"),
    [
        (("sms",), ValueError, "platform must be one of apns, fcm, webpush"),
        (("apns",), ValueError, "needs token="),
        (("fcm", ""), ValueError, "needs token="),
        (("apns", "t", SUBSCRIPTION), ValueError, "by token=, not subscription="),
        (("webpush", "t"), ValueError, "by subscription=, not token="),
        (("webpush",), TypeError, "subscription= must be a dict"),
        (("webpush", None, {"keys": SUBSCRIPTION["keys"]}), ValueError, "no 'endpoint'"),
        (("webpush", None, {"endpoint": "https://x", "keys": {"auth": "a"}}), ValueError, "keys.p256dh"),
        (("apns", "t", None, "no"), TypeError, "preview must be True or False"),
    ],
)
def test_register_device_refuses_what_the_server_would_before_sending(args, error, says):
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        await client.start()
        with pytest.raises(error, match=says):
            await client.register_device(*args)
        await client.close()

    run(scenario())
    assert requests(server, "device.register") == []


def test_a_platform_the_server_has_no_push_for_is_its_bad_request():
    server = FakeServer()
    server.platforms = {"webpush"}

    async def scenario():
        client = client_for(server)
        await client.start()
        with pytest.raises(ChatError) as refused:
            await client.register_device("apns", token="t")
        await client.close()
        return refused.value

    refused = run(scenario())
    assert (refused.code, refused.message) == ("bad_request", "push to apns is not configured")


def test_mute_and_unmute_show_in_the_chat_list():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        await client.start()
        muted = await client.mute("c1")
        listed_muted = await client.list_chats()
        unmuted = await client.mute("c1", muted=False)
        listed_unmuted = await client.list_chats()
        with pytest.raises(TypeError):
            await client.mute("c1", "yes")  # type: ignore[arg-type]
        server.add_chat("c9", ["bob", "carol"])
        with pytest.raises(ChatError) as refused:
            await client.mute("c9")
        await client.close()
        return muted, listed_muted, unmuted, listed_unmuted, refused.value

    muted, listed_muted, unmuted, listed_unmuted, refused = run(scenario())
    assert (muted, unmuted) == (True, False)
    assert [c.muted for c in listed_muted] == [True] and [c.muted for c in listed_unmuted] == [False]
    assert chat_line(listed_muted[0], ME) == "c1 bob (muted)"
    assert chat_line(listed_unmuted[0], ME) == "c1 bob"
    assert refused.code == "forbidden"
    sent = [(r["chat_id"], r["muted"]) for r in requests(server, "chat.mute")]
    assert sent == [("c1", True), ("c1", False), ("c9", True)]  # "yes" was never sent
