"""``device.register``, ``device.list``, ``device.unregister``, ``chat.notify`` and ``chat.mute``:
where a member's push notifications go, and which chats' messages notify them."""

from __future__ import annotations

from chalicelib.actions.base import ActionBase
from chalicelib.actions.router import Context, Outcome, handles
from chalicelib.domain import ids
from chalicelib.domain.errors import BadRequest, NotFound, Unavailable
from chalicelib.domain.protocol import (
    ChatMute,
    ChatNotify,
    DeviceList,
    DeviceRegister,
    DeviceUnregister,
    frame,
)
from chalicelib.domain.records import MAX_DEVICES, Device, token_key
from chalicelib.push.devices import EndpointPolicy
from chalicelib.push.providers import Provider, Providers, PushUnavailable
from chalicelib.retry import Contention
from chalicelib.storage import Store


class DeviceActions(ActionBase):
    def __init__(
        self,
        store: Store,
        providers: Providers,
        endpoint_policy: EndpointPolicy | None = None,
        contention: Contention | None = None,
    ) -> None:
        super().__init__(store, contention)
        self.providers = providers
        self.endpoint_policy = endpoint_policy or EndpointPolicy()

    @handles(DeviceRegister)
    def register(self, ctx: Context, r: DeviceRegister) -> Outcome:
        if r.platform == "webpush":
            self.endpoint_policy.check(r.token)  # EndpointRefused is a BadRequest: says which rule
        provider = self._provider(r.platform)
        existing = self.store.device_by_token(token_key(r.platform, r.token))
        kept = existing is not None and existing.user_id == ctx.user_id
        device = Device(
            device_id=existing.device_id if existing else "dv_" + ids.ulid(),
            user_id=ctx.user_id,
            platform=r.platform,
            token=r.token,
            preview=r.preview,
            registered_at=existing.registered_at if existing and kept else ids.iso_now(),
            p256dh=r.p256dh,
            auth=r.auth,
            endpoint_arn=existing.endpoint_arn if existing else None,
        )
        try:
            device = provider.enroll(device)
        except PushUnavailable as exc:
            raise Unavailable(str(exc)) from exc
        self.store.save_device(device, existing)
        self._evict_oldest(ctx.user_id)
        return Outcome(frame("device:registered", ctx.req, device=device.to_wire()))

    def _evict_oldest(self, user_id: str) -> None:
        """At most 20 devices per user: registering a 21st forgets the oldest."""
        devices = sorted(self.store.devices_of(user_id), key=lambda d: (d.registered_at, d.device_id))
        for device in devices[: max(0, len(devices) - MAX_DEVICES)]:
            self._forget(device)

    @handles(DeviceList)
    def list_devices(self, ctx: Context, r: DeviceList) -> Outcome:
        devices = sorted(self.store.devices_of(ctx.user_id), key=lambda d: (d.registered_at, d.device_id))
        return Outcome(frame("device:list", ctx.req, devices=[d.to_wire() for d in devices]))

    @handles(DeviceUnregister)
    def unregister(self, ctx: Context, r: DeviceUnregister) -> Outcome:
        device = next((d for d in self.store.devices_of(ctx.user_id) if d.device_id == r.device_id), None)
        if device is None or not self._forget(device):
            raise NotFound(f"no device {r.device_id} of yours")
        return Outcome(frame("device:unregistered", ctx.req, device_id=r.device_id))

    @handles(ChatMute)
    def mute(self, ctx: Context, r: ChatMute) -> Outcome:
        chat, _ = self._member_chat(ctx, r.chat_id)
        self.store.set_muted(ctx.user_id, chat.chat_id, r.muted)
        return Outcome(frame("chat:muted", ctx.req, chat_id=chat.chat_id, muted=r.muted))

    @handles(ChatNotify)
    def notify(self, ctx: Context, r: ChatNotify) -> Outcome:
        """The member's notification level; ``chat.mute`` is its two-level shorthand."""
        chat, _ = self._member_chat(ctx, r.chat_id)
        self.store.set_notify(ctx.user_id, chat.chat_id, r.level)
        reply = frame("chat:notify", ctx.req, chat_id=chat.chat_id, notify=r.level, muted=r.level == "none")
        return Outcome(reply)

    def _provider(self, platform: str) -> Provider:
        try:
            return self.providers.for_platform(platform)
        except PushUnavailable as exc:
            raise BadRequest(str(exc)) from exc

    def _forget(self, device: Device) -> bool:
        if not self.store.remove_device(device):
            return False
        self.providers.forget(device)
        return True
