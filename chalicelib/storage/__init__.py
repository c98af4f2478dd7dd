"""Storage: the narrow interface the domain uses, and its DynamoDB implementation."""

from chalicelib.storage.base import SeqConflict, Store, Turn

__all__ = ["SeqConflict", "Store", "Turn"]
