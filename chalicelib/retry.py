"""Retrying an optimistic write that lost a race.

A send allocates the chat's next ``seq`` with a conditional transaction; when several members
send at once, one wins each round and the others try again on the new ``seq``. Fixed, tiny
pauses make a hot chat's losers collide again and again (the benchmark's 500-connection chat
with 50 sends in flight failed that way), so the pauses grow exponentially with full jitter,
and the loop gives up on a time budget rather than a count: the invocation must still have
time to fan out after it wins.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Contention:
    budget_seconds: float = 10.0  # of the Lambda's 30 s timeout; fan-out needs the rest
    base_seconds: float = 0.005
    cap_seconds: float = 0.4
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    jitter: Callable[[float, float], float] = field(default=random.uniform, repr=False)

    def attempts(self) -> Iterator[int]:
        """Yield attempt numbers 0, 1, 2, ... pausing before each retry, until the budget is
        spent. The caller breaks out when an attempt succeeds; exhaustion means give up."""
        deadline = self.clock() + self.budget_seconds
        attempt = 0
        while True:
            yield attempt
            pause = self.jitter(0.0, min(self.cap_seconds, self.base_seconds * 2 ** min(attempt, 30)))
            if self.clock() + pause >= deadline:
                return
            self.sleep(pause)
            attempt += 1
