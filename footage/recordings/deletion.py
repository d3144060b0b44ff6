"""Deleting recordings by id, with their pages, chunks and videos: the pieces erasure and
retention share.

Both delete in one transaction that also schedules the blobs no row needs any more
(`store/garbage.py`), so a crash can delay a blob's deletion but never leave a row without its
data. Every statement goes by recording ids, in bounded slices.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, TextClause, bindparam, text

from footage.store.db import q

# PostgreSQL aborts one of two transactions that lock segments in opposite orders (a
# finalizer locks them in time order, deletions in key order); the deletion is run again.
RETRY_SQLSTATES = ("40P01", "40001")
ATTEMPTS = 3


def with_ids(sql: str) -> TextClause:
    """A statement with an expanding `:ids` list."""
    return text(sql).bindparams(bindparam("ids", expanding=True))


# Everything goes by the locked recordings' ids: on PostgreSQL each statement sees what
# committed since the last one, and a recording created meanwhile is not ours to delete.
# CHUNKS lists every blob the recordings' rows point at: their chunks (`segment` set when the
# chunk sits in a shared segment), and their rendered videos (downloads/), each a blob of its
# recording alone like a merged one; the video rows go with the recording (ON DELETE CASCADE).
CHUNKS = with_ids(
    "SELECT c.blob_key, c.blob_length, sg.blob_key AS segment FROM chunks c "
    "LEFT JOIN segments sg ON sg.blob_key = c.blob_key WHERE c.recording_id IN :ids "
    "UNION ALL SELECT v.blob_key, v.size AS blob_length, NULL AS segment "
    "FROM recording_videos v WHERE v.recording_id IN :ids AND v.blob_key IS NOT NULL"
)
DELETE_CHUNKS = with_ids("DELETE FROM chunks WHERE recording_id IN :ids")
DELETE_PAGES = with_ids("DELETE FROM recording_pages WHERE recording_id IN :ids")
DELETE_RECORDINGS = with_ids("DELETE FROM recordings WHERE id IN :ids")


def schedule_after_lease(conn: Connection, keys: list[str], now: int) -> None:
    """Schedule blobs as if just claimed, so the sweeper takes them only after its lease.

    For the merged blob a finalizer may still be writing for a recording deleted under it.
    """
    for key in keys:
        q(
            conn,
            "INSERT INTO blob_garbage (blob_key, created_at, claimed_at) "
            "VALUES (:k, :now, :now) ON CONFLICT (blob_key) DO UPDATE SET claimed_at = :now",
            k=key,
            now=now,
        )


def by_ids(conn: Connection, statement: TextClause, ids: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for part in slices(ids):
        rows += [dict(r) for r in conn.execute(statement, {"ids": part}).mappings()]
    return rows


def count_by_ids(conn: Connection, statement: TextClause, ids: list[str]) -> int:
    """Run a DELETE over the ids and return how many rows it removed."""
    return sum(int(conn.execute(statement, {"ids": part}).rowcount) for part in slices(ids))


def slices(ids: list[str], size: int = 500) -> list[list[str]]:
    """Bounded IN lists: SQLite and PostgreSQL both cap the parameters of one statement."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]
