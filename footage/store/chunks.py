"""Chunks: how a recording's events are stored, where, and when their blobs may go.

A chunk is NDJSON (one rrweb event per line), zstd-compressed, addressed by (blob key, offset,
length). Ingest's group commit writes the chunks of many batches back to back into one shared
*segment* blob; the `segments` table counts each segment's live chunks. At finalize a
recording's chunks are merged into one blob of its own (`merged_blob_key`), compressed harder
over the whole recording, and its chunks' claims on their segments are released: a segment
is deleted with the last chunk that lived in it.

The merged blob is a sequence of zstd frames, one per *piece*: a piece begins where the
recording has a full snapshot (a page view's Meta + FullSnapshot), so each piece can be played
on its own, and the player starts with the first while the rest load (recordings/pieces.py).
Frames back to back are still one valid zstd stream: every reader of the whole blob is
unchanged. The merged chunk's row keeps the pieces' index (`chunks.pieces`, JSON).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import zstandard
from sqlalchemy import Connection, bindparam, text

from footage.store import garbage
from footage.store.blobs import BlobStore
from footage.store.db import Database

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


# rrweb's event types that open a piece (footage/rrweb.py names them; the store stays below it).
_META, _FULL_SNAPSHOT = 4, 2
# A new piece starts at a full snapshot once the current one holds this much or lasts this
# long: small enough that the first piece loads at once, large enough that a recording of many
# short page views is not hundreds of requests (and compresses as well as the whole did).
PIECE_MIN_RAW_BYTES = 256 * 1024
PIECE_MIN_MS = 60_000


@dataclass(frozen=True)
class Piece:
    """One zstd frame of a merged blob: events [first_ts, last_ts], bytes [offset, +length)."""

    first_ts: int
    last_ts: int
    offset: int
    length: int
    events: int
    raw_bytes: int
    # Whether it begins with a full snapshot (every piece but a recording's odd first one).
    snapshot: bool


def piece_starts(types: Sequence[int], times: Sequence[int], sizes: Sequence[int]) -> list[int]:
    """Where each piece begins (indexes into the events, in time order; always 0 first).

    A piece opens at a page view's Meta event when a FullSnapshot follows it (or at a
    FullSnapshot without a Meta before it), once the piece before is big or long enough.
    """
    starts = [0]
    raw = 0
    for i in range(1, len(types)):
        raw += sizes[i - 1]
        opens = (types[i] == _META and i + 1 < len(types) and types[i + 1] == _FULL_SNAPSHOT) or (
            types[i] == _FULL_SNAPSHOT and types[i - 1] != _META
        )
        if opens and (raw >= PIECE_MIN_RAW_BYTES or times[i] - times[starts[-1]] >= PIECE_MIN_MS):
            starts.append(i)
            raw = 0
    return starts


def encode_pieces(lines: list[bytes], events: list[dict[str, Any]]) -> tuple[bytes, list[Piece]]:
    """A recording's event lines (with their parsed events), in time order, as its merged
    blob: one zstd frame per piece, and the pieces' index."""
    types = [int(e.get("type", -1)) for e in events]
    times = [int(e["timestamp"]) for e in events]
    starts = piece_starts(types, times, [len(line) + 1 for line in lines])
    compressor = zstandard.ZstdCompressor(level=MERGED_ZSTD_LEVEL)
    frames: list[bytes] = []
    pieces: list[Piece] = []
    offset = 0
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        if start == end:
            continue
        # Each line ends with its newline, so frames back to back are still one NDJSON text.
        ndjson = b"\n".join(lines[start:end]) + b"\n"
        frame = compressor.compress(ndjson)
        pieces.append(
            Piece(
                first_ts=times[start],
                last_ts=max(times[start:end]),
                offset=offset,
                length=len(frame),
                events=end - start,
                raw_bytes=len(ndjson),
                snapshot=_FULL_SNAPSHOT in types[start : min(end, start + 2)]
                and types[start] in (_META, _FULL_SNAPSHOT),
            )
        )
        frames.append(frame)
        offset += len(frame)
    if not frames:  # no events: still one valid (empty) zstd stream
        frames.append(compressor.compress(b""))
    return b"".join(frames), pieces


def pieces_json(pieces: list[Piece]) -> str:
    """The index as `chunks.pieces` stores it."""
    return json.dumps([asdict(p) for p in pieces], separators=(",", ":"))


def pieces_from_json(stored: str | None) -> list[Piece] | None:
    """`chunks.pieces` → the index; None for a blob merged before pieces existed."""
    if not stored:
        return None
    return [Piece(**p) for p in json.loads(stored)]


def decode_ndjson(data: bytes) -> bytes:
    """zstd (one frame or several back to back) → the NDJSON text."""
    return zstandard.ZstdDecompressor().decompressobj(read_across_frames=True).decompress(data)


def decode_chunk(data: bytes) -> list[bytes]:
    """zstd NDJSON → one JSON text (bytes) per event."""
    return [line for line in decode_ndjson(data).split(b"\n") if line]


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


_RELEASE = text(
    "UPDATE segments SET live_chunks = live_chunks - :n WHERE blob_key IN :keys "
    "RETURNING blob_key, live_chunks"
).bindparams(bindparam("keys", expanding=True))
_LOCK_SEGMENTS = text(
    "SELECT blob_key FROM segments WHERE blob_key IN :keys ORDER BY blob_key FOR UPDATE"
).bindparams(bindparam("keys", expanding=True))
_DROP_SEGMENTS = text("DELETE FROM segments WHERE blob_key IN :keys").bindparams(
    bindparam("keys", expanding=True)
)


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
    # One statement per count and IN list, not one per segment: a long recording's chunks
    # lie in thousands of segments. On PostgreSQL the rows are locked first, in the keys'
    # order, so two transactions releasing the same segments never wait on each other.
    keys_in_order = sorted(per_segment)
    if conn.dialect.name != "sqlite":
        for i in range(0, len(keys_in_order), garbage.IN_LIST):
            conn.execute(_LOCK_SEGMENTS, {"keys": keys_in_order[i : i + garbage.IN_LIST]})
    by_count: dict[int, list[str]] = {}
    for key in keys_in_order:
        by_count.setdefault(per_segment[key], []).append(key)
    unused = []
    for count, keys in sorted(by_count.items()):
        for i in range(0, len(keys), garbage.IN_LIST):
            part = keys[i : i + garbage.IN_LIST]
            rows = conn.execute(_RELEASE, {"n": count, "keys": part}).mappings()
            left = {row["blob_key"]: row["live_chunks"] for row in rows}
            unused += [key for key in part if left.get(key, 0) <= 0]
    for i in range(0, len(unused), garbage.IN_LIST):
        conn.execute(_DROP_SEGMENTS, {"keys": unused[i : i + garbage.IN_LIST]})
    garbage.schedule(conn, unused, now_ms)
    return unused
