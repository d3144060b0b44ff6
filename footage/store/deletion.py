"""Deleting recordings by id with every row and blob of theirs: the one path that retention,
visitor erasure and anything later take.

`delete_recordings` runs inside the caller's write transaction, after the caller picked and
locked the recordings: it deletes their chunk, page and recording rows, lets the features above
the store remove their own rows (`on_delete` hooks, registered at start-up), counts the live
chunks down in their shared segments and schedules every blob no row needs any more in
`blob_garbage` (`store/garbage.py`). `delete_blobs` deletes those blobs after the commit. So a
crash before the commit leaves everything as it was, and a crash after it leaves only scheduled
blobs, which `garbage.sweep` deletes: a chunk row never points at a missing blob, and no blob
is left that nothing refers to. Every statement goes by recording ids, in bounded slices.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, TextClause, bindparam, text
from sqlalchemy.exc import DBAPIError

from footage.store import garbage
from footage.store.blobs import BlobStore
from footage.store.chunks import merged_blob_key, release_segments
from footage.store.db import Database, q

log = logging.getLogger(__name__)

T = TypeVar("T")

# PostgreSQL aborts one of two transactions that lock rows in opposite orders (a deadlock), or
# one that cannot be serialized; nothing was done, so the deletion is run again.
RETRY_SQLSTATES = ("40P01", "40001")
ATTEMPTS = 3

# A feature's rows of recordings being deleted (e.g. their heatmap share), removed in the
# deleting transaction with the recordings' ids, before the recording rows and the segments.
OnDelete = Callable[[Connection, list[str]], None]


def with_ids(sql: str) -> TextClause:
    """A statement with an expanding `:ids` list."""
    return text(sql).bindparams(bindparam("ids", expanding=True))


def slices(ids: list[str], size: int = 500) -> list[list[str]]:
    """Bounded IN lists: SQLite and PostgreSQL both cap the parameters of one statement."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def by_ids(conn: Connection, statement: TextClause, ids: list[str]) -> list[dict[str, Any]]:
    """The rows a SELECT with `:ids` returns, slice by slice."""
    rows: list[dict[str, Any]] = []
    for part in slices(ids):
        rows += [dict(r) for r in conn.execute(statement, {"ids": part}).mappings()]
    return rows


def count_by_ids(conn: Connection, statement: TextClause, ids: list[str]) -> int:
    """Run a DELETE (or UPDATE) over the ids and return how many rows it touched."""
    return sum(int(conn.execute(statement, {"ids": part}).rowcount) for part in slices(ids))


_RECORDINGS = with_ids("SELECT id, site_id, status FROM recordings WHERE id IN :ids")
# Every blob the recordings' rows point at: their chunks (`segment` set when the chunk sits in
# a shared segment), and their rendered videos (downloads/), each a blob of its recording alone
# like a merged one; the video rows go with the recording (ON DELETE CASCADE).
_BLOBS = with_ids(
    "SELECT c.blob_key, c.blob_length, sg.blob_key AS segment FROM chunks c "
    "LEFT JOIN segments sg ON sg.blob_key = c.blob_key WHERE c.recording_id IN :ids "
    "UNION ALL SELECT v.blob_key, v.size AS blob_length, NULL AS segment "
    "FROM recording_videos v WHERE v.recording_id IN :ids AND v.blob_key IS NOT NULL"
)
_DELETE_CHUNKS = with_ids("DELETE FROM chunks WHERE recording_id IN :ids")
_DELETE_PAGES = with_ids("DELETE FROM recording_pages WHERE recording_id IN :ids")
_DELETE_RECORDINGS = with_ids("DELETE FROM recordings WHERE id IN :ids")
# Which chunk rows still point at these keys once the recordings' rows are gone (the guard
# that keeps a blob some other recording still uses).
_STILL_USED = with_ids(
    "SELECT blob_key, COUNT(*) AS n FROM chunks WHERE blob_key IN :ids GROUP BY blob_key"
)


@dataclass
class Deleted:
    """What a deletion removed, and the blobs to delete once its transaction committed."""

    recordings: int = 0
    pages: int = 0
    chunks: int = 0
    # No row needs them any more: scheduled in the transaction, deleted after the commit.
    blobs: list[str] = field(default_factory=list)
    # Merged blobs a finalizer may still be writing for a recording deleted under it:
    # scheduled for after the finalizer's lease, and deleted after the commit in case they exist.
    in_flight: list[str] = field(default_factory=list)
    # Bytes of live chunks that stay inside segments still shared with other recordings.
    pending_segment_bytes: int = 0


def delete_recordings(
    conn: Connection, ids: list[str], now: int, *, on_delete: Sequence[OnDelete]
) -> Deleted:
    """Delete these recordings with every row of theirs and schedule their unused blobs.

    Call inside a write transaction in which the recordings are locked (the caller picked
    them); `now` stamps the scheduled blobs. Then `delete_blobs` after the commit.
    """
    deleted = Deleted()
    if not ids:
        return deleted
    recordings = by_ids(conn, _RECORDINGS, ids)
    own: set[str] = set()  # merged blobs and videos: each of one recording
    in_segments: list[dict[str, Any]] = []  # live chunks inside shared segments
    for blob in by_ids(conn, _BLOBS, ids):
        if blob["segment"] is None:
            own.add(blob["blob_key"])
        else:
            in_segments.append(blob)
    # A recording a finalizer is merging right now: the finalizer may still write the merged
    # blob after this commit (it then finds the row gone and gives up).
    in_flight = {
        merged_blob_key(rec["site_id"], rec["id"])
        for rec in recordings
        if rec["status"] == "finalizing"
    } - own
    # Children first, so each count is its own table's (the foreign keys cascade too). Share
    # links, videos and moments go with the recordings (ON DELETE CASCADE).
    deleted.chunks = count_by_ids(conn, _DELETE_CHUNKS, ids)
    deleted.pages = count_by_ids(conn, _DELETE_PAGES, ids)
    for hook in on_delete:
        hook(conn, ids)
    deleted.recordings = count_by_ids(conn, _DELETE_RECORDINGS, ids)
    # In key order, so every transaction that counts segments down takes their row locks in
    # the same order.
    in_segments.sort(key=lambda c: str(c["blob_key"]))
    released = release_segments(conn, in_segments, "", now)
    deleted.blobs = _not_used_elsewhere(conn, sorted(own), released, now)
    garbage.schedule(conn, deleted.blobs, now)
    deleted.in_flight = sorted(in_flight)
    _schedule_after_lease(conn, deleted.in_flight, now)
    gone = set(deleted.blobs)
    deleted.pending_segment_bytes = sum(
        int(c["blob_length"]) for c in in_segments if c["blob_key"] not in gone
    )
    return deleted


def delete_blobs(db: Database, blobs: BlobStore, deleted: Deleted) -> None:
    """After the deletion committed: delete its blobs now (the sweeper repeats what fails)."""
    garbage.delete_now(db, blobs, deleted.blobs)
    for key in deleted.in_flight:
        try:
            blobs.delete(key)
        except Exception:
            log.warning("could not delete blob %s now; the sweeper will retry", key)


def retry_lock_conflicts(work: Callable[[], T], what: str) -> T:
    """Run a deleting transaction, again when PostgreSQL aborted it for a lock conflict.

    Deletions lock recordings, feature rows and segments in the same order, but a finalizer
    or a chat message may take some of them the other way round; the aborted transaction did
    nothing, so running it again is safe (at most ATTEMPTS times).
    """
    attempt = 1
    while True:
        try:
            return work()
        except DBAPIError as exc:
            if attempt == ATTEMPTS or getattr(exc.orig, "sqlstate", None) not in RETRY_SQLSTATES:
                raise
            attempt += 1
            log.info("%s hit a lock conflict; running it again (attempt %d)", what, attempt)


def _schedule_after_lease(conn: Connection, keys: list[str], now: int) -> None:
    """Schedule blobs as if just claimed, so the sweeper takes them only after its lease."""
    for key in keys:
        q(
            conn,
            "INSERT INTO blob_garbage (blob_key, created_at, claimed_at) "
            "VALUES (:k, :now, :now) ON CONFLICT (blob_key) DO UPDATE SET claimed_at = :now",
            k=key,
            now=now,
        )


def _not_used_elsewhere(
    conn: Connection, own: list[str], released: list[str], now: int
) -> list[str]:
    """Of the recordings' own blobs and the released segments, those no remaining chunk row
    points at.

    An own blob belongs to one recording, and a segment reaches zero only with its last
    chunk, so normally nothing is left; but a blob must never go while a row still points
    at it. A segment released although chunks still point at it (a count that went
    wrong) is unscheduled and counted again from its rows.
    """
    used = {r["blob_key"]: int(r["n"]) for r in by_ids(conn, _STILL_USED, own + released)}
    for key in released:
        if key in used:
            log.error("segment %s reached zero with %d chunks left; kept", key, used[key])
            q(conn, "DELETE FROM blob_garbage WHERE blob_key = :k", k=key)
            q(
                conn,
                "INSERT INTO segments (blob_key, live_chunks, created_at) VALUES (:k, :n, :t)",
                k=key,
                n=used[key],
                t=now,
            )
    for key in own:
        if key in used:
            log.warning("blob %s is still used by %d other chunks; kept", key, used[key])
    return [key for key in own + released if key not in used]
