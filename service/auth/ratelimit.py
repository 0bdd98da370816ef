"""Per-key token buckets: ``rate`` requests per second on average, ``burst`` at once.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second; a request takes one.
When it is empty the answer is 429 with ``Retry-After`` = the whole seconds until a token is back.
Buckets are per process: with R API replicas a key may make up to R × rate requests/s.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, who: str) -> float:
        """0 when ``who`` may go on, else the seconds until it may retry."""
        if self.rate <= 0:
            return 0.0
        now = self._monotonic()
        with self._lock:
            tokens, at = self._buckets.get(who, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[who] = (tokens - 1.0, now)
                return 0.0
            self._buckets[who] = (tokens, now)
            return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
