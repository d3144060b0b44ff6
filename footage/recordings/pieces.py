"""A ready recording's events in pieces, for a replay that starts at once whatever its length.

The merged blob is one zstd frame per piece (store/chunks.py); each piece begins with a full
snapshot, so the player draws the first frame from piece 0 alone and loads the rest behind it.
A piece is served as NDJSON (one rrweb event per line): the stored frame as it is when the
client accepts zstd, else gzip or plain. A ready recording never changes, so every answer has
a strong ETag (per encoding) and may be cached for good; a matching `If-None-Match` gets 304.

A recording merged before pieces existed (or never merged) is one piece: its whole blob.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import zstandard
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from footage.errors import NotFound
from footage.store.blobs import BlobStore
from footage.store.chunks import chunks_of, decode_ndjson, pieces_from_json
from footage.store.db import Database

# Personal data: only the viewer's own browser may keep it; a ready recording never changes.
CACHE_FOREVER = "private, max-age=31536000, immutable"
NDJSON = "application/x-ndjson"
# Re-encoding is for clients without zstd (and for recordings merged before pieces).
GZIP_LEVEL = 6
ZSTD_LEVEL = 3
ENCODINGS = ("zstd", "gzip", "identity")


@dataclass(frozen=True)
class BlobRange:
    key: str
    offset: int
    length: int


@dataclass(frozen=True)
class StoredPiece:
    n: int
    first_ts: int
    last_ts: int
    snapshot: bool
    events: int
    stored_bytes: int
    # Where its bytes are: one range of the merged blob, or every chunk (no index).
    ranges: tuple[BlobRange, ...]
    # True when `ranges` is exactly this piece's own zstd frame, sendable as it is.
    one_frame: bool


def ready_recording(db: Database, account_id: str, recording_id: str) -> dict[str, Any]:
    """The account's ready recording (id, when finalized); the same 404 for anyone else's."""
    row = db.one(
        "SELECT id, finalized_at FROM recordings "
        "WHERE id = :id AND account_id = :a AND status = 'ready'",
        {"id": recording_id, "a": account_id},
    )
    if row is None:
        raise NotFound("no such recording", code="recording_not_found")
    return row


def pieces_of(db: Database, recording_id: str) -> list[StoredPiece]:
    """The recording's pieces, in time order (at least one when it has any event)."""
    chunks = chunks_of(db, recording_id)
    index = pieces_from_json(chunks[0].get("pieces")) if len(chunks) == 1 else None
    if index is not None:
        chunk = chunks[0]
        return [
            StoredPiece(
                n=n,
                first_ts=p.first_ts,
                last_ts=p.last_ts,
                snapshot=p.snapshot,
                events=p.events,
                stored_bytes=p.length,
                ranges=(BlobRange(chunk["blob_key"], chunk["blob_offset"] + p.offset, p.length),),
                one_frame=True,
            )
            for n, p in enumerate(index)
        ]
    timed = [c for c in chunks if c["first_ts"] is not None]
    if not timed:
        return []
    return [
        StoredPiece(
            n=0,
            first_ts=min(c["first_ts"] for c in timed),
            last_ts=max(c["last_ts"] or c["first_ts"] for c in timed),
            snapshot=True,
            events=sum(c["event_count"] for c in chunks),
            stored_bytes=sum(c["blob_length"] for c in chunks),
            ranges=tuple(
                BlobRange(c["blob_key"], c["blob_offset"], c["blob_length"]) for c in chunks
            ),
            one_frame=False,
        )
    ]


def index_body(recording_id: str, pieces: list[StoredPiece], piece_url: str) -> dict[str, Any]:
    """The index the player reads first: each piece's time span from the first event (ms)."""
    start = pieces[0].first_ts if pieces else 0
    return {
        "recording_id": recording_id,
        "start_timestamp": start,
        "duration_ms": max((p.last_ts for p in pieces), default=start) - start,
        "event_count": sum(p.events for p in pieces),
        # `{n}` stands for the piece's number.
        "piece_url": piece_url,
        "pieces": [
            {
                "n": p.n,
                "start_ms": p.first_ts - start,
                "end_ms": p.last_ts - start,
                "full_snapshot": p.snapshot,
                "events": p.events,
                "bytes": p.stored_bytes,
            }
            for p in pieces
        ],
    }


def piece_number(raw: str, pieces: list[StoredPiece]) -> StoredPiece:
    """The piece that `raw` (a path segment) names, or 404 — one answer for every bad number."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 6 and int(raw) < len(pieces):
        return pieces[int(raw)]
    raise NotFound(
        f"no such piece: this recording has pieces 0 to {max(0, len(pieces) - 1)}; "
        "read them from its index (…/pieces)",
        code="piece_not_found",
    )


def accepted_encoding(accept_encoding: str) -> str:
    """The best of zstd, gzip and identity that `Accept-Encoding` allows (q=0 refuses)."""
    allowed: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        key, _, value = params.strip().partition("=")
        if key.strip() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        if name:
            allowed[name.strip()] = q
    star = allowed.get("*", 0.0)
    for encoding in ENCODINGS[:-1]:
        if allowed.get(encoding, star) > 0:
            return encoding
    return "identity"


def _tag(seed: str, encoding: str) -> str:
    return '"' + hashlib.sha256(seed.encode()).hexdigest()[:24] + "-" + encoding + '"'


def piece_etag(recording: dict[str, Any], piece: StoredPiece, encoding: str) -> str:
    """Strong: the same bytes for the same tag (one per encoding). A recording finalized
    again gets new tags."""
    where = ";".join(f"{r.key}@{r.offset}+{r.length}" for r in piece.ranges)
    return _tag(f"{recording['id']}:{recording['finalized_at']}:{piece.n}:{where}", encoding)


def index_etag(
    recording: dict[str, Any], pieces: list[StoredPiece], piece_url: str, encoding: str
) -> str:
    where = ";".join(f"{r.key}@{r.offset}+{r.length}" for p in pieces for r in p.ranges)
    seed = f"{recording['id']}:{recording['finalized_at']}:{piece_url}:{where}"
    return _tag(seed, f"index-{encoding}")


def matches(if_none_match: str, etag: str) -> bool:
    """Whether `If-None-Match` names this tag (or *)."""
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def cached_headers(etag: str, cache_control: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}


def encode(body: bytes, encoding: str) -> bytes:
    """`body` compressed in `encoding` (zstd, gzip or identity)."""
    if encoding == "zstd":
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(body)
    if encoding == "gzip":
        return gzip.compress(body, GZIP_LEVEL, mtime=0)
    return body


def index_response(
    recording: dict[str, Any],
    pieces: list[StoredPiece],
    piece_url: str,
    if_none_match: str,
    cache_control: str = CACHE_FOREVER,
    extra: dict[str, str] | None = None,
    accept_encoding: str = "",
) -> Response:
    """The index, compressed as the client takes: it grows with the recording (~95 bytes a
    piece, 19 KB for 4 hours of short page views) and comes before the first frame."""
    encoding = accepted_encoding(accept_encoding)
    etag = index_etag(recording, pieces, piece_url, encoding)
    headers = {**(extra or {}), **cached_headers(etag, cache_control)}
    if matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    body = orjson.dumps(index_body(recording["id"], pieces, piece_url))
    if encoding != "identity":
        headers["Content-Encoding"] = encoding
    return Response(encode(body, encoding), media_type="application/json", headers=headers)


def piece_response(
    blobs: BlobStore,
    recording: dict[str, Any],
    piece: StoredPiece,
    accept_encoding: str,
    if_none_match: str,
    cache_control: str = CACHE_FOREVER,
    extra: dict[str, str] | None = None,
) -> Response:
    """The piece's events as NDJSON, in the best encoding the client takes; 304 when its
    cached copy is this one."""
    encoding = accepted_encoding(accept_encoding)
    etag = piece_etag(recording, piece, encoding)
    headers = {**(extra or {}), **cached_headers(etag, cache_control)}
    if matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    if encoding == "zstd" and piece.one_frame:
        r = piece.ranges[0]
        body = blobs.get(r.key, r.offset, r.length)  # the stored frame, as it is
    else:
        ndjson = b"\n".join(
            line
            for r in piece.ranges
            for line in decode_ndjson(blobs.get(r.key, r.offset, r.length)).split(b"\n")
            if line
        )
        body = encode(ndjson, encoding)
    if encoding != "identity":
        headers["Content-Encoding"] = encoding
    return Response(body, media_type=NDJSON, headers=headers)


def serve_index(
    request: Request,
    recording: dict[str, Any],
    piece_url: str,
    extra: dict[str, str] | None = None,
) -> Response:
    """`GET …/pieces` once the route has found the recording (the API, the player, a share
    link): the index as the request takes it. `extra` headers may set their own Cache-Control."""
    db = request.app.state.services.db
    return index_response(
        recording,
        pieces_of(db, recording["id"]),
        piece_url,
        request.headers.get("if-none-match", ""),
        (extra or {}).get("Cache-Control", CACHE_FOREVER),
        extra,
        accept_encoding=request.headers.get("accept-encoding", ""),
    )


def serve_piece(
    request: Request,
    recording: dict[str, Any],
    n: str,
    extra: dict[str, str] | None = None,
) -> Response:
    """`GET …/pieces/{n}` once the route has found the recording; NotFound for a piece number
    it does not have."""
    svc = request.app.state.services
    return piece_response(
        svc.blobs,
        recording,
        piece_number(n, pieces_of(svc.db, recording["id"])),
        request.headers.get("accept-encoding", ""),
        request.headers.get("if-none-match", ""),
        (extra or {}).get("Cache-Control", CACHE_FOREVER),
        extra,
    )


def compressed(pieces: Iterator[bytes], accept_encoding: str) -> tuple[Iterator[bytes], str]:
    """A streamed body compressed as the client accepts (zstd or gzip), piece by piece."""
    encoding = accepted_encoding(accept_encoding)
    if encoding == "zstd":
        return _zstd_stream(pieces), encoding
    if encoding == "gzip":
        return _gzip_stream(pieces), encoding
    return pieces, encoding


def _zstd_stream(pieces: Iterator[bytes]) -> Iterator[bytes]:
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj()
    for piece in pieces:
        out = compressor.compress(piece)
        if out:
            yield out
    yield compressor.flush()


def _gzip_stream(pieces: Iterator[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    for piece in pieces:
        out = compressor.compress(piece)
        if out:
            yield out
    yield compressor.flush()


def events_response(
    stream: Iterator[bytes], accept_encoding: str, headers: dict[str, str] | None = None
) -> Response:
    """The whole recording as one JSON array, streamed, compressed when the client asks."""
    body, encoding = compressed(stream, accept_encoding)
    out = {**(headers or {}), "Vary": "Accept-Encoding"}
    if encoding != "identity":
        out["Content-Encoding"] = encoding
    return StreamingResponse(body, media_type="application/json", headers=out)
