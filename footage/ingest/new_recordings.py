"""New recordings per client address and site: a sliding window, in process memory.

Anyone may send batches for a site key from an allowed origin (a client other than a browser
can forge the `Origin` header), and every new recording takes one of the account's monthly
recordings. Continuing a recording costs the account nothing, so only the batch that would
start a recording is counted here: one address may start at most `limit` recordings for one
site within `window` seconds (settings ingest_ip_new_recordings and
ingest_ip_new_recordings_window_seconds). The batch past that gets 429 with Retry-After (the
seconds until the oldest recording in the window leaves it); nothing of it is stored or
counted.

The check runs in the group writer's thread, inside the transaction that would create the
recording (only there is it known whether a batch starts one); the lock makes it safe from
any thread all the same. Like the rate limits it is per process.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable

from footage.ratelimit import TooManyRequests, retry_after

# (site, address) pairs remembered at once. A full window at the default 60 costs about 840
# bytes with its key (17 MB for 20,000 full ones, measured); past this many pairs, those whose
# window is empty go first, then the least recently used. A forgotten pair starts empty again,
# which only ever errs on the visitor's side.
MAX_KEYS = 20_000


class NewRecordingLimit:
    def __init__(
        self,
        limit: int = 60,
        window_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.limit, self.window, self.clock, self.max_keys = limit, window_seconds, clock, max_keys
        # key → the times (clock seconds) of the recordings started within the window, oldest first
        self._starts: OrderedDict[tuple[str, str], array[float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def take(self, site_id: str, ip: str | None) -> tuple[str, str] | None:
        """One more recording for this address on this site: returns the key to give back if
        the recording is not created after all; raises TooManyRequests past the limit."""
        if not self.enabled:
            return None
        key = (site_id, ip or "")
        now = self.clock()
        with self._lock:
            starts = self._starts.pop(key, None) or array("d")
            expired = 0
            while expired < len(starts) and starts[expired] <= now - self.window:
                expired += 1
            if expired:
                del starts[:expired]
            if len(starts) >= self.limit:
                self._starts[key] = starts  # most recently used last
                raise self.refusal(starts[0] + self.window - now)
            starts.append(now)
            self._starts[key] = starts
            if len(self._starts) > self.max_keys:
                self._forget(now)
        return key

    def wait(self, site_id: str, ip: str | None) -> float:
        """Seconds until this address may start a recording for this site (0: now), without
        taking one: the cheap check before a batch is queued for the group writer."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        with self._lock:
            starts = self._starts.get((site_id, ip or ""))
            if not starts:
                return 0.0
            inside = [t for t in starts if t > now - self.window]
            return inside[0] + self.window - now if len(inside) >= self.limit else 0.0

    def refusal(self, wait: float) -> TooManyRequests:
        """The 429 for a batch that would start one recording too many."""
        return TooManyRequests(
            f"this address started {self.limit} recordings for this site within "
            f"{_period(self.window)}, the most it may; new recordings from it are refused for "
            "Retry-After seconds while its recordings in progress go on (an operator can raise "
            "FOOTAGE_INGEST_IP_NEW_RECORDINGS)",
            retry_after(wait),
            code="too_many_new_recordings",
        )

    def give_back(self, key: tuple[str, str] | None) -> None:
        """The recording counted by `take` was not created (its batch was refused)."""
        if key is None:
            return
        with self._lock:
            starts = self._starts.get(key)
            if starts:
                starts.pop()

    def __len__(self) -> int:
        return len(self._starts)

    def _forget(self, now: float) -> None:
        empty = [k for k, s in self._starts.items() if not s or s[-1] <= now - self.window]
        for key in empty:
            del self._starts[key]
        excess = len(self._starts) - self.max_keys // 2
        if excess > 0:  # still crowded: the least recently used go
            for key in list(self._starts)[:excess]:
                del self._starts[key]


def _period(seconds: float) -> str:
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "an hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0:
        minutes = int(seconds // 60)
        return "a minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds:g} seconds"
