"""Push notifications in the local stack: the settings ``make run`` gives the app so that push
works out of the box, the SNS platform applications it creates on the embedded moto, and the
record of what the emulated providers accepted (``GET /dev/push``).

What is emulated: APNs and FCM are SNS mobile push on moto (``CreatePlatformEndpoint``,
``Publish``, ``Enabled=false`` making a publish fail with ``EndpointDisabled``, as SNS does once
APNs or FCM rejected a token); Web Push is really sent (encrypted, VAPID-signed) to whatever
endpoint a subscription names, the local push service (``chatlocal.push.webpush_service``) included.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain import ids
from chalicelib.domain.records import Device
from chalicelib.push.notification import Notification
from chatlocal.push.webpush_service import PATH_PREFIX

PUSH_QUEUE_VARIABLE = "CHAT_PUSH_QUEUE"
VAPID_VARIABLE = "CHAT_VAPID_PRIVATE_KEY"
RECORDS_PER_USER = 1000  # /dev/push keeps each user's latest this many


@dataclass(frozen=True)
class PlatformKind:
    platform: str  # the device platform of the protocol
    variable: str  # the app's setting naming the SNS platform application
    sns_platform: str  # CreatePlatformApplication's Platform


SNS_PLATFORMS = (
    PlatformKind("apns", "CHAT_SNS_APNS_APP_ARN", "APNS"),
    PlatformKind("fcm", "CHAT_SNS_FCM_APP_ARN", "GCM"),  # FCM is "GCM" to SNS
)


@dataclass(frozen=True)
class VapidKeys:
    """The Web Push key pair: the private key as the app reads it, the public key as browsers
    subscribe with it (``applicationServerKey``: the uncompressed point, base64url)."""

    private_key: str
    public_key: str
    origin: str  # how the banner explains it
    given: bool = False  # CHAT_VAPID_PRIVATE_KEY: kept over the data folder's

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> VapidKeys:
        """``CHAT_VAPID_PRIVATE_KEY`` if set (ValueError if it is not a P-256 key), else a new
        pair for this run (``chatlocal.persistence.resolve_vapid`` keeps one in the data folder)."""
        from infra.vapid_key import new_private_key

        given = (env.get(VAPID_VARIABLE) or "").strip()
        if given:
            return cls.of(given, f"from {VAPID_VARIABLE}", VAPID_VARIABLE, given=True)
        return cls.of(new_private_key(), "generated for this run only")

    @classmethod
    def of(cls, private: str, origin: str, source: str = VAPID_VARIABLE, given: bool = False) -> VapidKeys:
        """The pair of a private key; ValueError naming ``source`` if it is not a P-256 key."""
        from infra.vapid_key import public_key

        try:
            public = public_key(private)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from exc
        return cls(private, public, origin, given)


def prepare_env(env: MutableMapping[str, str], vapid: VapidKeys) -> None:
    """The app's push settings, before ``app.py`` is imported (it names its push queue then):
    the queue (``{prefix}-push`` unless named), the VAPID key, Web Push endpoints on
    127.0.0.1 allowed (unless ``CHAT_PUSH_ALLOW_LOCAL_HTTP`` says otherwise), and the local push
    service's URL (``CHAT_PUSH_LOCAL_SERVICE``): on the stack's own port, endpoints may name that
    service's subscriptions and nothing else (no ``/dev/push/reject``)."""
    if not env.get(PUSH_QUEUE_VARIABLE):
        env[PUSH_QUEUE_VARIABLE] = f"{env['CHAT_TABLE_PREFIX']}-push"
    env[VAPID_VARIABLE] = vapid.private_key
    env.pop("CHAT_VAPID_PRIVATE_KEY_PARAM", None)  # no SSM here: the key above is the one
    if not env.get("CHAT_PUSH_ALLOW_LOCAL_HTTP"):
        env["CHAT_PUSH_ALLOW_LOCAL_HTTP"] = "1"
    if env.get("CHAT_MANAGEMENT_ENDPOINT"):  # the stack's own URL: its port takes no endpoint but these
        env["CHAT_PUSH_LOCAL_SERVICE"] = env["CHAT_MANAGEMENT_ENDPOINT"].rstrip("/") + PATH_PREFIX


@dataclass(frozen=True)
class PlatformApplication:
    platform: str  # "apns" or "fcm"
    arn: str
    created: bool  # False: named by the environment


def ensure_platform_applications(
    env: MutableMapping[str, str], client: Any, may_create: bool
) -> dict[str, PlatformApplication]:
    """The SNS platform application of each mobile platform: the one its variable names, else
    (``may_create``: SNS is the embedded moto) one created now and named in the variable. A
    platform with neither is left out: the app refuses its devices. Blocking (boto3)."""
    applications: dict[str, PlatformApplication] = {}
    for kind in SNS_PLATFORMS:
        if env.get(kind.variable):
            applications[kind.platform] = PlatformApplication(kind.platform, env[kind.variable], False)
        elif may_create:
            arn = client.create_platform_application(
                Name=f"{env['CHAT_TABLE_PREFIX']}-{kind.platform}",
                Platform=kind.sns_platform,
                # moto checks nothing; a real account needs the APNs key or FCM service account.
                Attributes={"PlatformCredential": "local", "PlatformPrincipal": "local"},
            )["PlatformApplicationArn"]
            env[kind.variable] = str(arn)
            applications[kind.platform] = PlatformApplication(kind.platform, str(arn), True)
    return applications


class PushRecorder:
    """What the emulated providers accepted, per user who owned the device when it was sent.
    ``record`` is the push worker's sink (``runtime.use_push_sink``): it runs on the worker's
    threads, ``of`` on the event loop; both hold the lock only to copy."""

    def __init__(self, per_user: int = RECORDS_PER_USER, clock: Callable[[], str] = ids.iso_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._by_user: defaultdict[str, deque[dict[str, Any]]] = defaultdict(lambda: deque(maxlen=per_user))

    def record(self, device: Device, notification: Notification) -> None:
        entry = {
            "device_id": device.device_id,
            "platform": device.platform,
            "token": device.token,  # for webpush, the subscription endpoint
            "notification": notification.to_wire(),
        }
        with self._lock:  # stamped under the lock: oldest first is also in sent_at order
            self._by_user[device.user_id].append({**entry, "sent_at": self._clock()})

    def of(self, user_id: str) -> list[dict[str, Any]]:
        """Oldest first."""
        with self._lock:
            found = self._by_user.get(user_id)
            return list(found) if found is not None else []
