"""The packaged template: cfn-lint clean, the WebSocket API and its routes, the tables exactly as
the PynamoDB models declare them, and the functions wired to them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pynamodb.attributes import TTLAttribute

from chalicelib.config import table_prefix
from chalicelib.storage.tables import ALL_MODELS
from tests.deploy.conftest import STAGES, stage_env
from tests.stack import ROOT

CFN_LINT = [str(Path(sys.executable).parent / "cfn-lint")]
# Rules ignored, each with its reason. None are needed today (Chalice 1.34, cfn-lint 1.58,
# Python 3.11). If cfn-lint starts flagging the Lambda runtime as deprecated, the runtime is
# the packaging Python's (docs/deploy.md says which Python to deploy from): ignore E2531/W2531.
IGNORED_RULES: list[str] = []
HANDLERS = {
    "WebsocketConnect": "app.connect",
    "WebsocketMessage": "app.message",
    "WebsocketDisconnect": "app.disconnect",
}
FUNCTIONS = {
    "$connect": "WebsocketConnect",
    "$default": "WebsocketMessage",
    "$disconnect": "WebsocketDisconnect",
}


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    ignore = ["--ignore-checks", *IGNORED_RULES] if IGNORED_RULES else []
    return subprocess.run(
        [*CFN_LINT, "--format", "parseable", *ignore, "--", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("stage", STAGES)
def test_packaged_template_passes_cfn_lint(packaged, stage):
    done = _lint(packaged[stage])
    assert done.returncode == 0, done.stdout + done.stderr


def test_tables_template_alone_passes_cfn_lint():
    done = _lint(ROOT / "infra" / "tables.json")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_websocket_api_routes_each_reach_their_function(templates, stage):
    resources = templates[stage]["Resources"]
    (api_id,) = [k for k, v in resources.items() if v["Type"] == "AWS::ApiGatewayV2::Api"]
    api = resources[api_id]["Properties"]
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"
    routes = {
        v["Properties"]["RouteKey"]: v["Properties"]
        for v in resources.values()
        if v["Type"] == "AWS::ApiGatewayV2::Route"
    }
    assert set(routes) == set(FUNCTIONS)
    for route_key, function in FUNCTIONS.items():
        target = json.dumps(routes[route_key]["Target"])
        integration_id = target.split('"')[-2] if "Ref" in target else ""
        integration = resources[integration_id]["Properties"] if integration_id in resources else None
        assert integration is not None, f"{route_key}: no integration ({target})"
        assert function in json.dumps(integration["IntegrationUri"])
        assert resources[function]["Properties"]["Handler"] == HANDLERS[function]
    stages = [v["Properties"] for v in resources.values() if v["Type"] == "AWS::ApiGatewayV2::Stage"]
    assert [s["StageName"] for s in stages] == [stage]


@pytest.mark.parametrize("stage", STAGES)
def test_functions_are_wired_to_the_tables_and_the_secret(templates, stage):
    resources = templates[stage]["Resources"]
    expected = stage_env(stage)
    for function in FUNCTIONS.values():
        props = resources[function]["Properties"]
        variables = props["Environment"]["Variables"]
        assert variables["CHAT_TABLE_PREFIX"] == {"Ref": "TablePrefix"}
        assert variables["CHAT_JWT_SECRET_PARAM"] == f"/chat-backend/{stage}/jwt-secret"
        assert "CHAT_JWT_SECRET" not in variables and "CHAT_MANAGEMENT_ENDPOINT" not in variables
        assert variables["CHAT_FANOUT_CONCURRENCY"] == expected["CHAT_FANOUT_CONCURRENCY"]
        assert props["MemorySize"] == 512 and props["Timeout"] == 30
    # The policy file names the stage's tables by the same prefix the stack is deployed with.
    assert expected["CHAT_TABLE_PREFIX"] == f"chat-{stage}"


def _table_resources(template: dict) -> dict[str, dict]:
    """Table suffix ("connections") -> properties, from "${TablePrefix}-connections"."""
    out = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::DynamoDB::Table":
            name = resource["Properties"]["TableName"]["Fn::Sub"]
            assert name.startswith("${TablePrefix}-")
            out[name.removeprefix("${TablePrefix}-")] = resource
    return out


@pytest.mark.parametrize("source", ["packaged-dev", "packaged-prod", "infra/tables.json"])
def test_tables_match_the_pynamodb_models(templates, source):
    template = (
        json.loads((ROOT / "infra" / "tables.json").read_text())
        if source == "infra/tables.json"
        else templates[source.split("-")[1]]
    )
    tables = _table_resources(template)
    assert len(tables) == len(ALL_MODELS)
    for model in ALL_MODELS:
        suffix = model.Meta.table_name.removeprefix(table_prefix() + "-")
        assert suffix in tables, f"{model.__name__}: no table *-{suffix} in {source}"
        resource = tables[suffix]
        props = resource["Properties"]
        attributes = model.get_attributes()
        keys = [(a.attr_name, "HASH") for a in attributes.values() if a.is_hash_key]
        keys += [(a.attr_name, "RANGE") for a in attributes.values() if a.is_range_key]
        assert [(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]] == keys, model.__name__
        key_types = {a.attr_name: a.attr_type for a in attributes.values() if a.is_hash_key or a.is_range_key}
        assert {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]} == key_types
        indexes = getattr(model, "_indexes", {}) or {}
        assert len(props.get("GlobalSecondaryIndexes", [])) + len(
            props.get("LocalSecondaryIndexes", [])
        ) == len(indexes)
        ttl = [a.attr_name for a in attributes.values() if isinstance(a, TTLAttribute)]
        spec = props.get("TimeToLiveSpecification")
        if ttl:
            assert spec == {"AttributeName": ttl[0], "Enabled": True}, model.__name__
        else:
            assert spec is None, model.__name__
        assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_message_data_has_point_in_time_recovery_and_is_retained():
    tables = _table_resources(json.loads((ROOT / "infra" / "tables.json").read_text()))
    for suffix in ("chats", "memberships", "messages", "send_keys"):
        resource = tables[suffix]
        assert resource["Properties"]["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }
        assert resource["DeletionPolicy"] == "Retain"


def test_deployed_package_holds_no_dev_or_test_code(packaged):
    import zipfile

    with zipfile.ZipFile(packaged["dev"].parent / "deployment.zip") as archive:
        top = {name.split("/", 1)[0] for name in archive.namelist()}
    assert {"app.py", "chalicelib", "pynamodb", "jwt"} <= top
    assert not top & {"moto", "chatlocal", "tests", "bench", "chatclient", "infra", "web", "pytest"}
