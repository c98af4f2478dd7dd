"""A modest load in the suite: 200 connections in 20 chats, 1,000 concurrent sends, every frame
counted against what the protocol promises (bench/load.py runs the same, bigger)."""

from __future__ import annotations

import asyncio

from bench import loadgen
from tests.integration.conftest import run


def test_200_connections_20_chats_1000_messages(stack):
    shape = loadgen.Shape(chats=20, members=5, devices=2, messages=1000, concurrency=50)
    assert shape.connections == 200

    async def token_for(user: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(None, stack.token, user)

    async def posts_so_far() -> int:
        stats = await asyncio.get_running_loop().run_in_executor(None, stack.get_json, "/dev/stats")
        return int(stats["posts"])

    gone_before = stack.get_json("/dev/stats")["posts_gone"]
    result = run(
        loadgen.run(stack.ws_base, token_for, shape, timeout=180, posts_so_far=posts_so_far), timeout=300
    )

    assert result.problems == []
    assert len(result.acks) == 1000
    assert result.deliveries() == 1000 * 9  # every other connection of the chat, exactly once
    # exactly one management API post per recipient connection, plus one reply per send
    assert result.posts == 1000 * 9 + 1000 + result.retries  # a retried send gets one more reply
    assert stack.get_json("/dev/stats")["posts_gone"] == gone_before
    print("\nload:", loadgen.summary(result))
