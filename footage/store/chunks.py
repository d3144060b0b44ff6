"""Chunks: how a recording's events are stored, where, and when their blobs may go.

A chunk is NDJSON (one rrweb event per line), zstd-compressed, addressed by (blob key, offset,
length). Ingest's group commit writes the chunks of many batches back to back into one shared
*segment* blob; the `segments` table counts each segment's live chunks. At finalize a
recording's chunks are merged into one blob of its own (`merged_blob_key`), compressed harder
over the whole recording, and its chunks' claims on their segments are released: a segment
is deleted with the last chunk that lived in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import zstandard
from sqlalchemy import Connection

from footage.store import garbage
from footage.store.blobs import BlobStore
from footage.store.db import Database, q

CHUNK_ZSTD_LEVEL = 3
# A whole recording compresses far better than its batches did (page snapshots repeat), and
# it is compressed once.
MERGED_ZSTD_LEVEL = 12
# The page id of a recording's merged chunk: it no longer names the page views of its events.
MERGED_PAGE = "*"


def encode_chunk(lines: Iterable[bytes]) -> tuple[bytes, int]:
    """Event lines (JSON text each) → zstd-compressed NDJSON, and its uncompressed size."""
    ndjson = b"\n".join(lines)
    return zstandard.ZstdCompressor(level=CHUNK_ZSTD_LEVEL).compress(ndjson), len(ndjson)


def encode_merged(lines: list[bytes]) -> bytes:
    """A recording's event lines, in time order, as its one merged blob."""
    return zstandard.ZstdCompressor(level=MERGED_ZSTD_LEVEL).compress(b"\n".join(lines))


def decode_chunk(data: bytes) -> list[bytes]:
    """zstd NDJSON → one JSON text (bytes) per event."""
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return [line for line in raw.split(b"\n") if line]


def merged_blob_key(site_id: str, recording_id: str) -> str:
    """Where a finalized recording's merged blob is stored."""
    return f"recordings/{site_id}/{recording_id}.ndjson.zst"


def chunks_of(db: Database, recording_id: str) -> list[dict[str, Any]]:
    """The recording's chunk rows in the order their events were recorded."""
    return db.all(
        "SELECT * FROM chunks WHERE recording_id = :id ORDER BY first_ts, page_id, seq",
        {"id": recording_id},
    )


def read_chunk(blobs: BlobStore, chunk: dict[str, Any]) -> list[bytes]:
    """One chunk row's event lines, read from its blob."""
    return decode_chunk(blobs.get(chunk["blob_key"], chunk["blob_offset"], chunk["blob_length"]))


def release_segments(
    conn: Connection, chunks: list[dict[str, Any]], keep: str, now_ms: int
) -> list[str]:
    """Drop these chunks' claims on their segments; returns the segments now unused.

    A segment holds chunks of many recordings; it is deleted with the last of them. The
    decrement takes the segment's row lock, so two transactions never both miss the zero.
    Chunks in `keep` (a recording's merged blob) are not in a segment. The unused segments
    are scheduled for deletion (`store/garbage.py`) in the same transaction.
    """
    per_segment: dict[str, int] = {}
    for chunk in chunks:
        if chunk["blob_key"] != keep:
            per_segment[chunk["blob_key"]] = per_segment.get(chunk["blob_key"], 0) + 1
    unused = []
    for key, count in per_segment.items():
        left = q(
            conn,
            "UPDATE segments SET live_chunks = live_chunks - :n WHERE blob_key = :k "
            "RETURNING live_chunks",
            n=count,
            k=key,
        )
        if not left or left[0]["live_chunks"] <= 0:
            q(conn, "DELETE FROM segments WHERE blob_key = :k", k=key)
            unused.append(key)
    garbage.schedule(conn, unused, now_ms)
    return unused
