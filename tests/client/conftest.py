"""Client tier: the Python client and CLI against the local stack (a subprocess on a free port)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Iterator

import pytest

from chatclient import Backoff, ChatClient
from tests.stack import LocalStack


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    with LocalStack(CHAT_JWT_SECRET="client-secret-" * 3) as running:
        yield running


@pytest.fixture
def user():
    run_id = uuid.uuid4().hex[:6]
    numbers = itertools.count(1)
    return lambda name="u": f"{name}-{run_id}-{next(numbers)}"


def make_client(stack: LocalStack, user_id: str, **options) -> ChatClient:  # type: ignore[no-untyped-def]
    async def token() -> str:
        return await asyncio.get_running_loop().run_in_executor(None, stack.token, user_id)

    options.setdefault("backoff", Backoff(base=0.05, cap=0.5))
    options.setdefault("request_timeout", 5)
    return ChatClient(stack.ws_base, token, **options)


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


def connection_ids(stack: LocalStack, user_id: str) -> list[str]:
    return [c["connectionId"] for c in stack.connections() if c["user"] == user_id]
