"""The contention policy: exponential pauses with full jitter, within a time budget."""

from __future__ import annotations

from chalicelib.retry import Contention
from tests.fake_time import FakeClock


def policy(t: FakeClock, jitter=lambda low, high: high, **kw) -> Contention:  # type: ignore[no-untyped-def]
    return t.contention(jitter=jitter, **kw)


def test_first_attempt_is_immediate_then_pauses_double_up_to_the_cap():
    t = FakeClock()
    attempts = policy(t, budget_seconds=100, base_seconds=0.01, cap_seconds=0.1).attempts()
    assert next(attempts) == 0 and t.pauses == []
    for _ in range(6):
        next(attempts)
    assert t.pauses == [0.01, 0.02, 0.04, 0.08, 0.1, 0.1]


def test_pauses_are_drawn_between_zero_and_the_ceiling():
    t = FakeClock()
    asked: list[tuple[float, float]] = []

    def jitter(low: float, high: float) -> float:
        asked.append((low, high))
        return (low + high) / 2

    attempts = policy(t, jitter, budget_seconds=100, base_seconds=0.01, cap_seconds=1).attempts()
    for _ in range(4):
        next(attempts)
    assert asked == [(0.0, 0.01), (0.0, 0.02), (0.0, 0.04)]
    assert t.pauses == [0.005, 0.01, 0.02]


def test_gives_up_before_the_budget_is_spent():
    t = FakeClock()
    numbers = list(policy(t, budget_seconds=1.0, base_seconds=0.1, cap_seconds=0.4).attempts())
    # pauses 0.1, 0.2, 0.4 (0.7 s); the next 0.4 would end past the deadline, so no attempt 4
    assert numbers == [0, 1, 2, 3]
    assert sum(t.pauses) <= 1.0


def test_many_attempts_do_not_overflow_the_ceiling():
    t = FakeClock()
    attempts = policy(t, jitter=lambda low, high: 0.0, budget_seconds=1).attempts()
    for _ in range(2000):  # zero pauses: the budget never runs out, and 2**attempt stays bounded
        next(attempts)
    assert len(t.pauses) == 1999
