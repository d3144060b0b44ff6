"""One deletion path for retention and erasure: the features' rows through hooks, in the
deleting transaction, and no blob deleted while another row still points at it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection

from footage.accounts.service import NewAccount
from footage.app import Services
from footage.privacy.erase import erase_visitor
from footage.store.db import q
from footage.store.deletion import delete_blobs, delete_recordings
from tests.retention.world import Recording, blob_files, insert_recordings, violations


def test_erasure_keeps_a_blob_another_recording_still_points_at(
    svc: Services, alice: NewAccount
) -> None:
    t = svc.clock.now_ms()
    shared, segment = "legacy/shared.ndjson.zst", "segments/2026-11-18/low-count.zst"
    insert_recordings(
        svc.db,
        svc.blobs,
        alice,
        [
            Recording("r_erased", "ready", t, [(shared, 0, 3), (segment, 0, 3)]),
            Recording("r_other", "ready", t, [(shared, 3, 3), (segment, 3, 3)]),
        ],
        segments={segment: 1},  # two chunks point at it
        blob_bytes={shared: b"abcdef", segment: b"ghijkl"},
    )
    result = erase_visitor(
        svc.db, svc.blobs, svc.clock, alice.account_id, "vis-r_erased", "t", on_delete=()
    )
    assert (result["recordings"], result["chunks"], result["blobs"]) == (1, 2, 0)
    assert svc.blobs.exists(shared) and svc.blobs.exists(segment)
    assert svc.db.all("SELECT blob_key, live_chunks FROM segments") == [
        {"blob_key": segment, "live_chunks": 1}
    ]
    assert svc.db.all("SELECT * FROM blob_garbage") == []
    assert not violations(svc.db, svc.settings.data_path / "blobs")


def test_hooks_run_in_the_transaction_before_the_recordings_go(
    svc: Services, alice: NewAccount
) -> None:
    t = svc.clock.now_ms()
    insert_recordings(
        svc.db,
        svc.blobs,
        alice,
        [Recording("r_one", "ready", t, [("recordings/s/r_one.ndjson.zst", 0, 1)])],
        blob_bytes={"recordings/s/r_one.ndjson.zst": b"x"},
    )
    seen: list[tuple[list[str], int]] = []

    def counting(conn: Connection, ids: list[str]) -> None:
        [row] = q(conn, "SELECT COUNT(*) AS n FROM recordings WHERE id = 'r_one'")
        seen.append((ids, int(row["n"])))

    def failing(conn: Connection, ids: list[str]) -> None:
        raise RuntimeError("the feature's rows could not be removed")

    with pytest.raises(RuntimeError), svc.db.write() as conn:
        delete_recordings(conn, ["r_one"], t, on_delete=[counting, failing])
    assert seen == [(["r_one"], 1)]
    assert svc.db.one("SELECT id FROM recordings WHERE id = 'r_one'") is not None  # rolled back

    with svc.db.write() as conn:
        deleted = delete_recordings(conn, ["r_one"], t, on_delete=[counting])
    delete_blobs(svc.db, svc.blobs, deleted)
    assert (deleted.recordings, deleted.chunks, deleted.blobs) == (
        1,
        1,
        ["recordings/s/r_one.ndjson.zst"],
    )
    assert blob_files(Path(svc.settings.data_path / "blobs")) == set()
    assert svc.db.all("SELECT * FROM blob_garbage") == []
