"""Scheduled blob deletions survive crashes and are done by one sweeper."""

from footage.store import garbage


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
