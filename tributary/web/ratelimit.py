"""A per-user token bucket: bursts up to ``burst`` requests, refilled at a steady rate.

The buckets live in the memory of one process, so with N API processes a user
gets up to N times the rate; that bounds abuse of one process without a shared
store, which is what it is for (Cloud Functions instances scale out anyway).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

# Buckets not touched for this long are full again; forget them to bound memory.
_IDLE_FORGET_S = 3600.0


class RateLimiter:
    """``take(user)`` answers 0 when a request may go on, else seconds to wait."""

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # user -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, user: str) -> int:
        """Spend one token of ``user``'s bucket; the whole seconds until one is there if none is."""
        if not self.enabled:
            return 0
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(user, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[user] = (tokens - 1.0, now)
                self._forget_idle(now)
                return 0
            self._buckets[user] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.rate))

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) > 10_000:
            for user, (_tokens, at) in list(self._buckets.items()):
                if now - at > _IDLE_FORGET_S:
                    del self._buckets[user]
