"""Integration tier: real sockets on localhost through the local stack, started as a subprocess
exactly as ``make run`` starts it (on a free port)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from tests.stack import LocalStack

T = TypeVar("T")


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    with LocalStack(CHAT_JWT_SECRET="integration-secret-" * 3) as running:
        yield running


@pytest.fixture
def user():
    """Fresh user ids per test: the stack (and its tables) is shared by the session."""
    run_id = uuid.uuid4().hex[:6]
    numbers = itertools.count(1)

    def make(name: str = "u") -> str:
        return f"{name}-{run_id}-{next(numbers)}"

    return make


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 120) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))
