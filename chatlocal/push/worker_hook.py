"""The local stack's push record (``GET /dev/push``) when the handlers run in worker processes.

In the default mode the push worker hands every notification a provider accepted to the stack's
``PushRecorder`` through ``chalicelib.runtime.use_push_sink``. A worker is another process: this
file is also its setup (``runtime_worker --setup``, run after the handler loaded, importing only
the standard library and the code folder's ``chalicelib``), whose ``install`` points the sink at
the worker's pipe; ``receiver`` turns those side messages back into the recorder's calls.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.domain.records import Device
    from chalicelib.push.notification import Notification

SETUP = Path(__file__).resolve()
KIND = "push"

Record = Callable[["Device", "Notification"], None]


def install(emit: Callable[[str, Any], None]) -> None:
    """In the worker: send every accepted notification to the stack."""
    from chalicelib import runtime

    def forward(device: Device, notification: Notification) -> None:
        emit(KIND, {"device": dataclasses.asdict(device), "notification": dataclasses.asdict(notification)})

    runtime.use_push_sink(forward)


def receiver(record: Record) -> Callable[[str, Any], None]:
    """In the stack: the workers' side messages, recorded."""
    from chalicelib.domain.records import Device
    from chalicelib.push.notification import Notification

    def received(kind: str, payload: Any) -> None:
        if kind != KIND:
            raise ValueError(f"unknown side message {kind!r}")
        record(Device(**payload["device"]), Notification(**payload["notification"]))

    return received
