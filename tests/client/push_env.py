"""What a test stack needs for Web Push beyond what ``make run`` gives: nothing any more. The
local stack now generates a VAPID key per start (``GET /dev/vapid`` serves its public half) and
takes http endpoints on 127.0.0.1 (CHAT_PUSH_ALLOW_LOCAL_HTTP defaults to 1); see
docs/local-stack.md, "Push notifications". The client and browser tiers' stacks still pass this
(empty) mapping; they can drop it."""

from __future__ import annotations


def local_push_env() -> dict[str, str]:
    return {}
