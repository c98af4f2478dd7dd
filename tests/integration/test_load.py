"""A modest load in the suite: 100 connections in 10 chats, 300 sends 30 at a time, every frame
counted against what the protocol promises (bench/load.py runs the same at larger sizes)."""

from __future__ import annotations

import asyncio

from bench import loadgen
from tests.integration.conftest import run

CHATS, MESSAGES, CONCURRENCY = 10, 300, 30


def test_100_connections_10_chats_300_concurrent_messages(stack):
    shape = loadgen.Shape(chats=CHATS, members=5, devices=2, messages=MESSAGES, concurrency=CONCURRENCY)
    assert shape.connections == 100

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
    assert len(result.acks) == MESSAGES
    assert result.deliveries() == MESSAGES * 9  # every other connection of the chat, exactly once
    # exactly one management API post per recipient connection, plus one reply per send
    assert result.posts == MESSAGES * 9 + MESSAGES + result.retries  # a retried send gets one more reply
    assert stack.get_json("/dev/stats")["posts_gone"] == gone_before
    print("\nload:", loadgen.summary(result))
