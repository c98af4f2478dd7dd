"""``chat`` itself: getting a dev token, the failure lines, usage mistakes before connecting."""

from __future__ import annotations

from typing import Any

import pytest

from chatclient import AuthError, CannotConnect
from chatclient.cli.program import CliFailure, dev_token, failure_line


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
