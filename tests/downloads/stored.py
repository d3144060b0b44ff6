"""Recordings as they may already be stored: one whose events span decades (forged
timestamps, stored before ingest bounded a recording's time span), made by adding a chunk
next to a ready recording's own."""

from __future__ import annotations

from typing import Any

from footage.app import Services
from footage.ingest.writer import dump_event
from footage.store.chunks import encode_chunk
from footage.store.db import q
from tests.conftest import click

YEAR_MS = 365 * 86_400_000


def add_chunk(svc: Services, recording_id: str, events: list[dict[str, Any]]) -> None:
    """Store `events` as one more chunk of the recording, as the ingest writer would have."""
    data, raw = encode_chunk(map(dump_event, events))
    key = f"test-chunks/{recording_id}-extra"
    svc.blobs.put(key, data)
    stamps = [int(e["timestamp"]) for e in events]
    with svc.db.write() as conn:
        page = q(
            conn, "SELECT page_id FROM chunks WHERE recording_id = :r LIMIT 1", r=recording_id
        )[0]["page_id"]
        q(
            conn,
            "INSERT INTO chunks (recording_id, page_id, seq, blob_key, blob_offset, blob_length, "
            "event_count, raw_bytes, first_ts, last_ts, received_at) VALUES (:r, :p, 999, :k, 0, "
            ":n, :c, :raw, :f, :l, :f)",
            r=recording_id,
            p=page,
            k=key,
            n=len(data),
            c=len(events),
            raw=raw,
            f=min(stamps),
            l=max(stamps),
        )


def span_decades(svc: Services, recording_id: str, years: int = 30) -> int:
    """Add a click `years` after the recording's first event; returns its timestamp."""
    row = svc.db.one(
        "SELECT MIN(first_ts) AS t FROM chunks WHERE recording_id = :r", {"r": recording_id}
    )
    assert row is not None and row["t"] is not None
    late = int(row["t"]) + years * YEAR_MS
    add_chunk(svc, recording_id, [click(late)])
    return late
