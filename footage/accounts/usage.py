"""Monthly usage: how many recordings an account has started this calendar month (UTC).

The counter is incremented in the same transaction that creates the recording, with a
conditional upsert, so the limit is exact however many processes ingest at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from footage.store.db import Database, q


def period_of(now_ms: int) -> str:
    """The usage period (calendar month, UTC) a moment falls in, e.g. '2026-11'."""
    return datetime.fromtimestamp(now_ms / 1000, tz=UTC).strftime("%Y-%m")


def count_new_recording(conn: Any, account_id: str, limit: int, now_ms: int) -> bool:
    """Count one more recording this month unless the limit is reached; True if counted."""
    if limit <= 0:
        return False
    rows = q(
        conn,
        "INSERT INTO usage_counters (account_id, period, used) VALUES (:a, :p, 1) "
        "ON CONFLICT (account_id, period) DO UPDATE SET used = usage_counters.used + 1 "
        "WHERE usage_counters.used < :limit RETURNING used",
        a=account_id,
        p=period_of(now_ms),
        limit=limit,
    )
    return bool(rows)


def used_this_month(db: Database, account_id: str, now_ms: int) -> int:
    row = db.one(
        "SELECT used FROM usage_counters WHERE account_id = :a AND period = :p",
        {"a": account_id, "p": period_of(now_ms)},
    )
    return int(row["used"]) if row else 0
