"""Every action of the protocol, on one router: the capabilities included here are all there is
(chats, messages, message changes, devices, attachments, blocks, reports). The service runs requests
through ``Actions.run``.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.actions.attachments import AttachmentActions
from chalicelib.actions.base import ActionBase
from chalicelib.actions.blocks import BlockActions
from chalicelib.actions.changes import ChangeActions
from chalicelib.actions.chats import ChatActions
from chalicelib.actions.devices import DeviceActions
from chalicelib.actions.messages import MessageActions
from chalicelib.actions.reports import ReportActions
from chalicelib.actions.router import Context, Outcome, Router
from chalicelib.domain.protocol import Request
from chalicelib.push.devices import EndpointPolicy
from chalicelib.push.jobs import Notifier
from chalicelib.push.providers import Providers
from chalicelib.retry import Contention
from chalicelib.storage import Store
from chalicelib.storage.files import Files


class Actions:
    """The capabilities, each included on one router."""

    def __init__(
        self,
        store: Store,
        contention: Contention | None = None,
        notifier: Notifier | None = None,
        providers: Providers | None = None,
        endpoint_policy: EndpointPolicy | None = None,
        direct_key: Callable[[], bytes] | None = None,
        files: Files | None = None,
    ) -> None:
        self.chats = ChatActions(store, contention, notifier, direct_key)
        self.messages = MessageActions(store, contention, notifier)
        self.changes = ChangeActions(store, contention, notifier)
        self.devices = DeviceActions(store, providers or Providers({}), endpoint_policy, contention)
        self.attachments = AttachmentActions(store, contention, notifier)
        self.blocks = BlockActions(store, contention, notifier, direct_key)
        self.reports = ReportActions(store, contention, notifier)
        self.router = Router()
        for capability in self.capabilities:
            capability.files = files
            self.router.include(capability)

    @property
    def capabilities(self) -> tuple[ActionBase, ...]:
        return (
            self.chats,
            self.messages,
            self.changes,
            self.devices,
            self.attachments,
            self.blocks,
            self.reports,
        )

    @property
    def contention(self) -> Contention:
        return self.messages.contention

    @contention.setter
    def contention(self, value: Contention) -> None:
        """How long a write that lost a race keeps trying (tests set a fake clock here)."""
        for capability in self.capabilities:
            capability.contention = value

    def run(self, ctx: Context, request: Request) -> Outcome:
        return self.router.run(ctx, request)
