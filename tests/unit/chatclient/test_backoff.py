"""Reconnect backoff: full jitter under an exponential ceiling."""

from __future__ import annotations

import random

from chatclient import Backoff


def test_backoff_is_full_jitter_within_the_exponential_ceiling():
    backoff = Backoff(base=0.5, cap=8, rng=random.Random(1))
    for attempt in range(10):
        ceiling = min(8, 0.5 * 2**attempt)
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not a fixed step
