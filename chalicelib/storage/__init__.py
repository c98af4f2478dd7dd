"""Storage: the narrow interface the domain uses, and its DynamoDB implementation.

``base.py`` is the ``Store`` interface (each method's cost in requests); ``tables.py`` the
PynamoDB models, which are the schema; ``mapping.py`` lays each domain record out in its item;
``calls.py`` makes a call and translates its failure; ``DynamoStore`` (``dynamo.py``, with
the connections and presence of ``connections.py`` and the message changes of ``changes.py``)
is the ``Store`` on DynamoDB. May import ``chalicelib.domain`` and ``chalicelib.config``; no
other backend package imports PynamoDB.
"""

from chalicelib.storage.base import BlockConflict, ChangeConflict, MessageContext, SeqConflict, Store, Turn

__all__ = ["BlockConflict", "ChangeConflict", "MessageContext", "SeqConflict", "Store", "Turn"]
