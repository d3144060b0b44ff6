"""The lifecycle live → ready, with a frozen clock: when a recording is finished, and when not."""

import gc
import json

import pytest

from footage.errors import Conflict
from footage.ingest.wire import parse_batch
from footage.ingest.writer import Visit
from footage.recordings.queries import (
    events_of,
    get_recording,
    iter_events_json,
    list_recordings,
)
from tests.conftest import batch, click, full_snapshot, js_error, meta, move, new_ids

VISIT = Visit(
    origin="https://alice.example",
    server_origin="http://127.0.0.1:8000",
    ip="81.2.69.142",
    user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0 Safari/537.36",
)


def send(svc, key, ids, seq, events, **kw):
    return svc.ingest.accept(parse_batch(batch(key, ids, seq, events, **kw)), VISIT)


def ready_ids(svc, account):
    return [r["id"] for r in list_recordings(svc.db, account.account_id)["items"]]


def test_recording_is_ready_after_leave_plus_grace_not_before(svc, alice, clock):
    ids, t = new_ids(), clock.now_ms()
    rec = send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1), click(t + 200)])
    send(svc, alice.site_key, ids, 1, [move(t + 900)], left=True)
    assert svc.finalizer.run_once() == 0  # the visitor may still open another page
    assert ready_ids(svc, alice) == []
    clock.advance(9)
    assert svc.finalizer.run_once() == 0
    clock.advance(2)
    assert svc.finalizer.run_once() == 1
    assert ready_ids(svc, alice) == [rec.recording_id]


def test_next_page_within_grace_continues_the_same_recording(svc, alice, clock):
    ids, t = new_ids(), clock.now_ms()
    first = send(
        svc,
        alice.site_key,
        ids,
        0,
        [meta(t), full_snapshot(t + 1), click(t + 50)],
        left=True,
        url="https://alice.example/",
        title="Home",
    )
    clock.advance(3)
    ids2 = {**ids, "page_id": "pag-second-page"}
    second = send(
        svc,
        alice.site_key,
        ids2,
        0,
        [meta(t + 3000, "https://alice.example/cart"), full_snapshot(t + 3001), click(t + 3500)],
        url="https://alice.example/cart",
        title="Cart",
    )
    assert second.recording_id == first.recording_id
    clock.advance(11)
    assert svc.finalizer.run_once() == 0  # page 2 is still open and sent something recently
    send(svc, alice.site_key, ids2, 1, [], left=True)
    clock.advance(11)
    assert svc.finalizer.run_once() == 1
    rec = get_recording(svc.db, alice.account_id, first.recording_id)
    assert [p["title"] for p in rec["pages"]] == ["Home", "Cart"]
    assert rec["pages"][1]["offset_ms"] == 3000
    assert rec["click_count"] == 2 and rec["page_count"] == 2


def test_crashed_tab_is_finished_after_the_heartbeat_timeout(svc, alice, clock):
    ids, t = new_ids(), clock.now_ms()
    send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1), click(t + 10)])
    clock.advance(59)
    assert svc.finalizer.run_once() == 0
    clock.advance(2)
    assert svc.finalizer.run_once() == 1


def test_heartbeats_keep_a_quiet_visitor_live(svc, alice, clock):
    from footage.ingest.wire import Heartbeat

    ids, t = new_ids(), clock.now_ms()
    send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1), click(t + 10)])
    for _ in range(5):
        clock.advance(20)
        svc.ingest.heartbeat(Heartbeat(alice.site_key, **ids), VISIT)
        assert svc.finalizer.run_once() == 0
    clock.advance(61)
    assert svc.finalizer.run_once() == 1


def test_a_retried_batch_is_stored_once(svc, alice, clock):
    ids, t = new_ids(), clock.now_ms()
    events = [meta(t), full_snapshot(t + 1), click(t + 10)]
    first = send(svc, alice.site_key, ids, 0, events)
    again = send(svc, alice.site_key, ids, 0, events)
    assert again.duplicate and again.recording_id == first.recording_id
    clock.advance(61)
    svc.finalizer.run_once()
    stored = json.loads(b"".join(iter_events_json(svc.db, svc.blobs, first.recording_id)))
    assert [e["type"] for e in stored] == [4, 2, 3]


def test_a_late_batch_for_a_finished_page_is_refused_and_a_new_visit_is_a_new_recording(
    svc, alice, clock
):
    ids, t = new_ids(), clock.now_ms()
    first = send(
        svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1), click(t + 10)], left=True
    )
    clock.advance(11)
    svc.finalizer.run_once()
    with pytest.raises(Conflict) as err:
        send(svc, alice.site_key, ids, 1, [click(t + 20_000)])
    assert err.value.code == "recording_ended"
    ids2 = {**ids, "page_id": "pag-after-coming-back"}
    later = send(svc, alice.site_key, ids2, 0, [meta(t + 60_000), full_snapshot(t + 60_001)])
    assert later.recording_id != first.recording_id


def test_summary_of_a_finished_recording(svc, alice, clock):
    ids, t = new_ids(), clock.now_ms()
    events = [
        meta(t, "https://alice.example/?utm_source=news&utm_campaign=winter"),
        full_snapshot(t + 1),
        move(t + 1000),
        click(t + 2000, 10, 10),
        click(t + 2200, 12, 10),
        click(t + 2400, 11, 14),
        js_error(t + 3000),
        move(t + 20_000),
    ]
    rec_id = send(
        svc,
        alice.site_key,
        ids,
        0,
        events,
        left=True,
        url="https://alice.example/?utm_source=news&utm_campaign=winter",
        referrer="https://www.google.com/",
    ).recording_id
    clock.advance(11)
    svc.finalizer.run_once()
    rec = get_recording(svc.db, alice.account_id, rec_id)
    assert rec["duration_ms"] == 20_000
    assert (
        rec["active_ms"] == 1400
    )  # 1.0 + 0.2 + 0.2 s; the 17.6 s gap before the last move is not activity
    assert rec["click_count"] == 3 and rec["rage_click_count"] == 1 and rec["error_count"] == 1
    assert rec["utm"] == {"source": "news", "campaign": "winter"}
    assert rec["referrer"] == "https://www.google.com/"
    assert (rec["device"], rec["browser"], rec["os"]) == ("desktop", "Chrome", "Linux")
    assert rec["country"] == "GB"
    assert rec["screen"] == {"width": 1920, "height": 1080}
    assert rec["started_at"] == "2026-11-18T11:06:40.000Z"
    stored = svc.db.one("SELECT * FROM recordings WHERE id = :id", {"id": rec_id})
    assert stored["ip"] is None  # the IP gave the country and was dropped


def test_chunks_are_compacted_into_one_blob_on_finalize(svc, alice, clock):
    ids, t = new_ids(), clock.now_ms()
    rec_id = send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)]).recording_id
    for seq in range(1, 6):
        send(svc, alice.site_key, ids, seq, [click(t + seq * 100)])
    segments = list((svc.settings.data_path / "blobs" / "segments").rglob("*.zst"))
    assert len(segments) == 6  # one batch at a time: one segment each
    clock.advance(61)
    svc.finalizer.run_once()
    assert list((svc.settings.data_path / "blobs" / "segments").rglob("*.zst")) == []
    assert svc.db.one("SELECT COUNT(*) AS n FROM segments")["n"] == 0
    rows = svc.db.all("SELECT * FROM chunks WHERE recording_id = :r", {"r": rec_id})
    assert len(rows) == 1 and rows[0]["event_count"] == 7
    events = json.loads(b"".join(iter_events_json(svc.db, svc.blobs, rec_id)))
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert len(events) == 7


def test_a_dead_finalizers_claim_is_taken_over_after_the_lease(svc, alice, clock):
    from footage.sessions.finalizer import Finalizer

    ids, t = new_ids(), clock.now_ms()
    rec = send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)], left=True)
    clock.advance(11)
    dead = Finalizer(
        svc.db, svc.blobs, clock, svc.finalizer.timings, on_ready=svc.finalizer.on_ready
    )
    [(claimed_id, claimed_at)] = dead.claim_due()  # …and then the process is killed
    assert claimed_id == rec.recording_id
    assert svc.finalizer.run_once() == 0  # the claim is still fresh: nobody else touches it
    clock.advance(svc.finalizer.timings.lease_ms / 1000 + 1)
    assert svc.finalizer.run_once() == 1
    assert ready_ids(svc, alice) == [rec.recording_id]
    assert dead.finalize(claimed_id, claimed_at) is False  # a late finalizer changes nothing
    assert ready_ids(svc, alice) == [rec.recording_id]


def test_a_recording_that_cannot_be_finalized_is_tried_less_and_less_often(
    svc, alice, clock, caplog
):
    """Its stored batches cannot be read (the storage is down): each failed attempt waits
    longer for the next, 1, 2, 4 … 32 leases and then 60, instead of one lease each time. Once
    the storage is back, the next attempt makes it ready with every event it had."""
    ids, t = new_ids(), clock.now_ms()
    rec = send(
        svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1), click(t + 200)], left=True
    )
    clock.advance(11)
    keys = [
        r["blob_key"]
        for r in svc.db.all(
            "SELECT DISTINCT blob_key FROM chunks WHERE recording_id = :r",
            {"r": rec.recording_id},
        )
    ]
    away = {key: svc.blobs.root / f"{key}.away" for key in keys}
    for key, place in away.items():
        (svc.blobs.root / key).rename(place)

    def attempts():
        return svc.db.one(
            "SELECT finalize_attempts FROM recordings WHERE id = :r", {"r": rec.recording_id}
        )["finalize_attempts"]

    lease_s = svc.finalizer.timings.lease_ms / 1000
    assert svc.finalizer.run_once() == 0 and attempts() == 1
    for n, leases in enumerate((1, 2, 4, 8, 16, 32, 60, 60), start=1):
        clock.advance(leases * lease_s - 1)
        assert svc.finalizer.run_once() == 0 and attempts() == n  # not yet
        clock.advance(1)
        assert svc.finalizer.run_once() == 0 and attempts() == n + 1
    assert "it is tried again in 60 minutes (attempt 9)" in caplog.text
    assert ready_ids(svc, alice) == []

    for key, place in away.items():  # the storage is back
        place.rename(svc.blobs.root / key)
    clock.advance(60 * lease_s)
    assert svc.finalizer.run_once() == 1
    assert ready_ids(svc, alice) == [rec.recording_id]
    events = events_of(svc.db, svc.blobs, rec.recording_id)
    assert [e["timestamp"] for e in events] == [t, t + 1, t + 200]


def test_a_long_recording_is_read_without_running_the_cycle_collector_over_it(
    svc, alice, clock, monkeypatch, collections
):
    # 20,000 DOM changes parse into ~160,000 dicts and lists: read with the collector on,
    # they ran a hundred collections, some over every object of the server.
    ids, t = new_ids(), clock.now_ms()
    changes = [
        {"type": 3, "timestamp": t + 10 + i,
         "data": {"source": 0, "texts": [], "removes": [],
                  "attributes": [{"id": 4, "attributes": {"class": f"step-{i}"}}],
                  "adds": [{"parentId": 4, "nextId": None,
                            "node": {"type": 2, "tagName": "li", "attributes": {},
                                     "childNodes": [], "id": 100_000 + i}}]}}
        for i in range(20_000)
    ]  # fmt: skip
    send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1), *changes], left=True)
    clock.advance(11)
    seen: list[int] = []  # the collections while the events are read
    read = svc.finalizer._read

    def watched_read(chunks):
        before = len(collections)
        try:
            return read(chunks)
        finally:
            seen.extend(collections[before:])

    monkeypatch.setattr(svc.finalizer, "_read", watched_read)
    gc.collect()
    assert svc.finalizer.run_once() == 1
    assert gc.isenabled()
    assert len(seen) <= 2, seen  # the young collection after the parse, and one more at most
    events = events_of(svc.db, svc.blobs, ready_ids(svc, alice)[0])
    assert len(events) == 20_002 and events[-1]["data"]["adds"][0]["node"]["id"] == 119_999


def test_a_reader_that_stops_early_parses_few_of_a_long_recordings_events(
    svc, alice, clock, monkeypatch
):
    # A ready recording is one chunk of all its events; the heatmaps look for one page's
    # snapshot in it and stop there.
    import itertools

    import orjson

    from footage import parsing
    from footage.recordings.queries import PARSE_AT_ONCE, iter_events

    ids, t = new_ids(), clock.now_ms()
    moves = [move(t + 10 + i) for i in range(5_000)]
    send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1), *moves], left=True)
    clock.advance(11)
    assert svc.finalizer.run_once() == 1
    parsed = [0]

    class Counting:
        JSONDecodeError = orjson.JSONDecodeError

        @staticmethod
        def loads(raw):
            parsed[0] += 1
            return orjson.loads(raw)

    monkeypatch.setattr(parsing, "orjson", Counting)
    first = list(itertools.islice(iter_events(svc.db, svc.blobs, ready_ids(svc, alice)[0]), 3))
    assert [e["type"] for e in first] == [4, 2, 3]
    assert parsed[0] <= PARSE_AT_ONCE < 5_002
