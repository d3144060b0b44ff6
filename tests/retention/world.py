"""Helpers for the retention tests: recordings made through ingest, rows inserted directly (for
thousands at once), and the invariants that must hold between the rows and the blob store."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from footage.accounts.service import NewAccount
from footage.app import Services
from footage.clock import FrozenClock
from footage.ingest.group import Pending
from footage.ingest.wire import parse_batch
from footage.store.blobs import BlobStore
from footage.store.db import Database
from tests.conftest import batch, click, full_snapshot, meta, new_ids
from tests.sessions.test_finalizer import VISIT, send

DAY_MS = 86_400_000
PAGE = "pag-only"


def created_at(svc: Services, recording_id: str) -> int:
    row = svc.db.one("SELECT created_at FROM recordings WHERE id = :r", {"r": recording_id})
    assert row is not None
    return int(row["created_at"])


def ready_recording(svc: Services, account: NewAccount, clock: FrozenClock) -> str:
    """A finished recording created now (its one merged blob is its own); the clock moves past
    the leave grace to finalize it, and every other due recording is finalized too."""
    ids, t = new_ids(), clock.now_ms()
    events = [meta(t), full_snapshot(t + 1), click(t + 100)]
    rec = send(svc, account.site_key, ids, 0, events, left=True).recording_id
    assert rec is not None
    clock.advance(11)
    svc.finalizer.run_once()
    assert status(svc, rec) == "ready"
    return str(rec)


def live_recording(
    svc: Services, account: NewAccount, clock: FrozenClock
) -> tuple[str, dict[str, str]]:
    """A recording still in progress, created now: (its id, the ids to send more batches)."""
    ids, t = new_ids(), clock.now_ms()
    rec = send(svc, account.site_key, ids, 0, [meta(t), full_snapshot(t + 1)]).recording_id
    assert rec is not None
    return str(rec), ids


def send_in_one_segment(svc: Services, batches: list[dict[str, Any]]) -> list[str]:
    """Ingest batches as one group, so their chunks share one segment blob (the writer is held
    inside a group while they queue, as in tests/privacy/test_erase.py)."""
    writer = svc.ingest.writer
    busy, gate = threading.Event(), threading.Event()

    def hold(conn: Any, key: str | None, offset: int) -> None:
        busy.set()
        gate.wait(10)

    blocked = Pending(None, hold)
    writer.enqueue(blocked)
    assert busy.wait(10)
    pending = [svc.ingest.prepare(parse_batch(body), VISIT) for body in batches]
    for item in pending:
        writer.enqueue(item)
    gate.set()
    blocked.future.result(10)
    return [str(item.future.result(10).recording_id) for item in pending]


def next_batch(account: NewAccount, ids: dict[str, str], seq: int, t: int) -> dict[str, Any]:
    return batch(account.site_key, ids, seq, [click(t)])


def status(svc: Services, recording_id: str) -> str | None:
    row = svc.db.one("SELECT status FROM recordings WHERE id = :r", {"r": recording_id})
    return None if row is None else str(row["status"])


def rows_of(db: Database, recording_id: str) -> dict[str, int]:
    counts = {}
    for table, column in (
        ("recordings", "id"),
        ("recording_pages", "recording_id"),
        ("chunks", "recording_id"),
    ):
        row = db.one(f"SELECT COUNT(*) AS n FROM {table} WHERE {column} = :r", {"r": recording_id})
        assert row is not None
        counts[table] = int(row["n"])
    return counts


def keys_of(db: Database, recording_id: str) -> set[str]:
    rows = db.all("SELECT blob_key FROM chunks WHERE recording_id = :r", {"r": recording_id})
    return {r["blob_key"] for r in rows}


def snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    tables = (
        "accounts",
        "visitors",
        "recordings",
        "recording_pages",
        "chunks",
        "segments",
        "blob_garbage",
        "usage_counters",
        "usage_daily",
    )
    return {t: sorted((dict(r) for r in db.all(f"SELECT * FROM {t}")), key=repr) for t in tables}


def blob_files(root: Path) -> set[str]:
    """Every blob in a local store, by key (temp files of an unfinished put count too)."""
    if not root.exists():
        return set()
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@dataclass
class Violations:
    chunks_without_blob: set[str]
    blobs_without_row: set[str]
    wrong_segment_counts: dict[str, tuple[int, int]]  # key → (live_chunks, chunk rows)

    def __bool__(self) -> bool:
        return bool(self.chunks_without_blob or self.blobs_without_row or self.wrong_segment_counts)


def violations(db: Database, root: Path) -> Violations:
    """What a crash must never leave: a chunk row whose blob is gone; a blob that no chunk,
    segment or blob_garbage row refers to (nothing would ever delete it); a segment count that
    differs from its chunk rows (it would be deleted too early, or never)."""
    chunk_keys = {r["blob_key"] for r in db.all("SELECT DISTINCT blob_key FROM chunks")}
    segments = {r["blob_key"]: int(r["live_chunks"]) for r in db.all("SELECT * FROM segments")}
    scheduled = {r["blob_key"] for r in db.all("SELECT blob_key FROM blob_garbage")}
    per_key = {
        r["blob_key"]: int(r["n"])
        for r in db.all("SELECT blob_key, COUNT(*) AS n FROM chunks GROUP BY blob_key")
    }
    files = blob_files(root)
    return Violations(
        chunks_without_blob=chunk_keys - files,
        blobs_without_row=files - chunk_keys - set(segments) - scheduled,
        wrong_segment_counts={
            key: (live, per_key.get(key, 0))
            for key, live in segments.items()
            if live != per_key.get(key, 0)
        },
    )


# --- thousands of recordings, inserted directly ------------------------------------------


_RECORDING = text(
    "INSERT INTO recordings (id, account_id, site_id, visitor_id, session_id, status, "
    "created_at, last_seen_at) VALUES (:id, :a, :s, :v, :id, :status, :t, :t)"
)
_PAGE = text(
    "INSERT INTO recording_pages (site_id, page_id, recording_id, url, first_seen_at, "
    "last_seen_at) VALUES (:s, :id, :id, 'https://alice.example/', :t, :t)"
)
_CHUNK = text(
    "INSERT INTO chunks (recording_id, page_id, seq, blob_key, blob_offset, blob_length, "
    "event_count, raw_bytes, received_at) "
    "VALUES (:r, :p, :seq, :k, :off, :len, 1, :len, :t)"
)
_SEGMENT = text("INSERT INTO segments (blob_key, live_chunks, created_at) VALUES (:k, :n, :t)")


@dataclass
class Recording:
    id: str
    status: str
    created_at: int
    chunks: list[tuple[str, int, int]]  # (blob key, offset, length)


def insert_recordings(
    db: Database,
    blobs: BlobStore,
    account: NewAccount,
    recordings: list[Recording],
    segments: dict[str, int] | None = None,
    blob_bytes: dict[str, bytes] | None = None,
) -> None:
    """Rows as ingest and the finalizer leave them (a page per recording, its chunks, the
    segments' live counts), and the blobs, written through the store first as ingest does."""
    for key, data in (blob_bytes or {}).items():
        blobs.put(key, data)
    s, a = account.site_id, account.account_id
    with db.write() as conn:
        params = [
            {"id": r.id, "a": a, "s": s, "v": f"vis-{r.id}", "status": r.status, "t": r.created_at}
            for r in recordings
        ]
        conn.execute(_RECORDING, params)
        conn.execute(_PAGE, params)
        chunk_rows = [
            {"r": r.id, "p": r.id, "seq": seq, "k": k, "off": off, "len": n, "t": r.created_at}
            for r in recordings
            for seq, (k, off, n) in enumerate(r.chunks)
        ]
        if chunk_rows:
            conn.execute(_CHUNK, chunk_rows)
        if segments:
            conn.execute(_SEGMENT, [{"k": k, "n": n, "t": 0} for k, n in segments.items()])
