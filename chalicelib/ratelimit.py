"""The per-connection rate limit: every frame a connection sends takes a turn here first, before
it is even parsed (a malformed or unknown frame costs an invocation too), counted at the time it
arrived at API Gateway (the event's ``requestTimeEpoch``), not when its invocation runs: a burst
that waits anywhere before its invocations is limited as the burst it was.

GCRA (the generic cell rate algorithm): each connection carries one number, its theoretical
arrival time ``tat`` (epoch ms). An action at ``now`` is admitted when ``tat - tolerance <=
now``, and moves ``tat`` to ``max(tat, now) + interval``: a connection may send ``burst``
actions at once, then one per ``interval`` (``per_second`` sustained). A refused action changes
nothing and is answered ``rate_limited`` with ``retry_after_ms``, when the next one would be
admitted.

The turn is one conditional UpdateItem on the connection record that also returns the record,
so it replaces the read of "who is this connection" every action needs (no extra request in the
common case). Each execution environment remembers the ``tat`` it last saw per connection:
``tat`` only grows, so a remembered "limited until" is never too strict, and a flood is refused
from memory without a DynamoDB request per frame. The memory also guesses which conditional
update to try first.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from chalicelib.config import Settings
from chalicelib.domain.errors import RateLimited, Unregistered
from chalicelib.domain.records import Connection
from chalicelib.storage import Store

REMEMBERED_CONNECTIONS = 4096  # per execution environment; the least recently seen are dropped
# A frame is counted when it arrived if that was at most this long ago by our clock; an arrival
# time further off (another clock's skew, a frame that waited very long) counts as now.
ARRIVAL_TRUSTED_MS = 60_000


@dataclass(frozen=True)
class RateLimit:
    per_second: float = 20.0  # 0: no limit
    burst: int = 200

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimit:
        return cls(settings.rate_limit_per_second, settings.rate_limit_burst)

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    @property
    def interval_ms(self) -> int:
        return max(1, math.ceil(1000 / self.per_second))

    @property
    def tolerance_ms(self) -> int:
        """How far ``tat`` may run ahead of now and still admit: ``burst`` at once."""
        return (self.burst - 1) * self.interval_ms


@dataclass
class RateGate:
    """Admits a connection's action (returning who the connection is) or refuses it."""

    store: Store
    limit: RateLimit
    clock: Callable[[], float] = field(default=time.time, repr=False)
    remembered: int = REMEMBERED_CONNECTIONS
    _tats: OrderedDict[str, int] = field(default_factory=OrderedDict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def admit(self, connection_id: str, arrived_ms: int | None = None) -> Connection:
        """The connection, if it may act now; ``RateLimited`` if not, ``Forbidden`` if unknown.
        ``arrived_ms``: when the frame arrived (epoch ms), the time it is counted at when it is
        at most ``ARRIVAL_TRUSTED_MS`` before the clock (else the clock's time is)."""
        if not self.limit.enabled:
            return _registered(self.store.get_connection(connection_id))
        now = int(self.clock() * 1000)
        if arrived_ms is not None and now - ARRIVAL_TRUSTED_MS <= arrived_ms <= now:
            now = arrived_ms
        known = self._known(connection_id)
        if known is not None and known - self.limit.tolerance_ms > now:
            raise self._limited(known, now)  # from memory: no request
        busy = known is not None and known > now
        turn = self.store.take_turn(connection_id, now, self.limit.interval_ms, self.limit.tolerance_ms, busy)
        connection = _registered(turn.connection)
        self._remember(connection_id, turn.tat_ms)
        if not turn.admitted:
            raise self._limited(turn.tat_ms, now)
        return connection

    def _limited(self, tat_ms: int, now_ms: int) -> RateLimited:
        """The refusal, with when the next action would be admitted."""
        return RateLimited(
            f"too many requests from this connection: at most {self.limit.burst} at once, then "
            f"{self.limit.per_second:g} per second",
            retry_after_ms=tat_ms - self.limit.tolerance_ms - now_ms,
        )

    def _known(self, connection_id: str) -> int | None:
        with self._lock:
            return self._tats.get(connection_id)

    def _remember(self, connection_id: str, tat_ms: int) -> None:
        with self._lock:
            self._tats[connection_id] = max(tat_ms, self._tats.get(connection_id, 0))
            self._tats.move_to_end(connection_id)
            while len(self._tats) > self.remembered:
                self._tats.popitem(last=False)


def _registered(connection: Connection | None) -> Connection:
    if connection is None:
        raise Unregistered()
    return connection
