"""Retention with a frozen clock: what is kept until when, what goes, and with which blobs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from footage.accounts.plans import parse_plans
from footage.accounts.service import NewAccount, create_account
from footage.app import Services, build_services
from footage.clock import FrozenClock
from footage.ingest.writer import RecordingCaps
from footage.recordings.queries import iter_events_json
from footage.retention.sweeper import Retention
from footage.store import Database, garbage
from tests.conftest import batch, full_snapshot, make_account, meta, new_ids, settings_for
from tests.retention.world import (
    DAY_MS,
    Recording,
    blob_files,
    created_at,
    insert_recordings,
    keys_of,
    live_recording,
    next_batch,
    ready_recording,
    rows_of,
    send_in_one_segment,
    snapshot,
    status,
    violations,
)

# No conversation is old enough in these tests (tests/retention/test_conversations.py).
NO_CONVERSATIONS = {"conversations": 0, "messages": 0}
ZEROS = {"recordings": 0, "chunks": 0, "blobs": 0, **NO_CONVERSATIONS}
GONE = {"recordings": 0, "recording_pages": 0, "chunks": 0}
ONE = {"recordings": 1, "recording_pages": 1, "chunks": 1}


def retention(svc: Services) -> Retention:
    return Retention(svc.db, svc.blobs, svc.plans, svc.clock, on_delete=svc.on_delete)


def blob_root(svc: Services) -> Path:
    return svc.settings.data_path / "blobs"


def events(svc: Services, recording_id: str) -> list[int]:
    data = b"".join(iter_events_json(svc.db, svc.blobs, recording_id))
    return [e["type"] for e in json.loads(data)]


def test_a_recording_is_kept_until_its_retention_then_deleted_with_its_blob(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    bob = make_account(svc, "Bob")  # no site URL: any origin may send
    old = ready_recording(svc, alice, clock)
    t = created_at(svc, old)
    [old_key] = keys_of(svc.db, old)
    assert old_key == f"recordings/{alice.site_id}/{old}.ndjson.zst"
    assert (blob_root(svc) / old_key).is_file()
    clock.advance(DAY_MS / 1000)
    younger = [ready_recording(svc, alice, clock), ready_recording(svc, bob, clock)]
    usage_before = svc.db.all("SELECT * FROM usage_counters ORDER BY account_id")
    before = snapshot(svc.db)

    clock.advance((t + 10 * DAY_MS - 1000 - clock.now_ms()) / 1000)
    assert retention(svc).run_once(clock.now_ms()) == ZEROS
    assert snapshot(svc.db) == before and (blob_root(svc) / old_key).is_file()

    clock.advance(2)  # T + 10 days + 1 s
    assert retention(svc).run_once(clock.now_ms()) == {
        "recordings": 1,
        "chunks": 1,
        "blobs": 1,
        **NO_CONVERSATIONS,
    }
    assert rows_of(svc.db, old) == GONE
    assert not (blob_root(svc) / old_key).exists()
    assert svc.db.all("SELECT * FROM blob_garbage") == []
    # The visitor may come back, and the month's usage still counts the deleted recording.
    assert len(svc.db.all("SELECT * FROM visitors")) == 3
    assert svc.db.all("SELECT * FROM usage_counters ORDER BY account_id") == usage_before
    for rec in younger:
        assert rows_of(svc.db, rec) == ONE
        assert events(svc, rec) == [4, 2, 3]
    assert not violations(svc.db, blob_root(svc))


def test_exactly_at_the_boundary_is_expired_one_ms_before_is_not(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    rec = ready_recording(svc, alice, clock)
    expires = created_at(svc, rec) + 10 * DAY_MS
    assert retention(svc).run_once(expires - 1) == ZEROS
    assert rows_of(svc.db, rec) == ONE
    assert retention(svc).run_once(expires)["recordings"] == 1
    assert rows_of(svc.db, rec) == GONE


def test_running_again_deletes_nothing_more(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    first = ready_recording(svc, alice, clock)
    clock.advance(3600)
    second = ready_recording(svc, alice, clock)
    now = created_at(svc, first) + 10 * DAY_MS
    assert retention(svc).run_once(now) == {
        "recordings": 1,
        "chunks": 1,
        "blobs": 1,
        **NO_CONVERSATIONS,
    }
    after = snapshot(svc.db)
    files = blob_files(blob_root(svc))
    assert retention(svc).run_once(now) == ZEROS
    assert snapshot(svc.db) == after and blob_files(blob_root(svc)) == files
    assert rows_of(svc.db, second) == ONE


PLANS = {
    "short": {"monthly_limit": 1000, "retention_days": 2},
    "long": {"monthly_limit": 2000, "retention_days": 30},
}


@pytest.fixture
def svc_plans(tmp_path: Path, clock: FrozenClock, database_url: str) -> Iterator[Services]:
    """Services whose server offers the PLANS (ingest records for them)."""
    settings = settings_for(tmp_path, database_url=database_url, plans=json.dumps(PLANS))
    services = build_services(settings, clock)
    yield services
    services.db.dispose()


def account_on(svc: Services, name: str, plan: str) -> NewAccount:
    return create_account(
        svc.db,
        svc.clock,
        name=name,
        plan=plan,
        email=f"{name}@example.com",
        password="correct horse battery",
        plans=svc.plans,
    )


def test_each_account_keeps_recordings_as_long_as_its_plan_says(
    svc_plans: Services, clock: FrozenClock
) -> None:
    svc = svc_plans
    short, long = account_on(svc, "short", "short"), account_on(svc, "long", "long")
    dropped = account_on(svc, "dropped", "long")
    recs = {acc.account_id: ready_recording(svc, acc, clock) for acc in (short, long, dropped)}
    # The operator removed this account's plan: its recordings are kept the longest offered.
    svc.db.run("UPDATE accounts SET plan = 'gone' WHERE id = :a", {"a": dropped.account_id})
    t = max(created_at(svc, rec) for rec in recs.values())
    sweeper = Retention(svc.db, svc.blobs, parse_plans(PLANS), clock, on_delete=svc.on_delete)

    assert sweeper.run_once(t + 2 * DAY_MS)["recordings"] == 1
    assert status(svc, recs[short.account_id]) is None
    assert status(svc, recs[long.account_id]) == status(svc, recs[dropped.account_id]) == "ready"
    assert sweeper.run_once(t + 30 * DAY_MS - 60_000)["recordings"] == 0
    assert sweeper.run_once(t + 30 * DAY_MS)["recordings"] == 2
    assert svc.db.all("SELECT * FROM recordings") == []
    assert blob_files(blob_root(svc)) == set()


def test_a_live_recording_sharing_a_segment_stays_and_a_stuck_one_goes_a_day_later(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    # A recording left live for ten days would end at the 4-hour cap (its next batch refused):
    # here it must still take that batch.
    svc.ingest.caps = RecordingCaps(max_ms=30 * DAY_MS)
    expired = ready_recording(svc, alice, clock)  # its own merged blob, shares nothing
    stuck, stuck_ids = live_recording(svc, alice, clock)  # never finished
    t_expired, t_stuck = created_at(svc, expired), created_at(svc, stuck)
    clock.advance(10 * DAY_MS / 1000)
    # Ten days later the stuck recording's tab sends once more, in the same group as a new
    # visitor's first batch: the two chunks share one segment.
    now = clock.now_ms()
    young_first = batch(alice.site_key, new_ids(), 0, [meta(now), full_snapshot(now + 1)])
    got = send_in_one_segment(svc, [next_batch(alice, stuck_ids, 1, now), young_first])
    young = got[1]
    assert got[0] == stuck and young != stuck
    [segment] = [s for s in svc.db.all("SELECT * FROM segments") if s["live_chunks"] == 2]
    shared = segment["blob_key"]
    stuck_keys = keys_of(svc.db, stuck)
    assert shared in stuck_keys and keys_of(svc.db, young) == {shared}

    # The finished one expires at T + 10 d; the live one is kept a day longer.
    assert retention(svc).run_once(t_expired + 10 * DAY_MS) == {
        "recordings": 1,
        "chunks": 1,
        "blobs": 1,
        **NO_CONVERSATIONS,
    }
    assert rows_of(svc.db, expired) == GONE and status(svc, stuck) == "live"
    assert retention(svc).run_once(t_stuck + 11 * DAY_MS - 1) == ZEROS

    assert retention(svc).run_once(t_stuck + 11 * DAY_MS) == {
        "recordings": 1,
        "chunks": 2,
        "blobs": 1,  # its first segment; the shared one still holds the young chunk
        **NO_CONVERSATIONS,
    }
    assert rows_of(svc.db, stuck) == GONE
    assert svc.db.one("SELECT live_chunks FROM segments WHERE blob_key = :k", {"k": shared}) == {
        "live_chunks": 1
    }
    assert svc.blobs.exists(shared)
    assert not any(svc.blobs.exists(k) for k in stuck_keys - {shared})
    assert events(svc, young) == [4, 2]
    assert status(svc, young) == "live"
    assert not violations(svc.db, blob_root(svc))


def test_a_stuck_recording_being_finalized_leaves_no_blob_behind(
    svc: Services, alice: NewAccount, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retention lands while a finalizer merges the recording: the merged blob the finalizer
    writes afterwards is scheduled, and swept once the finalizer's lease has passed."""
    rec, _ = live_recording(svc, alice, clock)
    clock.advance(11 * DAY_MS / 1000)
    [(claimed, claimed_at)] = svc.finalizer.claim_due()
    assert claimed == rec and status(svc, rec) == "finalizing"
    merged = f"recordings/{alice.site_id}/{rec}.ndjson.zst"
    real_put = svc.blobs.put
    results: list[dict[str, int]] = []

    def put_after_retention(key: str, data: bytes) -> None:
        if key == merged:  # the finalizer has read the chunks; now retention commits
            results.append(retention(svc).run_once(clock.now_ms()))
        real_put(key, data)

    monkeypatch.setattr(svc.blobs, "put", put_after_retention)
    assert svc.finalizer.finalize(rec, claimed_at) is False
    assert results == [
        {"recordings": 1, "chunks": 1, "blobs": 1, **NO_CONVERSATIONS}
    ]  # the segment
    assert svc.blobs.exists(merged)  # written after the deletion, but scheduled
    assert not violations(svc.db, blob_root(svc))
    lease = svc.finalizer.timings.lease_ms
    assert garbage.sweep(svc.db, svc.blobs, clock.now_ms(), lease) == 0
    clock.advance(lease / 1000 + 1)
    assert garbage.sweep(svc.db, svc.blobs, clock.now_ms(), lease) == 1
    assert blob_files(blob_root(svc)) == set()
    assert svc.db.all("SELECT * FROM blob_garbage") == []


def test_a_blob_another_row_still_points_at_is_never_deleted(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    """Guards beyond the normal bookkeeping: a non-segment blob that two recordings point at,
    and a segment whose live count is too low, both outlive the expired recording."""
    t = clock.now_ms()
    shared, segment = "legacy/shared.ndjson.zst", "segments/2026-11-18/low-count.zst"
    insert_recordings(
        svc.db,
        svc.blobs,
        alice,
        [
            Recording("r_old", "ready", t, [(shared, 0, 3), (segment, 0, 3)]),
            Recording("r_young", "ready", t + DAY_MS, [(shared, 3, 3), (segment, 3, 3)]),
        ],
        segments={segment: 1},  # two chunks point at it
        blob_bytes={shared: b"abcdef", segment: b"ghijkl"},
    )
    assert retention(svc).run_once(t + 10 * DAY_MS) == {
        "recordings": 1,
        "chunks": 2,
        "blobs": 0,
        **NO_CONVERSATIONS,
    }
    assert svc.blobs.exists(shared) and svc.blobs.exists(segment)
    assert svc.db.all("SELECT blob_key, live_chunks FROM segments") == [
        {"blob_key": segment, "live_chunks": 1}
    ]
    assert svc.db.all("SELECT * FROM blob_garbage") == []
    assert rows_of(svc.db, "r_young")["chunks"] == 2
    assert not violations(svc.db, blob_root(svc))
    # Once the last user expires, both go.
    assert retention(svc).run_once(t + 11 * DAY_MS) == {
        "recordings": 1,
        "chunks": 2,
        "blobs": 2,
        **NO_CONVERSATIONS,
    }
    assert blob_files(blob_root(svc)) == set()


def test_two_sweepers_at_once_share_the_work_and_delete_each_recording_once(
    svc: Services, alice: NewAccount, clock: FrozenClock
) -> None:
    t = clock.now_ms() - 20 * DAY_MS
    recs = [
        Recording(f"r_{i:04d}", "ready", t + i, [(f"recordings/x/r_{i:04d}.zst", 0, 1)])
        for i in range(600)
    ]
    insert_recordings(
        svc.db, svc.blobs, alice, recs, blob_bytes={r.chunks[0][0]: b"x" for r in recs}
    )
    keep = ready_recording(svc, alice, clock)
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        db = Database(svc.db.url)  # its own engine, as a second process would have
        try:
            sweeper = Retention(
                db, svc.blobs, svc.plans, clock, batch_size=50, on_delete=svc.on_delete
            )
            results.append(sweeper.run_once(clock.now_ms()))
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(r["recordings"] for r in results) == 600
    assert sum(r["blobs"] for r in results) == 600
    assert [r["id"] for r in svc.db.all("SELECT id FROM recordings")] == [keep]
    assert blob_files(blob_root(svc)) == keys_of(svc.db, keep)
    assert not violations(svc.db, blob_root(svc))


def test_an_empty_database_gives_zeros(svc: Services) -> None:
    assert retention(svc).run_once(svc.clock.now_ms()) == ZEROS
    make_account(svc, "Carol")
    assert retention(svc).run_once(svc.clock.now_ms() + 365 * DAY_MS) == ZEROS
