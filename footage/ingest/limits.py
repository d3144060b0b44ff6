"""Rate limits on ingest: token buckets per client address and per site, in process memory.

A bucket holds up to `burst` tokens and gains `rate` tokens a second; every batch takes one
of its site's bucket and one of its address's, which heartbeats share (one every ~20 s per
visitor, each a database write).
An empty bucket means 429 with `Retry-After` (the seconds until a token is back), which the
recorder honours while it keeps its batches. The limits are per process: with N processes
behind a load balancer a client may send up to N times as much, which is fine for what they
are for (one address or one site cannot take a process's whole capacity).
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


class IngestLimits:
    """The two limits of the recorder's endpoints (settings ingest_ip_* and ingest_site_*)."""

    def __init__(
        self,
        ip_rate: float,
        ip_burst: int,
        site_rate: float,
        site_burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.by_ip = TokenBuckets(ip_rate, ip_burst, clock)
        self.by_site = TokenBuckets(site_rate, site_burst, clock)

    def check_ip(self, ip: str | None) -> None:
        """Before the body is read: one token of the client's address."""
        wait = self.by_ip.take(ip or "")
        if wait:
            raise TooManyRequests(
                "too many requests from this address; wait for Retry-After seconds and send "
                "them again",
                retry_after(wait),
            )

    def check_site(self, site_key: str) -> None:
        """Once the batch names its site: one token of the site."""
        wait = self.by_site.take(site_key)
        if wait:
            raise TooManyRequests(
                "too many batches for this site; wait for Retry-After seconds and send them "
                "again (an operator can raise FOOTAGE_INGEST_SITE_RATE)",
                retry_after(wait),
            )
