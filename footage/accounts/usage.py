"""Monthly usage: how many recordings an account has started this calendar month.

Months are calendar months in the account's time zone (UTC unless it sets one) and start on
the 1st at 00:00. The counter is incremented in the same transaction that creates the
recording, with a conditional upsert, so the limit is exact however many processes ingest at
once. A per-day counter beside it feeds the usage chart.

A recording that never got past its first batch gives its count back when it is finalized
(`give_back`): the monthly limit stays exact while recordings are started (each one reserves
its count at once), but a visitor who left within seconds, or a fake recording someone sent
with the site's key, does not use up the month. The recording itself is kept and listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from footage.accounts.plans import Plan
from footage.clock import iso
from footage.store.db import Database, q


class TimeZoneError(ValueError):
    """Not a time zone name; the message says what to send."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeZoneError(
            f"{name!r} is not a time zone; use a name like 'Europe/Prague' or 'UTC'"
        ) from None


def check_time_zone(name: str) -> str:
    if not isinstance(name, str) or name not in available_timezones() and name != "UTC":
        raise TimeZoneError(
            f"{name!r} is not a time zone; use a name like 'Europe/Prague' or 'UTC'"
        )
    return name


def local(now_ms: int, tz: str) -> datetime:
    return datetime.fromtimestamp(now_ms / 1000, tz=zone(tz))


def period_of(now_ms: int, tz: str = "UTC") -> str:
    """The usage period (calendar month in `tz`) a moment falls in, e.g. '2026-11'."""
    return local(now_ms, tz).strftime("%Y-%m")


def day_of(now_ms: int, tz: str = "UTC") -> str:
    return local(now_ms, tz).strftime("%Y-%m-%d")


def period_bounds(now_ms: int, tz: str = "UTC") -> tuple[datetime, datetime]:
    """Start of this month and start of the next, in `tz` (aware datetimes)."""
    start = local(now_ms, tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + timedelta(days=32)).replace(day=1)
    # Rebuild both in the zone: a DST change inside the month moves the UTC offset.
    tzinfo = zone(tz)
    return (
        start.replace(tzinfo=None).replace(tzinfo=tzinfo),
        following.replace(tzinfo=None).replace(tzinfo=tzinfo),
    )


def count_new_recording(
    conn: Any, account_id: str, limit: int, now_ms: int, tz: str = "UTC"
) -> bool:
    """Count one more recording this month unless the limit is reached; True if counted."""
    if limit <= 0:
        return False
    rows = q(
        conn,
        "INSERT INTO usage_counters (account_id, period, used) VALUES (:a, :p, 1) "
        "ON CONFLICT (account_id, period) DO UPDATE SET used = usage_counters.used + 1 "
        "WHERE usage_counters.used < :limit RETURNING used",
        a=account_id,
        p=period_of(now_ms, tz),
        limit=limit,
    )
    if not rows:
        return False
    q(
        conn,
        "INSERT INTO usage_daily (account_id, day, used) VALUES (:a, :d, 1) "
        "ON CONFLICT (account_id, day) DO UPDATE SET used = usage_daily.used + 1",
        a=account_id,
        d=day_of(now_ms, tz),
    )
    return True


def give_back(conn: Any, account_id: str, day: str) -> None:
    """Uncount one recording counted on `day` (YYYY-MM-DD in the account's time zone), from
    that day's month and from the day itself; never below 0."""
    q(
        conn,
        "UPDATE usage_counters SET used = used - 1 "
        "WHERE account_id = :a AND period = :p AND used > 0",
        a=account_id,
        p=day[:7],
    )
    q(
        conn,
        "UPDATE usage_daily SET used = used - 1 WHERE account_id = :a AND day = :d AND used > 0",
        a=account_id,
        d=day,
    )


def used_this_month(db: Database, account_id: str, now_ms: int, tz: str = "UTC") -> int:
    row = db.one(
        "SELECT used FROM usage_counters WHERE account_id = :a AND period = :p",
        {"a": account_id, "p": period_of(now_ms, tz)},
    )
    return int(row["used"]) if row else 0


@dataclass(frozen=True)
class Usage:
    """Where an account stands this month; what the API, the dashboard and the banner show."""

    plan: Plan
    time_zone: str
    used: int
    period_start: datetime
    period_end: datetime
    stored: int
    days: list[tuple[str, int]]  # every day of the month so far: (YYYY-MM-DD, recordings)

    @property
    def remaining(self) -> int:
        """Left this month: a plan change applies at once (new limit − used, never below 0)."""
        return max(0, self.plan.monthly_limit - self.used)

    @property
    def share(self) -> float:
        """Used / limit (0 for a plan without recordings)."""
        return self.used / self.plan.monthly_limit if self.plan.monthly_limit else 0.0

    @property
    def warning(self) -> str | None:
        """'limit' at 100 %, 'near' from 80 %, else None."""
        if not self.plan.records:
            return None
        if self.remaining == 0:
            return "limit"
        return "near" if self.share >= 0.8 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.name,
            "plan_label": self.plan.title,
            "monthly_limit": self.plan.monthly_limit,
            "used_this_month": self.used,
            "remaining": self.remaining,
            "period_start": iso(int(self.period_start.timestamp() * 1000)),
            "period_end": iso(int(self.period_end.timestamp() * 1000)),
            "time_zone": self.time_zone,
            "stored_recordings": self.stored,
            "retention_days": self.plan.retention_days,
            "warning": self.warning,
            "days": [{"day": d, "recordings": n} for d, n in self.days],
        }


def usage_of(db: Database, account: dict[str, Any], plan: Plan, now_ms: int) -> Usage:
    tz = account.get("time_zone") or "UTC"
    start, end = period_bounds(now_ms, tz)
    used = used_this_month(db, account["id"], now_ms, tz)
    stored = db.one(
        "SELECT COUNT(*) AS n FROM recordings WHERE account_id = :a", {"a": account["id"]}
    )
    rows = db.all(
        "SELECT day, used FROM usage_daily WHERE account_id = :a AND day LIKE :m",
        {"a": account["id"], "m": period_of(now_ms, tz) + "-%"},
    )
    per_day = {r["day"]: int(r["used"]) for r in rows}
    today = local(now_ms, tz).day
    days = [
        (f"{period_of(now_ms, tz)}-{d:02d}", per_day.get(f"{period_of(now_ms, tz)}-{d:02d}", 0))
        for d in range(1, today + 1)
    ]
    return Usage(plan, tz, used, start, end, int(stored["n"]) if stored else 0, days)
