"""Sign-in for the packaged stack (infra/merge_template.py adds it): the parameters that point
the functions at an OpenID Connect issuer, and, behind ``CreateUserPool=true``, an Amazon
Cognito user pool the stack makes, with its hosted sign-in pages and an app client for the web
page the stage serves.

- ``CreateUserPool=false`` (the default), "bring your issuer": ``OidcIssuer``, ``OidcAudience``
  and ``OidcJwksUrl`` become the WebSocket functions' ``CHAT_OIDC_*``; all empty (the default)
  leaves them in HS256 mode. ``OidcWebClientId``, ``OidcAuthorizeUrl`` and ``OidcTokenUrl`` tell
  the web page how to sign people in with that provider (its config.json).
- ``CreateUserPool=true``: the pool (user names to sign in, e-mail optional), its domain
  (``https://{prefix}.auth.{region}.amazoncognito.com``), a public app client for the page
  (Authorization Code with PKCE, scopes openid and profile, the page's URL as callback and
  sign-out URL), and the functions' issuer and audience are the pool's and the client's.

The page's function cannot name the app client in its environment: the client's callback URL
is the REST API's, the REST API invokes the page's function, so that would be a dependency
cycle. The stack writes the client id to an SSM parameter of the stage instead (a plain String,
``/chat-backend/{stage}/web-client-id``), which the function reads once per container.
"""

from __future__ import annotations

from typing import Any

WEBSOCKET_FUNCTIONS = ("WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect")
PAGE_FUNCTION = "APIHandler"  # Chalice's function behind the REST API (the web page's routes)
USER_POOL = "MakesUserPool"  # the condition: CreateUserPool is "true"

_URL = r"^(https://[^\s/]+(/\S*)?)?$"
PARAMETERS: dict[str, dict[str, Any]] = {
    "CreateUserPool": {
        "Type": "String",
        "Default": "false",
        "AllowedValues": ["true", "false"],
        "Description": (
            "true: the stack makes a Cognito user pool, its hosted sign-in domain and the web "
            "page's app client, and the functions accept its tokens (leave the Oidc* parameters "
            "empty); false: the Oidc* parameters say which issuer to trust, if any"
        ),
    },
    "UserPoolDomainPrefix": {
        "Type": "String",
        "Default": "",
        "Description": (
            "With CreateUserPool=true: the hosted sign-in pages are at "
            "https://{prefix}.auth.{region}.amazoncognito.com (unique in the region; may not "
            "contain aws, amazon or cognito). Empty: {TablePrefix}-{AccountId}"
        ),
        "AllowedPattern": r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)?$",
    },
    "AllowSelfSignUp": {
        "Type": "String",
        "Default": "true",
        "AllowedValues": ["true", "false"],
        "Description": (
            "With CreateUserPool=true: true lets people sign up on the hosted pages; false: only "
            "an administrator creates users (aws cognito-idp admin-create-user)"
        ),
    },
    "RefreshTokenValidityDays": {
        "Type": "Number",
        "Default": 30,
        "MinValue": 1,
        "MaxValue": 3650,
        "Description": (
            "With CreateUserPool=true: how long the page stays signed in without asking for the "
            "password again (ID and access tokens last an hour and are refreshed)"
        ),
    },
    "WebPageUrl": {
        "Type": "String",
        "Default": "",
        "Description": (
            "With CreateUserPool=true: where people open the web page if not at the stage's own "
            "URL (a custom domain, https://chat.example.com/): the app client's callback and "
            "sign-out URL. Empty: the stage's page (the WebPageUrl output)"
        ),
        "AllowedPattern": _URL,
    },
    "VapidPublicKey": {
        "Type": "String",
        "Default": "",
        "Description": (
            "The Web Push VAPID public key (the second line `python -m infra.vapid_key new` prints; "
            "`... public` derives it from the private key in SSM): the web page subscribes browsers "
            "with it. Empty: the page offers no Web Push"
        ),
        "AllowedPattern": "^[A-Za-z0-9_-]*$",
    },
    "OidcIssuer": {
        "Type": "String",
        "Default": "",
        "Description": (
            "With CreateUserPool=false: your OpenID Connect issuer (the tokens' iss, "
            "https://...); empty: HS256 tokens signed with the stage's JWT secret"
        ),
        "AllowedPattern": _URL,
    },
    "OidcAudience": {
        "Type": "String",
        "Default": "",
        "Description": "With OidcIssuer: the aud (or client_id) tokens must carry; empty: any",
    },
    "OidcJwksUrl": {
        "Type": "String",
        "Default": "",
        "Description": "With OidcIssuer: its key set, if not at {OidcIssuer}/.well-known/jwks.json",
        "AllowedPattern": _URL,
    },
    "OidcWebClientId": {
        "Type": "String",
        "Default": "",
        "Description": (
            "With OidcIssuer: the web page's OAuth client (public, Authorization Code with "
            "PKCE); empty: OidcAudience"
        ),
    },
    "OidcAuthorizeUrl": {
        "Type": "String",
        "Default": "",
        "Description": "With OidcIssuer: the provider's authorization endpoint, for the web page",
        "AllowedPattern": _URL,
    },
    "OidcTokenUrl": {
        "Type": "String",
        "Default": "",
        "Description": "With OidcIssuer: the provider's token endpoint, for the web page",
        "AllowedPattern": _URL,
    },
}
BRING_YOUR_ISSUER = (
    "OidcIssuer",
    "OidcAudience",
    "OidcJwksUrl",
    "OidcWebClientId",
    "OidcAuthorizeUrl",
    "OidcTokenUrl",
)


def _is_set(parameter: str) -> dict[str, Any]:
    return {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}


CONDITIONS: dict[str, Any] = {
    USER_POOL: {"Fn::Equals": [{"Ref": "CreateUserPool"}, "true"]},
    "HasUserPoolDomainPrefix": _is_set("UserPoolDomainPrefix"),
    "HasWebPageUrl": _is_set("WebPageUrl"),
    "SelfSignUp": {"Fn::Equals": [{"Ref": "AllowSelfSignUp"}, "true"]},
}
# CloudFormation refuses the stack before it makes anything if both ways are asked for.
RULES: dict[str, Any] = {
    "OneIssuer": {
        "RuleCondition": {"Fn::Equals": [{"Ref": "CreateUserPool"}, "true"]},
        "Assertions": [
            {
                "Assert": {"Fn::Equals": [{"Ref": name}, ""]},
                "AssertDescription": f"{name} must be empty with CreateUserPool=true (the pool issues)",
            }
            for name in BRING_YOUR_ISSUER
        ],
    }
}


def _when_pool(pool: Any, otherwise: Any) -> dict[str, Any]:
    return {"Fn::If": [USER_POOL, pool, otherwise]}


ISSUER = {"Fn::Sub": "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${UserPool}"}
HOSTED_UI = "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com"


def client_id_parameter(stage: str) -> str:
    """The SSM parameter the stack writes the page's app client id to (a plain String)."""
    return f"/chat-backend/{stage}/web-client-id"


def page_url(api_stage: str) -> dict[str, Any]:
    """The stage's web page: the REST API's stage, with the final slash (relative links)."""
    return {"Fn::Sub": f"https://${{RestAPI}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{api_stage}/"}


def resources(api_stage: str, stage: str) -> dict[str, Any]:
    callback = {"Fn::If": ["HasWebPageUrl", {"Ref": "WebPageUrl"}, page_url(api_stage)]}
    retained = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}  # the accounts
    return {
        "UserPool": {
            "Type": "AWS::Cognito::UserPool",
            "Condition": USER_POOL,
            **retained,
            "Properties": {
                "UserPoolName": {"Fn::Sub": "${TablePrefix}-users"},
                "UsernameConfiguration": {"CaseSensitive": False},
                "AdminCreateUserConfig": {
                    "AllowAdminCreateUserOnly": {"Fn::If": ["SelfSignUp", False, True]}
                },
                "Policies": {
                    "PasswordPolicy": {
                        "MinimumLength": 10,
                        "RequireLowercase": True,
                        "RequireUppercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": False,
                        "TemporaryPasswordValidityDays": 7,
                    }
                },
                # E-mail is optional; one given is verified (Cognito sends the code) and can
                # recover the account.
                "AutoVerifiedAttributes": ["email"],
                "AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
                "MfaConfiguration": "OFF",
            },
        },
        "UserPoolDomain": {
            "Type": "AWS::Cognito::UserPoolDomain",
            "Condition": USER_POOL,
            "Properties": {
                "UserPoolId": {"Ref": "UserPool"},
                "Domain": {
                    "Fn::If": [
                        "HasUserPoolDomainPrefix",
                        {"Ref": "UserPoolDomainPrefix"},
                        {"Fn::Sub": "${TablePrefix}-${AWS::AccountId}"},
                    ]
                },
            },
        },
        "UserPoolWebClient": {
            "Type": "AWS::Cognito::UserPoolClient",
            "Condition": USER_POOL,
            "Properties": {
                "UserPoolId": {"Ref": "UserPool"},
                "ClientName": {"Fn::Sub": "${TablePrefix}-web"},
                "GenerateSecret": False,  # a public client: a browser keeps no secret (PKCE instead)
                "AllowedOAuthFlowsUserPoolClient": True,
                "AllowedOAuthFlows": ["code"],
                "AllowedOAuthScopes": ["openid", "profile"],
                "SupportedIdentityProviders": ["COGNITO"],
                "CallbackURLs": [callback],
                "LogoutURLs": [callback],
                "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                "PreventUserExistenceErrors": "ENABLED",
                "EnableTokenRevocation": True,
                "IdTokenValidity": 60,
                "AccessTokenValidity": 60,
                "RefreshTokenValidity": {"Ref": "RefreshTokenValidityDays"},
                "TokenValidityUnits": {
                    "IdToken": "minutes",
                    "AccessToken": "minutes",
                    "RefreshToken": "days",
                },
            },
        },
        "WebClientIdParameter": {
            "Type": "AWS::SSM::Parameter",
            "Condition": USER_POOL,
            "Properties": {
                "Name": client_id_parameter(stage),
                "Type": "String",
                "Value": {"Ref": "UserPoolWebClient"},
                "Description": "The web page's Cognito app client (config.json's client_id)",
            },
        },
    }


def websocket_environment() -> dict[str, Any]:
    """The WebSocket functions' CHAT_OIDC_* (only $connect reads them)."""
    return {
        "CHAT_OIDC_ISSUER": _when_pool(ISSUER, {"Ref": "OidcIssuer"}),
        "CHAT_OIDC_AUDIENCE": _when_pool({"Ref": "UserPoolWebClient"}, {"Ref": "OidcAudience"}),
        "CHAT_OIDC_JWKS_URL": _when_pool("", {"Ref": "OidcJwksUrl"}),
    }


def page_environment(api_stage: str, stage: str) -> dict[str, Any]:
    """The web page function's: what its config.json says (chalicelib/webpage.py)."""
    return {
        "CHAT_OIDC_ISSUER": _when_pool(ISSUER, {"Ref": "OidcIssuer"}),
        "CHAT_OIDC_AUDIENCE": _when_pool("", {"Ref": "OidcAudience"}),
        "CHAT_WEB_CLIENT_ID": _when_pool("", {"Ref": "OidcWebClientId"}),
        "CHAT_WEB_CLIENT_ID_PARAM": _when_pool(client_id_parameter(stage), ""),
        "CHAT_WEB_AUTHORIZE_URL": _when_pool(
            {"Fn::Sub": f"{HOSTED_UI}/oauth2/authorize"}, {"Ref": "OidcAuthorizeUrl"}
        ),
        "CHAT_WEB_TOKEN_URL": _when_pool({"Fn::Sub": f"{HOSTED_UI}/oauth2/token"}, {"Ref": "OidcTokenUrl"}),
        "CHAT_VAPID_PUBLIC_KEY": {"Ref": "VapidPublicKey"},
        "CHAT_WS_URL": {
            "Fn::Sub": f"wss://${{WebsocketAPI}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{api_stage}"
        },
    }


def outputs(api_stage: str) -> dict[str, Any]:
    pool = {"Condition": USER_POOL}
    return {
        "WebPageUrl": {"Description": "The web page the stage serves", "Value": page_url(api_stage)},
        "UserPoolId": {**pool, "Description": "The Cognito user pool", "Value": {"Ref": "UserPool"}},
        "UserPoolClientId": {
            **pool,
            "Description": "The web page's app client",
            "Value": {"Ref": "UserPoolWebClient"},
        },
        "UserPoolIssuer": {**pool, "Description": "The tokens' issuer (CHAT_OIDC_ISSUER)", "Value": ISSUER},
        "UserPoolHostedUiDomain": {
            **pool,
            "Description": "The hosted sign-in pages (/login, /signup, /oauth2/authorize)",
            "Value": {"Fn::Sub": HOSTED_UI},
        },
    }
