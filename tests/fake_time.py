"""Time that passes only when something sleeps: retry budgets run out at once, and exactly."""

from __future__ import annotations

from typing import Any

from chalicelib.retry import Contention


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds

    def contention(self, **settings: Any) -> Contention:
        """The retry policy, on this clock."""
        return Contention(clock=self.clock, sleep=self.sleep, **settings)
