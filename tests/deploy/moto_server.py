"""moto's server with the three gaps that stop our deploy path filled in. Test harness only: the
deploy tier runs `python tests/deploy/moto_server.py PORT` and points AWS_ENDPOINT_URL at it.

1. API Gateway v2 CreateDeployment, which `chalice deploy` calls and moto 5.2 answers with 404.
   A deployment is recorded against its API (404 NotFoundException for an unknown API, as API
   Gateway answers) and GetDeployments lists them, so a test can count what Chalice deployed.
2. ListEventSourceMappings by function name: Lambda matches a name, an ARN or a partial ARN
   against the mapping's function, moto 5.2 only the string the mapping was created with (Chalice
   gives the ARN, infra/deploy.sh asks by name).
3. A stack's Outputs after a change set: `aws cloudformation deploy` (infra/deploy.sh) creates
   stacks through change sets, and moto 5.2 computes their outputs before the resources exist
   (describe-stacks then shows none, while create-stack shows them all)."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from moto.apigatewayv2 import urls
from moto.apigatewayv2.models import ApiGatewayV2Backend
from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.awslambda.models import EventSourceMapping, LambdaBackend
from moto.cloudformation.models import ChangeSet
from moto.cloudformation.parsing import OutputMap
from moto.core.common_types import TYPE_RESPONSE
from moto.server import main

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


def install() -> None:
    if DEPLOYMENTS_PATH in urls.url_paths:
        raise RuntimeError("moto serves /deployments itself now: drop tests/deploy/moto_server.py's handler")
    urls.url_paths[DEPLOYMENTS_PATH] = DeploymentsResponse.dispatch
    ChangeSet.apply = _apply_change_set_with_outputs  # type: ignore[method-assign]
    LambdaBackend.list_event_source_mappings = _list_event_source_mappings_by_any_name  # type: ignore[method-assign]


if __name__ == "__main__":
    install()
    main(["-H", "127.0.0.1", "-p", sys.argv[1]])
