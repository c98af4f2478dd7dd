"""The client's delivery and retry rules against a scripted in-memory server (no sockets):
duplicates dropped, gaps filled in order, own sends not echoed, which errors are retried; and
the version 2 rules: direct chats, membership changes and their system messages, paged chat
lists, history paging, and resync when chats were added or removed while the client was away.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from typing import Any

import pytest
import websockets

from chatclient import (
    UNSET,
    AuthError,
    Backoff,
    CannotConnect,
    Chat,
    ChatClient,
    ChatError,
    ChatPage,
    Device,
    Members,
    Message,
    Opened,
    Pointers,
    ProtocolViolation,
)
from chatclient.cli.arguments import HELP, INTERACTIVE, UsageError, parse_create, parse_register, parse_title
from chatclient.cli.commands import find_chat
from chatclient.cli.output import chat_line, device_line, message_text, plural
from chatclient.cli.program import CliFailure, dev_token, failure_line
from chatclient.cli.shell import Shell
from chatclient.delivery import follow_pages
from chatclient.models import Ack
from chatclient.token import token_subject

ME = "alice"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def fake_jwt(sub: str) -> str:
    return f"{_b64({'alg': 'HS256'})}.{_b64({'sub': sub, 'exp': 2_000_000_000})}.signature"


def _message(chat_id: str, seq: int, sender: str = "bob", cmid: str | None = None) -> dict[str, Any]:
    return {
        "chat_id": chat_id,
        "seq": seq,
        "message_id": f"m{seq}",
        "client_msg_id": cmid or f"k{seq}",
        "sender_id": sender,
        "text": f"text {seq}",
        "sent_at": "2026-11-24T10:00:00.000Z",
        "kind": "text",
    }


class FakeServer:
    """Enough of protocol v2 for the client, for the one user ``alice``: a member sees only the
    messages after the one that added her (a history request reaching back to or before it is
    refused, so a client that asks for it fails the test), non-members are refused."""

    def __init__(self) -> None:
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.joined: dict[str, dict[str, int]] = {}  # chat -> member -> joined_seq
        self.info: dict[str, dict[str, Any]] = {}  # chat -> kind, title, admins
        self.requests: list[dict[str, Any]] = []
        self.fail_sends: list[str] = []  # error codes to answer the next sends with
        self.connections: list[FakeWs] = []
        self.page_size = 100  # chat.list
        self.muted: set[str] = set()  # chats alice muted
        self.devices: dict[str, dict[str, Any]] = {}  # token (or endpoint) -> alice's device
        self.platforms = {"apns", "fcm", "webpush"}  # the platforms push is configured for
        self.history_cap = 100  # at most this many messages per history page (frame size)
        self.add_chat("c1", [ME, "bob"])

    async def connect(self, url: str, **_: Any) -> FakeWs:
        ws = FakeWs(self)
        self.connections.append(ws)
        return ws

    # -- the state, as tests change it -----------------------------------------------------------

    def add_chat(
        self, chat_id: str, members: list[str], kind: str = "group", title: str | None = None
    ) -> None:
        self.messages[chat_id] = []
        self.joined[chat_id] = {m: 0 for m in members}
        admins = [] if kind == "direct" else [members[0]]
        self.info[chat_id] = {"kind": kind, "title": title, "admins": admins}

    def store(self, chat_id: str, sender: str = "bob", cmid: str | None = None) -> dict[str, Any]:
        message = _message(chat_id, len(self.messages[chat_id]) + 1, sender, cmid)
        self.messages[chat_id].append(message)
        return message

    def store_system(
        self, chat_id: str, actor: str, type_: str, users: list[str], **more: Any
    ) -> dict[str, Any]:
        message = self.store(chat_id, actor, f"sys-{len(self.messages[chat_id]) + 1}")
        message.update(kind="system", system={"type": type_, "users": users, **more})
        message["text"] = f"{actor} {type_} {' '.join(users)}".strip()
        return message

    def add_member(self, chat_id: str, user: str, by: str = "bob") -> dict[str, Any]:
        message = self.store_system(chat_id, by, "added", [user])
        self.joined[chat_id][user] = message["seq"]
        return message

    def remove_member(self, chat_id: str, user: str, by: str = "bob") -> dict[str, Any]:
        message = self.store_system(chat_id, by, "left" if user == by else "removed", [user])
        del self.joined[chat_id][user]
        return message

    def chat(self, chat_id: str, user: str = ME) -> dict[str, Any]:
        messages = self.messages[chat_id]
        members = sorted(self.joined[chat_id])
        joined = self.joined[chat_id].get(user, 0)
        visible = [m for m in messages if m["seq"] > joined]
        return {
            "chat_id": chat_id,
            "title": self.info[chat_id]["title"],
            "members": members,
            "member_count": len(members),
            "kind": self.info[chat_id]["kind"],
            "admins": sorted(self.info[chat_id]["admins"]),
            "joined_seq": joined,
            "muted": chat_id in self.muted,
            "last_seq": len(messages),
            "last_message": visible[-1] if visible else None,
            "unread": 0,
            "read_seq": 0,
            "delivered_seq": 0,
        }

    # -- the protocol ----------------------------------------------------------------------------

    def reply(self, frame: dict[str, Any]) -> dict[str, Any]:
        action = frame["action"]
        handler = getattr(self, "do_" + action.replace(".", "_"), None)
        if handler is None:
            return {"event": "error", "code": "bad_request", "message": f"unknown action {action}"}
        chat_id = frame.get("chat_id")
        if chat_id is not None and chat_id not in self.messages:
            return {"event": "error", "code": "not_found", "message": f"no chat {chat_id}"}
        if chat_id is not None and ME not in self.joined[chat_id]:
            return {"event": "error", "code": "forbidden", "message": f"not a member of chat {chat_id}"}
        try:
            return dict(handler(frame))
        except ChatError as exc:
            return {"event": "error", "code": exc.code, "message": exc.message}

    def do_ping(self, frame: dict[str, Any]) -> dict[str, Any]:
        return {"event": "pong"}

    def do_chat_list(self, frame: dict[str, Any]) -> dict[str, Any]:
        mine = [c for c in self.messages if ME in self.joined[c]]
        start = int(frame.get("cursor", 0))
        end = start + min(int(frame.get("limit", 100)), self.page_size)
        chats = [self.chat(c) for c in mine[start:end]]
        return {"event": "chat:list", "chats": chats, "next_cursor": str(end) if end < len(mine) else None}

    def do_chat_history(self, frame: dict[str, Any]) -> dict[str, Any]:
        chat_id = frame["chat_id"]
        joined = self.joined[chat_id][ME]
        after, before = frame.get("after"), frame.get("before")
        if after is not None and after < joined:
            raise ChatError("forbidden", f"messages up to {joined} are not yours to see")
        visible = [m for m in self.messages[chat_id] if m["seq"] > joined]
        limit = min(frame.get("limit", 50), self.history_cap)
        if after is not None:
            page = [m for m in visible if m["seq"] > after][:limit]
            more = bool(page) and page[-1]["seq"] < len(self.messages[chat_id])
        else:
            older = [m for m in visible if before is None or m["seq"] < before]
            page = older[-limit:]
            more = len(older) > len(page)
        return {"event": "chat:history", "chat_id": chat_id, "messages": page, "has_more": more}

    def do_chat_open(self, frame: dict[str, Any]) -> dict[str, Any]:
        chat = self.chat(frame["chat_id"])
        visible = [m for m in self.messages[frame["chat_id"]] if m["seq"] > chat["joined_seq"]]
        return {
            "event": "chat:opened",
            "chat": chat,
            "messages": visible[-50:],
            "has_more": len(visible) > 50,
            "receipts_min": {"delivered_seq": 0, "read_seq": 0},
        }

    def do_chat_close(self, frame: dict[str, Any]) -> dict[str, Any]:
        return {"event": "chat:closed", "chat_id": frame["chat_id"]}

    def do_chat_create(self, frame: dict[str, Any]) -> dict[str, Any]:
        members = [ME, *frame["members"]]
        if frame.get("direct"):
            existing = [
                c
                for c in self.messages
                if self.info[c]["kind"] == "direct" and set(self.joined[c]) == set(members)
            ]
            if existing:
                return {"event": "chat:created", "chat": self.chat(existing[0])}
        chat_id = f"c{len(self.messages) + 1}"
        self.add_chat(chat_id, members, "direct" if frame.get("direct") else "group", frame.get("title"))
        return {"event": "chat:created", "chat": self.chat(chat_id)}

    def do_chat_members(self, frame: dict[str, Any]) -> dict[str, Any]:
        chat = self.chat(frame["chat_id"])
        return {
            "event": "chat:members",
            "chat_id": chat["chat_id"],
            "members": chat["members"],
            "admins": chat["admins"],
        }

    def _admin_only(self, chat_id: str) -> None:
        if ME not in self.info[chat_id]["admins"]:
            raise ChatError("forbidden", "only an admin of this chat can do that")

    def do_chat_add(self, frame: dict[str, Any]) -> dict[str, Any]:
        self._admin_only(frame["chat_id"])
        new = [u for u in frame["members"] if u not in self.joined[frame["chat_id"]]]
        if new:
            message = self.store_system(frame["chat_id"], ME, "added", new)
            self.joined[frame["chat_id"]].update({u: message["seq"] for u in new})
        return {"event": "chat:updated", "chat": self.chat(frame["chat_id"])}

    def do_chat_remove(self, frame: dict[str, Any]) -> dict[str, Any]:
        self._admin_only(frame["chat_id"])
        gone = [u for u in frame["members"] if u in self.joined[frame["chat_id"]]]
        if gone:
            self.store_system(frame["chat_id"], ME, "removed", gone)
            for user in gone:
                del self.joined[frame["chat_id"]][user]
        return {"event": "chat:updated", "chat": self.chat(frame["chat_id"])}

    def do_chat_leave(self, frame: dict[str, Any]) -> dict[str, Any]:
        self.remove_member(frame["chat_id"], ME, by=ME)
        return {"event": "chat:left", "chat_id": frame["chat_id"]}

    def do_chat_update(self, frame: dict[str, Any]) -> dict[str, Any]:
        self._admin_only(frame["chat_id"])
        change = {k: frame[k] for k in ("title", "admins") if k in frame}
        self.info[frame["chat_id"]].update(change)
        self.store_system(frame["chat_id"], ME, "updated", [], **change)
        return {"event": "chat:updated", "chat": self.chat(frame["chat_id"])}

    def do_message_send(self, frame: dict[str, Any]) -> dict[str, Any]:
        if self.fail_sends:
            raise ChatError(self.fail_sends.pop(0), "scripted")
        chat_id = frame["chat_id"]
        existing = [m for m in self.messages[chat_id] if m["client_msg_id"] == frame["client_msg_id"]]
        stored = existing[0] if existing else self.store(chat_id, ME, frame["client_msg_id"])
        fields = {k: stored[k] for k in ("chat_id", "client_msg_id", "seq", "message_id", "sent_at")}
        return {"event": "message:ack", **fields, "duplicate": bool(existing)}

    def do_chat_mute(self, frame: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(frame.get("muted"), bool):
            raise ChatError("bad_request", "'muted' must be true or false")
        (self.muted.add if frame["muted"] else self.muted.discard)(frame["chat_id"])
        return {"event": "chat:muted", "chat_id": frame["chat_id"], "muted": frame["muted"]}

    def do_device_register(self, frame: dict[str, Any]) -> dict[str, Any]:
        platform = frame.get("platform")
        if platform not in self.platforms:
            raise ChatError("bad_request", f"push to {platform} is not configured")
        key = frame["subscription"]["endpoint"] if platform == "webpush" else frame["token"]
        known = self.devices.get(key)
        device = {
            "device_id": known["device_id"] if known else f"dv_{len(self.devices) + 1}",
            "platform": platform,
            "preview": frame.get("preview", True),
            "registered_at": known["registered_at"]
            if known
            else f"2026-11-27T10:00:0{len(self.devices)}.000Z",
        }
        self.devices[key] = device
        return {"event": "device:registered", "device": device}

    def do_device_list(self, frame: dict[str, Any]) -> dict[str, Any]:
        devices = sorted(self.devices.values(), key=lambda d: d["registered_at"])
        return {"event": "device:list", "devices": devices}

    def do_device_unregister(self, frame: dict[str, Any]) -> dict[str, Any]:
        key = next((k for k, d in self.devices.items() if d["device_id"] == frame["device_id"]), None)
        if key is None:
            raise ChatError("not_found", f"no device {frame['device_id']} of yours")
        del self.devices[key]
        return {"event": "device:unregistered", "device_id": frame["device_id"]}

    def do_message_read(self, frame: dict[str, Any]) -> dict[str, Any]:
        return {
            "event": "receipt:ok",
            "chat_id": frame["chat_id"],
            "delivered_seq": frame["seq"],
            "read_seq": frame["seq"],
        }


class FakeWs:
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed = False

    async def send(self, raw: str) -> None:
        if self.closed:
            raise websockets.ConnectionClosedError(None, None)
        frame = json.loads(raw)
        self.server.requests.append(frame)
        if frame.get("action") != "typing":
            reply = self.server.reply(frame)
            if frame.get("req"):
                reply["req"] = frame["req"]
            self.inbox.put_nowait(json.dumps(reply))

    def push(self, frame: dict[str, Any]) -> None:
        self.inbox.put_nowait(json.dumps(frame))

    async def close(self) -> None:
        self.closed = True
        self.inbox.put_nowait(None)

    def __aiter__(self) -> FakeWs:
        return self

    async def __anext__(self) -> str:
        item = await self.inbox.get()
        if item is None:
            raise StopAsyncIteration
        return item


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coroutine, 10))


def client_for(server: FakeServer) -> ChatClient:
    return ChatClient(
        "ws://fake/ws", fake_jwt(ME), connect=server.connect, backoff=Backoff(0.001, 0.01), request_timeout=1
    )


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def reconnect(client: ChatClient, server: FakeServer, while_offline=lambda: None) -> None:  # type: ignore[no-untyped-def]
    """Drop the connection, change the server meanwhile, and wait for the client to resync."""
    before = client.connects
    await server.connections[-1].close()
    while_offline()
    while client.connects == before or client.state != "online":
        await asyncio.sleep(0.005)
    await settle()


def requests(server: FakeServer, action: str) -> list[dict[str, Any]]:
    return [r for r in server.requests if r["action"] == action]


# -- version 1 rules ------------------------------------------------------------------------------


def test_backoff_is_full_jitter_within_the_exponential_ceiling():
    backoff = Backoff(base=0.5, cap=8, rng=random.Random(1))
    for attempt in range(10):
        ceiling = min(8, 0.5 * 2**attempt)
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not a fixed step


def test_duplicates_are_dropped_and_gaps_filled_in_order():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        got: list[Message] = []
        client.on_background = got.append
        await client.start()
        ws = server.connections[-1]
        for _ in range(3):
            server.store("c1")
        ws.push({"event": "chat:message:background", "message": server.messages["c1"][2]})  # seq 3: gap 1-2
        ws.push({"event": "chat:message:background", "message": server.messages["c1"][0]})  # seq 1 again
        ws.push({"event": "chat:message:background", "message": server.messages["c1"][2]})  # seq 3 again
        await settle()
        await client.close()
        return [m.seq for m in got]

    assert run(scenario()) == [1, 2, 3]


def test_reconnect_resyncs_missed_messages_once_and_routes_open_chats_to_their_handler():
    server = FakeServer()
    server.add_chat("c2", [ME, "bob"])

    async def scenario():
        client = client_for(server)
        background: list[tuple[str, int]] = []
        in_chat: list[int] = []
        client.on_background = lambda m: background.append((m.chat_id, m.seq))
        await client.start()
        await client.open_chat("c2", lambda m: in_chat.append(m.seq))
        await reconnect(client, server, lambda: (server.store("c1"), server.store("c1"), server.store("c2")))
        await client.close()
        return background, in_chat, len(requests(server, "chat.open"))

    background, in_chat, reopened = run(scenario())
    assert background == [("c1", 1), ("c1", 2)]
    assert in_chat == [1]
    assert reopened == 2  # opened by the app, then re-opened after the reconnect


def test_own_sends_are_not_delivered_back_and_do_not_look_like_gaps():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        got: list[int] = []
        client.on_background = lambda m: got.append(m.seq)
        await client.start()
        ack = await client.send("c1", "mine")
        other = server.store("c1")  # seq 2, from bob
        server.connections[-1].push({"event": "chat:message:background", "message": other})
        await settle()
        await client.close()
        return ack, got, requests(server, "chat.history")

    ack, got, histories = run(scenario())
    assert isinstance(ack, Ack) and ack.seq == 1
    assert got == [2] and histories == []


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


# -- version 2: the objects -----------------------------------------------------------------------


def test_system_messages_parse_with_their_event_and_a_cleared_title_is_not_an_absent_one():
    base = _message("c1", 4, "alice", "sys-4")
    cleared = Message.from_wire(
        {**base, "kind": "system", "system": {"type": "updated", "users": [], "title": None}}
    )
    added = Message.from_wire({**base, "kind": "system", "system": {"type": "added", "users": ["carol"]}})
    text = Message.from_wire({k: v for k, v in base.items() if k != "kind"})
    assert cleared.is_system and cleared.system is not None
    assert cleared.system.title_changed and cleared.system.title is None and cleared.system.admins is None
    assert added.system is not None and added.system.users == ("carol",) and not added.system.title_changed
    assert text.kind == "text" and text.system is None and not text.is_system


def test_chat_v2_fields_members_absent_above_50_and_display_names():
    small = Chat.from_wire(
        {"chat_id": "d1", "title": None, "members": ["alice", "bob"], "kind": "direct", "joined_seq": 0}
    )
    big = Chat.from_wire(
        {
            "chat_id": "g1",
            "title": None,
            "member_count": 120,
            "admins": ["zed", "amy"],
            "joined_seq": 7,
            "muted": True,
        }
    )
    assert small.is_direct and small.member_count == 2 and small.display_name("alice") == "bob"
    assert small.display_name("bob") == "alice"
    assert big.members is None and big.member_count == 120 and big.display_name("alice") == "120 members"
    assert big.admins == ("zed", "amy") and big.joined_seq == 7 and big.muted and big.kind == "group"


def test_opened_reads_has_more_and_receipts_min_and_absent_receipts_stay_absent():
    opened = Opened.from_wire(
        {
            "chat": {"chat_id": "g1", "member_count": 60},
            "messages": [_message("g1", 9)],
            "has_more": True,
            "receipts_min": {"delivered_seq": 8, "read_seq": 5},
        }
    )
    assert opened.has_more and opened.receipts is None
    assert opened.receipts_min == Pointers(delivered_seq=8, read_seq=5)
    assert [m.seq for m in opened.messages] == [9]


def test_token_subject_reads_the_jwt_sub_and_rejects_anything_else():
    assert token_subject(fake_jwt("alice@example.com")) == "alice@example.com"
    assert token_subject("not a jwt") is None
    assert token_subject("a.!!!.c") is None
    assert token_subject(f"{_b64({})}.{_b64({'exp': 1})}.sig") is None


# -- version 2: requests --------------------------------------------------------------------------


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


def test_follow_pages_keeps_each_chat_once_and_refuses_a_cursor_loop():
    def chat(chat_id: str, last_seq: int) -> Chat:
        return Chat.from_wire({"chat_id": chat_id, "last_seq": last_seq})

    pages = {
        None: ChatPage([chat("a", 1), chat("b", 1)], "p2"),
        "p2": ChatPage([chat("a", 3), chat("c", 1)], None),
    }

    async def fetch(cursor):  # type: ignore[no-untyped-def]
        return pages[cursor]

    chats = run(follow_pages(fetch))
    assert [(c.chat_id, c.last_seq) for c in chats] == [("a", 3), ("b", 1), ("c", 1)]

    pages["p2"] = ChatPage([], "p2")
    with pytest.raises(ProtocolViolation):
        run(follow_pages(fetch))


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


# -- version 2: pushed events ---------------------------------------------------------------------


def test_chat_added_by_someone_starts_after_joined_seq():
    server = FakeServer()
    server.add_chat("c2", ["bob", "carol"])
    for _ in range(3):
        server.store("c2")  # before alice: not hers to see

    async def scenario():
        client = client_for(server)
        added: list[Chat] = []
        got: list[Message] = []
        client.on_chat_added = added.append
        client.on_background = got.append
        await client.start()
        ws = server.connections[-1]
        server.add_member("c2", ME)  # seq 4
        ws.push({"event": "chat:added", "chat": server.chat("c2")})
        server.store("c2")  # seq 5: lost on the way
        ws.push({"event": "chat:message:background", "message": server.store("c2")})  # seq 6
        await settle()
        await client.close()
        return added, got

    added, got = run(scenario())
    assert [c.joined_seq for c in added] == [4]
    assert [m.seq for m in got] == [5, 6]
    assert [r["after"] for r in requests(server, "chat.history")] == [4]


def test_system_messages_take_seqs_and_fill_gaps_like_text():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        got: list[Message] = []
        client.on_background = got.append
        await client.start()
        server.store("c1")
        server.add_member("c1", "carol", by="bob")  # seq 2
        server.store_system("c1", "bob", "updated", [], title=None)  # seq 3
        server.connections[-1].push({"event": "chat:message:background", "message": server.store("c1")})
        await settle()
        await client.close()
        return got

    got = run(scenario())
    assert [(m.seq, m.kind) for m in got] == [(1, "text"), (2, "system"), (3, "system"), (4, "text")]
    assert got[2].system is not None and got[2].system.title_changed and got[2].system.title is None


def test_chat_removed_forgets_the_chat_its_handler_and_its_resync():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        removed: list[str] = []
        client.on_chat_removed = removed.append
        await client.start()
        await client.open_chat("c1", print)
        server.remove_member("c1", ME)
        server.connections[-1].push({"event": "chat:removed", "chat_id": "c1"})
        await settle()
        open_after_event = client.open_chats
        histories = len(requests(server, "chat.history"))
        opens = len(requests(server, "chat.open"))
        await reconnect(client, server, lambda: server.store("c1"))
        await client.close()
        return (
            removed,
            open_after_event,
            len(requests(server, "chat.history")) - histories,
            len(requests(server, "chat.open")) - opens,
        )

    removed, open_after_event, histories, opens = run(scenario())
    assert removed == ["c1"] and open_after_event == []
    assert histories == 0 and opens == 0  # nothing asked about it after the reconnect


def test_chat_updated_event_reaches_its_handler():
    server = FakeServer()

    async def scenario():
        client = client_for(server)
        updated: list[Chat] = []
        client.on_chat_updated = updated.append
        await client.start()
        server.info["c1"]["title"] = "Renamed"
        server.connections[-1].push({"event": "chat:updated", "chat": server.chat("c1")})
        await settle()
        await client.close()
        return updated

    assert [c.title for c in run(scenario())] == ["Renamed"]


def test_a_refused_gap_fill_forgets_the_chat_and_dispatch_goes_on():
    server = FakeServer()
    server.add_chat("c2", [ME, "bob"])

    async def scenario():
        client = client_for(server)
        removed: list[str] = []
        typing: list[str] = []
        client.on_chat_removed = removed.append
        client.on_typing = lambda t: typing.append(t.chat_id)
        await client.start()
        ws = server.connections[-1]
        server.store("c1")
        late = server.store("c1")
        server.remove_member("c1", ME)  # and its chat:removed has not come yet
        ws.push({"event": "chat:message:background", "message": late})  # gap: history is refused
        ws.push({"event": "chat:typing", "chat_id": "c2", "user_id": "bob", "typing": True})
        await settle()
        await client.close()
        return removed, typing

    assert run(scenario()) == (["c1"], ["c2"])


# -- version 2: resync ----------------------------------------------------------------------------


def test_resync_drops_chats_removed_while_offline_and_picks_up_chats_added_meanwhile():
    server = FakeServer()
    server.add_chat("c2", [ME, "bob"])
    server.add_chat("c3", [ME, "bob"])
    server.add_chat("c4", ["bob", "carol"])
    server.store("c4")

    def while_offline() -> None:
        server.store("c1")
        server.remove_member("c1", ME)  # open when it happened
        server.remove_member("c2", ME)  # in the background
        server.store("c3")
        server.remove_member("c3", ME)  # seq 2
        server.store("c3")  # seq 3: not hers
        server.add_member("c3", ME)  # seq 4: back, sees from seq 5
        server.store("c3")
        server.add_member("c4", ME)  # seq 2: alice sees from seq 3
        server.store("c4")

    async def scenario():
        client = client_for(server)
        removed: list[str] = []
        got: list[tuple[str, int]] = []
        client.on_chat_removed = removed.append
        client.on_background = lambda m: got.append((m.chat_id, m.seq))
        await client.start()
        await client.open_chat("c1", lambda m: got.append((m.chat_id, m.seq)))
        await reconnect(client, server, while_offline)
        await client.close()
        return sorted(removed), got, client.open_chats

    removed, got, open_chats = run(scenario())
    assert removed == ["c1", "c2"] and open_chats == []
    assert got == [("c3", 5), ("c4", 3)]
    asks = [
        (r["chat_id"], r["after"]) for r in requests(server, "chat.history") if r["chat_id"] in ("c3", "c4")
    ]
    assert asks == [("c3", 4), ("c4", 2)]  # never before joined_seq


def test_resync_keeps_a_chat_the_list_missed_when_the_server_still_answers_for_it():
    server = FakeServer()
    server.add_chat("c2", [ME, "bob"])

    async def scenario():
        client = client_for(server)
        removed: list[str] = []
        got: list[int] = []
        client.on_chat_removed = removed.append
        client.on_background = lambda m: got.append(m.seq)
        await client.start()
        real_list = server.do_chat_list

        def list_missing_c1(frame):  # type: ignore[no-untyped-def]
            listed = real_list(frame)
            return {**listed, "chats": [c for c in listed["chats"] if c["chat_id"] != "c1"]}

        server.do_chat_list = list_missing_c1  # type: ignore[method-assign]
        await reconnect(client, server, lambda: server.store("c1"))
        await client.close()
        return removed, got

    assert run(scenario()) == ([], [1])


# -- the CLI's shell, on the same fake server -----------------------------------------------------


def run_shell(server: FakeServer, lines: list[str], between=lambda ws: None):  # type: ignore[no-untyped-def]
    async def scenario():
        client = client_for(server)
        await client.start()
        shell = Shell(client)
        for line in lines:
            await shell.run_reporting(shell.command(line))
            between(server.connections[-1])
            await settle()
        await client.close()
        return shell

    return run(scenario())


FUZZ = {  # what a person might type, and the one line they get back
    "hello": "[error] no chat open: /open CHAT or /dm USER first (/chats lists them)",
    "/leave": "[error] no chat open: /open CHAT or /dm USER first (/chats lists them)",
    "/close": "[error] no chat open: /open CHAT or /dm USER first (/chats lists them)",
    "/read": "[error] no chat open: /open CHAT or /dm USER first (/chats lists them)",
    "/history": "[error] no chat open: /open CHAT or /dm USER first (/chats lists them)",
    "/open": "[error] usage: /open CHAT... (the following arguments are required: CHAT)",
    "/dm": "[error] usage: /dm USER (the following arguments are required: USER)",
    "/dm a b": "[error] usage: /dm USER (unrecognized arguments: b)",
    "/open 'bad": '[error] no closing quotation in "/open \'bad": /open CHAT...',
    "/open zzz": "[error] no chat matches 'zzz': /chats lists yours",
    "/open We": "[error] 'We' matches 2 chats (c2 Weekend, c3 Wedding): say which",
    "/open 9": "[error] no chat number 9: /chats lists 3 chats",
    "/create": "[error] usage: /create USER... [--title TITLE] (the following arguments are required: USER)",
    "/create bob --title": "[error] usage: /create USER... [--title TITLE] "
    "(argument --title/-t: expected one argument)",
    "/nope": "[error] unknown command '/nope': /help lists them",
    "/help nope": "[error] unknown command '/nope': /help lists them",
    "/open c1": "[opened] c1 bob (0 messages)",
    "/add": "[error] usage: /add USER... (the following arguments are required: USER)",
    "/add carol": "[error] not allowed: only an admin of this chat can do that",
    "/history x": "[error] /history takes a message number (SEQ), not 'x': /history [SEQ]",
    "/history 1 2": "[error] usage: /history [SEQ] (unrecognized arguments: 2)",
    "/close now": "[error] usage: /close (unrecognized arguments: now)",
}


def test_shell_misuse_gets_one_clear_line_each_and_no_traceback(capsys):
    server = FakeServer()
    server.info["c1"]["admins"] = ["bob"]
    server.add_chat("c2", [ME, "carol"], title="Weekend")
    server.add_chat("c3", [ME, "dave"], title="Wedding")
    run_shell(server, list(FUZZ))
    assert capsys.readouterr().out.splitlines() == list(FUZZ.values())


def test_open_finds_a_chat_by_number_id_prefix_title_prefix_or_the_other_persons_name(capsys):
    server = FakeServer()
    server.add_chat("c2", [ME, "carol"], title="Weekend")
    server.add_chat("c3", [ME, "dave"], title="Wedding")
    server.add_chat("x9", [ME, "erin"], kind="direct")
    server.store("c2")
    run_shell(server, ["/chats", "/open 2", "/open wed", "/open ERIN", "/open x", "/open bob", "/close"])
    assert capsys.readouterr().out.splitlines() == [
        "1. c1 bob",
        "2. c2 Weekend - bob: text 1",
        "3. c3 Wedding",
        "4. x9 erin",
        "[end]",
        "[opened] c2 Weekend (1 message)",
        "  1 bob: text 1",
        "[opened] c3 Wedding (0 messages)",
        "[opened] x9 erin (0 messages)",
        "[opened] x9 erin (0 messages)",
        "[opened] c1 bob (0 messages)",
        "[closed] c1",
    ]


def test_help_covers_every_command_and_each_has_its_own_usage(capsys):
    server = FakeServer()
    shell = run_shell(server, ["/help", *[f"/help {name}" for name in INTERACTIVE], "/open --help"])
    out = capsys.readouterr().out
    assert set(shell.commands) | {"/quit"} == set(INTERACTIVE)
    for name, spec in INTERACTIVE.items():
        assert f"\n  {name}" in HELP and spec.help
        assert f"usage: {name} {spec.arguments}".strip() in out
    assert "[error]" not in out


def test_plural_says_one_message_and_two_messages():
    assert [plural(n, "message") for n in (0, 1, 2)] == ["0 messages", "1 message", "2 messages"]


def test_find_chat_prefers_an_id_over_a_number_and_refuses_ambiguity():
    wire = FakeServer().chat("c1")
    chats = [Chat.from_wire(wire), Chat.from_wire({**wire, "chat_id": "12"})]
    assert find_chat("12", chats, ME).chat_id == "12"  # an id that looks like a number
    assert find_chat("1", chats, ME).chat_id == "12"  # "1" is an id prefix before a number
    with pytest.raises(UsageError, match="matches 2 chats"):
        find_chat("bob", chats, ME)


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


def test_dev_token_failures_name_the_url_and_say_what_to_do():
    import http.server
    import threading

    with pytest.raises(CliFailure) as nobody:
        dev_token("http://127.0.0.1:9", "alice", timeout=2)
    assert str(nobody.value) == "cannot reach http://127.0.0.1:9: is `make run` running? (connection refused)"

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        with pytest.raises(CliFailure) as refused_here:
            dev_token(url, "alice", timeout=5)
    finally:
        server.shutdown()
    assert str(refused_here.value).startswith(
        f"{url}/dev/token answered HTTP 404 Not Found: is {url} the local stack"
    )


def test_failure_lines_say_which_url_and_what_to_do():
    import argparse

    local = argparse.Namespace(url=None)
    auth = AuthError("ws://127.0.0.1:8000/ws", 401, "Unauthorized")
    assert failure_line(auth, local).startswith(
        "[error] ws://127.0.0.1:8000/ws refused the token (HTTP 401 Unauthorized): "
    )
    down = CannotConnect("wss://x.example/dev", 10, ConnectionRefusedError(111, "refused"))
    assert (
        failure_line(down, argparse.Namespace(url="wss://x.example/dev"))
        == "[error] cannot reach wss://x.example/dev: check --url (connection refused)"
    )


def test_shell_dm_names_the_chat_after_the_other_person_and_prints_system_notices(capsys):
    server = FakeServer()

    def bob_adds_carol_then_removes_alice(ws: FakeWs) -> None:
        direct = next(c for c in server.messages if server.info[c]["kind"] == "direct")
        if not server.messages[direct] and len(server.joined[direct]) == 2:
            ws.push({"event": "chat:message", "message": server.store(direct)})
            ws.push({"event": "chat:message", "message": server.add_member(direct, "carol", by="bob")})
            server.remove_member(direct, ME)
            ws.push({"event": "chat:removed", "chat_id": direct})

    shell = run_shell(server, ["/dm bob", "/chats"], bob_adds_carol_then_removes_alice)
    out = capsys.readouterr().out.splitlines()
    direct = next(c for c in server.messages if server.info[c]["kind"] == "direct")
    assert f"[opened] {direct} bob (0 messages)" in out
    assert f"[{direct}] bob: text 1" in out
    assert f"[{direct}] * bob added carol" in out
    assert f"[removed] {direct}: you are no longer a member; closed it" in out
    assert shell.open is None
    assert chat_line(Chat.from_wire(server.chat("c1")), ME) == "c1 bob"


def test_shell_add_prints_its_own_system_notice_and_the_new_count(capsys):
    server = FakeServer()
    run_shell(server, ["/open c1", "/add carol", "/members", "/rename Trip", "/rename", "/leave"])
    out = capsys.readouterr().out.splitlines()
    assert "[c1] * alice added carol" in out
    assert "[updated] c1 bob, carol (3 members)" in out
    assert out[out.index("[updated] c1 bob, carol (3 members)") + 1 :][:4] == [
        "  alice (admin)",
        "  bob",
        "  carol",
        "[end]",
    ]
    assert "[updated] c1 Trip (3 members)" in out
    assert out[-1] == "[left] c1"


def test_parse_create_takes_both_title_spellings():
    assert parse_create("bob carol -- Weekend trip") == (["bob", "carol"], "Weekend trip")
    assert parse_create("bob --title Weekend") == (["bob"], "Weekend")
    assert parse_create("bob") == (["bob"], None)


# -- push notifications: devices and muted chats --------------------------------------------------

SUBSCRIPTION = {
    "endpoint": "https://push.example.com/send/abc",
    "expirationTime": None,
    "keys": {"p256dh": "BPk3-key", "auth": "auth-secret"},
}


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


def test_shell_mute_unmute_and_devices(capsys):
    server = FakeServer()
    server.store("c1")
    server.devices["tok"] = {
        "device_id": "dv_7",
        "platform": "fcm",
        "preview": True,
        "registered_at": "2026-11-27T09:00:00.000Z",
    }
    run_shell(server, ["/mute", "/open c1", "/mute", "/chats", "/unmute", "/devices"])
    out = capsys.readouterr().out.splitlines()
    assert "[error] no chat open: /open CHAT or /dm USER first (/chats lists them)" in out
    assert out[out.index("[muted] c1") + 1 :] == [
        "1. c1 bob (muted) - bob: text 1",
        "[end]",
        "[unmuted] c1",
        "  dv_7 fcm (preview) since 2026-11-27T09:00:00.000Z",
        "[end]",
    ]


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


# -- a refused token and an unreachable server ---------------------------------------------------


def refused(status: int, body: bytes = b'{"message": "Unauthorized"}') -> websockets.InvalidStatus:
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    return websockets.InvalidStatus(Response(status, "Refused", Headers(), body))


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (401, b'{"message": "Unauthorized"}', "Unauthorized"),
        (403, b"token expired", "token expired"),
        (401, b"", "Refused"),
    ],
)
def test_a_refused_handshake_raises_auth_error_at_once_with_the_status_and_reason(status, body, reason):
    attempts: list[str] = []

    async def connect(url: str, **_: Any) -> FakeWs:
        attempts.append(url)
        raise refused(status, body)

    async def scenario() -> tuple[AuthError, float, str]:
        client = ChatClient("ws://fake/ws", fake_jwt(ME), connect=connect, backoff=Backoff(0.001, 0.01))
        started = asyncio.get_running_loop().time()
        with pytest.raises(AuthError) as raised:
            await client.start()
        return raised.value, asyncio.get_running_loop().time() - started, client.state

    error, took, state = run(scenario())
    assert (error.status, error.reason, error.url) == (status, reason, "ws://fake/ws")
    assert f"HTTP {status} {reason}" in str(error)
    assert len(attempts) == 1 and took < 1  # not retried
    assert state == "closed"


def test_no_server_raises_cannot_connect_after_connect_timeout_with_the_last_cause():
    attempts: list[float] = []

    async def connect(url: str, **_: Any) -> FakeWs:
        attempts.append(asyncio.get_running_loop().time())
        raise ConnectionRefusedError(111, "Connect call failed")

    async def scenario() -> tuple[CannotConnect, float]:
        client = ChatClient(
            "ws://fake/ws", fake_jwt(ME), connect=connect, backoff=Backoff(0.01, 0.05), connect_timeout=0.3
        )
        started = asyncio.get_running_loop().time()
        with pytest.raises(CannotConnect) as raised:
            await client.start()
        return raised.value, asyncio.get_running_loop().time() - started

    error, took = run(scenario())
    assert 0.3 <= took < 3.0  # the deadline, not forever (generous for a loaded machine)
    assert len(attempts) > 2  # retried with backoff until the time was up
    assert str(error) == "cannot reach ws://fake/ws (tried for 0.3 s: connection refused)"
    assert isinstance(error.cause, ConnectionRefusedError)


def test_a_handshake_that_hangs_is_bounded_by_connect_timeout_too():
    async def connect(url: str, **_: Any) -> FakeWs:
        await asyncio.sleep(60)
        raise AssertionError("unreachable")

    async def scenario() -> CannotConnect:
        client = ChatClient("ws://fake/ws", fake_jwt(ME), connect=connect, connect_timeout=0.2)
        with pytest.raises(CannotConnect) as raised:
            await client.start()
        return raised.value

    assert "no answer" in str(run(scenario()))


def test_connect_timeout_none_keeps_waiting_for_the_server():
    server = FakeServer()
    down = [True]

    async def connect(url: str, **_: Any) -> FakeWs:
        if down[0]:
            raise ConnectionRefusedError(111, "Connect call failed")
        return await server.connect(url)

    async def scenario() -> str:
        client = ChatClient(
            "ws://fake/ws", fake_jwt(ME), connect=connect, backoff=Backoff(0.01, 0.02), connect_timeout=None
        )
        await client.start(wait=False)
        await asyncio.sleep(0.3)
        assert client.state == "offline" and client.error is None
        down[0] = False
        await client.wait_online(2)
        state = client.state
        await client.close()
        return state

    assert run(scenario()) == "online"


def test_a_token_refused_on_reconnect_stops_the_client_and_tells_the_application():
    server = FakeServer()
    refuse = [False]

    async def connect(url: str, **_: Any) -> FakeWs:
        if refuse[0]:
            raise refused(401)
        return await server.connect(url)

    async def scenario() -> tuple[list[Any], list[str], BaseException]:
        client = ChatClient("ws://fake/ws", fake_jwt(ME), connect=connect, backoff=Backoff(0.001, 0.01))
        errors: list[Any] = []
        states: list[str] = []
        client.on_error = errors.append
        client.on_state = states.append
        await client.start()
        refuse[0] = True  # the server restarted with a new secret
        await server.connections[-1].close()
        await asyncio.wait_for(client._failed.wait(), 2)
        with pytest.raises(AuthError) as raised:
            await client.send("c1", "still there?")
        await client.close()
        return errors, states, raised.value

    errors, states, raised = run(scenario())
    assert len(errors) == 1 and isinstance(errors[0], AuthError) and errors[0].status == 401
    assert raised is errors[0]
    assert states[-3:] == ["connecting", "failed", "closed"]
    assert len(server.connections) == 1  # the refusal is not retried


def test_reconnects_after_the_first_keep_retrying_past_connect_timeout():
    server = FakeServer()
    down = [False]

    async def connect(url: str, **_: Any) -> FakeWs:
        if down[0]:
            raise ConnectionRefusedError(111, "Connect call failed")
        return await server.connect(url)

    async def scenario() -> str:
        client = ChatClient(
            "ws://fake/ws", fake_jwt(ME), connect=connect, backoff=Backoff(0.01, 0.02), connect_timeout=0.1
        )
        await client.start()
        down[0] = True
        await server.connections[-1].close()
        await asyncio.sleep(0.4)  # well past connect_timeout
        assert client.error is None and client.state in ("offline", "connecting")
        down[0] = False
        await client.wait_online(2)
        await client.close()
        return client.state

    assert run(scenario()) == "closed"


@pytest.mark.parametrize(
    ("argv", "code", "line"),
    [
        (
            ["--user", "alice", "open"],
            2,
            "usage: chat open CHAT... (the following arguments are required: CHAT)",
        ),
        (
            ["--user", "alice", "add", "c1"],
            2,
            "usage: chat add CHAT USER... (the following arguments are required: USER)",
        ),
        (
            ["--user", "alice", "create", "bob", "--title"],
            2,
            "usage: chat create USER... [--title TITLE] (argument --title/-t: expected one argument)",
        ),
        (["--user", "alice", "history"], None, None),
        (["--user", "alice", "send", "--help"], 0, "usage: chat send CHAT TEXT..."),
        (["chats"], 2, "give --user ID (local stack) or set CHAT_TOKEN"),
    ],
)
def test_cli_usage_mistakes_print_one_line_before_connecting(argv, code, line, capsys, monkeypatch):
    from chatclient.cli import main

    monkeypatch.delenv("CHAT_TOKEN", raising=False)
    if code is None:  # not a command: argparse's own message and exit 2
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2 and "invalid choice: 'history'" in capsys.readouterr().err
        return
    assert main(argv) == code
    assert capsys.readouterr().out.splitlines()[0] == line


@pytest.mark.parametrize(
    ("frame", "unregistered", "not_a_member"),
    [
        (
            {
                "code": "forbidden",
                "message": "this connection is not registered; reconnect",
                "reason": "unregistered",
            },
            True,
            False,
        ),
        # A server without the reason field: told by the message's beginning.
        ({"code": "forbidden", "message": "this connection is not registered; reconnect"}, True, False),
        # The reason decides when there is one, whatever the message says.
        (
            {"code": "forbidden", "message": "this connection is not registered", "reason": "other"},
            False,
            True,
        ),
        ({"code": "forbidden", "message": "not a member of chat c1"}, False, True),
        ({"code": "not_found", "message": "no such chat", "reason": "unregistered"}, False, True),
        ({"code": "internal", "message": "this connection is not registered"}, False, False),
    ],
)
def test_an_unregistered_connection_is_not_taken_for_leaving_a_chat(frame, unregistered, not_a_member):
    error = ChatError.from_frame({"event": "error", **frame})
    assert (error.means_unregistered, error.means_not_a_member) == (unregistered, not_a_member)
