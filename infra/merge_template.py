"""Build the file ``chalice package --merge-template`` takes: the tables of infra/tables.json plus
the wiring of their prefix into the three WebSocket functions' environment.

    python -m infra.merge_template build/merge.json

infra/tables.json stays a template of its own (infra/deploy.sh deploys it alone for the
`chalice deploy` path); this adds what only makes sense beside Chalice's resources.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

TABLES = Path(__file__).resolve().parent / "tables.json"
# Chalice's logical ids for the functions behind $connect, $default and $disconnect.
FUNCTIONS = ("WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect")


def build(tables: Path = TABLES) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(tables.read_text())
    merged = copy.deepcopy(template)
    wiring = {"Properties": {"Environment": {"Variables": {"CHAT_TABLE_PREFIX": {"Ref": "TablePrefix"}}}}}
    for function in FUNCTIONS:
        merged["Resources"][function] = copy.deepcopy(wiring)
    merged.pop("AWSTemplateFormatVersion", None)  # Chalice's own template carries it
    return merged


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m infra.merge_template OUTPUT.json", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(build(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
