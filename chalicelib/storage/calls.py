"""How the DynamoDB store makes its calls: failures become the domain's ``Unavailable`` where
the call is made (``guarded``), a conditional write's refusal is told from other failures
(``is_condition_failure``), and a read of one item is strongly consistent (``get_or_none``).

May import PynamoDB and the domain's errors; nothing else of the project.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.connection.base import BOTOCORE_EXCEPTIONS
from pynamodb.exceptions import GetError, PynamoDBException
from pynamodb.models import Model

from chalicelib.domain.errors import Unavailable

# The store's logger: a failed call is logged under the name it always was.
log = logging.getLogger("chalicelib.storage.dynamo")

F = TypeVar("F", bound=Callable[..., Any])


def guarded(method: F) -> F:
    """Translate storage failures into the domain's ``Unavailable``, where the call is made."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except PynamoDBException as exc:
            log.warning("storage call %s failed: %s", method.__name__, exc)
            raise Unavailable() from exc

    return wrapper  # type: ignore[return-value]


def applied(write: Callable[[], object]) -> bool:
    """Make one conditional write: True if it applied, False if its condition refused it (any
    other failure raises)."""
    try:
        write()
    except PynamoDBException as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def is_condition_failure(exc: PynamoDBException) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


M = TypeVar("M", bound=Model)


def get_or_none(model: type[M], hash_key: str, range_key: str | int | None = None) -> M | None:
    """A strongly consistent GetItem, None when absent."""
    try:
        return model.get(hash_key, range_key, consistent_read=True)
    except model.DoesNotExist:
        return None


def batch_get_raw(connection: Connection, requests: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """One BatchGetItem over several tables (``RequestItems``), asked again for the keys it
    leaves unprocessed (throttling): table name -> the raw items found."""
    found: dict[str, list[dict[str, Any]]] = {}
    for _ in range(8):
        try:
            answer = connection.dispatch("BatchGetItem", {"RequestItems": requests})
        except BOTOCORE_EXCEPTIONS as exc:
            raise GetError(f"Failed to batch get items: {exc}", exc) from exc
        for table, items in answer.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
        requests = answer.get("UnprocessedKeys") or {}
        if not requests:
            return found
    raise GetError("Failed to batch get items: keys left unprocessed")
