"""The finalizer's `on_ready` hooks: the features' rows are written in the transaction that
makes a recording ready, so they appear with it or not at all."""

from __future__ import annotations

from sqlalchemy import Connection

from footage.accounts.service import NewAccount
from footage.app import Services
from footage.clock import FrozenClock
from footage.sessions.finalizer import Finalizer
from footage.sessions.ready import OnReady, ReadyRecording, ReadyRows
from footage.sessions.summary import Moment
from footage.store.db import q
from tests.conftest import click, full_snapshot, meta, new_ids
from tests.sessions.test_finalizer import send


def finalizer_with(svc: Services, clock: FrozenClock, *hooks: OnReady) -> Finalizer:
    return Finalizer(
        svc.db, svc.blobs, clock, svc.finalizer.timings, on_ready=[*svc.finalizer.on_ready, *hooks]
    )


def finished_recording(svc: Services, alice: NewAccount, clock: FrozenClock) -> str:
    ids, t = new_ids(), clock.now_ms()
    events = [meta(t), full_snapshot(t + 1), click(t + 100)]
    rec = send(svc, alice.site_key, ids, 0, events, left=True).recording_id
    assert rec is not None
    clock.advance(11)
    return str(rec)


def test_a_hook_that_fails_leaves_the_recording_unfinished_and_unchanged(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    rec = finished_recording(svc, alice, clock)
    chunks = svc.db.all("SELECT blob_key FROM chunks WHERE recording_id = :r", {"r": rec})

    def broken(ready: ReadyRecording) -> ReadyRows:
        def write(conn: Connection) -> None:
            q(conn, "UPDATE recordings SET entry_url = 'half-written' WHERE id = :r", r=ready.id)
            raise RuntimeError("the feature's table is gone")

        return ReadyRows(write)

    assert finalizer_with(svc, clock, broken).run_once() == 0
    row = svc.db.one("SELECT status, entry_url FROM recordings WHERE id = :r", {"r": rec})
    assert row is not None and row["status"] == "finalizing" and row["entry_url"] != "half-written"
    assert svc.db.all("SELECT blob_key FROM chunks WHERE recording_id = :r", {"r": rec}) == chunks
    assert svc.db.all("SELECT * FROM recording_moments WHERE recording_id = :r", {"r": rec}) == []
    assert svc.db.all("SELECT * FROM heatmap_cells") == []  # the heatmaps' hook rolled back too


def test_a_hook_sees_the_recording_and_adds_rows_and_moments_with_it(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    rec = finished_recording(svc, alice, clock)
    seen: list[ReadyRecording] = []

    def tagging(ready: ReadyRecording) -> ReadyRows:
        seen.append(ready)

        def write(conn: Connection) -> None:
            status = q(conn, "SELECT status FROM recordings WHERE id = :r", r=ready.id)
            assert status == [{"status": "finalizing"}]  # in the transaction, before "ready"

        return ReadyRows(write, [Moment("event", ready.events[-1]["timestamp"], "tagged")])

    assert finalizer_with(svc, clock, tagging).run_once() == 1
    [ready] = seen
    assert ready.id == rec and ready.site_id == alice.site_id
    assert [e["type"] for e in ready.events] == [4, 2, 3] and ready.event_pages == [0, 0, 0]
    assert ready.pages == [(ready.events[0]["timestamp"], "https://alice.example/")]
    moments = svc.db.all(
        "SELECT kind, name FROM recording_moments WHERE recording_id = :r", {"r": rec}
    )
    assert {"kind": "event", "name": "tagged"} in moments
    assert {"kind": "page", "name": "https://alice.example/"} in moments
