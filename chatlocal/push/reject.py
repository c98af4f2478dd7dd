"""``POST /dev/push/reject?token=...``: make the emulated provider treat a token as gone, as the
real one does when the app was uninstalled or the browser unsubscribed.

- apns, fcm: the token's SNS platform endpoint is set ``Enabled=false``, which is what SNS does
  when APNs or FCM reject a token; the next publish fails with ``EndpointDisabled`` and the push
  worker forgets the device. The endpoint is the one kept with the device, else the one SNS
  lists for that token under the platform applications. Registering the token again enables
  it again (the app got the token anew), as on AWS.
- webpush, an endpoint of the local push service (``{base}/dev/webpush/{id}``): it answers 410
  from then on, and the worker forgets the device at its next push.
- webpush, any other endpoint (a push service or a test's receiver): the stack cannot change
  what that server answers, so the rejection is refused (``NotRejectable``); make that endpoint
  answer 404 or 410 instead.

Blocking (DynamoDB and SNS calls): run it off the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.records import MAX_TOKEN_CHARS, PLATFORMS, Device, token_key
from chalicelib.storage import Store
from chatlocal.push.webpush_service import LocalPushService

log = logging.getLogger("chatlocal.push")

SNS_MISSING = ("NotFound", "NotFoundException")


class NothingToReject(LookupError):
    """No device, SNS endpoint or local subscription has the token."""


class NotRejectable(Exception):
    """A Web Push endpoint the stack does not serve: its own server decides what it answers."""


@dataclass(frozen=True)
class Rejected:
    platform: str
    device_id: str | None  # the device registered with the token, if any
    user_id: str | None
    effect: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "device_id": self.device_id,
            "user_id": self.user_id,
            "effect": self.effect,
        }


def check_token(token: str | None) -> str:
    """The ``token`` query parameter, or ValueError saying what is wrong with it."""
    if not token:
        raise ValueError("'token' is required: the APNs/FCM token or the Web Push endpoint to reject")
    if len(token) > MAX_TOKEN_CHARS:
        raise ValueError(f"'token' is at most {MAX_TOKEN_CHARS} characters")
    return token


class Rejecter:
    def __init__(
        self,
        store: Callable[[], Store],
        sns: Any,
        applications: Mapping[str, str],
        local_push: LocalPushService,
    ) -> None:
        self._store = store  # the app's own storage, made on first use
        self._sns = sns  # a boto3 SNS client (thread-safe)
        self._applications = dict(applications)  # platform -> SNS platform application ARN
        self._local_push = local_push

    def reject(self, token: str) -> list[Rejected]:
        devices = {d.platform: d for d in self._devices_with(token)}
        done = [*self._reject_mobile(token, devices), *self._reject_webpush(token, devices.get("webpush"))]
        if not done:
            raise NothingToReject(
                "no device, SNS endpoint or local push subscription has this token"
                " (register it first; a device the provider reported gone is forgotten already)"
            )
        for rejected in done:
            log.info(
                "rejected %s token of device %s: %s", rejected.platform, rejected.device_id, rejected.effect
            )
        return done

    def _devices_with(self, token: str) -> Iterator[Device]:
        store = self._store()
        for platform in PLATFORMS:
            device = store.device_by_token(token_key(platform, token))
            if device is not None:
                yield device

    # -- apns, fcm -----------------------------------------------------------------------------

    def _reject_mobile(self, token: str, devices: Mapping[str, Device]) -> Iterator[Rejected]:
        registered = [d for p, d in devices.items() if p in self._applications and d.endpoint_arn]
        if registered:
            for device in registered:
                assert device.endpoint_arn is not None
                if self._disable(device.endpoint_arn):
                    yield _disabled(device.platform, device, device.endpoint_arn)
            return
        for platform, application in self._applications.items():
            for arn in self._endpoints_with(application, token):
                if self._disable(arn):
                    yield _disabled(platform, None, arn)

    def _endpoints_with(self, application: str, token: str) -> Iterator[str]:
        """The endpoints of an SNS platform application whose Token is ``token``."""
        paginator = self._sns.get_paginator("list_endpoints_by_platform_application")
        for page in paginator.paginate(PlatformApplicationArn=application):
            for endpoint in page.get("Endpoints") or []:
                if (endpoint.get("Attributes") or {}).get("Token") == token:
                    yield str(endpoint["EndpointArn"])

    def _disable(self, endpoint_arn: str) -> bool:
        """What SNS does when APNs or FCM reject the token; False if the endpoint is no more."""
        try:
            self._sns.set_endpoint_attributes(EndpointArn=endpoint_arn, Attributes={"Enabled": "false"})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in SNS_MISSING:
                return False
            raise
        return True

    # -- webpush -------------------------------------------------------------------------------

    def _reject_webpush(self, endpoint: str, device: Device | None) -> Iterator[Rejected]:
        subscription = self._local_push.subscription_of(endpoint)
        if subscription is not None:
            self._local_push.reject(subscription)
            yield Rejected(
                "webpush",
                device.device_id if device else None,
                device.user_id if device else None,
                f"the local push service answers 410 for subscription {subscription} from now on",
            )
        elif device is not None:
            raise NotRejectable(
                f"{endpoint} is not served by this local stack, which cannot make it answer 410:"
                " have that server answer 404 or 410 (as a push service does once the browser"
                f" unsubscribed), or subscribe with an endpoint under {self._local_push.endpoint('')}"
            )


def _disabled(platform: str, device: Device | None, endpoint_arn: str) -> Rejected:
    return Rejected(
        platform,
        device.device_id if device else None,
        device.user_id if device else None,
        f"SNS endpoint {endpoint_arn} disabled: publishing to it fails with EndpointDisabled",
    )
