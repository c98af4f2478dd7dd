"""moto's DynamoDB answers serialized without its per-attribute alias search.

moto 5 turns each answer into JSON by walking the operation's output shape; for every member of
every structure it asks an attribute picker, which tries up to six aliases of the member's name
(and each alias's snake_case form) against the value. An item is a map of AttributeValue
structures of ten members each, so a BatchGetItem of 25 presence items made about 2,300 picker
calls: 20 of its 22 ms on this machine, and the largest share of the local stack's DynamoDB time
under load (the profile in docs/local-stack.md).

DynamoDB's answers are plain dicts keyed by the model's own member names (moto builds them with
``DynamoResult``/``dynamo_to_dict``), so the walk here looks each member up by that name and
produces the same JSON as moto's ``BaseJSONSerializer``: members in the shape's order, ``None``
left out, blobs in base64, integers and floats converted, enums by value. Anything it does not
handle exactly as moto does (a value that is not a dict where a structure is expected, a member
found only under an alias, ``None`` inside a list or map, timestamps, document types, pretty
printing, response transformers, errors, other services) goes to moto's own serializer.
``tests/unit/chatlocal/aws/test_moto_fast.py`` checks the two agree on every DynamoDB operation the app uses.

``answer_dynamodb_fast()`` installs it (idempotent); the embedded moto (``chatlocal.aws.services``) and the
functional tier's in-process moto call it.
"""

from __future__ import annotations

import base64
import json
from enum import Enum
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape
from moto import settings as moto_settings
from moto.core import responses as moto_responses
from moto.core import serialize as moto_serialize

_installed = False


class _Unsupported(Exception):
    """A value this serializer does not render exactly as moto would: use moto's."""


def answer_dynamodb_fast() -> None:
    """Serialize successful DynamoDB answers with ``render``, everything else as moto does."""
    global _installed
    if _installed:
        return
    _installed = True
    moto_execute = moto_responses.ActionResult.execute_result

    def execute_result(self: moto_responses.ActionResult, context: Any) -> Any:
        fast = _fast_answer(self.result, context)
        return fast if fast is not None else moto_execute(self, context)

    moto_responses.ActionResult.execute_result = execute_result  # type: ignore[method-assign]


def _fast_answer(result: object, context: Any) -> tuple[int, dict[str, str], str] | None:
    operation = context.operation_model
    service = context.service_model
    if (
        service.service_name != "dynamodb"
        or service.protocol != "json"
        or context.serializer_class is not moto_serialize.JSONSerializer
        or getattr(context.response, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None)
        or moto_settings.PRETTIFY_RESPONSES
        or isinstance(result, Exception)
        or operation.has_event_stream_output
    ):
        return None
    try:
        body = render(result, operation.output_shape)
    except _Unsupported:
        return None
    status = operation.http.get("responseCode", moto_serialize.ResponseSerializer.DEFAULT_RESPONSE_CODE)
    content_type = f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.0')}"
    return status, {"Content-Type": content_type}, json.dumps(body)


def render(result: object, output_shape: StructureShape | None) -> dict[str, Any]:
    """The JSON object moto's serializer makes of ``result`` for this output shape."""
    if output_shape is None or result is None:
        return {}
    return _structure(result, output_shape)


def _structure(value: object, shape: StructureShape) -> dict[str, Any]:
    if shape.is_document_type or not isinstance(value, dict):
        raise _Unsupported(shape.name)
    if _could_be_aliased(value):  # once per structure, not once per missing member
        raise _Unsupported(shape.name)
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        if name not in value:
            continue
        member_value = value[name]
        if member_value is not None:
            out[member.serialization.get("name", name)] = _value(member_value, member)
    return out


def _could_be_aliased(value: dict[str, Any]) -> bool:
    """A key moto could read a member from under another name (snake_case); a dict whose keys
    are all the model's CamelCase names has none (moto's serializer then gives the same JSON)."""
    return any(not key[:1].isupper() for key in value)


def _value(value: Any, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return _structure(value, shape)
    if kind == "list":
        assert isinstance(shape, ListShape)
        if any(item is None for item in value):
            raise _Unsupported(shape.name)
        return [_value(item, shape.member) for item in value]
    if kind == "map":
        assert isinstance(shape, MapShape)
        if any(item is None for item in value.values()):
            raise _Unsupported(shape.name)
        return {key: _value(item, shape.value) for key, item in value.items()}
    if kind == "string":
        if isinstance(value, Enum):
            value = value.value
        return str(value) if value not in (None, {}, []) else value
    if kind == "blob":
        raw = value.encode("utf-8") if isinstance(value, str) else value
        return base64.b64encode(raw).strip().decode("utf-8")
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "boolean":
        return value
    raise _Unsupported(kind)  # timestamps and anything newer: moto's own rules
