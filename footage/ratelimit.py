"""Rate limits in process memory: token buckets per key, and the errors that ask a client to
wait (429 / 503 with Retry-After). Shared by ingest (per address and per site) and the chat
box (per address and per site); each feature sets its own rates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from footage.errors import FootageError

# Addresses and sites this process remembers at once. Past that, the buckets that are full
# again (their client went quiet) are forgotten first, then the oldest; a forgotten bucket
# starts full, which only ever errs on the client's side.
MAX_BUCKETS = 50_000


class TooManyRequests(FootageError):
    """429: a rate limit; `retry_after` is the whole seconds to wait (the Retry-After header)."""

    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after: int, *, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class Overloaded(TooManyRequests):
    """503: the process already works on `ingest_max_in_flight` requests; retry soon."""

    status, code = 503, "overloaded"


class TokenBuckets:
    """One token bucket per key (an address, a site key). Used from the event loop only."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.rate, self.burst, self.clock, self.max_buckets = rate, burst, clock, max_buckets
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float:
        """Take a token for `key`: 0.0 when there was one, else the seconds until there is."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)  # re-inserted: the dict's order is last use
        if len(self._buckets) > self.max_buckets:
            self._forget(now)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)

    def _forget(self, now: float) -> None:
        full = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
        excess = len(self._buckets) - self.max_buckets // 2
        if excess > 0:  # still crowded: the least recently used go
            for key in list(self._buckets)[:excess]:
                del self._buckets[key]


def retry_after(wait: float) -> int:
    """Whole seconds for Retry-After: at least 1."""
    return max(1, math.ceil(wait))
