"""Sending a notification to one device: APNs and FCM through SNS mobile push, browsers through
Web Push (RFC 8030/8291/8292, VAPID). Provider errors are translated here, where the call is
made: ``GONE`` (forget the device), ``RETRY`` (throttled or a server error: try again later),
``FAILED`` (a permanent refusal of this one notification)."""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from chalicelib.domain.records import Device
from chalicelib.push.devices import EndpointGuard, EndpointPolicy, EndpointRefused, Resolver
from chalicelib.push.notification import Notification, sns_message, webpush_payload, webpush_topic

log = logging.getLogger(__name__)

EXISTING_ENDPOINT = re.compile(r"Endpoint (arn:aws[\w-]*:sns:\S+) already exists with the same [Tt]oken")

WEBPUSH_TTL_SECONDS = 24 * 3600
# Each provider call is short: a slow push service costs one device a few seconds, not the batch.
SNS_CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 2,
    "read_timeout": 3,
    "retries": {"mode": "standard", "total_max_attempts": 2},  # the worker retries, later
    "max_pool_connections": 80,  # the worker's sends at once, at most
}


class Sent(enum.Enum):
    OK = "ok"
    GONE = "gone"
    RETRY = "retry"
    FAILED = "failed"


class PushUnavailable(Exception):
    """A platform is not configured here (no SNS application, no VAPID key)."""


class Provider(Protocol):
    def enroll(self, device: Device) -> Device:
        """Whatever the platform needs before it can send (an SNS endpoint); the device as kept."""

    def send(self, device: Device, notification: Notification) -> Sent: ...

    def forget(self, device: Device) -> None:
        """Release what ``enroll`` made."""


class SnsProvider:
    """APNs or FCM through an SNS platform application: one platform endpoint per device."""

    GONE_CODES = frozenset({"EndpointDisabled", "NotFound", "EndpointDisabledException", "NotFoundException"})
    RETRY_CODES = frozenset({"Throttling", "ThrottlingException", "InternalError", "InternalErrorException"})

    def __init__(self, client: Callable[[], Any], application_arn: str) -> None:
        self._client_of = client  # made on first use: registering and sending are rare
        self._application_arn = application_arn

    @property
    def _client(self) -> Any:
        return self._client_of()

    def enroll(self, device: Device) -> Device:
        """The device's SNS endpoint, created or taken over, enabled, tagged with its device id
        (AWS's token management pattern: SNS refuses to create a second endpoint for a token
        whose attributes differ, and names the existing one)."""
        from botocore.exceptions import BotoCoreError, ClientError

        attributes = {"Enabled": "true", "CustomUserData": device.device_id}
        try:
            try:
                arn = self._client.create_platform_endpoint(
                    PlatformApplicationArn=self._application_arn,
                    Token=device.token,
                    CustomUserData=device.device_id,
                    Attributes={"Enabled": "true"},
                )["EndpointArn"]
            except ClientError as exc:
                found = EXISTING_ENDPOINT.search(exc.response.get("Error", {}).get("Message", ""))
                if found is None:
                    raise
                arn = found.group(1)
            # Re-registering a token SNS had disabled (the app reinstalled) enables it again.
            self._client.set_endpoint_attributes(
                EndpointArn=arn, Attributes={**attributes, "Token": device.token}
            )
        except (BotoCoreError, ClientError) as exc:
            raise PushUnavailable(f"SNS refused the {device.platform} token: {exc}") from exc
        return Device(**{**device.__dict__, "endpoint_arn": str(arn)})

    def send(self, device: Device, notification: Notification) -> Sent:
        from botocore.exceptions import BotoCoreError, ClientError

        if not device.endpoint_arn:
            return Sent.GONE
        try:
            self._client.publish(
                TargetArn=device.endpoint_arn,
                MessageStructure="json",
                Message=sns_message(notification),
                MessageAttributes={
                    "AWS.SNS.MOBILE.APNS.COLLAPSE_ID": {
                        "DataType": "String",
                        "StringValue": notification.collapse_key[:64],
                    },
                    "AWS.SNS.MOBILE.APNS.PUSH_TYPE": {"DataType": "String", "StringValue": "alert"},
                },
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in self.GONE_CODES:
                return Sent.GONE
            if (
                code in self.RETRY_CODES
                or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
            ):
                return Sent.RETRY
            log.warning("SNS refused a notification for %s: %s", device.device_id, exc)
            return Sent.FAILED
        except BotoCoreError as exc:
            log.warning("SNS unreachable for %s: %s", device.device_id, exc)
            return Sent.RETRY
        return Sent.OK

    def forget(self, device: Device) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        if device.endpoint_arn:
            try:
                self._client.delete_endpoint(EndpointArn=device.endpoint_arn)
            except (BotoCoreError, ClientError) as exc:
                log.warning("could not delete SNS endpoint of %s: %s", device.device_id, exc)


class WebPushProvider:
    """Web Push: the payload encrypted (aes128gcm) to the subscription's keys, VAPID-signed,
    POSTed over a ``GuardedSession`` (no redirects, checked addresses, short timeouts) to an
    endpoint ``policy`` accepts; an endpoint it no longer accepts makes the device gone."""

    def __init__(
        self,
        vapid_private_key: Callable[[], str],
        subject: str,
        policy: EndpointPolicy | None = None,
        resolve: Resolver | None = None,
        pool_size: int = 80,  # the worker's sends at once, at most
    ) -> None:
        self._key = vapid_private_key  # read on first send (from SSM in a deployment)
        self._subject = subject
        self.policy = policy or EndpointPolicy()
        self._resolve = resolve
        self._pool_size = pool_size
        self._session: Any = None  # made at the first send: only the push worker sends, and
        # ``requests`` (which the session needs) is a tenth of a second of every cold start

    def session(self) -> Any:
        """The ``GuardedSession`` every send goes over (made, and ``requests`` imported, once)."""
        if self._session is None:
            from chalicelib.push.transport import GuardedSession

            self._session = GuardedSession(EndpointGuard(self.policy, self._resolve), self._pool_size)
        return self._session

    def enroll(self, device: Device) -> Device:
        return device

    def send(self, device: Device, notification: Notification) -> Sent:
        from pywebpush import WebPushException, webpush

        from chalicelib.push.transport import TIMEOUT

        subscription = {"endpoint": device.token, "keys": {"p256dh": device.p256dh, "auth": device.auth}}
        try:
            self.policy.check(device.token)
            webpush(
                subscription_info=subscription,
                data=webpush_payload(notification),
                vapid_private_key=self._key(),
                vapid_claims={"sub": self._subject},
                content_encoding="aes128gcm",
                ttl=WEBPUSH_TTL_SECONDS,
                headers={"Urgency": "high", "Topic": webpush_topic(notification.chat_id)},
                timeout=TIMEOUT,  # type: ignore[arg-type]  # requests takes (connect, read)
                requests_session=self.session(),
            )
        except EndpointRefused as exc:
            log.warning("refusing the endpoint of %s: %s", device.device_id, exc)
            return Sent.GONE
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status in (404, 410):
                return Sent.GONE
            if status == 429 or status >= 500 or status == 0:
                return Sent.RETRY
            if 300 <= status < 400:
                log.warning(
                    "push service of %s answered a redirect (%d): not followed", device.device_id, status
                )
                return Sent.FAILED
            log.warning("push service refused a notification for %s: %s", device.device_id, exc)
            return Sent.FAILED
        except Exception as exc:  # network errors and timeouts surface as requests' exceptions
            log.warning("push service unreachable for %s: %s", device.device_id, exc)
            return Sent.RETRY
        return Sent.OK

    def forget(self, device: Device) -> None:
        pass  # nothing was made at registration


class Providers:
    """The provider of each platform; a platform without one is refused at registration."""

    def __init__(self, by_platform: Mapping[str, Provider]) -> None:
        self._by_platform = dict(by_platform)

    def for_platform(self, platform: str) -> Provider:
        provider = self._by_platform.get(platform)
        if provider is None:
            raise PushUnavailable(f"push to {platform} is not configured on this deployment")
        return provider

    def forget(self, device: Device) -> None:
        """Release what the device's provider made for it, if that provider is configured."""
        provider = self._by_platform.get(device.platform)
        if provider is not None:
            provider.forget(device)
