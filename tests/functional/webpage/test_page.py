"""The web page as a deployed stage serves it (app.py's REST routes, through Chalice's own test
client): the page and its files from web/, and config.json in each sign-in mode, its client id
read from the SSM parameter the stack writes (under moto) when the stack made the Cognito pool."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from chalice.test import Client

import app as chalice_app
from chalicelib import webpage
from tests.stack import ROOT

FIELDS = ["auth", "issuer", "client_id", "authorize_url", "token_url", "ws_url", "vapid_public_key"]
WS_URL = "wss://abc123.execute-api.eu-west-1.amazonaws.com/dev"
POOL = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
HOSTED = "https://chat-dev-123456789012.auth.eu-west-1.amazoncognito.com"
SIGN_IN = [
    "CHAT_OIDC_ISSUER",
    "CHAT_OIDC_AUDIENCE",
    "CHAT_OIDC_JWKS_URL",
    "CHAT_WEB_CLIENT_ID",
    "CHAT_WEB_CLIENT_ID_PARAM",
    "CHAT_WEB_AUTHORIZE_URL",
    "CHAT_WEB_TOKEN_URL",
    "CHAT_WS_URL",
]


@pytest.fixture
def client(monkeypatch) -> Iterator[Client]:
    for name in SIGN_IN:
        monkeypatch.delenv(name, raising=False)
    webpage._client_id.cache_clear()
    with Client(chalice_app.app) as test_client:
        yield test_client
    webpage._client_id.cache_clear()


def _config(client: Client) -> dict:
    response = client.http.get("/config.json")
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = json.loads(response.body)
    assert list(body) == FIELDS
    return dict(body)


def test_config_in_hs256_mode_says_dev_and_where_the_websocket_is(client, monkeypatch):
    monkeypatch.setenv("CHAT_WS_URL", WS_URL)
    assert _config(client) == {
        "auth": "dev",
        "issuer": None,
        "client_id": None,
        "authorize_url": None,
        "token_url": None,
        "ws_url": WS_URL,
        "vapid_public_key": None,
    }


def test_config_with_your_issuer_names_its_endpoints_and_the_page_client(client, monkeypatch):
    """CreateUserPool=false with the Oidc* parameters: the page's client, else the audience."""
    issuer = "https://login.example.com/"
    settings = {
        "CHAT_OIDC_ISSUER": issuer,
        "CHAT_OIDC_AUDIENCE": "chat-api",
        "CHAT_WEB_AUTHORIZE_URL": f"{issuer}authorize",
        "CHAT_WEB_TOKEN_URL": f"{issuer}oauth/token",
        "CHAT_WS_URL": WS_URL,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    expected = {
        "auth": "oidc",
        "issuer": issuer,
        "client_id": "chat-api",
        "authorize_url": f"{issuer}authorize",
        "token_url": f"{issuer}oauth/token",
        "ws_url": WS_URL,
        "vapid_public_key": None,
    }
    assert _config(client) == expected
    monkeypatch.setenv("CHAT_WEB_CLIENT_ID", "page-client")
    assert _config(client) == {**expected, "client_id": "page-client"}


def _cognito_stage(monkeypatch) -> str:
    """The web function's environment as infra/signin.py gives it with CreateUserPool=true."""
    name = "/chat-backend/test/web-client-id"
    settings = {
        "CHAT_OIDC_ISSUER": POOL,
        "CHAT_OIDC_AUDIENCE": "",
        "CHAT_WEB_CLIENT_ID": "",
        "CHAT_WEB_CLIENT_ID_PARAM": name,
        "CHAT_WEB_AUTHORIZE_URL": f"{HOSTED}/oauth2/authorize",
        "CHAT_WEB_TOKEN_URL": f"{HOSTED}/oauth2/token",
        "CHAT_WS_URL": WS_URL,
    }
    for variable, value in settings.items():
        monkeypatch.setenv(variable, value)
    return name


def test_config_of_a_stack_made_pool_reads_the_client_id_once_per_container(
    client, monkeypatch, moto_aws, aws_calls
):
    name = _cognito_stage(monkeypatch)
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=name, Value="4tq0example0client0id", Type="String", Overwrite=True
    )
    mark = aws_calls.mark()

    first, second = _config(client), _config(client)

    assert (
        first
        == second
        == {
            "auth": "oidc",
            "issuer": POOL,
            "client_id": "4tq0example0client0id",
            "authorize_url": f"{HOSTED}/oauth2/authorize",
            "token_url": f"{HOSTED}/oauth2/token",
            "ws_url": WS_URL,
            "vapid_public_key": None,
        }
    )
    assert aws_calls.operations_since(mark, service="ssm") == ["GetParameter"]


def test_config_answers_503_while_the_client_id_cannot_be_read(client, monkeypatch, moto_aws):
    name = _cognito_stage(monkeypatch)
    boto3.client("ssm", region_name="us-east-1").delete_parameters(Names=[name])

    response = client.http.get("/config.json")

    assert response.status_code == 503
    assert json.loads(response.body) == {"error": "sign-in settings unavailable"}
    boto3.client("ssm", region_name="us-east-1").put_parameter(Name=name, Value="late-client", Type="String")
    assert _config(client)["client_id"] == "late-client"  # not cached: the next request reads it


def test_the_page_and_its_files_are_web_s_own(client):
    page = client.http.get("/")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.body.decode() == (ROOT / "web" / "index.html").read_text()
    for path, kind in (
        ("static/style.css", "text/css"),
        ("static/favicon.svg", "image/svg+xml"),
        ("static/sw.js", "text/javascript"),
        ("static/js/app.js", "text/javascript"),
    ):
        response = client.http.get(f"/{path}")
        assert response.status_code == 200, path
        assert response.headers["Content-Type"].startswith(kind), path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.body.decode() == (ROOT / "web" / path.removeprefix("static/")).read_text()


def test_the_page_links_its_files_relatively_so_they_are_found_under_the_stage():
    """Deployed, the page is at https://API.execute-api.REGION.amazonaws.com/STAGE/: a link to
    /static/... would leave the stage."""
    html = (ROOT / "web" / "index.html").read_text()
    assert 'href="static/style.css"' in html and 'src="static/js/app.js"' in html
    assert '"/static/' not in html


@pytest.mark.parametrize(
    "path",
    [
        "/static/missing.css",
        "/static/index.txt",
        "/static/js/missing.js",
        "/static/..%2Fapp.py",
        "/static/js/..%2F..%2Fapp.py",
    ],
)
def test_anything_but_a_file_of_the_page_is_not_found(client, path):
    response = client.http.get(path)
    assert response.status_code == 404
    assert response.body == b"not found\n"


@pytest.mark.parametrize(
    "name", ["../app.py", "js/../../app.py", "/etc/passwd", "", "js//app.js", "./style.css"]
)
def test_file_names_that_leave_the_folder_are_refused(name):
    assert webpage.static_file(name).status == 404


def test_the_stage_root_without_its_slash_is_sent_to_it():
    """https://.../dev would resolve the page's relative links against https://.../ (no stage)."""
    moved = webpage.page("/dev")
    assert (moved.status, moved.headers["Location"]) == (301, "/dev/")
    assert webpage.page("/dev/").status == 200


def test_the_deployment_package_finds_the_page_through_vendor():
    """vendor/chat_web is a link to web/ (Chalice puts vendor/'s contents at the package's top)."""
    link = ROOT / "vendor" / "chat_web"
    assert link.is_symlink() and link.resolve() == (ROOT / "web").resolve()
    assert webpage.FOLDERS[0].name == "chat_web" and webpage.FOLDERS[1] == ROOT / "web"


def test_config_carries_the_web_push_key_the_stage_was_given(client, monkeypatch):
    """VapidPublicKey (infra/signin.py): the page subscribes browsers with it (a deployed stage
    has no dev/vapid)."""
    key = "BDX_olkJxRP8lx1KVmDGXabrA1i4rwDbc1L3B8igZkIzQTPTl4uCyAm-hsVjf1_TsyDfzI8IQJyrAoTEQkz2y4c"
    monkeypatch.setenv("CHAT_VAPID_PUBLIC_KEY", key)
    assert _config(client)["vapid_public_key"] == key
