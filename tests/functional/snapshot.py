"""What is in the tables, read from moto's memory: for tests that check a failure changed nothing."""

from __future__ import annotations

import json
from typing import Any


def table_snapshot() -> dict[str, list[str]]:
    """Every item of every project table, read from moto's memory (no Scan is issued). A
    connection's rate-limit bookkeeping (``rate_tat``) is left out: every action that gets past
    the limit counts, whatever its answer (tests/functional/edge/test_rate_limit.py checks it)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.storage.tables import ALL_MODELS

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    snapshot = {}
    for model in ALL_MODELS:
        table = backend.tables[model.Meta.table_name]
        snapshot[model.Meta.table_name] = sorted(
            json.dumps(_without_rate_tat(item.to_json()), sort_keys=True) for item in table.all_items()
        )
    return snapshot


def _without_rate_tat(item: dict[str, Any]) -> dict[str, Any]:
    attributes = {k: v for k, v in item["Attributes"].items() if k != "rate_tat"}
    return {**item, "Attributes": attributes}
