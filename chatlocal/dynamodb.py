"""DynamoDB for the local stack: an embedded moto server, or an endpoint the user named.

The endpoint reaches both boto3 and PynamoDB through ``AWS_ENDPOINT_URL_DYNAMODB``, which
botocore reads for every client created without an explicit endpoint: the app's storage code
is the same code that runs on AWS.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("chatlocal.dynamodb")

ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_DYNAMODB"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@dataclass
class Database:
    endpoint: str
    embedded: bool
    _server: Any = None

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def start(env: MutableMapping[str, str], host: str = "127.0.0.1") -> Database:
    """Use ``AWS_ENDPOINT_URL_DYNAMODB`` when set; otherwise start moto on a free port and set it.

    Must run before the app makes its first AWS client (PynamoDB caches its connection).
    """
    external = env.get(ENDPOINT_VARIABLE)
    if external:
        log.info("using DynamoDB at %s", external)
        return Database(endpoint=external, embedded=False)

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from moto.server import ThreadedMotoServer

    from chatlocal.moto_atomic import serialize_dynamodb_requests

    serialize_dynamodb_requests()
    # Small request/response pairs on loopback: don't let Nagle hold back the last segment.
    MotoRequestHandler.disable_nagle_algorithm = True
    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    bound_host, port = server.get_host_and_port()
    endpoint = f"http://{bound_host}:{port}"
    env[ENDPOINT_VARIABLE] = endpoint
    for name, value in LOCAL_CREDENTIALS.items():
        env.setdefault(name, value)
    log.info("embedded DynamoDB (moto) at %s", endpoint)
    return Database(endpoint=endpoint, embedded=True, _server=server)


def create_missing_tables() -> list[str]:
    from chalicelib.storage.tables import create_tables

    return create_tables(wait=True)
