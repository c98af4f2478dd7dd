"""moto's server with the five gaps that stop our deploy path filled in. Test harness only: the
deploy tier runs `python tests/deploy/moto_server.py PORT` and points AWS_ENDPOINT_URL at it.

1. API Gateway v2 CreateDeployment, which `chalice deploy` calls and moto 5.2 answers with 404.
   A deployment is recorded against its API (404 NotFoundException for an unknown API, as API
   Gateway answers) and GetDeployments lists them, so a test can count what Chalice deployed.
2. ListEventSourceMappings by function name: Lambda matches a name, an ARN or a partial ARN
   against the mapping's function, moto 5.2 only the string the mapping was created with (Chalice
   gives the ARN, infra/deploy.sh asks by name).
3. A stack's Outputs after a change set: `aws cloudformation deploy` (infra/deploy.sh) creates
   stacks through change sets, and moto 5.2 computes their outputs before the resources exist
   (describe-stacks then shows none, while create-stack shows them all).
4. The attachments bucket's settings in CloudFormation: moto 5.2's AWS::S3::Bucket applies only
   BucketEncryption and Tags (not PublicAccessBlockConfiguration, OwnershipControls,
   CorsConfiguration, LifecycleConfiguration), and it has no AWS::S3::BucketPolicy. They are
   applied here through moto's own S3 backend, given in the shapes its XML API parses, so the
   deploy tier reads them back through the S3 API as a user would.
5. API Gateway ImportRestApi and PutRestApi of Chalice's REST API (the web page's routes): moto
   5.2 reads OpenAPI 3 only and requires ``info.description``, and Chalice sends Swagger 2.0
   without one. The paths, which is all moto reads, are spelled the same in both: the document is
   handed on as OpenAPI 3 with an empty description."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from moto.apigateway.models import APIGatewayBackend, RestAPI
from moto.apigatewayv2 import urls
from moto.apigatewayv2.models import ApiGatewayV2Backend
from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.awslambda.models import EventSourceMapping, LambdaBackend
from moto.cloudformation.models import ChangeSet
from moto.cloudformation.parsing import OutputMap
from moto.core.common_models import CloudFormationModel
from moto.core.common_types import TYPE_RESPONSE
from moto.s3.models import FakeBucket, s3_backends
from moto.server import main
from moto.utilities.utils import get_partition

DEPLOYMENTS_PATH = "{0}/v2/apis/(?P<api_id>[^/]+)/deployments$"


def _deployments(backend: ApiGatewayV2Backend, api_id: str) -> list[dict[str, Any]]:
    backend.get_api(api_id)  # raises ApiNotFound (404) as API Gateway does
    store: dict[str, list[dict[str, Any]]] = backend.__dict__.setdefault("harness_deployments", {})
    return store.setdefault(api_id, [])


class DeploymentsResponse(ApiGatewayV2Response):
    """CreateDeployment and GetDeployments; everything else stays moto's."""

    def create_deployment(self) -> TYPE_RESPONSE:
        api_id = self.path.split("/")[3]
        body = json.loads(self.body or "{}")
        deployment = {
            "DeploymentId": uuid.uuid4().hex[:10],
            "DeploymentStatus": "DEPLOYED",
            "CreatedDate": datetime.now(UTC).isoformat(),
            "Description": body.get("description", ""),
        }
        _deployments(self.apigatewayv2_backend, api_id).append(deployment)
        return 201, {}, json.dumps(_wire(deployment))

    def get_deployments(self) -> TYPE_RESPONSE:
        api_id = self.path.split("/")[3]
        items = _deployments(self.apigatewayv2_backend, api_id)
        return 200, {}, json.dumps({"items": [_wire(d) for d in items]})


def _wire(deployment: dict[str, Any]) -> dict[str, Any]:
    """API Gateway v2's JSON spells members in camelCase."""
    return {key[0].lower() + key[1:]: value for key, value in deployment.items()}


_apply_change_set = ChangeSet.apply


def _apply_change_set_with_outputs(change_set: ChangeSet) -> None:
    """What moto's Stack.update does after updating the resources, which ChangeSet.apply omits
    (with the change set's template: the stack's own is still the one before the change)."""
    _apply_change_set(change_set)
    stack = change_set.stack
    stack.output_map = OutputMap(stack.resource_map, change_set.template_dict, stack.stack_id)


_list_event_source_mappings = LambdaBackend.list_event_source_mappings


def _list_event_source_mappings_by_any_name(
    backend: LambdaBackend, event_source_arn: str, function_name: str
) -> list[EventSourceMapping]:
    mappings = list(_list_event_source_mappings(backend, event_source_arn, ""))
    if not function_name:
        return mappings
    function_arn = backend.get_function(function_name).function_arn  # 404 for an unknown function
    return [m for m in mappings if m.function_arn == function_arn]


_create_bucket = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _listed(values: list[Any]) -> list[str]:
    return [str(v) for v in values]


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation CorsRule as moto parses a <CORSRule>."""
    parsed: dict[str, Any] = {
        "AllowedMethod": _listed(rule["AllowedMethods"]),
        "AllowedOrigin": _listed(rule["AllowedOrigins"]),
    }
    for cfn, xml in (("AllowedHeaders", "AllowedHeader"), ("ExposedHeaders", "ExposeHeader")):
        if rule.get(cfn):
            parsed[xml] = _listed(rule[cfn])
    if "MaxAge" in rule:
        parsed["MaxAgeSeconds"] = str(rule["MaxAge"])
    if "Id" in rule:
        parsed["ID"] = rule["Id"]
    return parsed


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle Rule as moto parses a <Rule>: Prefix and TagFilters become
    the rule's Filter (an And of both when both are given)."""
    parsed: dict[str, Any] = {"ID": rule.get("Id"), "Status": rule["Status"]}
    prefix, tags = (
        rule.get("Prefix"),
        [{"Key": t["Key"], "Value": t["Value"]} for t in rule.get("TagFilters", [])],
    )
    if tags:
        parsed["Filter"] = {"And": {"Prefix": prefix or "", "Tag": tags}}
    else:
        parsed["Filter"] = {"Prefix": prefix or ""}
    if "ExpirationInDays" in rule:
        parsed["Expiration"] = {"Days": str(rule["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        parsed["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": str(days)}
    return parsed


def _create_bucket_with_its_settings(
    cls: type[FakeBucket],
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> FakeBucket:
    bucket = _create_bucket(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    backend = s3_backends[account_id][get_partition(region_name)]
    properties = cloudformation_json.get("Properties", {})
    if properties.get("PublicAccessBlockConfiguration"):
        backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
    if properties.get("OwnershipControls"):
        (rule,) = properties["OwnershipControls"]["Rules"]
        backend.put_bucket_ownership_controls(bucket.name, rule["ObjectOwnership"])
    if properties.get("CorsConfiguration"):
        backend.put_bucket_cors(
            bucket.name, [_cors_rule(r) for r in properties["CorsConfiguration"]["CorsRules"]]
        )
    if properties.get("LifecycleConfiguration"):
        rules = [_lifecycle_rule(r) for r in properties["LifecycleConfiguration"]["Rules"]]
        backend.put_bucket_lifecycle_configuration(bucket.name, rules)
    return bucket


class BucketPolicy(CloudFormationModel):
    """AWS::S3::BucketPolicy: the policy document on the bucket, as PutBucketPolicy sets it."""

    __module__ = "moto.s3.harness"  # moto's model registry files a model under its module's service

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @property
    def physical_resource_id(self) -> str:
        return self.bucket

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> BucketPolicy:
        properties = cloudformation_json["Properties"]
        backend = s3_backends[account_id][get_partition(region_name)]
        backend.put_bucket_policy(properties["Bucket"], json.dumps(properties["PolicyDocument"]).encode())
        return cls(properties["Bucket"])


_import_rest_api = APIGatewayBackend.import_rest_api
_put_rest_api = APIGatewayBackend.put_rest_api


def _as_openapi(api_doc: dict[str, Any]) -> dict[str, Any]:
    document = {key: value for key, value in api_doc.items() if key != "swagger"}
    document["info"] = {"description": "", **api_doc.get("info", {})}
    return {**document, "openapi": api_doc.get("openapi", "3.0.1")}


def _import_rest_api_of_swagger(
    backend: APIGatewayBackend, api_doc: dict[str, Any], fail_on_warnings: bool
) -> RestAPI:
    return _import_rest_api(backend, _as_openapi(api_doc), fail_on_warnings)


def _put_rest_api_of_swagger(
    backend: APIGatewayBackend,
    function_id: str,
    api_doc: dict[str, Any],
    fail_on_warnings: bool,
    mode: str = "merge",
) -> RestAPI:
    return _put_rest_api(backend, function_id, _as_openapi(api_doc), fail_on_warnings, mode)


def install() -> None:
    if DEPLOYMENTS_PATH in urls.url_paths:
        raise RuntimeError("moto serves /deployments itself now: drop tests/deploy/moto_server.py's handler")
    urls.url_paths[DEPLOYMENTS_PATH] = DeploymentsResponse.dispatch
    ChangeSet.apply = _apply_change_set_with_outputs  # type: ignore[method-assign]
    LambdaBackend.list_event_source_mappings = _list_event_source_mappings_by_any_name  # type: ignore[method-assign]
    FakeBucket.create_from_cloudformation_json = classmethod(_create_bucket_with_its_settings)  # type: ignore[assignment,method-assign]
    APIGatewayBackend.import_rest_api = _import_rest_api_of_swagger  # type: ignore[method-assign]
    APIGatewayBackend.put_rest_api = _put_rest_api_of_swagger  # type: ignore[method-assign]


if __name__ == "__main__":
    install()
    main(["-H", "127.0.0.1", "-p", sys.argv[1]])
