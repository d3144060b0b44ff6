"""A recording's events in pieces: split at full snapshots at finalize, the index and each piece
over the API and the dashboard, encodings, ETags and 304, recordings merged before pieces, and
the same 404 for another account's recording as for a missing one."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import zstandard

from footage.accounts.service import NewAccount
from footage.clock import FrozenClock
from footage.store.chunks import (
    PIECE_MIN_MS,
    decode_chunk,
    encode_pieces,
    pieces_from_json,
)
from tests.conftest import (
    LiveServer,
    click,
    free_port,
    full_snapshot,
    login,
    make_account,
    meta,
    move,
    new_ids,
    settings_for,
    start_server,
)
from tests.sessions.test_finalizer import send

PAGES = ("https://alice.example/", "https://alice.example/shoes", "https://alice.example/cart")
# What each page shows (words: the server's masks hide digits).
TEXTS = ("Welcome home", "Trail shoes", "Your cart")
PAGE_MS = 70_000  # each page view a little longer than a piece's minimum


def lines_of(events: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(e).encode() for e in events]


def test_pieces_start_at_full_snapshots_and_the_blob_is_still_one_stream() -> None:
    t = 1_000_000
    events = [meta(t), full_snapshot(t + 1), click(t + 10)]
    # A page view 10 s in: too soon for a piece of its own.
    events += [meta(t + 10_000, PAGES[1]), full_snapshot(t + 10_001), click(t + 10_010)]
    # A full snapshot after a minute opens the next piece; so does a lone one (no Meta).
    events += [meta(t + PIECE_MIN_MS + 1, PAGES[2]), full_snapshot(t + PIECE_MIN_MS + 2)]
    events += [move(t + PIECE_MIN_MS + 500), full_snapshot(t + 3 * PIECE_MIN_MS)]
    events += [move(t + 3 * PIECE_MIN_MS + 5)]
    lines = lines_of(events)
    blob, pieces = encode_pieces(lines, events)
    assert [p.events for p in pieces] == [6, 3, 2]
    assert [p.first_ts for p in pieces] == [t, t + PIECE_MIN_MS + 1, t + 3 * PIECE_MIN_MS]
    assert [p.snapshot for p in pieces] == [True, True, True]
    assert decode_chunk(blob) == lines  # every reader of the whole blob is unchanged
    for piece in pieces:  # each piece decodes on its own
        frame = blob[piece.offset : piece.offset + piece.length]
        assert len(decode_chunk(frame)) == piece.events
    assert sum(p.length for p in pieces) == len(blob)


def test_a_recording_that_starts_without_a_snapshot_says_so() -> None:
    events = [move(1), meta(2), full_snapshot(3)]
    _, pieces = encode_pieces(lines_of(events), events)
    assert len(pieces) == 1 and not pieces[0].snapshot


@pytest.fixture
def server(tmp_path: Path, database_url: str, clock: FrozenClock) -> Iterator[LiveServer]:
    live = start_server(settings_for(tmp_path, database_url=database_url, port=free_port()), clock)
    yield live
    live.stop()


def multi_page_recording(server: LiveServer, account: NewAccount, clock: FrozenClock) -> str:
    """A ready recording of three page views, 70 s each: three pieces."""
    svc, ids = server.services, new_ids()
    recording_id = ""
    for n, url in enumerate(PAGES):
        t = clock.now_ms()
        page = {**ids, "page_id": f"pag-{n}-{ids['page_id']}"}
        events = [meta(t, url), full_snapshot(t + 1, TEXTS[n]), click(t + 500)]
        events += [move(t + 30_000), move(t + PAGE_MS - 1000)]
        recording_id = send(svc, account.site_key, page, 0, events, url=url, left=True).recording_id
        clock.advance(PAGE_MS / 1000)
    clock.advance(11)
    assert svc.finalizer.run_once() == 1
    return recording_id


@pytest.fixture
def recorded(server: LiveServer, clock: FrozenClock) -> tuple[NewAccount, NewAccount, str]:
    alice = make_account(server.services, "Alice", site_url="https://alice.example")
    bob = make_account(server.services, "Bob", site_url="https://bob.example")
    return alice, bob, multi_page_recording(server, alice, clock)


def api(server: LiveServer, who: NewAccount, **kwargs: Any) -> httpx.Client:
    return server.client(headers={"Authorization": f"Bearer {who.api_token}"}, **kwargs)


def ndjson(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.split(b"\n") if line]


def raw_get(http: httpx.Client, path: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """The answer and its body exactly as sent (not decoded)."""
    with http.stream("GET", path, headers=headers) as r:
        return r, b"".join(r.iter_raw())


def test_the_index_and_every_piece_hold_the_recording(server: LiveServer, recorded: Any) -> None:
    alice, _, rid = recorded
    with api(server, alice) as http:
        index = http.get(f"/api/v1/recordings/{rid}/pieces")
        assert index.status_code == 200, index.text
        body = index.json()
        everything = http.get(f"/api/v1/recordings/{rid}/events").json()
        pieces = []
        for p in body["pieces"]:
            r, raw = raw_get(
                http, body["piece_url"].format(n=p["n"]), **{"Accept-Encoding": "zstd"}
            )
            assert r.status_code == 200
            assert r.headers["content-encoding"] == "zstd"
            assert r.headers["content-type"] == "application/x-ndjson"
            assert len(raw) == p["bytes"]  # the stored frame, as it is
            pieces.append(ndjson(zstandard.ZstdDecompressor().decompressobj().decompress(raw)))
    assert body["recording_id"] == rid
    assert body["piece_url"] == f"/api/v1/recordings/{rid}/pieces/{{n}}"
    assert [p["n"] for p in body["pieces"]] == [0, 1, 2]
    assert all(p["full_snapshot"] for p in body["pieces"])
    assert [p["start_ms"] for p in body["pieces"]] == [0, PAGE_MS, 2 * PAGE_MS]
    assert body["duration_ms"] == everything[-1]["timestamp"] - everything[0]["timestamp"]
    assert body["event_count"] == len(everything) == sum(len(p) for p in pieces)
    for n, events in enumerate(pieces):
        assert [e["type"] for e in events[:2]] == [4, 2]
        assert events[0]["data"]["href"] == PAGES[n]
    assert [e for piece in pieces for e in piece] == everything


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("gzip, deflate, br, zstd", "zstd"),
        ("gzip", "gzip"),
        ("zstd;q=0, gzip;q=0.5", "gzip"),
        ("*", "zstd"),
        ("identity", None),
        ("", None),
    ],
)
def test_pieces_and_events_come_in_the_encoding_the_client_takes(
    server: LiveServer, recorded: Any, accept: str, encoding: str | None
) -> None:
    alice, _, rid = recorded
    decode = {
        "zstd": lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b),
        "gzip": gzip.decompress,
        None: lambda b: b,
    }[encoding]
    with api(server, alice) as http:
        r, raw = raw_get(http, f"/api/v1/recordings/{rid}/pieces/1", **{"Accept-Encoding": accept})
        assert r.headers.get("content-encoding") == encoding
        assert r.headers["vary"] == "Accept-Encoding"
        assert ndjson(decode(raw))[0]["data"]["href"] == PAGES[1]
        r, raw = raw_get(http, f"/api/v1/recordings/{rid}/pieces", **{"Accept-Encoding": accept})
        assert r.headers.get("content-encoding") == encoding
        assert r.headers["vary"] == "Accept-Encoding"
        assert json.loads(decode(raw))["recording_id"] == rid
        r, raw = raw_get(http, f"/api/v1/recordings/{rid}/events", **{"Accept-Encoding": accept})
        assert r.headers.get("content-encoding") == encoding
        assert r.headers["content-type"] == "application/json"
        assert len(json.loads(decode(raw))) == 15


def test_strong_etags_long_caching_and_304(server: LiveServer, recorded: Any) -> None:
    alice, _, rid = recorded
    with api(server, alice) as http:
        for path in (f"/api/v1/recordings/{rid}/pieces", f"/api/v1/recordings/{rid}/pieces/0"):
            first = http.get(path, headers={"Accept-Encoding": "zstd"})
            etag = first.headers["etag"]
            assert etag.startswith('"') and not etag.startswith("W/")
            assert first.headers["cache-control"] == "private, max-age=31536000, immutable"
            assert http.get(path, headers={"Accept-Encoding": "zstd"}).headers["etag"] == etag
            again = http.get(path, headers={"Accept-Encoding": "zstd", "If-None-Match": etag})
            assert again.status_code == 304 and again.content == b""
            assert again.headers["etag"] == etag
            other = http.get(path, headers={"Accept-Encoding": "zstd", "If-None-Match": '"x"'})
            assert other.status_code == 200
        gz = http.get(f"/api/v1/recordings/{rid}/pieces/0", headers={"Accept-Encoding": "gzip"})
        assert gz.headers["etag"] != etag  # another representation, another tag
        index_tags = {
            http.get(f"/api/v1/recordings/{rid}/pieces", headers={"Accept-Encoding": e}).headers[
                "etag"
            ]
            for e in ("zstd", "gzip", "identity")
        }
        assert len(index_tags) == 3
        tags = {http.get(f"/api/v1/recordings/{rid}/pieces/{n}").headers["etag"] for n in range(3)}
        assert len(tags) == 3


def test_another_accounts_recording_is_the_same_404_as_a_missing_one(
    server: LiveServer, recorded: Any
) -> None:
    alice, bob, rid = recorded
    with api(server, bob) as http:
        answers = set()
        for target in (rid, "rec-does-not-exist"):
            for path in ("/pieces", "/pieces/0", "/pieces/99", "/events"):
                r = http.get(f"/api/v1/recordings/{target}{path}")
                answers.add((r.status_code, r.content))
    assert len(answers) == 1
    status, body = answers.pop()
    assert status == 404 and json.loads(body)["error"]["code"] == "recording_not_found"
    with api(server, alice) as http:
        answers = set()
        for n in ("3", "99", "-1", "1e3", "٣", "0x1", "9" * 30, " 1"):
            r = http.get(f"/api/v1/recordings/{rid}/pieces/{n}")
            answers.add((r.status_code, r.content))
    assert len(answers) == 1
    status, body = answers.pop()
    assert status == 404
    error = json.loads(body)["error"]
    assert error["code"] == "piece_not_found" and "pieces 0 to 2" in error["message"]


def test_the_dashboard_player_reads_pieces_with_its_login(
    server: LiveServer, recorded: Any
) -> None:
    alice, bob, rid = recorded
    with server.client() as http:
        assert http.get(f"/recordings/{rid}/pieces").status_code == 401
        login(http, "alice@example.com")
        page = http.get(f"/recordings/{rid}")
        assert f'data-pieces-url="/recordings/{rid}/pieces"' in page.text
        index = http.get(f"/recordings/{rid}/pieces").json()
        assert index["piece_url"] == f"/recordings/{rid}/pieces/{{n}}"
        piece = http.get(f"/recordings/{rid}/pieces/2")
        assert ndjson(piece.content)[0]["data"]["href"] == PAGES[2]
    with server.client() as http:
        login(http, "bob@example.com")
        assert http.get(f"/recordings/{rid}/pieces").status_code == 404
        assert http.get(f"/recordings/{rid}/pieces/0").status_code == 404


def test_a_recording_merged_before_pieces_plays_as_one_piece(
    server: LiveServer, recorded: Any
) -> None:
    alice, _, rid = recorded
    db = server.services.db
    row = db.one("SELECT pieces FROM chunks WHERE recording_id = :r", {"r": rid})
    assert row is not None and len(pieces_from_json(row["pieces"]) or []) == 3
    db.run("UPDATE chunks SET pieces = NULL WHERE recording_id = :r", {"r": rid})
    with api(server, alice) as http:
        index = http.get(f"/api/v1/recordings/{rid}/pieces").json()
        assert [(p["n"], p["start_ms"]) for p in index["pieces"]] == [(0, 0)]
        everything = http.get(f"/api/v1/recordings/{rid}/events").json()
        assert index["duration_ms"] == everything[-1]["timestamp"] - everything[0]["timestamp"]
        for accept in ("zstd", "gzip", ""):
            r = http.get(f"/api/v1/recordings/{rid}/pieces/0", headers={"Accept-Encoding": accept})
            assert ndjson(r.content) == everything
        assert http.get(f"/api/v1/recordings/{rid}/pieces/1").status_code == 404
