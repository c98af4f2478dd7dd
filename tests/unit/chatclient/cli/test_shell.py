"""The CLI's interactive shell, on the scripted in-memory server (no sockets)."""

from __future__ import annotations

from chatclient import Chat
from chatclient.cli.arguments import ENVIRONMENT, HELP, HELP_WIDTH, INTERACTIVE
from chatclient.cli.output import chat_line
from chatclient.cli.shell import Entry, Shell
from tests.unit.chatclient.fake_server import ME, FakeServer, FakeWs, client_for, run, settle


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
    assert f"[{direct}] 1 bob: text 1" in out  # with its number, for /reply 1 and the like
    assert f"[{direct}] 2 * bob added carol" in out
    assert f"[removed] {direct}: you are no longer a member; closed it" in out
    assert shell.open is None
    assert chat_line(Chat.from_wire(server.chat("c1")), ME) == "c1 bob"


def test_shell_add_prints_its_own_system_notice_and_the_new_count(capsys):
    server = FakeServer()
    run_shell(server, ["/open c1", "/add carol", "/members", "/rename Trip", "/rename", "/leave"])
    out = capsys.readouterr().out.splitlines()
    assert "[c1] 1 * alice added carol" in out
    assert "[updated] c1 bob, carol (3 members)" in out
    assert out[out.index("[updated] c1 bob, carol (3 members)") + 1 :][:4] == [
        "  alice (admin)",
        "  bob",
        "  carol",
        "[end]",
    ]
    assert "[updated] c1 Trip (3 members)" in out
    assert out[-1] == "[left] c1"


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


def test_reply_edit_delete_react_and_notify_address_messages_by_their_number(capsys):
    server = FakeServer()
    server.add_chat("c2", [ME, "bob", "carol"], title="Team")
    server.store("c2")  # 1 bob: text 1
    run_shell(
        server,
        [
            "/open Team",
            "/reply 1 yes, @carol and I'll be there",
            '/edit 2 yes, @bob it\'s "fine"',
            "/react 1 👍",
            "/react 1",
            "/react 2 🎉",
            "/delete 2",
            "/notify mentions",
            "/chats",
        ],
    )
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["[opened] c2 Team (1 message)", "  1 bob: text 1"]
    assert out[2:] == [
        "[ack] c2 seq 2",
        '[edited] c2 2 alice: (re 1 bob: "text 1") yes, @bob it\'s "fine" (edited) (mentions bob)',
        "[reacted] c2 1 bob: text 1 [👍 1]",
        "[reacted] c2 1 bob: text 1",
        '[reacted] c2 2 alice: (re 1 bob: "text 1") yes, @bob it\'s "fine" (edited) (mentions bob) [🎉 1]',
        "[deleted] c2 2 alice: (deleted)",
        "[notify] c2 mentions",
        "1. c1 bob",
        "2. c2 Team (mentions only) - alice: (deleted)",
        "[end]",
    ]
    sends = [r for r in server.requests if r["action"] == "message.send"]
    assert sends[0]["reply_to"] == 1 and sends[0]["mentions"] == ["carol"]
    assert sends[0]["text"] == "yes, @carol and I'll be there"  # typed as is: no shell quoting


SEQ_MISUSE = {
    "/reply": "[error] give the message's number, as shown beside it, not nothing: /reply SEQ TEXT...",
    "/reply x hi": "[error] give the message's number, as shown beside it, not 'x': /reply SEQ TEXT...",
    "/reply 1": "[error] give the text too: /reply SEQ TEXT...",
    "/edit 0 hi": "[error] give the message's number, as shown beside it, not '0': /edit SEQ TEXT...",
    "/edit 1 mine": "[error] not allowed: only its sender edits a message",
    "/delete": "[error] usage: /delete SEQ (the following arguments are required: SEQ)",
    "/delete one": "[error] give the message's number, as shown beside it, not 'one': /delete SEQ",
    "/delete 9": "[error] not found: no message 9 you can see",
    "/react": "[error] usage: /react SEQ [EMOJI] (the following arguments are required: SEQ)",
    "/react 1 👍 ❤️": "[error] usage: /react SEQ [EMOJI] (unrecognized arguments: ❤️)",
    "/notify": "[error] usage: /notify LEVEL (the following arguments are required: LEVEL)",
    "/notify loud": "[error] give a level: all, mentions (only mentions of you and replies to you) or none, "
    "not 'loud'",
}


def test_misused_message_commands_get_one_line_and_change_nothing(capsys):
    server = FakeServer()
    server.store("c1")
    run_shell(server, ["/edit 1 no chat open yet", "/open c1", *SEQ_MISUSE])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[error] no chat open: /open CHAT or /dm USER first (/chats lists them)"
    assert out[3:] == list(SEQ_MISUSE.values())
    assert server.last_rev.get("c1", 0) == 0 and "c1" not in server.notify
    assert not [r for r in server.requests if r["action"] == "message.send"]


def test_a_line_ending_in_a_backslash_goes_on_on_the_next_line():
    entry = Entry()
    assert entry.add("first line\\") is None
    assert entry.add("second\\\r\n") is None  # as read from a file
    assert entry.add("third") == "first line\nsecond\nthird"
    assert entry.add("alone") == "alone"
    assert entry.add("cut off by the end\\") is None
    assert entry.finish() == "cut off by the end\n"
    assert entry.finish() is None


def test_multi_line_messages_and_edits_are_sent_with_their_line_breaks(capsys):
    server = FakeServer()
    run_shell(
        server, ["/open c1", "dear bob,\nsee you\n  at ten", "/edit 1\nnew first\nnew second", "/reply\n1 ok"]
    )
    out = capsys.readouterr().out.splitlines()
    texts = [r["text"] for r in server.requests if r["action"] in ("message.send", "message.edit")]
    assert texts == ["dear bob,\nsee you\n  at ten", "new first\nnew second", "ok"]
    assert out[-3:-1] == ["[edited] c1 1 alice: new first", "    new second (edited)"]


def test_changes_by_others_print_with_the_message_number(capsys):
    server = FakeServer()
    server.store("c1")

    def bob_edits(ws: FakeWs) -> None:
        if not server.last_rev.get("c1"):
            changed = server.change("c1", 1, text="text one", edited_at="2026-12-06T10:00:00.000Z")
            ws.push({"event": "chat:message:updated", "message": changed})

    run_shell(server, ["/open c1"], bob_edits)
    assert capsys.readouterr().out.splitlines()[-1] == "[changed] c1 1 bob: text one (edited)"


def test_report_sends_the_message_number_and_the_reason_as_typed(capsys):
    server = FakeServer()
    server.add_chat("c2", [ME, "bob"], title="Team")
    server.store("c2")  # 1 bob: text 1
    run_shell(
        server,
        [
            "/report 1",
            "/open Team",
            '/report 1 he said "things", don\'t',
            "/report 1",
            "/report",
            "/report x",
        ],
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[error] no chat open: /open CHAT or /dm USER first (/chats lists them)"
    assert out[3:] == [
        "[reported] c2 1: the operators will review it",
        "[reported] c2 1: the operators will review it",
        "[error] give the message's number, as shown beside it, not nothing: /report SEQ [REASON...]",
        "[error] give the message's number, as shown beside it, not 'x': /report SEQ [REASON...]",
    ]
    reports = [r for r in server.requests if r["action"] == "message.report"]
    assert [(r["chat_id"], r["seq"], r.get("reason")) for r in reports] == [
        ("c2", 1, 'he said "things", don\'t'),  # as typed: no shell quoting
        ("c2", 1, None),  # no reason: none sent
    ]


def test_reporting_your_own_message_says_why(capsys):
    server = FakeServer()
    server.store("c1", sender=ME)
    run_shell(server, ["/open c1", "/report 1 oops"])
    assert capsys.readouterr().out.splitlines()[-1] == "[error] refused: you cannot report your own message"


def test_help_shows_every_dispatched_command_with_its_whole_help_uncut_and_the_environment(capsys):
    shell = run_shell(FakeServer(), ["/help"])
    shown = capsys.readouterr().out
    assert set(shell.commands) | {"/quit"} == set(INTERACTIVE)  # the dispatcher's table is /help's
    flat = " ".join(shown.split())
    for name in [*shell.commands, "/quit"]:
        spec = INTERACTIVE[name]
        assert " ".join(f"{name} {spec.arguments} {spec.help}".split()) in flat, name  # all of it
    assert "CHAT: an id, an id prefix, a title prefix" in flat  # /open's second sentence, once cut
    assert max(len(line) for line in shown.splitlines()) <= HELP_WIDTH
    for variable, text in ENVIRONMENT.items():
        assert " ".join(f"{variable} {text}".split()) in flat


def test_a_background_message_names_its_chat_by_title_or_the_other_person(capsys):
    server = FakeServer()
    server.add_chat("c2", [ME, "carol"], title="Weekend")
    server.add_chat("x9", [ME, "erin"], kind="direct")
    writers = [("c2", "carol"), ("x9", "erin"), ("c2", "carol")]

    def one_writes(ws: FakeWs) -> None:  # after each line typed
        if writers:
            chat_id, sender = writers.pop(0)
            ws.push({"event": "chat:message", "message": server.store(chat_id, sender=sender)})

    run_shell(server, ["/close", "/chats", "/close"], one_writes)
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("[bg]")] == [
        "[bg] c2 carol: text 1",  # a chat the shell has not seen yet: its id alone
        "[bg] x9 erin - erin: text 1",  # a direct chat: the other person
        "[bg] c2 Weekend - carol: text 2",  # a group: its title
    ]
