"""What the client raises besides the server's own refusals (``ChatError``, in models.py):

    ConnectionLost      the connection went away before the reply came (the client reconnects)
    RequestTimeout      no reply within the timeout
    AuthError           the handshake was refused (401, 403): the client stops
    CannotConnect       no first connection within ``connect_timeout``: the client stops
    ProtocolViolation   the server answered in a way the protocol rules out
    UploadFailed        a file was not uploaded to S3, so its message was not sent
    DownloadFailed      a file was not downloaded (nothing written)

Plain exceptions, no I/O: ``chatclient.connection`` turns the socket's failures into these.
"""

from __future__ import annotations


class ConnectionLost(Exception):
    """The connection went away before the reply came (the request may or may not have run), or
    the server did not know the connection (nothing ran; the client connects again)."""


class RequestTimeout(Exception):
    """No reply within the timeout (the request may or may not have run)."""


class AuthError(Exception):
    """The server refused the handshake (HTTP 401 or 403): the token is bad, expired or signed
    with another secret. Retrying with the same token cannot help, so the client stops."""

    def __init__(self, url: str, status: int, reason: str) -> None:
        super().__init__(f"{url} refused the token: HTTP {status} {reason}".rstrip())
        self.url = url
        self.status = status
        self.reason = reason


class CannotConnect(Exception):
    """The first connection could not be made within ``connect_timeout`` (no server at the
    URL, a wrong URL, a server that refuses): ``cause`` is the last attempt's error."""

    def __init__(self, url: str, seconds: float, cause: BaseException | None) -> None:
        self.why = _plain_cause(cause)
        super().__init__(f"cannot reach {url} (tried for {seconds:g} s: {self.why})")
        self.url = url
        self.cause = cause


def _plain_cause(cause: BaseException | None) -> str:
    if cause is None:
        return "no answer"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, TimeoutError):
        return "no answer"
    return str(cause) or type(cause).__name__


class ProtocolViolation(Exception):
    """The server answered in a way the protocol rules out (for example a ``chat.list``
    cursor that leads back to an earlier page)."""


class UploadFailed(Exception):
    """A file was not uploaded (S3 refused it, or kept failing), so no message was sent:
    ``path`` names the file, ``status`` is S3's last HTTP status (None: no answer)."""

    def __init__(self, path: str, why: str, status: int | None = None) -> None:
        super().__init__(f"{path} not uploaded, nothing sent: {why}")
        self.path = path
        self.status = status


class DownloadFailed(Exception):
    """A file was not downloaded (``status``: the HTTP status, None: no answer); nothing was
    written where it was to go. A link that expired (403) is fresh again in ``chat.history``."""

    def __init__(self, name: str, why: str, status: int | None = None) -> None:
        super().__init__(f"{name} not downloaded: {why}")
        self.name = name
        self.status = status
