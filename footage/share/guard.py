"""A brake on guessing share-link tokens: per client address, at most LIMIT failed lookups
(unknown, expired or revoked tokens alike) in a sliding window; past that, every share request
from the address gets 429 until the oldest failure leaves the window.

The tokens have 256 random bits, so guessing cannot succeed anyway; the brake keeps a scanner
from hammering the database and the log. It lives in process memory: each `footage serve`
process counts on its own (with N workers an address may fail N × LIMIT times per window),
and a restart forgets. IPv6 clients are counted per /64, the block one user usually holds.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict, deque

LIMIT = 20
WINDOW_MS = 10 * 60 * 1000
MAX_CLIENTS = 10_000  # the addresses remembered; the least recently failing are forgotten


def client_key(ip: str | None) -> str:
    """The address a failure counts against: IPv4 as is, IPv6 by its /64."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class GuessGuard:
    def __init__(
        self, limit: int = LIMIT, window_ms: int = WINDOW_MS, max_clients: int = MAX_CLIENTS
    ) -> None:
        self.limit, self.window_ms, self.max_clients = limit, window_ms, max_clients
        self._failures: OrderedDict[str, deque[int]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, ip: str | None, now: int) -> int | None:
        """Seconds until the address may try again, or None when it may now."""
        key = client_key(ip)
        with self._lock:
            times = self._failures.get(key)
            if times is None:
                return None
            while times and times[0] <= now - self.window_ms:
                times.popleft()
            if not times:
                del self._failures[key]
                return None
            if len(times) < self.limit:
                return None
            wait_ms = times[0] + self.window_ms - now
            return max(1, -(-wait_ms // 1000))

    def failed(self, ip: str | None, now: int) -> None:
        key = client_key(ip)
        with self._lock:
            times = self._failures.pop(key, None) or deque()
            times.append(now)
            while len(times) > self.limit:
                times.popleft()
            self._failures[key] = times  # now the most recent
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
