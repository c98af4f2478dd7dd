"""Sign-in in the packaged template (infra/signin.py): with CreateUserPool=false (the default) no
Cognito resource exists and the functions trust the issuer the Oidc* parameters name (none:
HS256); with CreateUserPool=true the stack makes the pool, its hosted UI domain, the web page's
public app client (Authorization Code with PKCE) and the SSM parameter naming that client, and the
functions trust the pool. Conditions are evaluated here as CloudFormation would, for each
setting."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra import merge_template, signin
from tests.deploy.conftest import STAGES

WEBSOCKET = ("WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect")
POOL_RESOURCES = {
    "UserPool": "AWS::Cognito::UserPool",
    "UserPoolDomain": "AWS::Cognito::UserPoolDomain",
    "UserPoolWebClient": "AWS::Cognito::UserPoolClient",
    "WebClientIdParameter": "AWS::SSM::Parameter",
}
POOL_OUTPUTS = {"UserPoolId", "UserPoolClientId", "UserPoolIssuer", "UserPoolHostedUiDomain"}
ISSUER = {"Fn::Sub": "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${UserPool}"}
HOSTED_UI = "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com"


class Stack:
    """A packaged template with parameter values: conditions and Fn::If resolved as CloudFormation
    resolves them (Ref to a parameter gives its value; other Refs stay as they are)."""

    def __init__(self, template: dict[str, Any], **parameters: str) -> None:
        self.template = template
        self.values = {
            name: str(parameters.get(name, spec.get("Default", "")))
            for name, spec in template["Parameters"].items()
        }
        unknown = set(parameters) - set(self.values)
        assert not unknown, unknown
        self.conditions = {name: self._test(expr) for name, expr in template.get("Conditions", {}).items()}

    def _value(self, expr: Any) -> Any:
        if isinstance(expr, dict) and set(expr) == {"Ref"} and expr["Ref"] in self.values:
            return self.values[expr["Ref"]]
        return expr

    def _test(self, expr: dict[str, Any]) -> bool:
        ((function, args),) = expr.items()
        if function == "Fn::Equals":
            return bool(self._value(args[0]) == self._value(args[1]))
        if function == "Fn::Not":
            return not self._test(args[0])
        if function == "Condition":
            return bool(self.conditions[args])
        raise AssertionError(f"teach Stack about {function}")

    def resolve(self, expr: Any) -> Any:
        if isinstance(expr, dict):
            if set(expr) == {"Fn::If"}:
                condition, yes, no = expr["Fn::If"]
                return self.resolve(yes if self.conditions[condition] else no)
            if set(expr) == {"Ref"}:
                return self._value(expr)
            return {key: self.resolve(value) for key, value in expr.items()}
        if isinstance(expr, list):
            return [self.resolve(item) for item in expr]
        return expr

    def resources(self) -> dict[str, Any]:
        return {
            name: self.resolve(resource)
            for name, resource in self.template["Resources"].items()
            if "Condition" not in resource or self.conditions[resource["Condition"]]
        }

    def outputs(self) -> set[str]:
        return {
            name
            for name, output in self.template["Outputs"].items()
            if "Condition" not in output or self.conditions[output["Condition"]]
        }

    def environment(self, function: str) -> dict[str, Any]:
        return dict(self.resources()[function]["Properties"]["Environment"]["Variables"])


def _page_url(stage: str) -> dict[str, str]:
    return {"Fn::Sub": f"https://${{RestAPI}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{stage}/"}


@pytest.mark.parametrize("stage", STAGES)
def test_without_the_pool_no_cognito_resource_exists_and_hs256_stays(templates, stage):
    stack = Stack(templates[stage])
    assert stack.values["CreateUserPool"] == "false"
    resources = stack.resources()
    assert not set(POOL_RESOURCES) & set(resources)
    assert not [r for r in resources.values() if r["Type"].startswith("AWS::Cognito::")]
    assert stack.outputs() & (POOL_OUTPUTS | {"WebPageUrl"}) == {"WebPageUrl"}
    for function in WEBSOCKET:
        variables = stack.environment(function)
        assert variables["CHAT_OIDC_ISSUER"] == ""  # HS256 mode, as before
        assert variables["CHAT_OIDC_AUDIENCE"] == variables["CHAT_OIDC_JWKS_URL"] == ""
    page = stack.environment("APIHandler")
    assert page["CHAT_OIDC_ISSUER"] == page["CHAT_WEB_CLIENT_ID_PARAM"] == ""
    assert page["CHAT_WS_URL"] == {
        "Fn::Sub": f"wss://${{WebsocketAPI}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{stage}"
    }


@pytest.mark.parametrize("stage", STAGES)
def test_your_issuer_reaches_the_websocket_functions_and_the_page(templates, stage):
    given = {
        "OidcIssuer": "https://login.example.com/",
        "OidcAudience": "chat-api",
        "OidcJwksUrl": "https://login.example.com/keys",
        "OidcWebClientId": "web-client",
        "OidcAuthorizeUrl": "https://login.example.com/authorize",
        "OidcTokenUrl": "https://login.example.com/oauth/token",
    }
    stack = Stack(templates[stage], **given)
    assert not set(POOL_RESOURCES) & set(stack.resources())
    for function in WEBSOCKET:
        variables = stack.environment(function)
        assert variables["CHAT_OIDC_ISSUER"] == given["OidcIssuer"]
        assert variables["CHAT_OIDC_AUDIENCE"] == given["OidcAudience"]
        assert variables["CHAT_OIDC_JWKS_URL"] == given["OidcJwksUrl"]
    page = stack.environment("APIHandler")
    assert page["CHAT_OIDC_ISSUER"] == given["OidcIssuer"]
    assert page["CHAT_WEB_CLIENT_ID"] == given["OidcWebClientId"]
    assert page["CHAT_WEB_AUTHORIZE_URL"] == given["OidcAuthorizeUrl"]
    assert page["CHAT_WEB_TOKEN_URL"] == given["OidcTokenUrl"]
    for worker in ("Fanout", "Push"):  # the workers verify no tokens
        assert not [v for v in stack.environment(worker) if v.startswith(("CHAT_OIDC_", "CHAT_WEB_"))]


@pytest.mark.parametrize("stage", STAGES)
def test_with_the_pool_the_stack_makes_it_and_points_the_functions_at_it(templates, stage):
    stack = Stack(templates[stage], CreateUserPool="true")
    resources = stack.resources()
    assert {name: resources[name]["Type"] for name in POOL_RESOURCES} == POOL_RESOURCES
    assert stack.outputs() >= POOL_OUTPUTS | {"WebPageUrl"}
    for function in WEBSOCKET:
        variables = stack.environment(function)
        assert variables["CHAT_OIDC_ISSUER"] == ISSUER
        assert variables["CHAT_OIDC_AUDIENCE"] == {"Ref": "UserPoolWebClient"}
        assert variables["CHAT_OIDC_JWKS_URL"] == ""  # the issuer's own /.well-known/jwks.json
    page = stack.environment("APIHandler")
    assert page["CHAT_OIDC_ISSUER"] == ISSUER
    # Not the client itself: the client names the REST API, which invokes this function (a cycle).
    assert page["CHAT_WEB_CLIENT_ID_PARAM"] == f"/chat-backend/{stage}/web-client-id"
    assert "UserPoolWebClient" not in json.dumps(page)
    assert page["CHAT_WEB_AUTHORIZE_URL"] == {"Fn::Sub": f"{HOSTED_UI}/oauth2/authorize"}
    assert page["CHAT_WEB_TOKEN_URL"] == {"Fn::Sub": f"{HOSTED_UI}/oauth2/token"}
    parameter = resources["WebClientIdParameter"]["Properties"]
    assert parameter["Name"] == page["CHAT_WEB_CLIENT_ID_PARAM"]
    assert (parameter["Type"], parameter["Value"]) == ("String", {"Ref": "UserPoolWebClient"})
    outputs = templates[stage]["Outputs"]
    assert outputs["UserPoolId"]["Value"] == {"Ref": "UserPool"}
    assert outputs["UserPoolClientId"]["Value"] == {"Ref": "UserPoolWebClient"}
    assert outputs["UserPoolHostedUiDomain"]["Value"] == {"Fn::Sub": HOSTED_UI}
    assert outputs["WebPageUrl"]["Value"] == _page_url(stage)


@pytest.mark.parametrize("stage", STAGES)
def test_the_pool_signs_in_by_user_name_and_keeps_its_users(templates, stage):
    resources = Stack(templates[stage], CreateUserPool="true").resources()
    pool = resources["UserPool"]
    assert (pool["DeletionPolicy"], pool["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props = pool["Properties"]
    assert "UsernameAttributes" not in props and "AliasAttributes" not in props  # a user name
    assert props["UsernameConfiguration"] == {"CaseSensitive": False}
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 8 and policy["RequireNumbers"] and policy["RequireLowercase"]
    assert props["AutoVerifiedAttributes"] == ["email"]  # an e-mail, when given, is verified
    assert "Schema" not in props  # e-mail stays optional: no attribute is required
    assert props["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": False}
    closed = Stack(templates[stage], CreateUserPool="true", AllowSelfSignUp="false").resources()
    assert closed["UserPool"]["Properties"]["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    domain = resources["UserPoolDomain"]["Properties"]
    assert domain["UserPoolId"] == {"Ref": "UserPool"}
    assert domain["Domain"] == {"Fn::Sub": "${TablePrefix}-${AWS::AccountId}"}
    named = Stack(templates[stage], CreateUserPool="true", UserPoolDomainPrefix="my-chat").resources()
    assert named["UserPoolDomain"]["Properties"]["Domain"] == "my-chat"


@pytest.mark.parametrize("stage", STAGES)
def test_the_web_client_is_public_code_flow_with_the_page_as_callback(templates, stage):
    client = Stack(templates[stage], CreateUserPool="true").resources()["UserPoolWebClient"]["Properties"]
    assert client["UserPoolId"] == {"Ref": "UserPool"}
    assert client["GenerateSecret"] is False
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthFlows"] == ["code"]  # PKCE: Cognito accepts code_challenge on it
    assert client["AllowedOAuthScopes"] == ["openid", "profile"]
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert client["CallbackURLs"] == client["LogoutURLs"] == [_page_url(stage)]
    assert client["RefreshTokenValidity"] == "30"
    assert client["TokenValidityUnits"]["RefreshToken"] == "days"
    assert "ALLOW_USER_PASSWORD_AUTH" not in client["ExplicitAuthFlows"]  # passwords go to Cognito only
    elsewhere = Stack(
        templates[stage],
        CreateUserPool="true",
        WebPageUrl="https://chat.example.com/",
        RefreshTokenValidityDays="7",
    ).resources()["UserPoolWebClient"]["Properties"]
    assert elsewhere["CallbackURLs"] == elsewhere["LogoutURLs"] == ["https://chat.example.com/"]
    assert elsewhere["RefreshTokenValidity"] == "7"


@pytest.mark.parametrize("stage", STAGES)
def test_the_stack_refuses_a_pool_and_another_issuer_at_once(templates, stage):
    (rule,) = templates[stage]["Rules"].values()
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "CreateUserPool"}, "true"]}
    checked = {a["Assert"]["Fn::Equals"][0]["Ref"] for a in rule["Assertions"]}
    assert checked == set(signin.BRING_YOUR_ISSUER)
    assert all(a["Assert"]["Fn::Equals"][1] == "" for a in rule["Assertions"])


def test_the_merge_template_takes_the_stage_api_stage_from_the_config():
    merged = merge_template.build("prod")
    client = merged["Resources"]["UserPoolWebClient"]["Properties"]
    assert client["CallbackURLs"][0]["Fn::If"][2] == _page_url("prod")
    assert (
        merged["Resources"]["WebClientIdParameter"]["Properties"]["Name"]
        == "/chat-backend/prod/web-client-id"
    )
    with pytest.raises(SystemExit):
        merge_template.build("nosuch")


@pytest.mark.parametrize("stage", STAGES)
def test_the_web_push_key_given_to_the_stack_reaches_the_page(templates, stage):
    """VapidPublicKey: the page's config.json carries it (a deployed page has no dev/vapid);
    empty by default, and then the page offers no Web Push."""
    assert Stack(templates[stage]).environment("APIHandler")["CHAT_VAPID_PUBLIC_KEY"] == ""
    key = "BDX_olkJxRP8lx1KVmDGXabrA1i4rwDbc1L3B8igZkIzQTPTl4uCyAm-hsVjf1_TsyDfzI8IQJyrAoTEQkz2y4c"
    page = Stack(templates[stage], VapidPublicKey=key).environment("APIHandler")
    assert page["CHAT_VAPID_PUBLIC_KEY"] == key
