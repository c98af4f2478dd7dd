"""The local stack answers only who it should: the management API wants the stack's SigV4
signature, the /dev routes and the web page want a Host that names the stack, and a request it
cannot parse gets a clean 400."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import run
from tests.integration.peer import Peer
from tests.stack import ONE_PROCESS, LocalStack


def connection_of(stack, user_id: str) -> str:
    (conn,) = [c for c in stack.connections() if c["user"] == user_id]
    return str(conn["connectionId"])


def management_client(stack, secret: str):
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=stack.url,
        region_name=stack.region,
        aws_access_key_id=stack.credentials.access_key,
        aws_secret_access_key=secret,
    )


def test_management_api_refuses_unsigned_and_foreign_requests_and_does_nothing(stack, user):
    async def scenario():
        victim = user("victim")
        peer = await Peer.connect(stack.ws_url(victim), victim)
        cid = connection_of(stack, victim)
        forged = json.dumps({"event": "chat:message", "text": "forged"}).encode()
        unsigned = [stack.request(method, f"/@connections/{cid}", body) for method, body in
                    (("POST", forged), ("GET", None), ("DELETE", None))]  # fmt: skip
        loop = asyncio.get_running_loop()
        wrong = management_client(stack, "not-the-secret")
        with pytest.raises(ClientError) as refused:
            await loop.run_in_executor(None, lambda: wrong.post_to_connection(ConnectionId=cid, Data=forged))
        await peer.settle()
        assert peer.pushed == []  # nothing forged arrived
        assert cid in {c["connectionId"] for c in stack.connections()}  # nor was it closed
        good = await loop.run_in_executor(
            None,
            lambda: management_client(stack, stack.credentials.secret_key).post_to_connection(
                ConnectionId=cid, Data=b'{"event":"signed"}'
            ),
        )
        await peer.expect("signed")
        await peer.close()
        return unsigned, refused.value.response, good["ResponseMetadata"]["HTTPStatusCode"]

    unsigned, refused, good = run(scenario())
    assert [status for status, _ in unsigned] == [403, 403, 403]
    assert all(json.loads(body) == {"message": "Missing Authentication Token"} for _, body in unsigned)
    assert refused["Error"]["Code"] == "InvalidSignatureException"
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert good == 200


def get_with_host(stack, path: str, host: str) -> int:
    request = urllib.request.Request(stack.url + path, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize(
    "path", ["/dev/token?user=alice", "/dev/connections", "/dev/stats", "/dev/vapid", "/"]
)
def test_a_rebinding_host_gets_403_and_the_stacks_own_names_get_through(stack, path):
    port = urlsplit(stack.url).port
    assert get_with_host(stack, path, f"attacker.example:{port}") == 403
    assert get_with_host(stack, path, f"localhost:{port}") == 200
    assert get_with_host(stack, path, f"127.0.0.1:{port}") == 200


def test_a_request_line_over_8_kib_is_answered_400_without_a_traceback(stack):
    logged_before = len(stack.output)
    host, port = urlsplit(stack.url).hostname, urlsplit(stack.url).port
    with socket.create_connection((host, port), timeout=10) as raw:
        raw.sendall(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = raw.recv(4096)
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.split()[1] in (b"400", b"414")
    assert stack.get_json("/dev/stats")["open"] >= 0  # the stack still answers
    logged = "".join(stack.output[logged_before:])
    assert "Traceback" not in logged and "Error handling request" not in logged


def stack_that_believes_host_is(host: str, *args: str) -> LocalStack:
    """A stack started with HOST=``host`` that in fact listens on 127.0.0.1 only (the test never
    opens a port to other machines): what it serves depends on the HOST it was given."""
    program = (
        "import sys, chatlocal.__main__ as m; bind = m._bind;"
        " m._bind = lambda host, port: bind('127.0.0.1', port);"
        " m.exit_now(m.main(sys.argv[1:]))"
    )
    return LocalStack(command=[sys.executable, "-c", program, *args], HOST=host, **ONE_PROCESS)


@pytest.mark.parametrize(
    ("args", "env", "dev_status"),
    [((), {}, 404), (("--allow-remote-dev",), {}, 200), ((), {"CHAT_ALLOW_REMOTE_DEV": "1"}, 200)],
    ids=["no flag", "--allow-remote-dev", "CHAT_ALLOW_REMOTE_DEV=1"],
)
def test_dev_routes_are_absent_off_loopback_unless_a_flag_says_otherwise(args, env, dev_status):
    stack = stack_that_believes_host_is("0.0.0.0", *args)
    stack.env.update(env)
    with stack:
        port = urlsplit(stack.url).port
        statuses = [
            get_with_host(stack, path, f"127.0.0.1:{port}") for path in ("/dev/token?user=a", "/dev/stats")
        ]
        from_a_phone = get_with_host(stack, "/dev/stats", f"192.168.1.5:{port}")
        page = get_with_host(stack, "/", f"127.0.0.1:{port}")
    assert statuses == [dev_status, dev_status]
    assert from_a_phone == dev_status  # an IP address names the stack when remote dev routes are on
    assert page == 200
    assert "is not a loopback address" in stack.text
    assert ("dev token       off" in stack.text) is (dev_status == 404)  # the banner says so
