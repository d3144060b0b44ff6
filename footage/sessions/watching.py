"""Who is watched live, for the recorder's cadence.

A dashboard user watching a visitor live (footage/live) holds a row of `live_watches` for
that visitor and renews it every few seconds (`watch`); it lapses `LEASE_MS` after the view
closes, however the view closed. The ingest endpoints ask `Watched.is_watched` for every
batch and heartbeat and, while the visitor is watched, tell the recorder to send its batches
about every second. So the question must cost nothing: each process keeps the set of watched
visitors and reads it again at most once per `REFRESH_MS` (one query of a table holding only
the views open now). Any process on the same database sees any other's watches: the
database is the bus, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import threading

from footage.clock import Clock
from footage.store.db import Database, q

# A watch lapses this long after its view last renewed it.
LEASE_MS = 20_000
# How stale a process's set of watched visitors may be.
REFRESH_MS = 1_000


def watch(db: Database, site_id: str, visitor_id: str, user_id: str, now: int) -> None:
    """The user watches this visitor (again) for the next LEASE_MS."""
    with db.write() as conn:
        q(
            conn,
            "INSERT INTO live_watches (site_id, visitor_id, user_id, expires_at) "
            "VALUES (:s, :v, :u, :t) ON CONFLICT (site_id, visitor_id, user_id) "
            "DO UPDATE SET expires_at = :t",
            s=site_id,
            v=visitor_id,
            u=user_id,
            t=now + LEASE_MS,
        )


def stop_watching(db: Database, site_id: str, visitor_id: str, user_id: str) -> None:
    """The user's view closed: the recorder goes back to its normal cadence."""
    db.run(
        "DELETE FROM live_watches WHERE site_id = :s AND visitor_id = :v AND user_id = :u",
        {"s": site_id, "v": visitor_id, "u": user_id},
    )


def forget_lapsed(db: Database, now: int) -> int:
    """Deletes watches lapsed an hour ago or more (views that never said goodbye)."""
    return db.run("DELETE FROM live_watches WHERE expires_at < :t", {"t": now - 3_600_000})


class Watched:
    """This process's view of which visitors are watched, at most REFRESH_MS old."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._lock = threading.Lock()
        self._visitors: frozenset[tuple[str, str]] = frozenset()
        self._read_at: int | None = None

    def stale(self) -> bool:
        """Whether the next question reads the database (call `refresh` off the event loop)."""
        return self._read_at is None or self.clock.now_ms() - self._read_at >= REFRESH_MS

    def refresh(self) -> None:
        now = self.clock.now_ms()
        rows = self.db.all(
            "SELECT DISTINCT site_id, visitor_id FROM live_watches WHERE expires_at > :t",
            {"t": now},
        )
        with self._lock:
            self._visitors = frozenset((r["site_id"], r["visitor_id"]) for r in rows)
            self._read_at = now

    def is_watched(self, site_id: str, visitor_id: str) -> bool:
        if self.stale():
            self.refresh()
        return (site_id, visitor_id) in self._visitors
