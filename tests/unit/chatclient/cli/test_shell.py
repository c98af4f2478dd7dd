"""The CLI's interactive shell, on the scripted in-memory server (no sockets)."""

from __future__ import annotations

from chatclient import Chat
from chatclient.cli.arguments import HELP, INTERACTIVE
from chatclient.cli.output import chat_line
from chatclient.cli.shell import Shell
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
