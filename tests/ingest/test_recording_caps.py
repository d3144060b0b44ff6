"""The per-recording cap: size, duration and page views. The batch that would pass it ends
the recording cleanly (finalized like a visitor who left) and gets 409
recording_limit_reached; the recorder's next recording (a new session) is stored as usual."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from footage.app import Services, build_services
from footage.errors import Conflict
from footage.ingest.wire import parse_batch
from footage.ingest.writer import RecordingLimitReached, Visit
from tests.conftest import (
    START_MS,
    FrozenClock,
    batch,
    click,
    free_port,
    full_snapshot,
    gz,
    make_account,
    meta,
    new_ids,
    settings_for,
    start_server,
    wait_for,
)

VISIT = Visit(origin="https://alice.example", server_origin="http://x", ip=None, user_agent="")
ORIGIN = {"Origin": "https://alice.example", "Content-Type": "text/plain"}


def text_event(ts: int, size: int) -> dict[str, Any]:
    """A custom event of about `size` bytes once stored."""
    return {"type": 5, "timestamp": ts, "data": {"tag": "t", "payload": "p" * size}}


@pytest.fixture
def capped(tmp_path: Path, clock: FrozenClock, database_url: str) -> Iterator[Services]:
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        max_recording_bytes=10_000,
        max_recording_seconds=3600.0,
        max_recording_pages=5,
    )
    services = build_services(settings, clock)
    yield services
    services.ingest.writer.close()
    services.db.dispose()


def send(svc: Services, key: str, ids: dict[str, str], seq: int, events: list) -> Any:
    return svc.ingest.accept(parse_batch(batch(key, ids, seq, events)), VISIT)


def rows(svc: Services, rec_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rec = svc.db.one("SELECT * FROM recordings WHERE id = :r", {"r": rec_id})
    chunks = svc.db.all(
        "SELECT seq, raw_bytes FROM chunks WHERE recording_id = :r ORDER BY seq", {"r": rec_id}
    )
    assert rec is not None
    return rec, chunks


def test_the_batch_past_the_size_cap_ends_the_recording(capped, clock):
    key = make_account(capped, "Alice", site_url="https://alice.example").site_key
    ids = new_ids()
    t = START_MS
    first = send(capped, key, ids, 0, [meta(t), full_snapshot(t + 1)])
    rec_id = first.recording_id
    seq = 1
    with pytest.raises(RecordingLimitReached) as refused:
        while seq < 100:
            send(capped, key, ids, seq, [text_event(t + seq, 3000)])
            seq += 1
    assert refused.value.status == 409 and refused.value.code == "recording_limit_reached"
    assert "size limit of 10,000 bytes" in refused.value.message
    assert "start a new recording" in refused.value.message
    rec, chunks = rows(capped, rec_id)
    # Every stored batch is whole, the refused one is not stored, and the cap held.
    assert [c["seq"] for c in chunks] == list(range(seq))
    assert rec["raw_bytes"] == sum(c["raw_bytes"] for c in chunks) <= 10_000
    assert rec["status"] == "finalizing"
    # The same page's later batches (or a retry of the refused one) belong to an ended recording.
    with pytest.raises(Conflict) as ended:
        send(capped, key, ids, seq, [click(t + 500)])
    assert ended.value.code == "recording_ended"
    # The next finalizer pass makes it ready, with every stored event.
    assert capped.finalizer.run_once() == 1
    rec, _ = rows(capped, rec_id)
    assert rec["status"] == "ready" and rec["finalized_at"] == START_MS
    # The recorder's new recording (new session, new page view) is stored as usual.
    ids2 = {**new_ids(), "visitor_id": ids["visitor_id"]}
    second = send(capped, key, ids2, 0, [meta(t + 9000), full_snapshot(t + 9001)])
    assert second.recording_id != rec_id and not second.duplicate


def test_the_batch_after_the_duration_cap_ends_the_recording(capped, clock):
    key = make_account(capped, "Alice", site_url="https://alice.example").site_key
    ids = new_ids()
    t = START_MS
    rec_id = send(capped, key, ids, 0, [meta(t), full_snapshot(t + 1)]).recording_id
    clock.advance(3600)  # exactly the cap: still fine
    assert send(capped, key, ids, 1, [click(t + 3_600_000)]).recording_id == rec_id
    clock.advance(0.001)
    with pytest.raises(RecordingLimitReached, match="duration limit of 1 hour;"):
        send(capped, key, ids, 2, [click(t + 3_600_001)])
    rec, chunks = rows(capped, rec_id)
    assert rec["status"] == "finalizing" and [c["seq"] for c in chunks] == [0, 1]
    assert capped.finalizer.run_once() == 1


def test_the_page_view_past_the_cap_ends_the_recording(capped, clock):
    """A visitor who opens page after page, or a script that starts a page view with every
    batch: each page view is work in the transaction that makes the recording ready (10,000
    of them held SQLite's writers for 0.8 s), so a recording has at most so many."""
    key = make_account(capped, "Alice", site_url="https://alice.example").site_key
    ids, t = new_ids(), START_MS
    pages = [{**ids, "page_id": f"pag-{i}-{ids['page_id'][-12:]}"} for i in range(6)]
    rec_ids = {
        send(capped, key, page, 0, [meta(t + i * 100), full_snapshot(t + i * 100 + 1)]).recording_id
        for i, page in enumerate(pages[:5])
    }
    [rec_id] = rec_ids
    assert send(capped, key, pages[4], 1, [click(t + 600)]).recording_id == rec_id
    with pytest.raises(RecordingLimitReached, match="its limit of 5 page views;"):
        send(capped, key, pages[5], 0, [meta(t + 700), full_snapshot(t + 701)])
    rec, chunks = rows(capped, rec_id)
    assert rec["status"] == "finalizing" and [c["seq"] for c in chunks] == [0, 0, 0, 0, 0, 1]
    assert capped.db.one(
        "SELECT COUNT(*) AS n FROM recording_pages WHERE recording_id = :r", {"r": rec_id}
    ) == {"n": 5}
    assert capped.finalizer.run_once() == 1
    assert rows(capped, rec_id)[0]["page_count"] == 5
    # The recorder's new recording (new session, new page view) is stored as usual.
    ids2 = {**new_ids(), "visitor_id": ids["visitor_id"]}
    second = send(capped, key, ids2, 0, [meta(t + 900), full_snapshot(t + 901)])
    assert second.recording_id != rec_id and not second.duplicate


def test_a_first_batch_larger_than_the_cap_is_kept(capped):
    key = make_account(capped, "Alice", site_url="https://alice.example").site_key
    ids = new_ids()
    t = START_MS
    first = send(capped, key, ids, 0, [meta(t), full_snapshot(t + 1), text_event(t + 2, 20_000)])
    rec, chunks = rows(capped, first.recording_id)
    assert rec["status"] == "live" and len(chunks) == 1
    with pytest.raises(RecordingLimitReached):
        send(capped, key, ids, 1, [click(t + 3)])


def test_a_capped_recording_over_http_ends_and_the_next_one_starts(tmp_path, database_url):
    settings = settings_for(
        tmp_path,
        database_url=database_url,
        port=free_port(),
        background=True,
        leave_grace_seconds=1.0,
        finalizer_interval_seconds=0.2,
        max_recording_bytes=20_000,
    )
    server = start_server(settings)
    try:
        alice = make_account(server.services, "Alice", site_url="https://alice.example")
        auth = {"Authorization": f"Bearer {alice.api_token}"}
        ids = new_ids()
        t = int(time.time() * 1000)
        with server.client() as http:
            first = http.post(
                "/api/v1/ingest",
                content=gz(batch(alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)])),
                headers=ORIGIN,
            )
            rec_id = first.json()["recording_id"]
            answers = []
            for seq in range(1, 20):
                body = batch(alice.site_key, ids, seq, [text_event(t + seq, 6000)])
                r = http.post("/api/v1/ingest", content=gz(body), headers=ORIGIN)
                answers.append(r.status_code)
                if r.status_code != 200:
                    break
            assert answers == [200, 200, 200, 409], answers
            assert r.json()["error"]["code"] == "recording_limit_reached"
            # The recording is finished without waiting for the visitor to leave.
            wait_for(
                lambda: http.get(f"/api/v1/recordings/{rec_id}", headers=auth).status_code == 200
            )
            events = http.get(f"/api/v1/recordings/{rec_id}/events", headers=auth).json()
            assert len(events) == 2 + 3  # meta, snapshot and the three stored batches
            # The recorder starts a new recording for the rest of the visit.
            ids2 = {**new_ids(), "visitor_id": ids["visitor_id"]}
            body = batch(alice.site_key, ids2, 0, [meta(t + 50), full_snapshot(t + 51)])
            second = http.post("/api/v1/ingest", content=gz(body), headers=ORIGIN)
            assert second.status_code == 200
            assert second.json()["recording_id"] != rec_id
    finally:
        server.stop()
