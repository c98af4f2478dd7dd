"""`chalice deploy --stage ci`, run exactly as the README tells a user, against moto's server
(tests/deploy/aws_harness.py), after the tables and queues of infra/tables.json exist there.
Everything is read back through boto3: what the functions, the WebSocket API, the roles and the
workers' event sources became; then a redeploy after a code change, then `chalice delete`."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from infra import vapid_key
from tests.deploy.aws_harness import (
    CHALICE,
    REGION,
    RUNTIME,
    TEMPLATE_STAGE,
    TEST_STAGE,
    attachments_bucket,
    aws_env,
    client,
    declared,
    make_project,
    moto_server,
    package_for_changed_code,
    publish_packages,
    rename_stage,
    run,
    stage_settings,
)
from tests.deploy.template.test_policy import allowed
from tests.stack import ROOT

# Chalice names a WebSocket route's function by the route, whatever the Python function is called.
ROUTE_FUNCTIONS = {
    "$connect": "websocket_connect",
    "$default": "websocket_message",
    "$disconnect": "websocket_disconnect",
}
CHANGE_MARKER = "# deploy test: a code change"


@pytest.fixture
def aws(tmp_path):
    with moto_server(tmp_path / "moto.log") as endpoint:
        yield endpoint


@pytest.fixture
def project(tmp_path):
    copy = make_project(tmp_path / "project")
    yield copy
    publish_packages(copy)


def _create_tables_stack(endpoint: str, stage: str) -> None:
    """infra/tables.json as infra/deploy.sh creates it: the tables and both workers' queues."""
    cloudformation = client("cloudformation", endpoint)
    cloudformation.create_stack(
        StackName=f"chat-backend-{stage}-tables",
        TemplateBody=(ROOT / "infra" / "tables.json").read_text(),
        Parameters=[{"ParameterKey": "TablePrefix", "ParameterValue": f"chat-{stage}"}],
    )
    (stack,) = cloudformation.describe_stacks(StackName=f"chat-backend-{stage}-tables")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack


def _infra_names(resource_type: str, retained_only: bool = False) -> list[str]:
    """The test stage's names of infra/tables.json's resources of a type (tables, queues)."""
    resources = json.loads((ROOT / "infra" / "tables.json").read_text())["Resources"].values()
    key = {"AWS::DynamoDB::Table": "TableName", "AWS::SQS::Queue": "QueueName"}[resource_type]
    return sorted(
        r["Properties"][key]["Fn::Sub"].replace("${TablePrefix}", f"chat-{TEST_STAGE}")
        for r in resources
        if r["Type"] == resource_type and (r.get("DeletionPolicy") == "Retain" or not retained_only)
    )


ORIGIN = "https://chat.example.com"  # the web page's origin infra/deploy.sh is given


def _check_attachments_bucket(endpoint: str, origin: str | None) -> None:
    """The stack's attachments bucket, read back through the S3 API: private (all four public
    access blocks, ACLs off), SSE-S3, a policy refusing any request without TLS, CORS for the
    web page's origin only (none without one), and uploads still tagged pending=true expiring
    after a day, incomplete multipart uploads aborted."""
    s3 = client("s3", endpoint)
    bucket = attachments_bucket()
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (encryption,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert encryption["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statement == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    if origin is None:
        with pytest.raises(botocore.exceptions.ClientError) as none:
            s3.get_bucket_cors(Bucket=bucket)
        assert none.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    else:
        (cors,) = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
        assert cors["AllowedOrigins"] == [origin]
        assert sorted(cors["AllowedMethods"]) == ["GET", "HEAD", "POST"]
        assert (cors["AllowedHeaders"], cors["ExposeHeaders"]) == (["*"], ["ETag"])
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["expire-pending-uploads"]["Status"] == "Enabled"
    assert rules["expire-pending-uploads"]["Filter"] == {
        "And": {"Prefix": "attachments/", "Tags": [{"Key": "pending", "Value": "true"}]}
    }
    assert rules["expire-pending-uploads"]["Expiration"] == {"Days": 1}
    assert rules["abort-incomplete-multipart-uploads"]["Filter"] == {"Prefix": ""}
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    assert len(rules) == 2


def _timed(label: str, command: list[str], project: Path, env: dict[str, str]) -> str:
    started = time.monotonic()
    output = run(command, project, env)
    package = ""
    if "Creating deployment package" in output:
        reused = "Reusing existing deployment package" in output
        package = " (package reused)" if reused else " (package built)"
    print(f"{label}: {time.monotonic() - started:.1f} s{package}")
    return output


def _functions(endpoint: str) -> dict[str, dict[str, Any]]:
    lam = client("lambda", endpoint)
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    return {name: lam.get_function_configuration(FunctionName=name) for name in names}


def _expected_functions(app: dict[str, Any], settings: dict[str, Any]) -> dict[str, str]:
    """Function name -> handler string, for every function the app declares (Chalice names the
    REST API's function {app}-{stage}, and the others {app}-{stage}-{name})."""
    prefix = f"{settings['app_name']}-{TEST_STAGE}-"
    functions = {prefix + ROUTE_FUNCTIONS[route]: handler for route, handler in app["websocket"].items()}
    functions.update({prefix + source["name"]: source["handler"] for source in app["sqs"]})
    if app["routes"]:
        functions[prefix.rstrip("-")] = "app.app"
    return functions


def _check_functions(
    endpoint: str, app: dict[str, Any], settings: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    expected = _expected_functions(app, settings)
    functions = _functions(endpoint)
    assert sorted(functions) == sorted(expected)
    iam = client("iam", endpoint)
    roles: dict[str, str] = {}  # role -> the one function that has it
    for name, function in functions.items():
        assert function["Handler"] == expected[name], name
        assert function["Runtime"] == RUNTIME, name
        assert function["MemorySize"] == settings["memory"], name
        assert function["Timeout"] == settings["timeout"], name
        assert function["Environment"]["Variables"] == settings["environment"], name
        role = function["Role"].rsplit("/", 1)[1]
        # A role of its own (Chalice names it {app}-{stage}-{function}) with the function's policy
        # file verbatim, inline, and nothing else: no generated policy, no managed one.
        own = role.removeprefix(f"{settings['app_name']}-{TEST_STAGE}-")
        assert own in settings["policies"] and roles.setdefault(role, name) == name, (name, role)
        assert iam.list_role_policies(RoleName=role)["PolicyNames"] == [role], name
        document = iam.get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        assert document == settings["policies"][own], name
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == [], name
        trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "lambda.amazonaws.com"}], name
    assert len(roles) == len(functions) == len(settings["policies"])
    return functions


PAGE_ROUTES = ["/", "/config.json", "/static/js/{name}", "/static/{name}"]


def _check_rest_api(endpoint: str, app: dict[str, Any], settings: dict[str, Any]) -> str:
    """The REST API serving the web page: its routes, each a GET proxied to the page's function,
    deployed to the stage. Returns the API id."""
    assert app["routes"] == PAGE_ROUTES
    apigw = client("apigateway", endpoint)
    (api,) = apigw.get_rest_apis()["items"]
    assert api["name"] == settings["app_name"]
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api["id"])["items"]}
    assert set(PAGE_ROUTES) <= set(resources), sorted(resources)
    function = f"{settings['app_name']}-{TEST_STAGE}"
    for path in PAGE_ROUTES:
        integration = apigw.get_integration(
            restApiId=api["id"], resourceId=resources[path]["id"], httpMethod="GET"
        )
        assert integration["type"].upper() == "AWS_PROXY", path  # moto keeps the Swagger's "aws_proxy"
        assert f":function:{function}/invocations" in integration["uri"], path
    assert [s["stageName"] for s in apigw.get_stages(restApiId=api["id"])["item"]] == [TEST_STAGE]
    return str(api["id"])


def _check_websocket_api(endpoint: str, app: dict[str, Any], settings: dict[str, Any]) -> str:
    """The one WebSocket API: its three routes, each integrated with its route's function, its
    stage, and API Gateway's permission to invoke each function. Returns the API id."""
    apigw = client("apigatewayv2", endpoint)
    (api,) = apigw.get_apis()["Items"]
    assert api["Name"] == f"{settings['app_name']}-{TEST_STAGE}-websocket-api"
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"
    api_id = api["ApiId"]
    integrations = {i["IntegrationId"]: i for i in apigw.get_integrations(ApiId=api_id)["Items"]}
    routes = {r["RouteKey"]: r for r in apigw.get_routes(ApiId=api_id)["Items"]}
    assert sorted(routes) == sorted(app["websocket"]) == ["$connect", "$default", "$disconnect"]
    prefix = f"arn:aws:lambda:{REGION}:123456789012:function:{settings['app_name']}-{TEST_STAGE}-"
    for key, route in routes.items():
        integration = integrations[route["Target"].removeprefix("integrations/")]
        assert integration["IntegrationType"] == "AWS_PROXY", key
        function_arn = prefix + ROUTE_FUNCTIONS[key]
        assert integration["IntegrationUri"] == (
            f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
        ), key
    assert len(integrations) == 3  # a redeploy re-creates them: none left behind
    (stage,) = apigw.get_stages(ApiId=api_id)["Items"]
    assert stage["StageName"] == settings["api_gateway_stage"] == TEST_STAGE
    # One deployment, made on the first deploy (moto keeps no stage's DeploymentId to compare).
    # A redeploy re-creates the routes and integrations but deploys nothing: Chalice 1.34's plan.
    assert len(apigw.get_deployments(ApiId=api_id)["Items"]) == 1
    lam = client("lambda", endpoint)
    for key in routes:  # API Gateway may invoke each route's function, from this API only
        policy = json.loads(lam.get_policy(FunctionName=prefix + ROUTE_FUNCTIONS[key])["Policy"])
        (statement,) = policy["Statement"]
        assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}, key
        assert f":{api_id}/" in json.dumps(statement["Condition"]), key
    return api_id


def _check_workers(endpoint: str, app: dict[str, Any], settings: dict[str, Any]) -> dict[str, str]:
    """Each SQS worker reads its stage queue (the one infra/tables.json made) with the declared
    batch size. Returns worker -> event source mapping UUID."""
    assert [source["kind"] for source in app["sqs"]] == ["SQSEventConfig"] * 2
    assert sorted(s["queue"] for s in app["sqs"]) == [f"chat-{TEST_STAGE}-fanout", f"chat-{TEST_STAGE}-push"]
    assert app["other"] == 0  # no plain functions this test would not see
    sqs, lam = client("sqs", endpoint), client("lambda", endpoint)
    uuids = {}
    for source in app["sqs"]:
        url = sqs.get_queue_url(QueueName=source["queue"])["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        function = f"{settings['app_name']}-{TEST_STAGE}-{source['name']}"
        (mapping,) = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
        assert mapping["EventSourceArn"] == queue_arn, function
        assert mapping["BatchSize"] == source["batch_size"], function
        assert mapping["State"] == "Enabled", function
        uuids[source["name"]] = mapping["UUID"]
    assert len(lam.list_event_source_mappings()["EventSourceMappings"]) == len(app["sqs"])
    return uuids


def _check_code(project: Path, functions: dict[str, dict[str, Any]], marker: str | None) -> Path:
    """Every function runs the package Chalice built on disk (same SHA-256), which holds the app
    and its runtime dependencies but no dev or test code. Returns the package."""
    shas = {f["CodeSha256"] for f in functions.values()}
    assert len(shas) == 1, shas  # one package for all functions
    (sha,) = shas
    packages = {
        base64.b64encode(hashlib.sha256(p.read_bytes()).digest()).decode(): p
        for p in (project / ".chalice" / "deployments").glob("*.zip")
    }
    assert sha in packages, "the deployed code is no package Chalice built here"
    with zipfile.ZipFile(packages[sha]) as package:
        names = package.namelist()
        app_py = package.read("app.py").decode()
    assert (CHANGE_MARKER in app_py) == (marker is not None)
    tops = {name.split("/", 1)[0] for name in names}
    assert {"app.py", "chalicelib", "chalice", "pynamodb", "jwt", "pywebpush", "chat_web"} <= tops
    assert not tops & {"tests", "chatlocal", "chatclient", "moto", "infra", "web", "bench"}, tops
    return packages[sha]


def test_chalice_deploy_redeploy_and_delete_against_moto(aws, project, tmp_path):
    env = aws_env(aws, tmp_path / "home")
    settings = stage_settings(project)
    assert settings["autogen_policy"] is False
    app = declared(project, env)
    _create_tables_stack(aws, TEST_STAGE)
    _check_attachments_bucket(aws, origin=None)  # no AttachmentsAllowedOrigin: no CORS rule

    output = _timed("chalice deploy", [CHALICE, "deploy", "--stage", TEST_STAGE], project, env)

    functions = _check_functions(aws, app, settings)
    api_id = _check_websocket_api(aws, app, settings)
    rest_api_id = _check_rest_api(aws, app, settings)
    mappings = _check_workers(aws, app, settings)
    first_package = _check_code(project, functions, marker=None)
    assert f"Rest API URL: https://{rest_api_id}.execute-api.{REGION}.amazonaws.com/{TEST_STAGE}/" in output
    # Chalice prints the real endpoint's form (moto serves no execute-api host): only a real
    # account shows a URL clients can reach.
    url = f"wss://{api_id}.execute-api.{REGION}.amazonaws.com/{TEST_STAGE}/"
    assert f"Websocket API URL: {url}" in output
    deployed = json.loads((project / ".chalice" / "deployed" / f"{TEST_STAGE}.json").read_text())
    assert {r["name"]: r for r in deployed["resources"]}["websocket_api"]["websocket_api_id"] == api_id

    with (project / "app.py").open("a") as app_py:
        app_py.write(f"\n{CHANGE_MARKER}\n")
    package_for_changed_code(project, first_package)
    _timed("chalice deploy (redeploy)", [CHALICE, "deploy", "--stage", TEST_STAGE], project, env)

    redeployed = _check_functions(aws, app, settings)
    assert {n: f["FunctionArn"] for n, f in redeployed.items()} == {
        n: f["FunctionArn"] for n, f in functions.items()
    }
    assert _check_websocket_api(aws, app, settings) == api_id  # updated in place
    assert _check_rest_api(aws, app, settings) == rest_api_id
    assert _check_workers(aws, app, settings) == mappings
    assert _check_code(project, redeployed, marker=CHANGE_MARKER) != first_package
    assert {f["CodeSha256"] for f in redeployed.values()} != {f["CodeSha256"] for f in functions.values()}

    output = _timed("chalice delete", [CHALICE, "delete", "--stage", TEST_STAGE], project, env)

    assert _functions(aws) == {}
    assert client("apigatewayv2", aws).get_apis()["Items"] == []
    assert client("apigateway", aws).get_rest_apis()["items"] == []
    assert client("lambda", aws).list_event_source_mappings()["EventSourceMappings"] == []
    roles = [r["RoleName"] for r in client("iam", aws).list_roles()["Roles"]]
    assert [r for r in roles if r.startswith(f"{settings['app_name']}-{TEST_STAGE}-")] == []
    # The tables and queues are infra/'s, not Chalice's: they stay.
    assert sorted(client("dynamodb", aws).list_tables()["TableNames"]) == _infra_names("AWS::DynamoDB::Table")
    queues = [url.rsplit("/", 1)[1] for url in client("sqs", aws).list_queues()["QueueUrls"]]
    assert sorted(queues) == _infra_names("AWS::SQS::Queue")
    assert [b["Name"] for b in client("s3", aws).list_buckets()["Buckets"]] == [attachments_bucket()]


def test_the_test_stage_is_the_dev_stage_with_its_own_names(project):
    """The copy's ci stage is dev's settings and policy with every dev name moved: a name the
    rename missed would deploy ci against dev's tables, queues or secrets."""
    config = json.loads((project / ".chalice" / "config.json").read_text())
    ci, dev = config["stages"][TEST_STAGE], config["stages"][TEMPLATE_STAGE]
    # The one setting a user fills in after the first deploy: the bucket's name holds the account.
    assert dev["environment_variables"]["CHAT_ATTACHMENTS_BUCKET"] == ""
    bucket = ci["environment_variables"].pop("CHAT_ATTACHMENTS_BUCKET")
    assert bucket == f"chat-{TEST_STAGE}-attachments-123456789012-{REGION}"
    renamed = json.loads(rename_stage(json.dumps(dev)))
    del renamed["environment_variables"]["CHAT_ATTACHMENTS_BUCKET"]
    assert ci == renamed

    def files(stage: dict) -> list[str]:
        return [stage["iam_policy_file"], *(f["iam_policy_file"] for f in stage["lambda_functions"].values())]

    assert len(files(ci)) == len(set(files(ci))) == 7  # the default, then one per function
    ci_text = json.dumps(ci) + "".join((project / ".chalice" / f).read_text() for f in files(ci))
    dev_text = json.dumps(dev) + "".join((ROOT / ".chalice" / f).read_text() for f in files(dev))
    assert not re.search(rf"\b{TEMPLATE_STAGE}\b", ci_text)
    assert (
        len(re.findall(rf"\b{TEST_STAGE}\b", ci_text))
        == len(re.findall(rf"\b{TEMPLATE_STAGE}\b", dev_text))
        > 20
    )
    assert json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"].keys() == {"dev", "prod"}


def test_chalice_deploy_before_the_queues_exist_fails_at_the_first_workers_event_source(
    aws, project, tmp_path
):
    """The README's order matters: the workers' event sources need infra/'s queues first."""
    env = aws_env(aws, tmp_path / "home")
    done = subprocess.run(
        [CHALICE, "deploy", "--stage", TEST_STAGE],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    subscribing = [line for line in done.stdout.splitlines() if line.startswith("Subscribing")]
    assert subscribing == [
        f"Subscribing chat-backend-{TEST_STAGE}-fanout to SQS queue chat-{TEST_STAGE}-fanout"
    ]
    assert "CreateEventSourceMapping operation" in done.stderr


def test_the_harness_answers_create_deployment_for_known_apis_only(aws):
    apigw = client("apigatewayv2", aws)
    api_id = apigw.create_api(
        Name="x", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    deployment = apigw.create_deployment(ApiId=api_id)
    assert deployment["DeploymentStatus"] == "DEPLOYED"
    assert [d["DeploymentId"] for d in apigw.get_deployments(ApiId=api_id)["Items"]] == [
        deployment["DeploymentId"]
    ]
    with pytest.raises(botocore.exceptions.ClientError) as unknown:
        apigw.create_deployment(ApiId="nosuchapi")
    assert unknown.value.response["Error"]["Code"] == "NotFoundException"


def _stack_outputs(endpoint: str, stage: str) -> dict[str, str]:
    (stack,) = client("cloudformation", endpoint).describe_stacks(StackName=f"chat-backend-{stage}-tables")[
        "Stacks"
    ]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _ssm_secure_string(endpoint: str, name: str) -> str:
    parameter = client("ssm", endpoint).get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString", name
    return str(parameter["Value"])


@pytest.mark.skipif(shutil.which("aws") is None, reason="infra/deploy.sh needs the AWS CLI (aws) on PATH")
def test_infra_deploy_sh_deploys_and_deletes_against_moto(aws, project, tmp_path):
    """Path 2 end to end, as docs/deploy.md tells it: the tables stack, both secrets, chalice
    deploy, partial batch responses on both workers; then --delete, which keeps what users made.
    (A second run is not covered: moto refuses the empty change set CloudFormation accepts.)"""
    env = {**aws_env(aws, tmp_path / "home"), "CHAT_ATTACHMENTS_ORIGIN": ORIGIN}
    settings = stage_settings(project)
    app = declared(project, env)
    deploy = ["bash", "infra/deploy.sh", TEST_STAGE]

    output = _timed("infra/deploy.sh", deploy, project, env)

    outputs = _stack_outputs(aws, TEST_STAGE)
    _check_attachments_bucket(aws, origin=ORIGIN)
    # The functions' bucket (config.json, as the user set it) is the stack's, which the policy grants.
    bucket = outputs["AttachmentsBucketName"]
    assert bucket == settings["environment"]["CHAT_ATTACHMENTS_BUCKET"] == attachments_bucket()
    assert "Attachments are off" not in output
    assert allowed(
        settings["policies"]["websocket_message"],
        "s3:PutObject",
        f"arn:aws:s3:::{bucket}/attachments/c_1/a_1",
    )
    jwt_secret = _ssm_secure_string(aws, settings["environment"]["CHAT_JWT_SECRET_PARAM"])
    vapid = _ssm_secure_string(aws, settings["environment"]["CHAT_VAPID_PRIVATE_KEY_PARAM"])
    assert len(jwt_secret) >= 48
    assert f"applicationServerKey): {vapid_key.public_key(vapid)}" in output
    _check_functions(aws, app, settings)
    _check_websocket_api(aws, app, settings)
    mappings = _check_workers(aws, app, settings)
    lam = client("lambda", aws)
    for worker, uuid in mappings.items():
        mapping = lam.get_event_source_mapping(UUID=uuid)
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"], worker
        assert mapping["EventSourceArn"] == outputs[f"{worker.capitalize()}QueueArn"], worker
        assert f"reports partial batch failures (event source mapping {uuid})" in output

    _timed("infra/deploy.sh --delete", [*deploy, "--delete"], project, env)

    assert _functions(aws) == {}
    assert client("apigatewayv2", aws).get_apis()["Items"] == []
    stacks = client("cloudformation", aws).list_stacks()["StackSummaries"]
    assert [s["StackStatus"] for s in stacks if s["StackName"] == f"chat-backend-{TEST_STAGE}-tables"] == [
        "DELETE_COMPLETE"
    ]
    assert client("sqs", aws).list_queues().get("QueueUrls", []) == []
    retained = _infra_names("AWS::DynamoDB::Table", retained_only=True)
    assert retained and len(retained) < len(_infra_names("AWS::DynamoDB::Table"))
    assert sorted(client("dynamodb", aws).list_tables()["TableNames"]) == retained
    # The files stay with their bucket, and so does its TLS-only policy.
    assert [b["Name"] for b in client("s3", aws).list_buckets()["Buckets"]] == [bucket]
    _check_attachments_bucket(aws, origin=ORIGIN)
    assert _ssm_secure_string(aws, settings["environment"]["CHAT_JWT_SECRET_PARAM"]) == jwt_secret
