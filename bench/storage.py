"""Bytes stored per recorded minute: Footage's finalized recordings against gzip per batch.

Replays the captured visit as N simulated visitors against `footage serve --no-demo
--leave-grace-seconds 1 --finalizer-interval-seconds 0.5`; every visitor ends with a clean
leave (the captured last batch says `left: true`). Once all N recordings are ready it adds up
what Footage keeps for them — the files under DATA_DIR/blobs and the `stored_bytes` column of
`recordings` — and compares it with the same batches kept as gzip, one file per batch:

- `recorder gzip`  — the bodies footage.js sent, as captured (its CompressionStream gzip);
                     the plain-JSON beacon bodies of page leaves gzipped at level 6;
- `as sent`        — the captured bodies as they went over the wire (beacons uncompressed);
- `gzip -6 batch`  — each batch's JSON gzipped at level 6 (Python's zlib);
- `gzip -6 events` — only each batch's `events` array gzipped at level 6 (no envelope).

    .venv/bin/python bench/storage.py [--visitors 20]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from common import (
    OUT,
    BenchError,
    Captured,
    Replayed,
    create_account,
    footage_server,
    load_captured,
    machine,
    make_visitor,
    prepare_visit,
    replay_visitor,
    table,
    wait_for_ready_count,
    write_json,
)

FAST_FINALIZE = ("--no-demo", "--leave-grace-seconds", "1", "--finalizer-interval-seconds", "0.5")


@dataclass(frozen=True)
class Stored:
    """What Footage keeps for the finished recordings."""

    blob_bytes: int
    blob_files: int
    chunk_files_left: int  # live-data files (chunks, segments) still there after finalize
    stored_bytes: int
    recordings: int
    recorded_ms: int
    raw_event_bytes: int
    db_growth: int  # pages in use that footage.db gained: rows of recordings, pages, chunks…


def db_size(data_dir: Path) -> int:
    """Bytes of the SQLite database in use: its pages less the free ones (kept for reuse)."""
    with sqlite3.connect(data_dir / "footage.db") as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def measure_footage(data_dir: Path, db_before: int) -> Stored:
    """Sizes on disk and in the `recordings` / `chunks` tables once everything is ready."""
    blobs = [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
    with sqlite3.connect(data_dir / "footage.db") as db:
        n, stored, recorded = db.execute(
            "SELECT COUNT(*), SUM(stored_bytes), SUM(duration_ms) FROM recordings "
            "WHERE status = 'ready'"
        ).fetchone()
        (raw,) = db.execute("SELECT SUM(raw_bytes) FROM chunks").fetchone()
    return Stored(
        blob_bytes=sum(p.stat().st_size for p in blobs),
        blob_files=len(blobs),
        chunk_files_left=sum(1 for p in blobs if "recordings" not in p.parts),
        stored_bytes=int(stored or 0),
        recordings=int(n),
        recorded_ms=int(recorded or 0),
        raw_event_bytes=int(raw or 0),
        db_growth=db_size(data_dir) - db_before,
    )


def gzip_references(captured: list[Captured]) -> dict[str, int]:
    """Bytes of one visit kept as gzip per batch, in the four ways the docstring lists."""
    sent = sum(len(c.body) for c in captured)
    recorder = sum(
        len(c.body) if c.gzipped else len(gzip.compress(c.json_bytes, 6)) for c in captured
    )
    per_batch = sum(len(gzip.compress(c.json_bytes, 6)) for c in captured)
    events_only = sum(
        len(gzip.compress(json.dumps(c.batch["events"], separators=(",", ":")).encode(), 6))
        for c in captured
    )
    return {
        "recorder gzip": recorder,
        "as sent": sent,
        "gzip -6 batch": per_batch,
        "gzip -6 events": events_only,
        "raw JSON, uncompressed": sum(len(c.json_bytes) for c in captured),
    }


async def replay_all(url: str, visitors: list[list[Any]], parallel: int) -> list[Replayed]:
    """Visitors `parallel` at a time, each sending its batches in order.

    Kept gentle on purpose: with a 1 s leave grace, a page view that reaches the server more
    than 1 s after the previous page's leave beacon starts a second recording (as it should
    with that setting), and two recordings compress worse than one.
    """
    gate = asyncio.Semaphore(parallel)
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(bodies: list[Any]) -> Replayed:
            async with gate:
                return await replay_visitor(client, url, bodies)

        return list(await asyncio.gather(*(one(b) for b in visitors)))


def report(stored: Stored, refs: dict[str, int], visitors: int) -> tuple[str, dict[str, Any]]:
    """Bytes per recorded minute for Footage and each reference, and Footage's ratio to each."""
    minutes = stored.recorded_ms / 60_000
    footage = stored.blob_bytes
    rows = [["Footage: files under blobs/", footage, f"{footage / minutes:,.0f}", "—"]]
    rows.append(
        [
            "Footage: SUM(recordings.stored_bytes)",
            stored.stored_bytes,
            f"{stored.stored_bytes / minutes:,.0f}",
            "—",
        ]
    )
    figures: dict[str, Any] = {"recorded_minutes": minutes, "footage_bytes": footage}
    for name, per_visit in refs.items():
        total = per_visit * visitors
        ratio = footage / total
        rows.append([name, total, f"{total / minutes:,.0f}", f"{ratio:.2f}×"])
        figures[name] = {"bytes": total, "per_minute": total / minutes, "footage_ratio": ratio}
    text = table(["stored as", "bytes", "bytes per recorded minute", "Footage ÷ this"], rows)
    return text, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=20, help="simulated visitors")
    parser.add_argument("--parallel", type=int, default=4, help="visitors sending at once")
    parser.add_argument("--json", type=Path, default=OUT / "storage.json", help="results file")
    args = parser.parse_args()

    captured = load_captured()
    visit = prepare_visit(captured)
    with tempfile.TemporaryDirectory(prefix="footage-bench-storage-") as tmp:
        data_dir = Path(tmp) / "data"
        account = create_account(data_dir)
        db_before = db_size(data_dir)
        visitors = [make_visitor(visit, account["site_key"]).bodies for _ in range(args.visitors)]
        with footage_server(data_dir, *FAST_FINALIZE) as server:
            print(f"replaying the captured visit as {args.visitors} visitors…")
            url = f"{server.url}/api/v1/ingest"
            answers = asyncio.run(replay_all(url, visitors, args.parallel))
            problems = [p for a in answers for p in a.problems]
            if problems:
                raise BenchError(f"{len(problems)} batches were refused, e.g. {problems[0]}")
            split = sum(len(a.recording_ids) > 1 for a in answers)
            if split:
                print(
                    f"note: {split} visitors were split into two recordings (a page view came "
                    "more than the 1 s leave grace after the previous one)"
                )
            expected = sum(len(a.recording_ids) for a in answers)
            print("waiting for the finalizer…")
            wait_for_ready_count(server.url, account["api_token"], expected, timeout=60)
        # Measured after shutdown: SQLite has checkpointed its WAL into footage.db by then.
        stored = measure_footage(data_dir, db_before)
    if stored.chunk_files_left:
        print(
            f"note: {stored.chunk_files_left} chunk/segment files were still there after "
            "finalize (counted in the blobs/ figure)"
        )
    text, figures = report(stored, gzip_references(captured), args.visitors)
    print(
        f"{stored.recordings} recordings, {stored.recorded_ms / 60_000:.1f} recorded minutes, "
        f"{stored.blob_files} blob files, raw events {stored.raw_event_bytes:,} bytes, "
        f"footage.db pages in use grew by {stored.db_growth:,} bytes (rows; not counted above)"
    )
    print(text)
    write_json(
        args.json,
        {
            "machine": machine(),
            "visitors": args.visitors,
            "stored": stored.__dict__,
            "figures": figures,
        },
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"storage.py: {exc}", file=sys.stderr)
        sys.exit(2)
