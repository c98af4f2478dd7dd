"""Storage: the narrow interface the domain uses, and its DynamoDB implementation."""

from chalicelib.storage.base import SeqConflict, Store

__all__ = ["SeqConflict", "Store"]
