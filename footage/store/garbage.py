"""Deleting blobs exactly when no row needs them any more, even across crashes.

A feature that drops rows pointing at blobs calls `schedule()` in the same transaction; the
sweeper then deletes the objects and the schedule rows. Deleting a blob twice is harmless, so
a sweeper that dies mid-way is simply repeated by another after the lease.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from footage.store.blobs import BlobStore
from footage.store.db import Database, q

log = logging.getLogger(__name__)


def schedule(conn: Any, keys: Iterable[str], now_ms: int) -> None:
    for key in set(keys):
        q(
            conn,
            "INSERT INTO blob_garbage (blob_key, created_at) VALUES (:k, :now) "
            "ON CONFLICT (blob_key) DO NOTHING",
            k=key,
            now=now_ms,
        )


def delete_now(db: Database, blobs: BlobStore, keys: Iterable[str]) -> None:
    """Delete scheduled blobs right away (the sweeper catches whatever fails here)."""
    for key in keys:
        try:
            blobs.delete(key)
            db.run("DELETE FROM blob_garbage WHERE blob_key = :k", {"k": key})
        except Exception:
            log.warning("could not delete blob %s now; the sweeper will retry", key)


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
        db.run("DELETE FROM blob_garbage WHERE blob_key = :k", {"k": key})
    return len(keys)
