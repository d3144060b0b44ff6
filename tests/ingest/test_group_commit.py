"""Group commit: concurrent batches share segments and transactions, fail one by one, and a
segment is deleted only with the last recording that uses it."""

from __future__ import annotations

import concurrent.futures
import json

import pytest

from footage.errors import Conflict
from footage.recordings.queries import iter_events_json
from tests.conftest import click, full_snapshot, meta, new_ids, wait_for
from tests.sessions.test_finalizer import send


def test_concurrent_batches_share_segments_and_fail_alone(svc, alice, clock):
    t = clock.now_ms()
    ended = new_ids()
    send(svc, alice.site_key, ended, 0, [meta(t), full_snapshot(t + 1)], left=True)
    clock.advance(11)
    assert svc.finalizer.run_once() == 1

    visitors = [new_ids() for _ in range(60)]

    def visit(i: int):
        if i == 30:  # a late batch for a page of the finished recording, in the same wave
            return send(svc, alice.site_key, ended, 1, [click(t + 5)])
        return send(
            svc,
            alice.site_key,
            visitors[i],
            0,
            [meta(t + i), full_snapshot(t + i + 1), click(t + i + 2)],
            left=True,
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
        futures = [pool.submit(visit, i) for i in range(60)]
    results = [f.exception() or f.result() for f in futures]
    assert isinstance(results[30], Conflict)
    ok = [r for i, r in enumerate(results) if i != 30]
    assert len({r.recording_id for r in ok}) == 59

    segments = svc.db.all("SELECT * FROM segments")
    assert 1 <= len(segments) < 59, "concurrent batches should have been grouped"
    assert sum(s["live_chunks"] for s in segments) == 59

    clock.advance(11)
    assert svc.finalizer.run_once() == 59
    assert svc.db.one("SELECT COUNT(*) AS n FROM segments")["n"] == 0
    assert list((svc.settings.data_path / "blobs" / "segments").rglob("*.zst")) == []
    for r in ok[:3]:
        events = json.loads(b"".join(iter_events_json(svc.db, svc.blobs, r.recording_id)))
        assert [e["type"] for e in events] == [4, 2, 3]


def test_a_segment_outlives_the_first_of_its_recordings(svc, alice, clock):
    """Two recordings in one segment: finalizing one must not delete the other's data."""
    from footage.ingest.group import Pending

    t = clock.now_ms()
    a, b = new_ids(), new_ids()
    writer = svc.ingest.writer
    # Hold the writer busy so both batches land in the same group.
    import threading

    gate, busy = threading.Event(), threading.Event()
    blocker = Pending(None, lambda conn, key, offset: (busy.set(), gate.wait(10)))
    threading.Thread(target=writer.submit, args=(blocker,), daemon=True).start()
    assert busy.wait(10)  # the writer is inside the blocker's group
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        fa = pool.submit(send, svc, alice.site_key, a, 0, [meta(t), full_snapshot(t + 1)])
        fb = pool.submit(send, svc, alice.site_key, b, 0, [meta(t), full_snapshot(t + 1)])
        # Both batches wait in the queue behind the blocker: they form one group.
        wait_for(lambda: writer._queue.qsize() >= 2, timeout=10, interval=0.01)
        gate.set()
    ra, rb = fa.result(), fb.result()
    [segment] = svc.db.all("SELECT * FROM segments")
    assert segment["live_chunks"] == 2
    send(svc, alice.site_key, a, 1, [], left=True)
    clock.advance(11)
    assert svc.finalizer.run_once() == 1  # only a has left
    assert svc.blobs.exists(segment["blob_key"])
    assert svc.db.one("SELECT live_chunks FROM segments")["live_chunks"] == 1
    clock.advance(60)
    assert svc.finalizer.run_once() == 1  # b timed out
    assert not svc.blobs.exists(segment["blob_key"])
    events = json.loads(b"".join(iter_events_json(svc.db, svc.blobs, rb.recording_id)))
    assert [e["type"] for e in events] == [4, 2]
    assert ra.recording_id != rb.recording_id


@pytest.mark.parametrize("failing", ["blob", "database"])
def test_a_failed_group_answers_every_batch_with_the_error(svc, alice, clock, monkeypatch, failing):
    if failing == "blob":
        monkeypatch.setattr(
            svc.blobs, "put", lambda *a: (_ for _ in ()).throw(OSError("disk full"))
        )
    else:

        def broken_write():
            raise RuntimeError("database unavailable")

        monkeypatch.setattr(svc.db, "write", broken_write)
    t = clock.now_ms()
    with pytest.raises((OSError, RuntimeError)):
        send(svc, alice.site_key, new_ids(), 0, [meta(t), full_snapshot(t + 1)])
    monkeypatch.undo()
    assert list((svc.settings.data_path / "blobs").rglob("segments/*/*.zst")) == []
    # The writer keeps working afterwards.
    assert send(svc, alice.site_key, new_ids(), 0, [meta(t), full_snapshot(t + 1)]).recording_id


def test_a_group_whose_batches_were_all_refused_leaves_no_segment(svc, alice, clock):
    t = clock.now_ms()
    ended = new_ids()
    send(svc, alice.site_key, ended, 0, [meta(t), full_snapshot(t + 1)], left=True)
    clock.advance(11)
    assert svc.finalizer.run_once() == 1
    with pytest.raises(Conflict):
        send(svc, alice.site_key, ended, 1, [click(t + 5)])  # alone in its group
    assert svc.db.one("SELECT COUNT(*) AS n FROM segments")["n"] == 0
    svc.finalizer.run_once()  # the sweeper deletes the unused segment blob
    assert list((svc.settings.data_path / "blobs" / "segments").rglob("*.zst")) == []
