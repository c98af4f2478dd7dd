"""The packaged template: cfn-lint clean, the WebSocket API and its routes, the tables exactly as
the PynamoDB models declare them, the attachments bucket (private, encrypted, TLS only, CORS for
the web page, pending uploads expiring), the fan-out and push workers each on its queue (partial
batch responses, a dead-letter queue), the push stack parameters, and the functions wired to
them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pynamodb.attributes import TTLAttribute

from chalicelib.config import table_prefix
from chalicelib.storage.tables import ALL_MODELS
from infra import merge_template
from tests.deploy.conftest import STAGES, config, stage_env
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
    "Fanout": "app.fanout",
    "Push": "app.push",
    "APIHandler": "app.app",  # the REST API's: the web page and its config.json
}
FUNCTIONS = {
    "$connect": "WebsocketConnect",
    "$default": "WebsocketMessage",
    "$disconnect": "WebsocketDisconnect",
}
# Each SQS worker, the queue it reads, its setting and handler name (Chalice's {app}-{stage}-{name}).
WORKERS = {"Fanout": "FanoutQueue", "Push": "PushQueue"}
QUEUE_SETTINGS = {"FanoutQueue": "CHAT_FANOUT_QUEUE", "PushQueue": "CHAT_PUSH_QUEUE"}
TABLES_TEMPLATE = ROOT / "infra" / "tables.json"


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    ignore = ["--ignore-checks", *IGNORED_RULES] if IGNORED_RULES else []
    return subprocess.run(
        [*CFN_LINT, "--format", "parseable", *ignore, "--", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("user_pool", ["false", "true"])
@pytest.mark.parametrize("stage", STAGES)
def test_packaged_template_passes_cfn_lint(packaged, stage, user_pool, tmp_path):
    """With the Cognito user pool off (the default) and on (the parameter's default flipped, as
    `--parameter-overrides CreateUserPool=true` deploys it)."""
    template = json.loads(packaged[stage].read_text())
    assert template["Parameters"]["CreateUserPool"]["Default"] == "false"
    template["Parameters"]["CreateUserPool"]["Default"] = user_pool
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(template))
    done = _lint(path)
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
def test_functions_are_wired_to_the_tables_the_queues_the_secrets_and_push(templates, stage):
    resources = templates[stage]["Resources"]
    expected = stage_env(stage)
    functions = sorted(k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function")
    assert functions == sorted(HANDLERS)
    for function in functions:
        props = resources[function]["Properties"]
        assert props["Handler"] == HANDLERS[function]
        variables = props["Environment"]["Variables"]
        assert variables["CHAT_TABLE_PREFIX"] == {"Ref": "TablePrefix"}
        assert variables["CHAT_FANOUT_QUEUE"] == {"Fn::GetAtt": ["FanoutQueue", "QueueName"]}
        assert variables["CHAT_PUSH_QUEUE"] == {"Fn::GetAtt": ["PushQueue", "QueueName"]}
        assert variables["CHAT_ATTACHMENTS_BUCKET"] == {"Ref": "AttachmentsBucket"}
        assert variables["CHAT_SNS_APNS_APP_ARN"] == {"Ref": "ApnsPlatformApplicationArn"}
        assert variables["CHAT_SNS_FCM_APP_ARN"] == {"Ref": "FcmPlatformApplicationArn"}
        assert variables["CHAT_JWT_SECRET_PARAM"] == f"/chat-backend/{stage}/jwt-secret"
        assert variables["CHAT_VAPID_PRIVATE_KEY_PARAM"] == f"/chat-backend/{stage}/vapid-private-key"
        assert variables["CHAT_VAPID_SUBJECT"] == expected["CHAT_VAPID_SUBJECT"]
        assert "CHAT_VAPID_PRIVATE_KEY" not in variables and "CHAT_PUSH_ALLOW_LOCAL_HTTP" not in variables
        assert "CHAT_JWT_SECRET" not in variables and "CHAT_MANAGEMENT_ENDPOINT" not in variables
        assert variables["CHAT_FANOUT_CONCURRENCY"] == expected["CHAT_FANOUT_CONCURRENCY"]
        assert props["MemorySize"] == 512 and props["Timeout"] == 30
    # The policy file names the stage's tables, queues and parameters by the same prefix the stack
    # is deployed with; `chalice deploy` (no merge) uses these values as they are.
    assert expected["CHAT_TABLE_PREFIX"] == f"chat-{stage}"
    assert expected["CHAT_FANOUT_QUEUE"] == f"chat-{stage}-fanout"
    assert expected["CHAT_PUSH_QUEUE"] == f"chat-{stage}-push"
    assert expected["CHAT_VAPID_PRIVATE_KEY_PARAM"] == f"/chat-backend/{stage}/vapid-private-key"
    assert re.fullmatch(r"(mailto:[^@\s]+@[^@\s]+|https://\S+)", expected["CHAT_VAPID_SUBJECT"])


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_each_worker_consumes_its_stack_queue_and_reports_partial_batch_failures(templates, stage, worker):
    resources = templates[stage]["Resources"]
    queue = WORKERS[worker]
    events = resources[worker]["Properties"]["Events"]
    assert [e["Type"] for e in events.values()] == ["SQS"], events
    (event,) = events.values()
    props = event["Properties"]
    # The stack's own queue: ${...Queue.Arn} also orders the queue before the event source.
    assert props["Queue"] == {"Fn::Sub": f"${{{queue}.Arn}}"}
    assert resources[queue]["Type"] == "AWS::SQS::Queue"
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Above 10 records, Lambda requires a batching window of at least a second.
    assert 1 <= props["BatchSize"] <= 10 or props.get("MaximumBatchingWindowInSeconds", 0) >= 1
    # Nothing else reads the queue: the worker is not behind a route, no other function reads it.
    routes = [v for v in resources.values() if v["Type"] == "AWS::ApiGatewayV2::Integration"]
    assert worker not in json.dumps(routes)
    readers = [
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        and f"${{{queue}.Arn}}" in json.dumps(resource["Properties"].get("Events", {}))
    ]
    assert readers == [worker]


def _effective_timeout(stage: str, function: str) -> int:
    """The Lambda timeout `chalice deploy` gives a function: per function, then stage, then global."""
    cfg = config()
    stage_cfg = cfg["stages"][stage]
    for scope in (stage_cfg.get("lambda_functions", {}).get(function, {}), stage_cfg, cfg):
        if "lambda_timeout" in scope:
            return int(scope["lambda_timeout"])
    return 60  # Chalice's default


@pytest.mark.parametrize("worker", sorted(WORKERS))
@pytest.mark.parametrize("source", ["packaged-dev", "packaged-prod", "infra/tables.json"])
def test_each_queue_outlasts_its_worker_and_dead_letters_after_five_receives(templates, source, worker):
    name = worker.lower()  # Fanout -> chat-dev-fanout, the handler app.fanout
    if source == "infra/tables.json":  # the `chalice deploy` path: timeouts from config.json
        template = json.loads(TABLES_TEMPLATE.read_text())
        timeout = max(_effective_timeout(stage, name) for stage in STAGES)
    else:
        template = templates[source.split("-")[1]]
        timeout = template["Resources"][worker]["Properties"]["Timeout"]
    resources = template["Resources"]
    queue, dead = resources[f"{worker}Queue"], resources[f"{worker}DeadLetterQueue"]
    assert queue["Properties"]["QueueName"] == {"Fn::Sub": f"${{TablePrefix}}-{name}"}
    assert dead["Properties"]["QueueName"] == {"Fn::Sub": f"${{TablePrefix}}-{name}-dlq"}
    # AWS: at least six times the function timeout, so a throttled batch is retried in time.
    visibility = queue["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * timeout
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [f"{worker}DeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    # A record failing every time reaches the DLQ before the queue's retention drops it unseen.
    assert 5 * visibility < queue["Properties"]["MessageRetentionPeriod"]
    # A standard queue's dead letters keep their first enqueue time: the DLQ must keep them longer.
    assert dead["Properties"]["MessageRetentionPeriod"] > queue["Properties"]["MessageRetentionPeriod"]
    assert "RedrivePolicy" not in dead["Properties"]
    source_arn = dead["Properties"]["RedriveAllowPolicy"]["sourceQueueArns"][0]["Fn::Sub"]
    assert source_arn.endswith(f":${{TablePrefix}}-{name}")
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert dead["Properties"]["SqsManagedSseEnabled"] is True
    alarm = resources[f"{worker}DeadLetterAlarm"]["Properties"]
    assert alarm["Namespace"] == "AWS/SQS" and alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [f"{worker}DeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmName"] == {"Fn::Sub": f"${{TablePrefix}}-{name}-dlq-not-empty"}
    outputs = template["Outputs"]
    assert outputs[f"{worker}QueueArn"]["Value"] == {"Fn::GetAtt": [f"{worker}Queue", "Arn"]}
    assert outputs[f"{worker}DeadLetterQueueUrl"]["Value"] == {"Ref": f"{worker}DeadLetterQueue"}


@pytest.mark.parametrize("stage", STAGES)
def test_chalice_deploy_path_points_the_workers_at_the_stage_queues(stage):
    """`chalice deploy` imports app.py with the stage's environment_variables set, so the
    workers' event sources are config.json's CHAT_FANOUT_QUEUE and CHAT_PUSH_QUEUE: the queues
    infra/tables.json makes for TablePrefix=chat-{stage}, whatever the shell has exported."""
    script = (
        "import json\n"
        "import os\n"
        "from chalice.cli.factory import CLIFactory\n"
        "factory = CLIFactory('.', environ=os.environ)  # as the chalice command makes it\n"
        f"app = factory.create_config_obj({stage!r}).chalice_app\n"
        "print(json.dumps([[type(e).__name__, e.name, e.queue] for e in app.event_sources]))\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "us-east-1",
        "CHAT_FANOUT_QUEUE": "wrong-queue",
        "CHAT_PUSH_QUEUE": "wrong-push-queue",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        ["SQSEventConfig", "fanout", f"chat-{stage}-fanout"],
        ["SQSEventConfig", "push", f"chat-{stage}-push"],
    ]


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
        schema = model._get_schema()
        indexes = {
            i["index_name"]: i for i in schema["global_secondary_indexes"] + schema["local_secondary_indexes"]
        }
        for index in indexes.values():  # an index's keys are defined attributes too
            key_types.update({d["AttributeName"]: d["AttributeType"] for d in index["attribute_definitions"]})
        assert {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]} == key_types
        assert len(props.get("GlobalSecondaryIndexes", [])) + len(
            props.get("LocalSecondaryIndexes", [])
        ) == len(indexes)
        declared = {
            i["IndexName"]: sorted((k["AttributeName"], k["KeyType"]) for k in i["KeySchema"])
            for i in props.get("GlobalSecondaryIndexes", [])
        }
        assert declared == {
            name: sorted((k["AttributeName"], k["KeyType"]) for k in index["key_schema"])
            for name, index in indexes.items()
        }, model.__name__
        ttl = [a.attr_name for a in attributes.values() if isinstance(a, TTLAttribute)]
        spec = props.get("TimeToLiveSpecification")
        if ttl:
            assert spec == {"AttributeName": ttl[0], "Enabled": True}, model.__name__
        else:
            assert spec is None, model.__name__
        assert props["BillingMode"] == "PAY_PER_REQUEST"


USER_DATA = (
    "presence",
    "chats",
    "chat_members",
    "memberships",
    "messages",
    "changes",
    "send_keys",
    "devices",
    "device_tokens",
    "attachments",
    "blocks",
    "reports",
)


def test_user_data_has_point_in_time_recovery_and_is_retained():
    """Chats and messages, and what users set: their devices and (in presence) muted chats."""
    tables = _table_resources(json.loads(TABLES_TEMPLATE.read_text()))
    assert set(tables) - set(USER_DATA) == {"connections", "push_log"}
    for suffix in USER_DATA:
        resource = tables[suffix]
        assert resource["Properties"]["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }
        assert resource["DeletionPolicy"] == "Retain"


def test_deployed_package_holds_no_dev_or_test_code(packaged):
    import zipfile

    with zipfile.ZipFile(packaged["dev"].parent / "deployment.zip") as archive:
        top = {name.split("/", 1)[0] for name in archive.namelist()}
        page = archive.read("chat_web/index.html").decode()
    assert {"app.py", "chalicelib", "pynamodb", "jwt", "chat_web"} <= top
    assert not top & {"moto", "chatlocal", "tests", "bench", "chatclient", "infra", "web", "pytest"}
    # The web page the stage serves is web/ itself (vendor/chat_web links to it).
    assert page == (ROOT / "web" / "index.html").read_text()


ACCOUNT_ARN = "arn:aws:sns:eu-west-1:123456789012"
PLATFORM_ARNS = {
    "ApnsPlatformApplicationArn": (
        ["", f"{ACCOUNT_ARN}:app/APNS/chat-dev-apns", f"{ACCOUNT_ARN}:app/APNS_SANDBOX/chat-prod-apns"],
        [
            f"{ACCOUNT_ARN}:app/GCM/chat-dev-apns",  # an FCM application
            f"{ACCOUNT_ARN}:app/APNS/MyApp",  # a name the policy does not grant
            f"{ACCOUNT_ARN}:endpoint/APNS/chat-dev-apns/0f5a9d2c-5c1e-3f4a-9b7e-2d8c6a1b4e3f",
            f"{ACCOUNT_ARN}:chat-dev-apns",  # a topic
            "chat-dev-apns",
            f" {ACCOUNT_ARN}:app/APNS/chat-dev-apns",
        ],
    ),
    "FcmPlatformApplicationArn": (
        [
            "",
            f"{ACCOUNT_ARN}:app/GCM/chat-dev-fcm",
            "arn:aws-cn:sns:cn-north-1:123456789012:app/GCM/chat-prod-fcm",
        ],
        [
            f"{ACCOUNT_ARN}:app/APNS/chat-dev-fcm",
            f"{ACCOUNT_ARN}:app/GCM/chat-dev-fcm-old",
            f"{ACCOUNT_ARN}:app/GCM/chat-dev-fcm\n",
            f"{ACCOUNT_ARN[:-1]}:app/GCM/chat-dev-fcm",  # an 11-digit account
        ],
    ),
}


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("parameter", sorted(PLATFORM_ARNS))
def test_platform_application_parameters_take_an_application_of_their_platform_or_nothing(
    templates, stage, parameter
):
    """CloudFormation checks AllowedPattern (a Java regex matched whole) before it deploys."""
    declared = templates[stage]["Parameters"][parameter]
    assert declared == merge_template.PARAMETERS[parameter]
    assert (declared["Type"], declared["Default"]) == ("String", "")
    good, bad = PLATFORM_ARNS[parameter]
    for arn in good:
        assert re.fullmatch(declared["AllowedPattern"], arn), arn
    for arn in bad:
        assert not re.fullmatch(declared["AllowedPattern"], arn), arn


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_application_a_parameter_names_is_granted_by_the_stage_policy(templates, stage):
    from tests.deploy.template.test_policy import _policy, allowed

    parameters = templates[stage]["Parameters"]
    for parameter, platforms, suffix in (
        ("ApnsPlatformApplicationArn", ("APNS", "APNS_SANDBOX"), "apns"),
        ("FcmPlatformApplicationArn", ("GCM",), "fcm"),
    ):
        for platform in platforms:
            arn = f"{ACCOUNT_ARN}:app/{platform}/chat-{stage}-{suffix}"
            assert re.fullmatch(parameters[parameter]["AllowedPattern"], arn), arn
            assert allowed(_policy(stage), "sns:CreatePlatformEndpoint", arn), arn


@pytest.mark.parametrize("source", ["packaged-dev", "packaged-prod", "infra/tables.json"])
def test_attachments_bucket_is_private_encrypted_tls_only_and_expires_pending_uploads(templates, source):
    if source == "infra/tables.json":
        template = json.loads(TABLES_TEMPLATE.read_text())
    else:
        template = templates[source.split("-")[1]]
    resources = template["Resources"]
    (bucket_id,) = [k for k, v in resources.items() if v["Type"] == "AWS::S3::Bucket"]
    assert bucket_id == "AttachmentsBucket"
    bucket = resources[bucket_id]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props = bucket["Properties"]
    assert props["BucketName"] == {"Fn::Sub": "${TablePrefix}-attachments-${AWS::AccountId}-${AWS::Region}"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert "AccessControl" not in props and "WebsiteConfiguration" not in props
    # CORS for the web page's origin only, and none at all when no origin is given.
    condition, cors, otherwise = props["CorsConfiguration"]["Fn::If"]
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert template["Conditions"][condition] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AttachmentsAllowedOrigin"}, ""]}]
    }
    (rule,) = cors["CorsRules"]
    assert rule["AllowedOrigins"] == [{"Ref": "AttachmentsAllowedOrigin"}]
    assert sorted(rule["AllowedMethods"]) == ["GET", "HEAD", "POST"]
    assert (rule["AllowedHeaders"], rule["ExposedHeaders"]) == (["*"], ["ETag"])
    # An upload still tagged pending=true (never attached) expires after a day; so does a
    # multipart upload left incomplete (the tag filter cannot apply to those: a rule of its own).
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules == {
        "expire-pending-uploads": {
            "Id": "expire-pending-uploads",
            "Status": "Enabled",
            "Prefix": "attachments/",
            "TagFilters": [{"Key": "pending", "Value": "true"}],
            "ExpirationInDays": 1,
        },
        "abort-incomplete-multipart-uploads": {
            "Id": "abort-incomplete-multipart-uploads",
            "Status": "Enabled",
            "Prefix": "",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
    }
    # The bucket policy refuses every request without TLS, to the bucket and its objects, and
    # stays with the retained bucket.
    (policy_id,) = [k for k, v in resources.items() if v["Type"] == "AWS::S3::BucketPolicy"]
    policy = resources[policy_id]
    assert (policy["DeletionPolicy"], policy["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert policy["Properties"]["Bucket"] == {"Ref": "AttachmentsBucket"}
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [
                {"Fn::GetAtt": ["AttachmentsBucket", "Arn"]},
                {"Fn::Sub": "${AttachmentsBucket.Arn}/*"},
            ],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    assert template["Outputs"]["AttachmentsBucketName"]["Value"] == {"Ref": "AttachmentsBucket"}


ORIGINS = (
    ["", "https://chat.example.com", "http://localhost:8000", "https://a.b-c.example:8443"],
    [
        "https://chat.example.com/",  # a path: browsers send none
        "https://chat.example.com/app",
        "*",
        "https://*.example.com",
        "chat.example.com",
        "https://Chat.Example.com",
        "https://chat.example.com https://evil.example",
        "https://chat.example.com\n",
    ],
)
PREFIXES = (
    ["chat-dev", "chat-prod", "abc", "a" * 22, "team-7-chat"],
    ["ab", "a" * 23, "Chat-Dev", "chat_dev", "chat.dev", "-chat", "chat-", "xn--chat", "sthree-chat", ""],
)


@pytest.mark.parametrize("stage", STAGES)
def test_bucket_parameters_take_only_what_makes_a_valid_bucket(templates, stage):
    """CloudFormation checks AllowedPattern (a Java regex matched whole) before it deploys: the
    origin is one browser origin or nothing; the prefix makes a valid S3 name of at most 63
    characters with any account id and region (the longest region names are 15 characters)."""
    parameters = templates[stage]["Parameters"]
    origin = parameters["AttachmentsAllowedOrigin"]
    assert (origin["Type"], origin["Default"]) == ("String", "")
    good, bad = ORIGINS
    for value in good:
        assert re.fullmatch(origin["AllowedPattern"], value), value
    for value in bad:
        assert not re.fullmatch(origin["AllowedPattern"], value), value
    prefix = parameters["TablePrefix"]["AllowedPattern"]
    good, bad = PREFIXES
    for value in good:
        assert re.fullmatch(prefix, value), value
        bucket = f"{value}-attachments-123456789012-us-isof-south-1"
        assert len(bucket) <= 63 and re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", bucket), bucket
    for value in bad:
        assert not re.fullmatch(prefix, value), value
    assert re.fullmatch(prefix, stage_env(stage)["CHAT_TABLE_PREFIX"])
