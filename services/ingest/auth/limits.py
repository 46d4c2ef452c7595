"""Per-key rate limits: a token bucket in contacts per second, per ingest process."""

from __future__ import annotations

import math


class TokenBucket:
    """Holds up to one second's worth of contacts (``rate``), refilled continuously.

    A request takes as many tokens as it has contacts. One larger than the bucket passes
    when the bucket is full and leaves it in debt, so any batch ingest accepts is possible
    and the long-run rate still holds.
    """

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.updated = now

    def take(self, n: int, now: float) -> float:
        """0 when the ``n`` contacts may pass (taken), else the seconds to wait."""
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        needed = min(n, self.rate)
        if self.tokens >= needed:
            self.tokens -= n
            return 0.0
        return (needed - self.tokens) / self.rate


class RateLimits:
    """A bucket per key id, remade when the key's rate changes; rate 0 is unlimited."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def retry_after(self, key_id: str, rate: float, n: int, now: float) -> int:
        """0 when ``n`` contacts may pass now, else whole seconds to wait (at least 1)."""
        if rate <= 0:
            return 0
        bucket = self._buckets.get(key_id)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[key_id] = TokenBucket(rate, now)
        wait = bucket.take(n, now)
        return max(1, math.ceil(wait)) if wait > 0 else 0
