"""The local stack's settings: every bad value stops it with one line naming the variable."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from chatlocal import __main__ as chatlocal_main
from chatlocal.config import (
    StartupError,
    env_flag,
    env_int,
    env_seconds,
    exposed_warning,
    is_loopback,
    log_level,
)
from chatlocal.datadir import DEFAULT_DIR


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("abc", "PORT='abc' is not a whole number (0 to 65535)"),
        ("8000.5", "PORT='8000.5' is not a whole number (0 to 65535)"),
        ("-1", "PORT=-1 is out of range (0 to 65535)"),
        ("65536", "PORT=65536 is out of range (0 to 65535)"),
    ],
)
def test_bad_port_is_named_with_its_range(raw, message):
    with pytest.raises(StartupError) as bad:
        env_int({"PORT": raw}, "PORT", 8000, 0, 65535)
    assert str(bad.value) == message


@pytest.mark.parametrize(("raw", "value"), [("", 8000), ("0", 0), (" 65535 ", 65535), ("8001", 8001)])
def test_port_values(raw, value):
    assert env_int({"PORT": raw}, "PORT", 8000, 0, 65535) == value


def test_int_without_upper_bound_says_at_least():
    with pytest.raises(StartupError, match=r"CHAT_LAMBDA_CONCURRENCY=0 is out of range \(at least 1\)"):
        env_int({"CHAT_LAMBDA_CONCURRENCY": "0"}, "CHAT_LAMBDA_CONCURRENCY", 64, 1)


@pytest.mark.parametrize("raw", ["soon", "0", "-1", "inf", "nan", "1e999"])
def test_bad_seconds_are_refused(raw):
    with pytest.raises(StartupError, match="CHAT_IDLE_TIMEOUT_SECONDS="):
        env_seconds({"CHAT_IDLE_TIMEOUT_SECONDS": raw}, "CHAT_IDLE_TIMEOUT_SECONDS", 600)


@pytest.mark.parametrize(("raw", "value"), [("", 600.0), ("1.5", 1.5), ("30", 30.0)])
def test_seconds_values(raw, value):
    assert env_seconds({"S": raw}, "S", 600) == value


@pytest.mark.parametrize(
    ("raw", "value"), [("", False), ("0", False), ("no", False), ("1", True), ("TRUE", True)]
)
def test_flags(raw, value):
    assert env_flag({"CHAT_EPHEMERAL": raw}, "CHAT_EPHEMERAL") is value


def test_unknown_flag_value_is_refused():
    with pytest.raises(StartupError, match="CHAT_EPHEMERAL='maybe' is not a flag"):
        env_flag({"CHAT_EPHEMERAL": "maybe"}, "CHAT_EPHEMERAL")


def test_log_level():
    assert log_level({}) == "INFO"
    assert log_level({"LOG_LEVEL": "debug"}) == "DEBUG"
    with pytest.raises(StartupError, match="LOG_LEVEL='LOUD' is not a level"):
        log_level({"LOG_LEVEL": "loud"})


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "example.com", ""])
def test_hosts_other_machines_can_reach(host):
    assert not is_loopback(host)


def test_exposed_warning_says_the_dev_routes_are_off_and_how_to_turn_them_on():
    warning = exposed_warning("0.0.0.0", 8000)
    assert "WARNING: HOST=0.0.0.0 is not a loopback address" in warning and "port 8000" in warning
    assert "are off" in warning and "--allow-remote-dev" in warning and "CHAT_ALLOW_REMOTE_DEV=1" in warning


def test_exposed_warning_with_remote_dev_routes_names_the_dev_token_danger():
    warning = exposed_warning("0.0.0.0", 8000, allow_remote_dev=True)
    assert "port 8000" in warning and "/dev/token" in warning and "ANY user" in warning


@pytest.mark.parametrize(
    ("env", "argv", "allowed"),
    [
        ({}, [], False),
        ({}, ["--allow-remote-dev"], True),
        ({"CHAT_ALLOW_REMOTE_DEV": "1"}, [], True),
        ({"CHAT_ALLOW_REMOTE_DEV": "0"}, [], False),
    ],
)
def test_remote_dev_routes_need_the_flag_or_the_variable(env, argv, allowed):
    assert chatlocal_main.Options.from_env(env, argv).allow_remote_dev is allowed


def test_an_unknown_argument_stops_the_start_with_the_usage():
    with pytest.raises(StartupError, match=r"unknown argument '--allow-remote'.*usage: python -m chatlocal"):
        chatlocal_main.Options.from_env({}, ["--allow-remote"])


def test_port_in_use_names_host_and_port_and_suggests_port_0():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartupError) as in_use:
            chatlocal_main._bind("127.0.0.1", port)
    assert str(in_use.value).startswith(f"127.0.0.1:{port} is already in use")
    assert "PORT=0" in str(in_use.value)


def test_host_that_is_not_an_address_here():
    with pytest.raises(StartupError, match=r"HOST=192\.0\.2\.1 is not an address of this machine"):
        chatlocal_main._bind("192.0.2.1", 0)


def test_options_defaults():
    options = chatlocal_main.Options.from_env({})
    assert (options.host, options.port, options.idle_timeout) == ("127.0.0.1", 8000, 600)
    assert (options.lambda_concurrency, options.save_interval) == (64, 30)
    assert options.data_dir == DEFAULT_DIR
    assert options.secret == ""


def test_options_data_folder(tmp_path):
    options = chatlocal_main.Options.from_env({"CHAT_DATA_DIR": str(tmp_path / "d")})
    assert options.data_dir == tmp_path / "d"
    assert chatlocal_main.Options.from_env({"CHAT_EPHEMERAL": "1"}).data_dir is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "abc"),
        ("CHAT_IDLE_TIMEOUT_SECONDS", "x"),
        ("CHAT_LAMBDA_CONCURRENCY", "many"),
        ("CHAT_SAVE_INTERVAL_SECONDS", "0"),
        ("CHAT_EPHEMERAL", "perhaps"),
        ("CHAT_ALLOW_REMOTE_DEV", "sure"),
        ("CHAT_CONNECTION_CONCURRENCY", "0"),
        ("CHAT_AUTH", "okta"),
    ],
)
def test_options_refuse_bad_values(variable, value):
    with pytest.raises(StartupError, match=variable):
        chatlocal_main.Options.from_env({variable: value})


def test_auth_modes():
    assert chatlocal_main.Options.from_env({}).auth == "dev"
    assert chatlocal_main.Options.from_env({"CHAT_AUTH": "dev"}).auth == "dev"
    assert chatlocal_main.Options.from_env({"CHAT_AUTH": " Cognito "}).auth == "cognito"
    with pytest.raises(StartupError, match=r"CHAT_AUTH=cognito sets .* itself: unset CHAT_OIDC_ISSUER"):
        chatlocal_main.Options.from_env({"CHAT_AUTH": "cognito", "CHAT_OIDC_ISSUER": "https://x"})


def test_main_prints_one_line_and_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "abc")
    assert chatlocal_main.main() == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "chatlocal: cannot start: PORT='abc' is not a whole number (0 to 65535)\n"


def test_main_reports_a_busy_data_folder(monkeypatch, capsys, tmp_path: Path):
    from chatlocal.datadir import DataDir

    monkeypatch.setenv("CHAT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CHAT_EPHEMERAL", raising=False)
    held = DataDir.open(tmp_path)
    try:
        assert chatlocal_main.main() == 2
    finally:
        held.close()
    assert "is in use by another local stack" in capsys.readouterr().err


def test_main_warns_loudly_when_host_is_not_loopback(monkeypatch, capsys):
    served: list[str] = []

    def bind_locally(host: str, port: int) -> socket.socket:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))  # the test itself never listens beyond this machine
        return sock

    async def serve(options, persistence, sock, env) -> None:
        served.append(options.host)
        sock.close()

    monkeypatch.setattr(chatlocal_main, "_bind", bind_locally)
    monkeypatch.setattr(chatlocal_main, "_serve", serve)
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("CHAT_EPHEMERAL", "1")
    assert chatlocal_main.main() == 0
    assert served == ["0.0.0.0"]
    err = capsys.readouterr().err
    assert "WARNING: HOST=0.0.0.0 is not a loopback address" in err
    assert "/dev/* routes (dev tokens, connection listing, push emulation) are off" in err


def test_main_is_quiet_about_a_loopback_host(monkeypatch, capsys):
    async def serve(options, persistence, sock, env) -> None:
        sock.close()

    monkeypatch.setattr(chatlocal_main, "_serve", serve)
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", "0")
    monkeypatch.setenv("CHAT_EPHEMERAL", "1")
    assert chatlocal_main.main() == 0
    assert "WARNING" not in capsys.readouterr().err
