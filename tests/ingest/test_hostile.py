"""Hostile bodies and requests on POST /api/v1/ingest, on a real server and both databases.

Each named case gets a clear 4xx whose JSON error names what to fix, and leaves no row
behind: a refused batch stores nothing at all.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import json
import time
import tracemalloc
import zlib
from functools import cache
from typing import Any

import httpx
import orjson
import pytest

from footage.errors import PayloadTooLarge
from footage.ingest.wire import decode_body
from footage.store.db import q
from tests.conftest import batch, click, full_snapshot, gz, make_account, meta, new_ids, wait_for

ORIGIN = {"Origin": "https://alice.example", "Content-Type": "text/plain"}
TABLES = ("recordings", "recording_pages", "chunks", "visitors")


def now_ms() -> int:
    return int(time.time() * 1000)


def first_batch(key: str, ids: dict[str, str] | None = None, **kw: Any) -> dict[str, Any]:
    t = now_ms()
    return batch(key, ids or new_ids(), 0, [meta(t), full_snapshot(t + 1), click(t + 500)], **kw)


def counts(live: Any) -> dict[str, int]:
    return {t: live.services.db.one(f"SELECT COUNT(*) AS n FROM {t}")["n"] for t in TABLES}


@pytest.fixture
def alice_live(live: Any) -> Any:
    return make_account(live.services, "Alice", site_url="https://alice.example")


@pytest.fixture
def http(live: Any) -> Any:
    with live.client() as client:
        yield client


def refused(
    live: Any, http: httpx.Client, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    """POSTs a body that must be refused; checks that nothing was stored."""
    before = counts(live)
    r = http.post("/api/v1/ingest", content=body, headers=headers or ORIGIN)
    assert 400 <= r.status_code < 500, r.text
    error = r.json()["error"]
    assert error["code"] and len(error["message"]) > 15
    assert counts(live) == before
    return r


@cache
def zip_bomb(inflated: int = 200_000_000) -> bytes:
    """A gzip body of ~200 KB that inflates to 200 MB of spaces inside a JSON object."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [deflate.compress(b'{"events": "')]
    block = b" " * 10_000_000
    for _ in range(inflated // len(block)):
        parts.append(deflate.compress(block))
    parts.append(deflate.compress(b'"}'))
    parts.append(deflate.flush())
    return b"".join(parts)


def test_zip_bomb_is_413_and_stopped_while_inflating(live, alice_live, http):
    bomb = zip_bomb()
    assert len(bomb) < 1_000_000  # under the compressed limit: the inflater must stop it
    started = time.monotonic()
    r = refused(live, http, bomb)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert "after decompression" in r.json()["error"]["message"]
    assert time.monotonic() - started < 5


def test_zip_bomb_never_allocates_what_it_would_inflate_to():
    bomb = zip_bomb()
    limit = 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            decode_body(bomb, limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 200 MB inflated; the decoder held about one limit's worth (plus zlib's window).
    assert peak < 4 * limit, peak


def test_truncated_gzip(live, alice_live, http):
    body = gz(first_batch(alice_live.site_key))
    r = refused(live, http, body[: len(body) // 2])
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_gzip"
    assert "truncated" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"not deflate at all", "bad_gzip", "not valid gzip"),
        (bytes(range(128, 256)) * 4, "bad_json", "neither gzip nor UTF-8"),
        (zlib.compress(b'{"v": 1}'), "bad_json", "neither gzip nor UTF-8"),  # zlib, not gzip
    ],
)
def test_not_gzip(live, alice_live, http, body, code, words):
    r = refused(live, http, body)
    assert r.status_code == 400 and r.json()["error"]["code"] == code
    assert words in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [b"{oops", b'{"v": 1,', b'"just a string"', b"[]", b"null", b"{'v': 1}", b"\xef\xbb\xbf"],
)
def test_invalid_json(live, alice_live, http, body):
    r = refused(live, http, body)
    assert r.status_code == 400 and r.json()["error"]["code"] in ("bad_json", "bad_request")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seq": "0"}, "'seq'"),
        ({"seq": 1.5}, "'seq'"),
        ({"seq": True}, "'seq'"),
        ({"events": {"0": {}}}, "'events'"),
        ({"events": "[]"}, "'events'"),
        ({"events": [[4, 1]]}, "events[0]"),
        ({"events": [{"type": "4", "timestamp": 1}]}, "events[0].type"),
        ({"events": [{"type": 4, "timestamp": "now"}]}, "events[0].timestamp"),
        ({"visitor_id": 12345678}, "'visitor_id'"),
        ({"page_id": "short"}, "'page_id'"),
        ({"page": "https://alice.example/"}, "'page'"),
        ({"page": {"url": ["x"]}}, "'url'"),
        ({"left": 1}, "'left'"),
        ({"screen": [1920, 1080]}, "'screen'"),
        ({"visitor": "Jane"}, "'visitor'"),
        ({"visitor": {"name": {"first": "Jane"}}}, "'visitor.name'"),
        ({"site_key": ["s_key"]}, "'site_key'"),
        ({"site_key": "s_\x00key"}, "'site_key'"),
        ({"v": "1"}, "version"),
    ],
)
def test_wrong_types_name_the_field(live, alice_live, http, change, field):
    body = {**first_batch(alice_live.site_key), **change}
    r = refused(live, http, gz(body))
    assert r.status_code == 400, r.text
    assert field in r.json()["error"]["message"]


def test_huge_event_arrays_are_413(live, alice_live, http):
    t = now_ms()
    body = first_batch(alice_live.site_key)
    body["events"] += [{"type": 3, "timestamp": t, "data": {}}] * 100_000
    r = refused(live, http, gz(body))
    assert r.status_code == 413 and "at most 100000 events" in r.json()["error"]["message"]


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_deeply_nested_json_is_400_not_a_crash(live, alice_live, http):
    # 100,000 nested arrays: the parser stops at its depth limit, no recursion anywhere.
    head = json.dumps(first_batch(alice_live.site_key))[:-1].encode()
    for body in (nested(100_000), head + b', "x": ' + nested(100_000) + b"}"):
        r = refused(live, http, gzip.compress(body))
        assert r.status_code == 400 and "nested too deeply" in r.json()["error"]["message"]


def event_nested(depth: int) -> dict[str, Any]:
    """A custom event whose payload nests `depth` arrays (the event adds 3 levels)."""
    return {
        "type": 5,
        "timestamp": now_ms(),
        "data": {"tag": "deep", "payload": orjson.loads(nested(depth))},
    }


def test_events_too_deep_to_store_are_400(live, alice_live, http):
    body = first_batch(alice_live.site_key)
    body["events"].append(event_nested(600))
    r = refused(live, http, gz(body))
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_event"
    assert "more than 500 levels" in r.json()["error"]["message"]


def test_deep_but_real_pages_are_stored_and_replayed(live, alice_live, http):
    # Deeper than orjson writes (255 levels): a real DOM ~200 elements deep.
    ids = new_ids()
    body = first_batch(alice_live.site_key, ids, left=True)
    body["events"].append(event_nested(400))
    r = http.post("/api/v1/ingest", content=gz(body), headers=ORIGIN)
    assert r.status_code == 200, r.text
    rec_id = r.json()["recording_id"]
    auth = {"Authorization": f"Bearer {alice_live.api_token}"}
    wait_for(lambda: http.get(f"/api/v1/recordings/{rec_id}", headers=auth).status_code == 200)
    events = http.get(f"/api/v1/recordings/{rec_id}/events", headers=auth).json()
    deep = [e for e in events if e["type"] == 5]
    assert len(events) == 4 and deep[0]["data"]["payload"] == orjson.loads(nested(400))


@pytest.mark.parametrize(
    ("ts", "words"),
    [
        (1, "before the year 2000"),
        (946_684_799_999, "before the year 2000"),
        ("future", "more than a day ahead"),
        (4_102_444_800_000, "more than a day ahead"),  # 2100
        (1e15, "milliseconds since 1970"),
        (-5, "milliseconds since 1970"),
    ],
)
def test_timestamps_far_in_the_past_or_future(live, alice_live, http, ts, words):
    if ts == "future":
        ts = now_ms() + 2 * 24 * 3600 * 1000
    body = first_batch(alice_live.site_key)
    body["events"].append({"type": 3, "timestamp": ts, "data": {"source": 1, "positions": []}})
    r = refused(live, http, gz(body))
    assert r.status_code == 400 and r.json()["error"]["code"] in ("bad_timestamp", "bad_event")
    assert "events[3].timestamp" in r.json()["error"]["message"] and words in r.text


def test_a_clock_a_few_hours_off_is_fine(live, alice_live, http):
    t = now_ms() + 5 * 3600 * 1000  # the visitor's clock is 5 hours fast
    body = batch(alice_live.site_key, new_ids(), 0, [meta(t), full_snapshot(t + 1)])
    r = http.post("/api/v1/ingest", content=gz(body), headers=ORIGIN)
    assert r.status_code == 200, r.text


def test_unknown_site_key(live, alice_live, http):
    r = refused(live, http, gz(first_batch("s_" + "x" * 20)))
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_site"
    assert "snippet" in r.json()["error"]["message"]


def test_disabled_site(live, alice_live, http):
    with live.services.db.write() as conn:
        q(conn, "UPDATE sites SET recording_enabled = 0 WHERE site_key = :k", k=alice_live.site_key)
    live.services.ingest.forget_site(alice_live.site_key)
    r = refused(live, http, gz(first_batch(alice_live.site_key)))
    assert r.status_code == 403 and r.json()["error"]["code"] == "recording_disabled"


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://alice.example.evil.example",
        "http://alice.example",  # another scheme is another origin
        "null",
        None,
    ],
)
def test_foreign_origin(live, alice_live, http, origin):
    headers = {"Content-Type": "text/plain"} | ({"Origin": origin} if origin else {})
    r = refused(live, http, gz(first_batch(alice_live.site_key)), headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    assert "allowed origins" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "ctype", ["multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "image/png"]
)
def test_wrong_content_type(live, alice_live, http, ctype):
    r = refused(live, http, gz(first_batch(alice_live.site_key)), {**ORIGIN, "Content-Type": ctype})
    assert r.status_code == 415 and "text/plain" in r.json()["error"]["message"]


def test_oversized_headers(live, alice_live, http):
    body = gz(first_batch(alice_live.site_key))
    for size in (14_000, 200_000):
        r = refused(live, http, body, {**ORIGIN, "X-Padding": "a" * size})
        assert r.status_code == 431 and r.json()["error"]["code"] == "headers_too_large"
    many = {f"X-Header-{i}": "a" * 50 for i in range(300)}
    r = refused(live, http, body, {**ORIGIN, **many})
    assert r.status_code == 431


def test_body_over_the_compressed_limit_is_refused_before_reading_it(live, alice_live, http):
    r = refused(live, http, b"{" + b" " * 2_000_000 + b"}")
    assert r.status_code == 413 and "larger than 1000000 bytes" in r.json()["error"]["message"]


def test_nul_characters_in_text_fields_are_dropped(live, alice_live, http):
    ids = new_ids()
    body = first_batch(alice_live.site_key, ids)
    body["page"] = {"url": "https://alice.example/\x00a", "title": "T\x00", "referrer": "\x00"}
    r = http.post("/api/v1/ingest", content=gz(body), headers=ORIGIN)
    assert r.status_code == 200, r.text
    page = live.services.db.one(
        "SELECT url, title FROM recording_pages WHERE page_id = :p", {"p": ids["page_id"]}
    )
    assert page == {"url": "https://alice.example/a", "title": "T"}


def test_a_refused_batch_in_a_busy_group_leaves_the_others_whole(live, alice_live, http):
    """Good and bad batches at once: the good ones are stored whole, the bad ones not at all."""
    good = [first_batch(alice_live.site_key) for _ in range(12)]
    bad = []
    for i in range(12):
        b = first_batch(alice_live.site_key)
        b["events"].append(event_nested(600) if i % 2 else {"type": 3, "timestamp": 1})
        bad.append(b)

    def post(body: dict[str, Any]) -> int:
        with live.client() as client:
            return client.post("/api/v1/ingest", content=gz(body), headers=ORIGIN).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, [b for pair in zip(good, bad, strict=True) for b in pair]))
    assert statuses == [200, 400] * 12
    db = live.services.db
    for body, stored in [(b, True) for b in good] + [(b, False) for b in bad]:
        rows = db.all("SELECT event_count FROM chunks WHERE page_id = :p", {"p": body["page_id"]})
        assert rows == ([{"event_count": len(body["events"])}] if stored else [])


@pytest.mark.parametrize("key", ["%00abc", "s_%00", "x" * 5000, "s_key%0A", "%F0%9F%98%80"])
def test_config_with_a_malformed_site_key_is_404(live, http, key):
    r = http.get(f"/api/v1/sites/{key}/config")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_site"
