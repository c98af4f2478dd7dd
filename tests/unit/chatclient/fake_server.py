"""The scripted in-memory server (no sockets) the client's unit tests drive a ``ChatClient``
against, and the helpers to run one (tests/client's fault tests use them too)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import websockets

from chatclient import Backoff, ChatClient, ChatError

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
        "reply_to": None,
        "mentions": [],
        "attachments": [],
        "reactions": {},
        "edited_at": None,
        "deleted": False,
        "rev": 0,
    }


class FakeServer:
    """Enough of protocol v2 for the client, for the one user ``alice``: a member sees only the
    messages after the one that added her (a history request reaching back to or before it is
    refused, so a client that asks for it fails the test), non-members are refused. Of v3: the
    changes (``message.edit``, ``message.delete``, ``reaction.set``, and ``change`` for the
    other users' ones), ``chat.changes`` and ``chat.notify``."""

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
        self.last_rev: dict[str, int] = {}
        self.notify: dict[str, str] = {}  # chat -> alice's level
        self.changes_cap = 100  # at most this many messages per chat.changes page
        self.after_open_read: Callable[[], object] = lambda: None
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
            "notify": self.notify.get(chat_id, "none" if chat_id in self.muted else "all"),
            "last_rev": self.last_rev.get(chat_id, 0),
            "last_seq": len(messages),
            "last_message": visible[-1] if visible else None,
            "unread": 0,
            "read_seq": 0,
            "delivered_seq": 0,
        }

    def change(self, chat_id: str, seq: int, **fields: Any) -> dict[str, Any]:
        """Another user's change of message ``seq``: it takes the chat's next rev."""
        message = self.messages[chat_id][seq - 1]
        self.last_rev[chat_id] = self.last_rev.get(chat_id, 0) + 1
        message.update(fields, rev=self.last_rev[chat_id])
        if fields.get("deleted"):
            message.update(text="", mentions=[], reactions={}, attachments=[], reply_to=None)
        return dict(message)

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
        reply = {
            "event": "chat:opened",
            "chat": chat,
            "messages": [dict(m) for m in visible[-50:]],
            "has_more": len(visible) > 50,
            "receipts_min": {"delivered_seq": 0, "read_seq": 0},
        }
        self.after_open_read()  # what happens after the server read the chat, before it views it
        return reply

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
        if not existing:
            stored.update(reply_to=frame.get("reply_to"), mentions=sorted(set(frame.get("mentions", []))))
        fields = {k: stored[k] for k in ("chat_id", "client_msg_id", "seq", "message_id", "sent_at")}
        return {"event": "message:ack", **fields, "duplicate": bool(existing)}

    def do_chat_mute(self, frame: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(frame.get("muted"), bool):
            raise ChatError("bad_request", "'muted' must be true or false")
        (self.muted.add if frame["muted"] else self.muted.discard)(frame["chat_id"])
        return {"event": "chat:muted", "chat_id": frame["chat_id"], "muted": frame["muted"]}

    def _visible(self, frame: dict[str, Any]) -> dict[str, Any]:
        chat_id, seq = frame["chat_id"], frame["seq"]
        if not self.joined[chat_id][ME] < seq <= len(self.messages[chat_id]):
            raise ChatError("not_found", f"no message {seq} you can see")
        return self.messages[chat_id][seq - 1]

    def _updated(self, chat_id: str, message: dict[str, Any], **fields: Any) -> dict[str, Any]:
        if any(message.get(k) != v for k, v in fields.items()):
            message = self.change(chat_id, message["seq"], **fields)
        return {"event": "message:updated", "chat_id": chat_id, "message": dict(message)}

    def do_message_edit(self, frame: dict[str, Any]) -> dict[str, Any]:
        message = self._visible(frame)
        if message["sender_id"] != ME:
            raise ChatError("forbidden", "only its sender edits a message")
        if message["deleted"]:
            raise ChatError("bad_request", "the message is deleted")
        fields = {"text": frame["text"]}
        if "mentions" in frame:
            fields["mentions"] = sorted(set(frame["mentions"]))
        if all(message.get(k) == v for k, v in fields.items()):
            return {"event": "message:updated", "chat_id": frame["chat_id"], "message": dict(message)}
        return self._updated(frame["chat_id"], message, **fields, edited_at="2026-12-06T10:00:00.000Z")

    def do_message_delete(self, frame: dict[str, Any]) -> dict[str, Any]:
        message = self._visible(frame)
        return self._updated(frame["chat_id"], message, deleted=True)

    def do_reaction_set(self, frame: dict[str, Any]) -> dict[str, Any]:
        message = self._visible(frame)
        reactions = {e: [u for u in us if u != ME] for e, us in message["reactions"].items()}
        if frame["emoji"] is not None:
            reactions[frame["emoji"]] = sorted([*reactions.get(frame["emoji"], []), ME])
        return self._updated(frame["chat_id"], message, reactions={e: u for e, u in reactions.items() if u})

    def do_message_report(self, frame: dict[str, Any]) -> dict[str, Any]:
        message = self._visible(frame)
        if message["sender_id"] == ME:
            raise ChatError("bad_request", "you cannot report your own message")
        return {"event": "message:reported", "chat_id": frame["chat_id"], "seq": frame["seq"]}

    def do_chat_changes(self, frame: dict[str, Any]) -> dict[str, Any]:
        chat_id, after = frame["chat_id"], frame["after_rev"]
        joined = self.joined[chat_id][ME]
        visible = [m for m in self.messages[chat_id] if m["seq"] > joined]
        changed = sorted((m for m in visible if m["rev"] > after), key=lambda m: m["rev"])
        limit = min(frame.get("limit", 50), self.changes_cap)
        return {
            "event": "chat:changes",
            "chat_id": chat_id,
            "messages": [dict(m) for m in changed[:limit]],
            "last_rev": self.last_rev.get(chat_id, 0),
            "has_more": len(changed) > limit,
        }

    def do_chat_notify(self, frame: dict[str, Any]) -> dict[str, Any]:
        level = frame.get("level")
        if level not in ("all", "mentions", "none"):
            raise ChatError("bad_request", "'level' is all, mentions or none")
        self.notify[frame["chat_id"]] = level
        (self.muted.add if level == "none" else self.muted.discard)(frame["chat_id"])
        muted = level == "none"
        return {"event": "chat:notify", "chat_id": frame["chat_id"], "notify": level, "muted": muted}

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

    def do_message_delivered(self, frame: dict[str, Any]) -> dict[str, Any]:
        return {
            "event": "receipt:ok",
            "chat_id": frame["chat_id"],
            "delivered_seq": frame["seq"],
            "read_seq": 0,
        }

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


SUBSCRIPTION = {
    "endpoint": "https://push.example.com/send/abc",
    "expirationTime": None,
    "keys": {"p256dh": "BPk3-key", "auth": "auth-secret"},
}
