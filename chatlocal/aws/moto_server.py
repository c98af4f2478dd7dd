"""moto's server in this process, made to behave like the services it stands in for: requests
serialized per service (``chatlocal.aws.moto_atomic``), DynamoDB answers serialized fast
(``chatlocal.aws.moto_fast``), S3's CORS and upload tags as S3 has them (``chatlocal.aws.s3``).
``chatlocal.aws.services`` runs it in the stack's process, ``chatlocal.aws.moto_process`` in a
child of its own.
"""

from __future__ import annotations

from typing import Any


def start_moto_here(host: str) -> tuple[Any, str]:
    """moto's server on a free port of ``host``, in this process: the server and its URL."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from moto.server import ThreadedMotoServer

    from chatlocal.aws.moto_atomic import serialize_dynamodb_requests, serialize_sqs_requests
    from chatlocal.aws.moto_fast import answer_dynamodb_fast
    from chatlocal.aws.s3 import behave_like_s3

    serialize_dynamodb_requests()
    answer_dynamodb_fast()
    serialize_sqs_requests()
    behave_like_s3()
    _list_moto_modules_once()
    # Small request/response pairs on loopback: don't let Nagle hold back the last segment.
    MotoRequestHandler.disable_nagle_algorithm = True
    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    bound_host, port = server.get_host_and_port()
    return server, f"http://{bound_host}:{port}"


def _list_moto_modules_once() -> None:
    """moto's server lists its package directory (a stat per service) on every request, under
    a lock, to route it: about a tenth of each request's time. The list never changes."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, "_cached", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    list_of_moto_modules._cached = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules
