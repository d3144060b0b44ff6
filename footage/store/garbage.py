"""Deleting blobs exactly when no row needs them any more, even across crashes.

A feature that drops rows pointing at blobs calls `schedule()` in the same transaction; the
sweeper then deletes the objects and the schedule rows. Deleting a blob twice is harmless, so
a sweeper that dies mid-way is simply repeated by another after the lease.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, text

from footage.store.blobs import BlobStore
from footage.store.db import Database, q, sql_text

log = logging.getLogger(__name__)


# A statement's IN list is bounded: SQLite and PostgreSQL both cap the parameters of one.
IN_LIST = 500
_UNSCHEDULE = text("DELETE FROM blob_garbage WHERE blob_key IN :keys").bindparams(
    bindparam("keys", expanding=True)
)


def schedule(conn: Any, keys: Iterable[str], now_ms: int) -> None:
    """Schedule these blobs for deletion, in the caller's transaction (one statement; the keys
    in order, so two transactions take their rows' locks in the same order)."""
    rows = [{"k": key, "now": now_ms} for key in sorted(set(keys))]
    if rows:
        conn.execute(
            sql_text(
                "INSERT INTO blob_garbage (blob_key, created_at) VALUES (:k, :now) "
                "ON CONFLICT (blob_key) DO NOTHING"
            ),
            rows,
        )


def _unschedule(db: Database, keys: list[str]) -> None:
    """The schedule rows of deleted blobs, dropped IN_LIST at a time."""
    for i in range(0, len(keys), IN_LIST):
        with db.write() as conn:
            conn.execute(_UNSCHEDULE, {"keys": keys[i : i + IN_LIST]})


def delete_now(db: Database, blobs: BlobStore, keys: Iterable[str]) -> None:
    """Delete scheduled blobs right away (the sweeper catches whatever fails here)."""
    deleted = []
    for key in keys:
        try:
            blobs.delete(key)
            deleted.append(key)
        except Exception:
            log.warning("could not delete blob %s now; the sweeper will retry", key)
    try:
        _unschedule(db, deleted)
    except Exception:
        # Deleting a blob twice is harmless: the sweeper finds the rows and finishes.
        log.warning("could not drop %d deleted blobs from the schedule now", len(deleted))


def sweep(db: Database, blobs: BlobStore, now_ms: int, lease_ms: int, limit: int = 500) -> int:
    """Delete scheduled blobs whose deletion nobody is working on; returns how many."""
    with db.write() as conn:
        rows = q(
            conn,
            "UPDATE blob_garbage SET claimed_at = :now WHERE blob_key IN ("
            "SELECT blob_key FROM blob_garbage WHERE claimed_at IS NULL OR claimed_at <= :stale "
            f"ORDER BY created_at LIMIT :n {db.skip_locked()}) RETURNING blob_key",
            now=now_ms,
            stale=now_ms - lease_ms,
            n=limit,
        )
    keys = [r["blob_key"] for r in rows]
    for key in keys:
        blobs.delete(key)
    _unschedule(db, keys)
    return len(keys)
