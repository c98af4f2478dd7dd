"""Where a device's pushes may go: the Web Push endpoint check. (The ``Device`` record itself is
in ``chalicelib.domain.records``: push and storage both use it.)"""

from __future__ import annotations

from urllib.parse import urlsplit

from chalicelib.domain.errors import BadRequest


def check_endpoint(endpoint: str, allow_local_http: bool) -> None:
    """A Web Push endpoint is an https URL; the local stack also takes http on 127.0.0.1."""
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
    except ValueError:
        raise BadRequest("'subscription.endpoint' must be an https URL") from None
    if parts.scheme == "https" and host:
        return
    if allow_local_http and parts.scheme == "http" and host in ("127.0.0.1", "localhost"):
        return
    raise BadRequest("'subscription.endpoint' must be an https URL")
