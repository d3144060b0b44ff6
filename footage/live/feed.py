"""What a live view shows, read from what ingest stores: the visitor's live recording, its
current page from its last full snapshot, and each batch as it arrives.

A live view reads the recording's own chunks, so it shows exactly what is recorded (masks,
excluded pages and everything that stops recording included) and never changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from footage.parsing import parse_lines
from footage.rrweb import META
from footage.store.blobs import BlobStore
from footage.store.chunks import read_chunk
from footage.store.db import Database

# How far back a batch's arrival may lie behind the latest one seen and still be new (two
# processes writing at once commit out of order).
OVERLAP_MS = 10_000
# How many recent chunks the visitor's clock offset is estimated from.
SKEW_SAMPLE = 20


def live_recording(db: Database, site_id: str, visitor_id: str) -> str | None:
    """The visitor's recording being made now, if any (the newest, if several)."""
    row = db.one(
        "SELECT id FROM recordings WHERE site_id = :s AND visitor_id = :v AND status = 'live' "
        "ORDER BY created_at DESC LIMIT 1",
        {"s": site_id, "v": visitor_id},
    )
    return str(row["id"]) if row else None


def state_of(db: Database, recording_id: str) -> str:
    """'on_page' while a page of the visit is open, 'between_pages' when every page was left
    but the visit may go on (the leave grace), 'left' once it is finished, 'ready' once it
    can be played, 'gone' when it was deleted."""
    row = db.one("SELECT status FROM recordings WHERE id = :r", {"r": recording_id})
    if row is None:
        return "gone"
    if row["status"] == "ready":
        return "ready"
    if row["status"] != "live":
        return "left"
    open_pages = db.one(
        "SELECT COUNT(*) AS n FROM recording_pages WHERE recording_id = :r AND left_at IS NULL",
        {"r": recording_id},
    )
    return "on_page" if open_pages and open_pages["n"] else "between_pages"


@dataclass
class Feed:
    """One live view's reading position in a recording."""

    recording_id: str
    seen: set[tuple[str, int]] = field(default_factory=set)
    latest: int = 0  # the latest arrival (server time) among the batches sent

    def opening(self, db: Database, blobs: BlobStore) -> tuple[list[Any], int]:
        """The current page from its last full snapshot on, and the visitor's clock offset
        (server time minus the browser's, plus the least delay a batch had)."""
        chunks = self._chunks(db, 0)
        if not chunks:
            return [], 0
        page = max(chunks, key=lambda c: (c["first_ts"] or 0, c["received_at"]))["page_id"]
        events: list[Any] = []
        for chunk in chunks:
            self._saw(chunk)
            if chunk["page_id"] == page:
                events.extend(parse_lines(read_chunk(blobs, chunk)))
        events.sort(key=lambda e: e.get("timestamp", 0) if isinstance(e, dict) else 0)
        start = max(
            (i for i, e in enumerate(events) if isinstance(e, dict) and e.get("type") == META),
            default=0,
        )
        recent = chunks[-SKEW_SAMPLE:]
        offsets = [c["received_at"] - c["last_ts"] for c in recent if c["last_ts"] is not None]
        return events[start:], min(offsets, default=0)

    def news(self, db: Database, blobs: BlobStore) -> bytes:
        """The events of the batches stored since the last call, as a JSON array ('' if none)."""
        lines: list[bytes] = []
        for chunk in self._chunks(db, self.latest - OVERLAP_MS):
            if (chunk["page_id"], chunk["seq"]) in self.seen:
                continue
            self._saw(chunk)
            lines.extend(read_chunk(blobs, chunk))
        return b"[" + b",".join(lines) + b"]" if lines else b""

    def _chunks(self, db: Database, since: int) -> list[dict[str, Any]]:
        return db.all(
            "SELECT page_id, seq, blob_key, blob_offset, blob_length, first_ts, last_ts, "
            "received_at FROM chunks WHERE recording_id = :r AND received_at >= :t "
            "ORDER BY first_ts, page_id, seq",
            {"r": self.recording_id, "t": since},
        )

    def _saw(self, chunk: dict[str, Any]) -> None:
        self.seen.add((chunk["page_id"], chunk["seq"]))
        self.latest = max(self.latest, int(chunk["received_at"]))
