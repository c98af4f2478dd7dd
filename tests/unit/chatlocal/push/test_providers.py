"""The local stack's push setup and its record: the settings ``make run`` gives the app, the SNS
platform applications, ``/dev/push``'s recorder, and what ``/dev/push/reject`` does to each kind
of token (SNS on an in-process moto server)."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.domain.records import Device, token_key
from chalicelib.push.notification import Notification
from chatlocal.push.providers import PushRecorder, VapidKeys, ensure_platform_applications, prepare_env
from chatlocal.push.reject import NothingToReject, NotRejectable, Rejecter, check_token
from chatlocal.push.webpush_service import LocalPushService
from infra.vapid_key import new_private_key, public_key

# -- settings --------------------------------------------------------------------------------


def test_a_vapid_key_pair_is_generated_when_none_is_given():
    keys = VapidKeys.from_env({})
    assert not keys.given and keys.public_key == public_key(keys.private_key)
    point = base64.urlsafe_b64decode(keys.public_key + "==")
    assert len(point) == 65 and point[0] == 4
    assert VapidKeys.from_env({}).private_key != keys.private_key  # one per start


def test_a_given_vapid_key_is_kept_and_a_bad_one_refused():
    private = new_private_key()
    keys = VapidKeys.from_env({"CHAT_VAPID_PRIVATE_KEY": private})
    assert (keys.private_key, keys.public_key, keys.given) == (private, public_key(private), True)
    assert keys.origin == "from CHAT_VAPID_PRIVATE_KEY"
    with pytest.raises(ValueError, match="CHAT_VAPID_PRIVATE_KEY: a VAPID private key is 32 bytes"):
        VapidKeys.from_env({"CHAT_VAPID_PRIVATE_KEY": "c2hvcnQ"})


def test_prepare_env_turns_push_on_with_the_local_defaults():
    keys = VapidKeys.from_env({})
    env = {"CHAT_TABLE_PREFIX": "chat-local", "CHAT_VAPID_PRIVATE_KEY_PARAM": "/chat/dev/vapid"}
    prepare_env(env, keys)
    assert env == {
        "CHAT_TABLE_PREFIX": "chat-local",
        "CHAT_PUSH_QUEUE": "chat-local-push",
        "CHAT_VAPID_PRIVATE_KEY": keys.private_key,
        "CHAT_PUSH_ALLOW_LOCAL_HTTP": "1",
    }


def test_prepare_env_keeps_what_the_user_set():
    keys = VapidKeys.from_env({})
    env = {"CHAT_TABLE_PREFIX": "p", "CHAT_PUSH_QUEUE": "mine", "CHAT_PUSH_ALLOW_LOCAL_HTTP": "0"}
    prepare_env(env, keys)
    assert (env["CHAT_PUSH_QUEUE"], env["CHAT_PUSH_ALLOW_LOCAL_HTTP"]) == ("mine", "0")


# -- the record ------------------------------------------------------------------------------


def device(user: str = "bob", platform: str = "apns", token: str = "t", **more: Any) -> Device:
    return Device(
        device_id=f"dv_{uuid.uuid4().hex[:8]}",
        user_id=user,
        platform=platform,
        token=token,
        preview=True,
        registered_at="2026-11-27T00:00:00.000Z",
        **more,
    )


def notification(seq: int = 1, preview: bool = True) -> Notification:
    return Notification(
        chat_id="c_1",
        seq=seq,
        message_id=f"m_{seq}",
        title="Weekend",
        body="alice: hi" if preview else "New message",
        badge=seq,
        collapse_key="c_1",
        sender_id="alice" if preview else None,
        text="hi" if preview else None,
    )


def test_the_recorder_keeps_each_users_notifications_oldest_first():
    times = iter(["2026-11-27T00:00:01.000Z", "2026-11-27T00:00:02.000Z", "2026-11-27T00:00:03.000Z"])
    recorder = PushRecorder(clock=lambda: next(times))
    phone, browser = device(), device(platform="webpush", token="https://push.example/s")
    recorder.record(phone, notification(1))
    recorder.record(device(user="carol"), notification(1))
    recorder.record(browser, notification(2, preview=False))
    assert recorder.of("bob") == [
        {
            "device_id": phone.device_id,
            "platform": "apns",
            "token": "t",
            "notification": notification(1).to_wire(),
            "sent_at": "2026-11-27T00:00:01.000Z",
        },
        {
            "device_id": browser.device_id,
            "platform": "webpush",
            "token": "https://push.example/s",
            "notification": notification(2, preview=False).to_wire(),
            "sent_at": "2026-11-27T00:00:03.000Z",
        },
    ]
    assert "sender_id" not in recorder.of("bob")[1]["notification"]
    assert recorder.of("nobody") == []


def test_the_recorder_takes_concurrent_workers_and_keeps_the_latest():
    recorder = PushRecorder(per_user=400)
    phone = device()

    def send(start: int) -> None:
        for seq in range(start, start + 100):
            recorder.record(phone, notification(seq))

    threads = [threading.Thread(target=send, args=(n * 100,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = recorder.of("bob")
    assert sorted(r["notification"]["seq"] for r in kept) == list(range(400))
    assert [r["sent_at"] for r in kept] == sorted(r["sent_at"] for r in kept)

    small = PushRecorder(per_user=3)
    for seq in range(1, 6):
        small.record(phone, notification(seq))
    assert [r["notification"]["seq"] for r in small.of("bob")] == [3, 4, 5]


# -- SNS: the platform applications and rejecting a token ------------------------------------


@pytest.fixture(scope="module")
def sns() -> Iterator[Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield boto3.client(
        "sns",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    server.stop()


def test_platform_applications_are_created_on_the_embedded_sns_unless_named(sns):
    prefix = f"unit-{uuid.uuid4().hex[:8]}"
    env = {"CHAT_TABLE_PREFIX": prefix}
    made = ensure_platform_applications(env, sns, may_create=True)
    assert {p: a.created for p, a in made.items()} == {"apns": True, "fcm": True}
    assert made["apns"].arn.endswith(f":app/APNS/{prefix}-apns")
    assert made["fcm"].arn.endswith(f":app/GCM/{prefix}-fcm")
    assert (env["CHAT_SNS_APNS_APP_ARN"], env["CHAT_SNS_FCM_APP_ARN"]) == (made["apns"].arn, made["fcm"].arn)

    named = {"CHAT_TABLE_PREFIX": prefix, "CHAT_SNS_APNS_APP_ARN": "arn:aws:sns:us-east-1:1:app/APNS/x"}
    kept = ensure_platform_applications(named, sns, may_create=False)
    assert list(kept) == ["apns"] and kept["apns"].arn == "arn:aws:sns:us-east-1:1:app/APNS/x"
    assert not kept["apns"].created and "CHAT_SNS_FCM_APP_ARN" not in named  # fcm refused


class Store:
    """The one store call the rejecter makes."""

    def __init__(self, *devices: Device) -> None:
        self.by_key = {d.token_key: d for d in devices}

    def device_by_token(self, key: str) -> Device | None:
        return self.by_key.get(key)


@pytest.fixture
def apps(sns) -> dict[str, str]:
    env = {"CHAT_TABLE_PREFIX": f"unit-{uuid.uuid4().hex[:8]}"}
    return {p: a.arn for p, a in ensure_platform_applications(env, sns, may_create=True).items()}


def endpoint(sns, app: str, token: str) -> str:
    return str(sns.create_platform_endpoint(PlatformApplicationArn=app, Token=token)["EndpointArn"])


def enabled(sns, arn: str) -> str:
    return str(sns.get_endpoint_attributes(EndpointArn=arn)["Attributes"]["Enabled"])


def local_push() -> LocalPushService:
    return LocalPushService("http://127.0.0.1:8000", VapidKeys.from_env({}).public_key)


def test_rejecting_a_registered_token_disables_its_sns_endpoint(sns, apps):
    arn = endpoint(sns, apps["fcm"], "pixel")
    other = endpoint(sns, apps["fcm"], "other-pixel")
    phone = device(platform="fcm", token="pixel", endpoint_arn=arn)
    [rejected] = Rejecter(lambda: Store(phone), sns, apps, local_push()).reject("pixel")
    assert (rejected.platform, rejected.device_id, rejected.user_id) == ("fcm", phone.device_id, "bob")
    assert (enabled(sns, arn), enabled(sns, other)) == ("false", "true")
    with pytest.raises(sns.exceptions.EndpointDisabledException):
        sns.publish(TargetArn=arn, Message="{}")  # what the push worker then sees


def test_an_endpoint_without_a_device_is_found_by_its_token(sns, apps):
    tokens = [f"iphone-{i}" for i in range(105)]  # more than one page of ListEndpoints
    arns = [endpoint(sns, apps["apns"], t) for t in tokens]
    [rejected] = Rejecter(Store, sns, apps, local_push()).reject("iphone-104")
    assert (rejected.platform, rejected.device_id) == ("apns", None)
    assert enabled(sns, arns[104]) == "false" and enabled(sns, arns[0]) == "true"


def test_a_token_nothing_holds_cannot_be_rejected(sns, apps):
    arn = endpoint(sns, apps["apns"], "deleted")
    sns.delete_endpoint(EndpointArn=arn)
    gone = device(token="deleted", endpoint_arn=arn)
    with pytest.raises(NothingToReject, match="no device"):
        Rejecter(lambda: Store(gone), sns, apps, local_push()).reject("deleted")
    with pytest.raises(NothingToReject):
        Rejecter(Store, sns, apps, local_push()).reject("https://push.example/never-registered")


def test_a_local_push_subscription_answers_410_once_rejected(sns, apps):
    service = local_push()
    url = service.endpoint("sub-1")
    browser = device(platform="webpush", token=url)
    assert token_key("webpush", url) == browser.token_key
    [rejected] = Rejecter(lambda: Store(browser), sns, apps, service).reject(url)
    assert (rejected.platform, rejected.device_id) == ("webpush", browser.device_id)
    assert "410" in rejected.effect
    assert service.subscription_of(url) == "sub-1" and "sub-1" in service._gone


def test_a_foreign_web_push_endpoint_is_not_rejectable(sns, apps):
    browser = device(platform="webpush", token="https://fcm.googleapis.com/fcm/send/abc")
    with pytest.raises(NotRejectable, match="cannot make it answer 410"):
        Rejecter(lambda: Store(browser), sns, apps, local_push()).reject(browser.token)


@pytest.mark.parametrize(
    ("token", "message"), [(None, "'token' is required"), ("", "'token' is required"), ("x" * 4097, "4096")]
)
def test_the_token_parameter_is_checked(token, message):
    with pytest.raises(ValueError, match=message):
        check_token(token)
    assert check_token("x" * 4096) == "x" * 4096
