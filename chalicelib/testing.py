"""Drive the real Chalice handler functions with API Gateway-shaped events: the backend's own
test driver, as Chalice ships ``chalice.test`` and Starlette ``testclient``.

The functional tests, the benchmark and the chaos run drive the app through it, so none of them
depends on another's files. Nothing the Lambda handlers run imports this module, and it imports
no emulator: DynamoDB and SQS are whatever the caller set up (moto in the tests).

- ``ws_event`` builds the event API Gateway hands a WebSocket Lambda.
- ``FakeManagementApi`` stands in for the API Gateway management API: it records the frames
  posted to each connection, answers 410 for connections marked gone (413 above 128 KiB, or a
  scripted refusal or timeout), and can take time per post while measuring how many overlap.
- ``Harness`` calls the app's handlers (``$connect``, ``$default``, ``$disconnect``, and the
  SQS-triggered fan-out and push workers) as Lambda would; ``Client`` is one connection.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

from chalicelib.auth import issue_token
from chalicelib.domain.records import Device

SECRET = "test-secret-that-is-long-enough-for-hs256"
API_ID = "testapi123"
STAGE = "dev"
_ids = itertools.count(1)


def ws_event(
    route_key: str, connection_id: str, body: Any = None, query: dict[str, str] | None = None
) -> dict[str, Any]:
    """The event API Gateway sends to the Lambda for one WebSocket event."""
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    event: dict[str, Any] = {
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": f"ext{next(_ids)}",
            "requestTime": "24/Nov/2026:10:00:00 +0000",
            "messageDirection": "IN",
            "stage": STAGE,
            "connectedAt": int(time.time() * 1000),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "pytest"},
            "requestId": f"req{next(_ids)}",
            "domainName": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
            "connectionId": connection_id,
            "apiId": API_ID,
        },
        "isBase64Encoded": False,
    }
    if route_key == "$connect":
        event["headers"] = {"Host": f"{API_ID}.execute-api.us-east-1.amazonaws.com"}
        event["multiValueHeaders"] = {}
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    elif route_key == "$disconnect":
        event["requestContext"]["disconnectStatusCode"] = 1001
    else:
        event["requestContext"]["messageId"] = f"msg{next(_ids)}"
        event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    return event


MAX_POST_BYTES = 128 * 1024


def _too_large_error() -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "PayloadTooLargeException", "Message": "Data exceeds 131072 bytes"},
            "ResponseMetadata": {"HTTPStatusCode": 413},
        },
        "PostToConnection",
    )


def _gone_error() -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "GoneException", "Message": "connection is gone"},
            "ResponseMetadata": {"HTTPStatusCode": 410},
        },
        "PostToConnection",
    )


def _refused(status: int) -> ClientError:
    code = {429: "LimitExceededException", 500: "InternalServerError"}.get(status, f"Http{status}")
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"answered {status}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PostToConnection",
    )


class FakeManagementApi:
    """``script[connection_id]`` lists how the next posts to a connection go, one entry per
    post: an HTTP status (429, 500...: refused, nothing delivered) or ``"timeout"`` (delivered,
    and then the answer never comes: the caller sees a read timeout)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.frames: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.posts: list[str] = []
        self.sizes: list[int] = []
        self.too_large: list[str] = []  # connections a post over 128 KiB was refused for (413)
        self.gone: set[str] = set()
        self.delay = delay
        self.active = 0
        self.max_active = 0
        self.endpoints: set[str] = set()
        self.script: dict[str, list[int | str | None]] = defaultdict(list)
        self._lock = threading.Lock()

    def client_for(self, endpoint: str) -> FakeManagementApi:
        self.endpoints.add(endpoint)
        return self

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        with self._lock:
            self.posts.append(ConnectionId)
            self.sizes.append(len(Data))
            if len(Data) > MAX_POST_BYTES:
                self.too_large.append(ConnectionId)
                raise _too_large_error()
            if ConnectionId in self.gone:
                raise _gone_error()
            scripted = (
                self.script[ConnectionId].pop(0) if self.script[ConnectionId] else None
            )  # None: deliver
            if isinstance(scripted, int):
                raise _refused(scripted)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if self.delay:
                time.sleep(self.delay)
            with self._lock:
                self.frames[ConnectionId].append(json.loads(Data))
        finally:
            with self._lock:
                self.active -= 1
        if scripted == "timeout":
            raise ReadTimeoutError(endpoint_url=f"https://{API_ID}.execute-api/@connections/{ConnectionId}")
        return {}

    def take(self, connection_id: str) -> list[dict[str, Any]]:
        """The frames posted to a connection since the last take."""
        with self._lock:
            frames, self.frames[connection_id] = self.frames[connection_id], []
        return frames


@dataclass
class Client:
    """One WebSocket connection of one user, as the handlers see it."""

    harness: Harness
    user_id: str
    connection_id: str

    last_req: str = ""

    def send(self, action: str, **fields: Any) -> dict[str, Any] | None:
        """Send one request; return its reply (the frame echoing its req), if any."""
        req = self.last_req = f"r{next(_ids)}"
        self.raw({"action": action, "req": req, **fields})
        replies = [f for f in self.harness.api.frames[self.connection_id] if f.get("req") == req]
        assert len(replies) <= 1, f"more than one reply to {req}: {replies}"
        if replies:
            self.harness.api.frames[self.connection_id].remove(replies[0])
            return replies[0]
        return None

    def raw(self, body: Any) -> None:
        self.harness.call("$default", self.connection_id, body=body)

    def frames(self) -> list[dict[str, Any]]:
        return self.harness.api.take(self.connection_id)

    def disconnect(self) -> None:
        self.harness.call("$disconnect", self.connection_id)

    def vanish(self) -> None:
        """Drop without a $disconnect, a while after connecting: the management API now answers
        410 for it."""
        self.age()
        self.harness.api.gone.add(self.connection_id)

    def age(self, seconds: int = 60) -> None:
        """Make the connection's record say it connected ``seconds`` earlier than it did (the
        backend forgets a connection on a 410 only once it is past its first seconds)."""
        from chalicelib.storage.tables import ConnectionItem

        item = ConnectionItem.get(self.connection_id)
        item.update(actions=[ConnectionItem.connected_at.set(int(item.connected_at) - seconds)])


class Harness:
    """The app's handlers, called as Lambda calls them. ``app`` is the module that defines them
    (the project's ``app.py``: this package never imports it); ``sqs`` and the queue URLs serve
    the SQS-triggered workers."""

    def __init__(
        self,
        app: Any,
        api: FakeManagementApi,
        sqs: Any = None,
        queue_url: str = "",
        push_queue_url: str = "",
    ) -> None:
        self.app = app
        self.api = api
        self.sqs = sqs
        self.queue_url = queue_url
        self.push_queue_url = push_queue_url
        self.fanout_results: list[dict[str, Any]] = []

    def drain_fanout(self) -> int:
        """Run the fan-out worker over every queued shard; returns how many shards ran."""
        return self.drain_queue(self.queue_url, self.app.fanout)

    def drain_queue(self, queue_url: str, handler: Any, batch: int = 5, delete: bool = True) -> int:
        """Run an SQS-triggered Lambda over everything queued, as Lambda's event source mapping
        does: batches, partial failures left in the queue (``delete=False``: a crash after the
        batch, so all of it comes again). Returns how many records ran."""
        ran = 0
        while True:
            received = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=batch, AttributeNames=["All"]
            ).get("Messages", [])
            if not received:
                return ran
            event = {
                "Records": [
                    {
                        "messageId": m["MessageId"],
                        "receiptHandle": m["ReceiptHandle"],
                        "body": m["Body"],
                        "attributes": m.get("Attributes", {}),
                        "messageAttributes": {},
                        "md5OfBody": m["MD5OfBody"],
                        "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:test-fanout",
                        "awsRegion": "us-east-1",
                    }
                    for m in received
                ]
            }
            result = handler(event, None)
            self.fanout_results.append(result)
            failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
            ran += len(received)
            if not delete:
                return ran
            for m in received:
                if m["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
                else:
                    self.sqs.change_message_visibility(
                        QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                    )
            if failed:
                return ran

    def call(
        self, route_key: str, connection_id: str, body: Any = None, query: dict[str, str] | None = None
    ) -> Any:
        handler = {
            "$connect": self.app.connect,
            "$default": self.app.message,
            "$disconnect": self.app.disconnect,
        }[route_key]
        return handler(ws_event(route_key, connection_id, body, query), None)

    def store_devices(self, user_id: str) -> list[Device]:
        from chalicelib.storage.dynamo import DynamoStore

        return DynamoStore().devices_of(user_id)

    def connect(self, user_id: str, token: str | None = None, name: str | None = None) -> Client:
        connection_id = f"conn{next(_ids)}="
        token = token if token is not None else issue_token(user_id, SECRET, name=name)
        response = self.call("$connect", connection_id, query={"token": token})
        assert response["statusCode"] == 200, response
        return Client(self, user_id, connection_id)

    def chat(self, creator: Client, *others: str, title: str | None = None) -> str:
        fields: dict[str, Any] = {"members": list(others)}
        if title is not None:
            fields["title"] = title
        reply = creator.send("chat.create", **fields)
        assert reply and reply["event"] == "chat:created", reply
        return str(reply["chat"]["chat_id"])
