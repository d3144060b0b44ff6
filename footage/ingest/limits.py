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

import time
from collections.abc import Callable

from footage.ratelimit import TokenBuckets, TooManyRequests, retry_after


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
