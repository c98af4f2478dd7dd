"""Retrying an optimistic write that lost a race.

A send takes the chat's next ``seq`` with a conditional transaction; when several members send
at once, one wins each round and the others try again. A loser learns the chat as it is from
its failed attempt, and that knowledge ages while it pauses, so pauses stay short (jittered,
doubling from 2 ms to at most 50 ms): in the benchmark's 50-connection chats, pauses up to
400 ms made the losers lose again and again (400 sends took 704 s instead of 84 s). The loop
gives up on a time budget, not a count of tries, because under load each try takes longer; the
invocation keeps the rest of its 30 s for the fan-out.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Contention:
    budget_seconds: float = 10.0  # of the Lambda's 30 s timeout; fan-out needs the rest
    base_seconds: float = 0.002
    cap_seconds: float = 0.05
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
