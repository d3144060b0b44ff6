"""Scheduled blob deletions survive crashes and are done by one sweeper."""

from footage.store import garbage
from footage.store.chunks import release_segments
from footage.store.db import sql_text


def test_scheduled_blobs_are_swept_and_a_dead_sweepers_claim_expires(svc, clock):
    for i in range(3):
        svc.blobs.put(f"chunks/s/p/{i}.ndjson.zst", b"x")
    with svc.db.write() as conn:
        garbage.schedule(conn, [f"chunks/s/p/{i}.ndjson.zst" for i in range(3)], clock.now_ms())
    # A sweeper claims them and dies before deleting anything.
    svc.db.run("UPDATE blob_garbage SET claimed_at = :t", {"t": clock.now_ms()})
    assert garbage.sweep(svc.db, svc.blobs, clock.now_ms(), lease_ms=60_000) == 0
    assert svc.blobs.exists("chunks/s/p/0.ndjson.zst")
    clock.advance(61)
    assert garbage.sweep(svc.db, svc.blobs, clock.now_ms(), lease_ms=60_000) == 3
    assert not any(svc.blobs.exists(f"chunks/s/p/{i}.ndjson.zst") for i in range(3))
    assert svc.db.one("SELECT COUNT(*) AS n FROM blob_garbage")["n"] == 0
    assert garbage.sweep(svc.db, svc.blobs, clock.now_ms(), lease_ms=60_000) == 0


def test_releasing_thousands_of_segments_frees_exactly_the_unused_ones(svc, clock):
    # A 4-hour recording's chunks lie in ~2,000 segments, more than one IN list holds.
    now = clock.now_ms()
    keys = [f"segments/2026-12-05/{i:05d}.zst" for i in range(1_200)]
    # Each segment: 1 or 2 of this recording's chunks; every third also holds another
    # recording's chunk.
    mine = {key: 1 + i % 2 for i, key in enumerate(keys)}
    live = {key: mine[key] + (1 if i % 3 == 0 else 0) for i, key in enumerate(keys)}
    with svc.db.write() as conn:
        conn.execute(
            sql_text(
                "INSERT INTO segments (blob_key, live_chunks, created_at) VALUES (:k, :n, :t)"
            ),
            [{"k": key, "n": n, "t": now} for key, n in live.items()],
        )
    merged = "recordings/s/r_long.ndjson.zst"
    chunks = [{"blob_key": key} for key, n in mine.items() for _ in range(n)]
    chunks += [{"blob_key": merged}] * 3  # the merged blob is no segment
    chunks += [{"blob_key": "segments/2026-12-05/gone.zst"}]  # its row is already gone
    with svc.db.write() as conn:
        unused = release_segments(conn, chunks, merged, now)
    expected = sorted(
        [key for i, key in enumerate(keys) if i % 3 != 0] + ["segments/2026-12-05/gone.zst"]
    )
    assert sorted(unused) == expected
    left = svc.db.all("SELECT blob_key, live_chunks FROM segments ORDER BY blob_key")
    assert left == [{"blob_key": key, "live_chunks": 1} for i, key in enumerate(keys) if i % 3 == 0]
    scheduled = svc.db.all("SELECT blob_key FROM blob_garbage ORDER BY blob_key")
    assert [row["blob_key"] for row in scheduled] == expected


def test_blobs_deleted_now_leave_the_schedule_and_a_failed_one_stays(svc, clock, monkeypatch):
    keys = [f"chunks/s/p/{i:04d}.ndjson.zst" for i in range(1_100)]
    for key in keys:
        svc.blobs.put(key, b"x")
    with svc.db.write() as conn:
        garbage.schedule(conn, keys + keys[:5], clock.now_ms())  # twice is once
    failing = keys[7]
    delete = svc.blobs.delete

    def flaky(key):
        if key == failing:
            raise OSError("the store did not answer")
        delete(key)

    monkeypatch.setattr(svc.blobs, "delete", flaky)
    garbage.delete_now(svc.db, svc.blobs, keys)
    assert [k for k in keys if svc.blobs.exists(k)] == [failing]
    assert svc.db.all("SELECT blob_key FROM blob_garbage") == [{"blob_key": failing}]
    monkeypatch.setattr(svc.blobs, "delete", delete)
    assert garbage.sweep(svc.db, svc.blobs, clock.now_ms(), lease_ms=60_000) == 1
    assert not svc.blobs.exists(failing)
    assert svc.db.one("SELECT COUNT(*) AS n FROM blob_garbage")["n"] == 0
