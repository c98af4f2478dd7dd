"""The AWS services the app calls (DynamoDB, SQS, SNS, S3), for the local stack: the endpoint the
user named for a service, or else one embedded moto server that serves every service left unnamed.

A service's endpoint reaches both boto3 and PynamoDB through its ``AWS_ENDPOINT_URL_<SERVICE>``
variable, which botocore reads for every client created without an explicit endpoint: the app's
storage, queue and push code is the same code that runs on AWS. Only the service-specific
variables count: pointing ``AWS_ENDPOINT_URL_DYNAMODB`` elsewhere still leaves SQS and SNS on the
embedded moto.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatlocal.aws.moto_process import MotoProcess
from chatlocal.aws.moto_server import start_moto_here
from chatlocal.aws.sigv4 import Credentials

log = logging.getLogger("chatlocal.aws")

ENDPOINT_VARIABLES = {
    "dynamodb": "AWS_ENDPOINT_URL_DYNAMODB",
    "sqs": "AWS_ENDPOINT_URL_SQS",
    "sns": "AWS_ENDPOINT_URL_SNS",
    "s3": "AWS_ENDPOINT_URL_S3",
    "cognito-idp": "AWS_ENDPOINT_URL_COGNITO_IDP",
}
# what `make run` needs: tables, queues, mobile push, attachments (a browser on this machine
# reaches the embedded S3 too: the moto server listens on 127.0.0.1)
STACK_SERVICES = ("dynamodb", "sqs", "sns", "s3")
COGNITO_STACK_SERVICES = (*STACK_SERVICES, "cognito-idp")  # CHAT_AUTH=cognito (chatlocal.cognito)
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@dataclass(frozen=True)
class Endpoint:
    url: str
    embedded: bool

    @property
    def source(self) -> str:
        """Where the endpoint came from, as the banner says it."""
        return "embedded moto" if self.embedded else "the environment"


@dataclass
class Services:
    """The endpoint of each service (``dynamodb``, ``sqs``, ``sns``, ``s3``), and the embedded
    server if any."""

    endpoints: Mapping[str, Endpoint]
    _server: Any = field(default=None, repr=False)

    def __getitem__(self, service: str) -> Endpoint:
        return self.endpoints[service]

    @property
    def moto(self) -> MotoProcess | None:
        """The embedded moto's process, when it runs in one of its own."""
        return self._server if isinstance(self._server, MotoProcess) else None

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def start(
    env: MutableMapping[str, str],
    host: str = "127.0.0.1",
    services: Sequence[str] = ("dynamodb", "sqs"),
    own_process: bool = False,
) -> Services:
    """Of ``services``, use each whose ``AWS_ENDPOINT_URL_<SERVICE>`` is set; start moto on a
    free port for the others and set their variables to it: in this process, or with
    ``own_process`` in a child (``chatlocal.aws.moto_process``; ``Services.moto`` is then the child,
    which also keeps the saved data).

    Must run before the app makes its first AWS client (PynamoDB caches its connection).
    """
    unknown = set(services) - ENDPOINT_VARIABLES.keys()
    if unknown:
        raise ValueError(f"no endpoint variable known for {sorted(unknown)}")
    variables = {s: ENDPOINT_VARIABLES[s] for s in services}
    given = {s: env[v] for s, v in variables.items() if env.get(v)}
    endpoints = {s: Endpoint(url, embedded=False) for s, url in given.items()}
    for service, url in given.items():
        log.info("using %s at %s", service, url)
    missing = [s for s in variables if s not in given]
    if not missing:
        return Services(endpoints)
    if own_process:
        server: Any = MotoProcess.start(host)
        url = server.url
    else:
        server, url = start_moto_here(host)
    for service in missing:
        env[ENDPOINT_VARIABLES[service]] = url
        endpoints[service] = Endpoint(url, embedded=True)
    for name, value in LOCAL_CREDENTIALS.items():
        env.setdefault(name, value)
    log.info("embedded moto at %s for %s%s", url, ", ".join(missing), " (own process)" if own_process else "")
    return Services(endpoints, server)


def create_missing_tables() -> list[str]:
    """Create the app's missing tables. Each PynamoDB model has a botocore session of its own,
    and each session would read and parse the DynamoDB model and endpoints.json again (12 times,
    about 60% of the stack's start): meanwhile, sessions share one loader (the same files, read
    once)."""
    from chalicelib.storage.tables import create_tables

    with shared_botocore_loader():
        return create_tables(wait=True)


@contextlib.contextmanager
def shared_botocore_loader() -> Iterator[None]:
    """Within the block, every new botocore session shares one data loader (per search path)."""
    import botocore.loaders
    import botocore.session

    original = botocore.session.create_loader  # type: ignore[attr-defined]
    botocore.session.create_loader = functools.lru_cache(maxsize=None)(original)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        botocore.session.create_loader = original  # type: ignore[attr-defined]


def management_credentials(env: MutableMapping[str, str]) -> Callable[[], Credentials]:
    """The credentials the app signs its management API requests with, for the gateway to check
    them: the environment's keys, else whatever botocore's chain finds (a profile...), else the
    local ones, which are then set for the app too. Read again at each check (they may rotate).
    Blocking: botocore may read files."""
    import botocore.session

    keys_given = env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")
    if not keys_given and botocore.session.Session().get_credentials() is None:
        for name, value in LOCAL_CREDENTIALS.items():
            env[name] = value
    session = botocore.session.Session()
    found = session.get_credentials()
    if found is None:  # the local keys were just set: not reached
        raise RuntimeError("no AWS credentials for the management API")

    def current() -> Credentials:
        frozen = found.get_frozen_credentials()
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)

    return current
