"""Who may use the local stack's /dev routes and web page: on loopback only (unless the flag
says otherwise), and only under a Host that names the stack (no DNS rebinding)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from chatlocal.functions.lambdas import Lambdas
from chatlocal.gateway.events import Api
from chatlocal.gateway.server import SERVER_LOG, LocalAccess, build_application
from chatlocal.gateway.websocket_api import Gateway


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:8000",
        "127.0.0.1",
        "127.0.0.1:8000",
        "127.0.0.2:9",
        "[::1]",
        "[::1]:8000",
        "LOCALHOST",
    ],
)
def test_loopback_names_are_this_stack(host):
    assert LocalAccess("127.0.0.1", 8000).host_allowed(host)


@pytest.mark.parametrize(
    "host",
    [None, "", "evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil.example:8000",
     "10.0.0.5:8000", "[::1]evil"],
)  # fmt: skip
def test_other_names_are_refused(host):
    assert not LocalAccess("127.0.0.1", 8000).host_allowed(host)


def test_the_configured_host_and_port_are_accepted_and_nothing_else():
    access = LocalAccess("192.168.1.5", 8000, allow_remote_dev=True)
    assert access.host_allowed("192.168.1.5:8000") and access.host_allowed("192.168.1.5")
    assert not access.host_allowed("192.168.1.5:9000") and not access.host_allowed("192.168.1.6:8000")


def test_a_wildcard_host_with_remote_dev_takes_ip_addresses_but_no_names():
    access = LocalAccess("0.0.0.0", 8000, allow_remote_dev=True)
    assert access.host_allowed("192.168.1.5:8000") and access.host_allowed("[fe80::1]:8000")
    assert not access.host_allowed("evil.example:8000")
    assert not LocalAccess("0.0.0.0", 8000).host_allowed("192.168.1.5:8000")


@pytest.mark.parametrize(
    ("host", "flag", "dev_routes"),
    [("127.0.0.1", False, True), ("::1", False, True), ("localhost", False, True), ("0.0.0.0", False, False),
     ("192.168.1.5", False, False), ("0.0.0.0", True, True)],
)  # fmt: skip
def test_dev_routes_exist_on_loopback_or_with_the_flag(host, flag, dev_routes):
    assert LocalAccess(host, 8000, flag).dev_routes is dev_routes


def serve(
    access: LocalAccess,
    requests: list[tuple[str, dict[str, str]]],
    tmp_path: Any,
    page_config: dict[str, Any] | None = None,
    bodies: list[Any] | None = None,
) -> list[int]:
    """The statuses of GET requests (path, headers) against the application (their JSON bodies
    appended to ``bodies`` when given)."""
    (tmp_path / "index.html").write_text("<html></html>")

    async def main() -> list[int]:
        lambdas = Lambdas(
            {
                route: lambda event, context: {"statusCode": 200}
                for route in ("$connect", "$default", "$disconnect")
            }
        )
        gateway = Gateway(lambdas, Api())
        application = build_application(
            gateway, "s" * 32, web_root=tmp_path, access=access, page_config=page_config
        )
        server = TestServer(application)
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as session:
                statuses = []
                for path, headers in requests:
                    async with session.get(server.make_url(path), headers=headers) as response:
                        statuses.append(response.status)
                        if bodies is not None:
                            bodies.append(await response.json())
                return statuses
        finally:
            await server.close()
            lambdas.shutdown()

    return asyncio.run(main())


def test_dev_routes_and_the_page_refuse_a_foreign_host(tmp_path):
    foreign = {"Host": "rebound.example:8000"}
    statuses = serve(
        LocalAccess("127.0.0.1", 8000),
        [
            ("/dev/token?user=bob", {}),
            ("/dev/token?user=bob", foreign),
            ("/dev/connections", foreign),
            ("/dev/stats", foreign),
            ("/dev/vapid", foreign),
            ("/", {}),
            ("/", foreign),
            ("/static/index.html", foreign),
            ("/dev/token?user=bob", {"Host": "localhost:8000"}),
        ],
        tmp_path,
    )
    assert statuses == [200, 403, 403, 403, 403, 200, 403, 403, 200]


def test_dev_routes_are_absent_off_loopback_without_the_flag(tmp_path):
    paths = ["/dev/token?user=bob", "/dev/connections", "/dev/stats", "/dev/anything"]
    off = serve(
        LocalAccess("0.0.0.0", 8000), [(path, {"Host": "127.0.0.1:8000"}) for path in paths], tmp_path
    )
    on = serve(
        LocalAccess("0.0.0.0", 8000, True),
        [(path, {"Host": "127.0.0.1:8000"}) for path in paths[:3]],
        tmp_path,
    )
    assert off == [404] * 4 and on == [200] * 3


def test_a_user_id_with_a_trailing_newline_gets_no_token(tmp_path):
    assert serve(LocalAccess(), [("/dev/token?user=bob%0A", {})], tmp_path) == [400]


def test_a_malformed_request_is_one_log_line_without_a_traceback(caplog):
    from aiohttp.http_exceptions import LineTooLong

    caplog.set_level(logging.INFO, logger="aiohttp.server")
    try:
        raise LineTooLong("x" * 100, "8190", "9000")
    except LineTooLong as exc:
        SERVER_LOG.exception("Error handling request from %s", "127.0.0.1", exc_info=exc)
    try:
        raise ValueError("a real bug")
    except ValueError:
        SERVER_LOG.exception("Error handling request from %s", "127.0.0.1")
    first, second = caplog.records
    assert first.levelno == logging.INFO and first.exc_info is None and "LineTooLong" in first.getMessage()
    assert second.levelno == logging.ERROR and second.exc_info is not None


def test_the_page_config_says_dev_and_dev_tokens_are_served(tmp_path):
    bodies: list[Any] = []
    assert serve(
        LocalAccess(), [("/config.json", {}), ("/dev/token?user=bob", {})], tmp_path, None, bodies
    ) == [200, 200]
    assert bodies[0] == {"auth": "dev"} and "token" in bodies[1]


def test_in_oidc_mode_dev_tokens_answer_404_and_the_page_config_names_the_issuer(tmp_path):
    config = {"auth": "oidc", "issuer": "https://id.test", "client_id": "web"}
    bodies: list[Any] = []
    statuses = serve(
        LocalAccess(), [("/config.json", {}), ("/dev/token?user=bob", {})], tmp_path, config, bodies
    )
    assert statuses == [200, 404]
    assert bodies[0] == config and "token" not in bodies[1]
