"""SQLite's planner picks the recordings list's indexes once it has statistics.

Without `ANALYZE`, SQLite walks a site's recordings newest-first for a rare filter value and
reads every one when nothing matches (bench/RESULTS.md §6). Footage refreshes the statistics
at every start (after migrations) and with every retention pass; these tests show what that buys.
"""

from __future__ import annotations

from pathlib import Path

from footage.recordings import filters
from footage.recordings.search import build_query
from footage.store.db import Database

# Visitors come from many countries (the benchmark's data: ~50 per site).
COUNTRIES = [a + b for a in "ABCDEFGHIJ" for b in "KLMNOPQRST"]


def _plan(db: Database, values: dict[str, str]) -> str:
    sql, params = build_query(db, "a", filters.parse(values))
    return " / ".join(str(r["detail"]) for r in db.all(f"EXPLAIN QUERY PLAN {sql}", params))


def _site_with_recordings(tmp_path: Path, n: int) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'plans.db'}")
    db.migrate()
    db.run("INSERT INTO accounts (id, name, plan, created_at) VALUES ('a', 'A', 'pro', 0)")
    db.run(
        "INSERT INTO sites (id, account_id, name, url, site_key, allowed_origins, "
        "recording_enabled, is_demo, created_at) VALUES ('s', 'a', 'S', 'https://s.example', "
        "'k', '', 1, 0, 0)"
    )
    with db.write() as conn:
        conn.exec_driver_sql(
            "INSERT INTO recordings (id, account_id, site_id, visitor_id, session_id, status, "
            "created_at, last_seen_at, started_at, country) VALUES (?, 'a', 's', ?, ?, "
            "'ready', ?, ?, ?, ?)",
            [
                (f"r{i}", f"v{i // 3}", f"r{i}", i, i, i, COUNTRIES[i % len(COUNTRIES)])
                for i in range(n)
            ],
        )
    return db


def test_statistics_make_a_rare_country_an_index_lookup(tmp_path: Path) -> None:
    db = _site_with_recordings(tmp_path, 3000)
    aq = {"site_id": "s", "country": "AQ"}
    visitor = {"site_id": "s", "visitor_id": "v7"}
    assert "recordings_site_country" not in _plan(db, aq)  # newest-first over the site

    db.refresh_statistics()

    assert db.one("SELECT COUNT(*) AS n FROM sqlite_stat1 WHERE tbl = 'recordings'")["n"] > 0
    assert "recordings_site_country" in _plan(db, aq)
    assert "recordings_visitor" in _plan(db, visitor)
    db.dispose()
