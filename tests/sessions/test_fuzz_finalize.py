"""What ingest accepts from a hostile visitor, the finalizer and the read side take.

tests/ingest/test_fuzz.py shows that no body gets a 5xx at ingest. A body that is accepted
is kept: it must then become a ready recording (a batch the finalizer cannot take would be
retried after every lease and never shown) and be read back whole, as the player and the API
read it. Seeded batches with odd fields (tests/ingest/fuzzing.py, `Mutator.structured`), each
in a recording of its own, on both databases: FOOTAGE_FUZZ_EXAMPLES / 100 of them (1,000 by
default), a quarter mutated at the byte level as well. FOOTAGE_FUZZ_SEED replays a run.
"""

from __future__ import annotations

import os
import random
from dataclasses import replace

import orjson
import pytest

from footage.downloads.render import video_size
from footage.errors import FootageError
from footage.ingest.wire import decode_body, parse_batch
from footage.recordings.moments import moments_of
from footage.recordings.pieces import piece_response, pieces_of, ready_recording
from footage.recordings.queries import events_of, get_recording, iter_events_json
from tests.conftest import (
    batch,
    click,
    full_snapshot,
    login,
    make_account,
    meta,
    new_ids,
    wait_for,
)
from tests.ingest.fuzzing import Mutator
from tests.sessions.test_finalizer import VISIT

SEED = int(os.environ.get("FOOTAGE_FUZZ_SEED", str(random.randrange(2**32))))
BODIES = max(200, int(os.environ.get("FOOTAGE_FUZZ_EXAMPLES", "100000")) // 100)
ORIGIN = {"Origin": "https://alice.example", "Content-Type": "text/plain"}


def test_every_accepted_batch_becomes_a_recording_that_reads_back(svc, alice, clock):
    mutator = Mutator(SEED, alice.site_key, clock.now_ms())
    accepted: dict[str, bytes] = {}
    refused = 0
    for i in range(BODIES):
        body = mutator.structured() if mutator.rng.random() < 0.75 else mutator.body()
        try:
            batch = parse_batch(decode_body(body, 2_000_000), clock.now_ms())
            recording_id = svc.ingest.accept(
                batch, replace(VISIT, ip=f"81.2.{i // 200}.{i % 200 + 1}")
            ).recording_id
            if batch.events:  # a recording of no event has nothing to show: it is dropped
                accepted[recording_id] = body
        except FootageError as exc:
            assert 400 <= exc.status < 500 and exc.message, repr(exc)
            refused += 1
    print(
        f"\n{BODIES} bodies (seed {SEED}): {len(accepted)} recordings with events, "
        f"{refused} refused"
    )
    assert len(accepted) > BODIES // 20 and refused > BODIES // 10, (len(accepted), refused)

    # Every visitor has left or gone quiet: each recording is due.
    clock.advance(svc.settings.heartbeat_timeout_seconds + svc.settings.leave_grace_seconds + 60)
    while due := svc.finalizer.claim_due(limit=50):
        for recording_id, claimed_at in due:
            try:
                svc.finalizer.finalize(recording_id, claimed_at)
            except Exception as exc:  # names the body and how to replay the run
                raise AssertionError(
                    f"finalizing the batch {accepted.get(recording_id, b'?')[:400]!r} raised "
                    f"{exc!r} (FOOTAGE_FUZZ_SEED={SEED})"
                ) from exc
    waiting = svc.db.all("SELECT id FROM recordings WHERE status <> 'ready'")
    assert not [accepted[r["id"]][:400] for r in waiting if r["id"] in accepted]

    for recording_id, body in accepted.items():
        replay = f"the batch {body[:400]!r} (FOOTAGE_FUZZ_SEED={SEED})"
        row = svc.db.one("SELECT status FROM recordings WHERE id = :id", {"id": recording_id})
        assert row is not None, replay
        get_recording(svc.db, alice.account_id, recording_id)
        recording = ready_recording(svc.db, alice.account_id, recording_id)
        events = events_of(svc.db, svc.blobs, recording_id)
        assert events, replay
        # The API's download and the player's pieces hold the same events.
        assert orjson.loads(b"".join(iter_events_json(svc.db, svc.blobs, recording_id))) == events
        from_pieces = []
        for piece in pieces_of(svc.db, recording_id):
            response = piece_response(svc.blobs, recording, piece, "identity", "")
            from_pieces += [orjson.loads(line) for line in response.body.split(b"\n") if line]
        assert from_pieces == events, replay
        for moment in moments_of(svc.db, recording_id):
            assert moment["at_ms"] >= 0, replay


ODD_EVENTS = [
    {"type": 5, "data": "a text where an object goes"},
    {"type": 5, "data": {"tag": ["footage.error"], "payload": "boom"}},
    {"type": 3, "data": {"source": [2], "type": 2, "id": 4, "x": 1, "y": 1}},
    {"type": 3, "data": {"source": 2, "type": [2], "id": 4, "x": 1, "y": 1}},
    {"type": 3, "data": {"source": 2, "type": 2, "id": 4, "x": 1e300, "y": -1e300}},
    {"type": 3, "data": {"source": 2, "type": 2, "id": 4, "x": 2**62, "y": "12"}},
    {"type": 3, "data": {"source": 4, "width": 1e30, "height": 1e308}},
    {"type": 3, "data": {"source": 3, "id": 1, "x": 0, "y": 1e40}},
    {"type": 4, "data": {"href": "https://alice.example/", "width": "wide", "height": None}},
]


@pytest.mark.parametrize("odd", ODD_EVENTS, ids=lambda e: repr(e["data"])[:40])
def test_an_odd_event_that_ingest_keeps_is_finalized_and_read_back(svc, alice, clock, odd):
    """Each of these made the finalizer raise (the summary, the heatmaps' analysis or their
    rows), so the recording was retried after every lease and never shown."""
    t = clock.now_ms()
    events = [meta(t), full_snapshot(t + 1), click(t + 100), {**odd, "timestamp": t + 200}]
    events.append(click(t + 300))
    rec = svc.ingest.accept(
        parse_batch(batch(alice.site_key, new_ids(), 0, events, left=True), t), VISIT
    )
    clock.advance(svc.settings.leave_grace_seconds + 1)
    assert svc.finalizer.run_once() == 1
    assert get_recording(svc.db, alice.account_id, rec.recording_id)["click_count"] >= 2
    stored = events_of(svc.db, svc.blobs, rec.recording_id)
    assert len(stored) == len(events)  # kept as it came


def test_a_page_address_urlsplit_refuses_is_finalized(svc, alice, clock):
    """An unclosed `[` in the host (no browser sends one; the fuzz test did): reading the
    campaign and the referrer from it raised ValueError('Invalid IPv6 URL') at finalize."""
    t = clock.now_ms()
    url = "https://al[ice.example/cart?utm_source=news&utm_medium=mail"
    events = [meta(t, url), full_snapshot(t + 1), click(t + 100)]
    body = batch(alice.site_key, new_ids(), 0, events, url=url, referrer="http://[::1/x", left=True)
    rec = svc.ingest.accept(parse_batch(body, t), VISIT)
    clock.advance(svc.settings.leave_grace_seconds + 1)
    assert svc.finalizer.run_once() == 1
    item = get_recording(svc.db, alice.account_id, rec.recording_id)
    assert item["utm"] == {"source": "news", "medium": "mail"}
    assert item["referrer"] == "http://[::1/x" and item["pages"][0]["url"] == url
    assert len(events_of(svc.db, svc.blobs, rec.recording_id)) == 3


def test_a_video_of_a_recording_with_an_odd_viewport_has_a_size():
    odd = [{"type": 4, "data": {"width": "wide", "height": 10**30}, "timestamp": 1}]
    assert video_size(odd, 1280) == video_size([], 1280)
    sized = [*odd, {"type": 4, "data": {"width": 390, "height": 844}, "timestamp": 2}]
    assert video_size(sized, 1280)[1] > video_size([], 1280)[1]  # the phone's, taller


def test_a_served_dashboard_shows_recordings_with_odd_events(live):
    """The same events sent to a served process: each recording becomes ready and its player
    page, its pieces, the list and the heatmaps answer 200."""
    account = make_account(live.services, "Alice", site_url="https://alice.example")
    db = live.services.db
    t = live.services.clock.now_ms()
    with live.client() as http:
        for odd in ODD_EVENTS:
            events = [meta(t), full_snapshot(t + 1), click(t + 100), {**odd, "timestamp": t + 200}]
            body = batch(account.site_key, new_ids(), 0, events, left=True)
            r = http.post("/api/v1/ingest", content=orjson.dumps(body), headers=ORIGIN)
            assert r.status_code == 200, r.text
        ready = "SELECT id FROM recordings WHERE status = 'ready'"
        ids = wait_for(lambda: len(found := db.all(ready)) == len(ODD_EVENTS) and found)
        login(http, "alice@example.com")
        assert http.get("/recordings").status_code == 200
        for row in ids:
            page = http.get(f"/recordings/{row['id']}")
            assert page.status_code == 200, page.text[:300]
            index = http.get(f"/recordings/{row['id']}/pieces")
            assert index.status_code == 200, index.text[:300]
            for n in range(len(index.json()["pieces"])):
                assert http.get(f"/recordings/{row['id']}/pieces/{n}").status_code == 200
        heatmaps = http.get("/heatmaps", params={"url": "https://alice.example/"})
        assert heatmaps.status_code == 200, heatmaps.text[:300]
