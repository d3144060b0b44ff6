"""Refused batches per site and hour: the alarm that someone sends fake recordings.

A site key is public (it is in every page of the site), so whoever wants to can send batches
with it: fake recordings that use up the account's monthly recordings, or noise. Most such
batches are refused (too many new recordings from one address, an origin the site does not
allow, the month's recordings used up, timestamps no browser sends); the refusals are counted
here per site and hour, and when the last hour's pass REFUSAL_ALARM the dashboard's recordings
list and `GET /api/v1/usage` say so, so the owner learns of it before the month is gone.

Counting must stay cheap while the refusals pour in: they are added up in process memory and
written every FLUSH_SECONDS by a short-lived thread of their own (one small transaction), never
in the request's path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from footage.store.db import Database, q

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
FLUSH_SECONDS = 2.0
KEEP_HOURS = 48  # older counts are deleted: the alarm looks at the last hour only
REFUSAL_ALARM = 100  # refused batches of one site within the last hour that raise the alarm
MAX_PENDING = (
    10_000  # (site, hour, reason) counts waiting for a flush; past it, new ones are not counted
)
MAX_FAILURES = 5  # flushes failed in a row before the counts waiting are dropped

# What is counted, and how the alarm names it.
REASONS: dict[str, str] = {
    "too_many_new_recordings": "too many new recordings from one address",
    "origin_not_allowed": "an origin the site does not allow",
    "quota_exceeded": "the month's recordings are used up",
    "bad_timestamp": "event times outside the recording",
}


class RefusalCounter:
    """Refusals of this process, added up in memory and written every FLUSH_SECONDS."""

    def __init__(
        self, db: Database, now_ms: Callable[[], int], flush_seconds: float = FLUSH_SECONDS
    ) -> None:
        self.db, self.now_ms, self.flush_seconds = db, now_ms, flush_seconds
        self._pending: dict[tuple[str, int, str], int] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._last_cleanup = 0

    def add(self, site_id: str, reason: str) -> None:
        """Count one refused batch of `site_id` (reasons other than REASONS are not counted)."""
        if reason not in REASONS:
            return
        key = (site_id, self.now_ms() // HOUR_MS, reason)
        with self._lock:
            if key not in self._pending and len(self._pending) >= MAX_PENDING:
                return  # the database is behind: the alarm is raised by the counts we have
            self._pending[key] = self._pending.get(key, 0) + 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="footage-refusals", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        failures = 0
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
                failures = 0
            except Exception as exc:  # the database is away: keep the counts for a retry
                failures += 1
                log.warning(
                    "writing the counts of refused batches failed: %s", str(exc).splitlines()[0]
                )
            with self._lock:
                if failures >= MAX_FAILURES:
                    self._pending.clear()  # an alarm, not a ledger: give up on these counts
                if not self._pending:
                    self._thread = None  # quiet: the next refusal starts a new thread
                    return

    def flush(self) -> None:
        """Write the counts added so far (also called by tests and at shutdown)."""
        with self._flush_lock:
            with self._lock:
                pending, self._pending = self._pending, {}
            if not pending:
                return
            try:
                self._write(pending)
            except Exception:
                with self._lock:
                    for key, n in pending.items():
                        self._pending[key] = self._pending.get(key, 0) + n
                raise

    def _write(self, pending: dict[tuple[str, int, str], int]) -> None:
        hour_now = self.now_ms() // HOUR_MS
        with self.db.write() as conn:
            for (site_id, hour, reason), n in sorted(pending.items()):
                # The site may have been deleted meanwhile: count only for sites that exist.
                q(
                    conn,
                    "INSERT INTO site_refusals (site_id, hour, reason, refused) "
                    "SELECT id, :h, :r, :n FROM sites WHERE id = :s "
                    "ON CONFLICT (site_id, hour, reason) "
                    "DO UPDATE SET refused = site_refusals.refused + :n",
                    s=site_id,
                    h=hour,
                    r=reason,
                    n=n,
                )
            if hour_now != self._last_cleanup:
                self._last_cleanup = hour_now
                q(conn, "DELETE FROM site_refusals WHERE hour < :h", h=hour_now - KEEP_HOURS)


@dataclass(frozen=True)
class SiteRefusals:
    """One site's refused batches within the last hour, by reason."""

    site_id: str
    site: str  # the site's name, as the dashboard shows it
    refused: int
    by_reason: dict[str, int]

    @property
    def alarm(self) -> bool:
        return self.refused >= REFUSAL_ALARM

    @property
    def message(self) -> str:
        reasons = ", ".join(
            f"{REASONS[r]} ({n:,})"
            for r, n in sorted(self.by_reason.items(), key=lambda item: -item[1])
            if n
        )
        return (
            f"In the last hour {self.refused:,} batches for {self.site} were refused: "
            f"{reasons}. Someone may be sending fake recordings with your site key. Refused "
            "batches are neither stored nor counted; if this goes on, whoever runs this Footage "
            "server can block the sender at its proxy or firewall (docs/security.md, 5.2)."
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "site": self.site,
            "refused": self.refused,
            "by_reason": self.by_reason,
            "alarm": self.alarm,
            "message": self.message if self.alarm else None,
        }


def refused_last_hour(db: Database, account_id: str, now_ms: int) -> list[SiteRefusals]:
    """Per site of the account with refusals: the batches refused within the last hour.

    Counts are kept per clock hour; the last hour is this hour's count plus the part of the
    previous hour's that still falls within it (as if spread evenly over that hour).
    """
    hour = now_ms // HOUR_MS
    into_hour = (now_ms % HOUR_MS) / HOUR_MS
    rows = db.all(
        "SELECT r.site_id, s.name, r.hour, r.reason, r.refused FROM site_refusals r "
        "JOIN sites s ON s.id = r.site_id "
        "WHERE s.account_id = :a AND r.hour >= :h",
        {"a": account_id, "h": hour - 1},
    )
    return _sum(rows, hour, into_hour)


def _sum(rows: Iterable[dict[str, Any]], hour: int, into_hour: float) -> list[SiteRefusals]:
    names: dict[str, str] = {}
    counts: dict[str, dict[str, float]] = {}
    for row in rows:
        share = 1.0 if row["hour"] >= hour else 1.0 - into_hour
        names[row["site_id"]] = row["name"]
        per_site = counts.setdefault(row["site_id"], {})
        per_site[row["reason"]] = per_site.get(row["reason"], 0.0) + row["refused"] * share
    found = []
    for site_id, per_reason in counts.items():
        by_reason = {r: round(n) for r, n in per_reason.items() if round(n)}
        if by_reason:
            found.append(SiteRefusals(site_id, names[site_id], sum(by_reason.values()), by_reason))
    return sorted(found, key=lambda s: -s.refused)


def alarms(db: Database, account_id: str, now_ms: int) -> list[SiteRefusals]:
    """The sites of the account whose refusals in the last hour raise the alarm."""
    return [s for s in refused_last_hour(db, account_id, now_ms) if s.alarm]
