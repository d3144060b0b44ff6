"""A retention sweeper killed with SIGKILL at different moments never leaves a chunk row without
its blob, nor a blob that nothing refers to; the next run finishes the job.

The sweeper runs in a real subprocess (a short script calling Retention.run_once for the kill
rounds, the `retention run` command for the final run) over thousands of recordings whose rows
and blobs are written directly. Every round's state is printed (`pytest -s` shows it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from footage.accounts.service import NewAccount
from footage.app import Services
from footage.clock import iso
from footage.retention.sweeper import Retention
from footage.store import garbage
from tests.retention.world import (
    DAY_MS,
    Recording,
    blob_files,
    insert_recordings,
    violations,
)

REPO = Path(__file__).resolve().parents[2]
READY, STUCK, SEGMENTS = 6000, 300, 60  # expired: 6,000 ready + 300 stuck live recordings
YOUNG_READY, YOUNG_LIVE = 100, 50  # kept: they share 50 of the 60 segments
KILL_AFTER_S = [0.05, 0.15, 0.4, 0.02, 0.1]

# Prints "go" once imports and connections are ready, so a kill delay is measured from the
# moment the sweeper starts working rather than from the interpreter's start.
SWEEP_SCRIPT = """
import sys
from pathlib import Path
from footage.accounts.plans import DEFAULT_PLANS
from footage.app import on_delete_hooks
from footage.retention.sweeper import Retention
from footage.store import Database, open_blob_store
db = Database(sys.argv[1])
db.one("SELECT 1")
blobs = open_blob_store(Path(sys.argv[2]))  # the data dir
sweeper = Retention(db, blobs, DEFAULT_PLANS, on_delete=on_delete_hooks())
print("go", flush=True)
print(sweeper.run_once(int(sys.argv[3])), flush=True)
"""


@dataclass
class World:
    expired: set[str]
    kept: set[str]
    chunks_of: dict[str, int]
    kept_keys: set[str]


def build_world(
    svc: Services, account: NewAccount, now: int, ready: int = READY, stuck: int = STUCK
) -> World:
    old, young = now - 12 * DAY_MS, now - DAY_MS
    site = account.site_id
    recs: list[Recording] = []
    data: dict[str, bytes] = {}
    for i in range(ready):
        key = f"recordings/{site}/r_old_{i}.ndjson.zst"
        recs.append(Recording(f"r_old_{i}", "ready", old + i, [(key, 0, 4)]))
        data[key] = b"old!"
    segment_keys = [f"segments/2026-11-06/seg_{j}.zst" for j in range(SEGMENTS)]
    fill = dict.fromkeys(segment_keys, 0)
    for i in range(stuck):  # two chunks each, in two different segments
        chunks = []
        for part in range(2):
            key = segment_keys[(2 * i + part) % SEGMENTS]
            chunks.append((key, 4 * fill[key], 4))
            fill[key] += 1
        recs.append(Recording(f"r_stuck_{i}", "live", old + i, chunks))
    for i in range(YOUNG_LIVE):
        key = segment_keys[i]
        recs.append(Recording(f"r_young_live_{i}", "live", young + i, [(key, 4 * fill[key], 4)]))
        fill[key] += 1
    for i in range(YOUNG_READY):
        key = f"recordings/{site}/r_young_{i}.ndjson.zst"
        recs.append(Recording(f"r_young_{i}", "ready", young + i, [(key, 0, 4)]))
        data[key] = b"new!"
    for key, n in fill.items():
        data[key] = b"seg!" * n
    insert_recordings(svc.db, svc.blobs, account, recs, segments=fill, blob_bytes=data)
    kept = {r.id for r in recs if r.created_at >= young}
    return World(
        expired={r.id for r in recs} - kept,
        kept=kept,
        chunks_of={r.id: len(r.chunks) for r in recs},
        kept_keys={k for r in recs if r.id in kept for k, _, _ in r.chunks},
    )


def check(svc: Services, world: World, root: Path) -> dict[str, int]:
    """The invariants after a kill; returns what the round left, for the report."""
    found = violations(svc.db, root)
    assert not found, found
    per_recording = {
        r["id"]: int(r["n"])
        for r in svc.db.all(
            "SELECT r.id, COUNT(c.seq) AS n FROM recordings r "
            "LEFT JOIN chunks c ON c.recording_id = r.id GROUP BY r.id"
        )
    }
    # A batch is one transaction: a recording is there with all its chunks, or gone.
    assert all(world.chunks_of[rec] == n for rec, n in per_recording.items())
    assert world.kept <= set(per_recording)
    pages = svc.db.one(
        "SELECT COUNT(*) AS n FROM recording_pages WHERE recording_id NOT IN "
        "(SELECT id FROM recordings)"
    )
    assert pages == {"n": 0}
    assert world.kept_keys <= blob_files(root)
    return {
        "recordings_left": len(per_recording),
        "scheduled_blobs": len(svc.db.all("SELECT blob_key FROM blob_garbage")),
        "blob_files": len(blob_files(root)),
    }


def test_sigkill_at_any_moment_keeps_rows_and_blobs_consistent(
    svc: Services, alice: NewAccount, tmp_path: Path
) -> None:
    now = svc.clock.now_ms()
    world = build_world(svc, alice, now)
    root = svc.settings.data_path / "blobs"
    assert check(svc, world, root)["recordings_left"] == READY + STUCK + YOUNG_READY + YOUNG_LIVE
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rounds: list[dict[str, float | int]] = []
    for delay in KILL_AFTER_S:
        proc = subprocess.Popen(
            [sys.executable, "-c", SWEEP_SCRIPT, svc.db.url, str(svc.settings.data_path), str(now)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "go", proc.stderr.read() if proc.stderr else ""
        time.sleep(delay)
        still_running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        state = check(svc, world, root)
        rounds.append({"kill_after_s": delay, "killed_mid_run": int(still_running), **state})
    print("\nkill rounds:", json.dumps(rounds, indent=1))
    # Each kill must have hit a sweeper at work, not one already done: otherwise the rounds
    # tested nothing (raise READY if a machine is so fast that this fails).
    assert all(r["killed_mid_run"] for r in rounds)
    assert rounds[-1]["recordings_left"] > len(world.kept)

    # The real command finishes the job; the blob sweeper then removes what kills left.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "footage",
            "retention",
            "run",
            "--json",
            "--now",
            str(iso(now)),
            "--data-dir",
            str(svc.settings.data_path),
            "--database-url",
            svc.db.url,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["now"] == iso(now) and result["recordings"] > 0
    check(svc, world, root)
    assert {r["id"] for r in svc.db.all("SELECT id FROM recordings")} == world.kept
    while garbage.sweep(svc.db, svc.blobs, svc.clock.now_ms() + 3_600_000, 60_000):
        pass
    assert svc.db.all("SELECT * FROM blob_garbage") == []
    assert blob_files(root) == world.kept_keys
    assert not violations(svc.db, root)
    segments = {r["blob_key"]: r["live_chunks"] for r in svc.db.all("SELECT * FROM segments")}
    assert segments == {k: 1 for k in world.kept_keys if k.startswith("segments/")}


# Stops the sweeper at one named moment and waits there to be killed, so each dangerous moment
# is hit for sure (the timed rounds above hit them by chance).
PHASE_SCRIPT = """
import sys, time
from pathlib import Path
from footage.accounts.plans import DEFAULT_PLANS
from footage.app import on_delete_hooks
from footage.retention import sweeper
from footage.store import Database, deletion, garbage, open_blob_store
from footage.store.blobs import LocalBlobStore
phase = sys.argv[4]

def wait_here():
    print(phase, flush=True)
    time.sleep(120)

if phase == "rows_deleted_not_committed":
    real_release = deletion.release_segments
    def release(*args, **kwargs):
        result = real_release(*args, **kwargs)
        wait_here()
        return result
    deletion.release_segments = release
elif phase == "committed_no_blob_deleted":
    garbage.delete_now = lambda *args: wait_here()
elif phase == "some_blobs_deleted":
    real_delete, calls = LocalBlobStore.delete, []
    def delete(self, key):
        real_delete(self, key)
        calls.append(key)
        if len(calls) == 100:
            wait_here()
    LocalBlobStore.delete = delete
db = Database(sys.argv[1])
blobs = open_blob_store(Path(sys.argv[2]))
sweeper.Retention(db, blobs, DEFAULT_PLANS, on_delete=on_delete_hooks()).run_once(int(sys.argv[3]))
print("finished", flush=True)
"""


@pytest.mark.parametrize(
    "phase", ["rows_deleted_not_committed", "committed_no_blob_deleted", "some_blobs_deleted"]
)
def test_sigkill_at_each_dangerous_moment(svc: Services, alice: NewAccount, phase: str) -> None:
    now = svc.clock.now_ms()
    world = build_world(svc, alice, now, ready=900, stuck=100)
    root = svc.settings.data_path / "blobs"
    files_before = blob_files(root)
    proc = subprocess.Popen(
        [sys.executable, "-c", PHASE_SCRIPT, svc.db.url, str(svc.settings.data_path), str(now)]
        + [phase],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == phase, proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)

    state = check(svc, world, root)
    first_batch = 500  # recordings, in created_at order: 400 ready and 100 stuck live ones
    if phase == "rows_deleted_not_committed":  # rolled back: as if it never ran
        assert state["recordings_left"] == len(world.expired) + len(world.kept)
        assert state["scheduled_blobs"] == 0 and blob_files(root) == files_before
    elif phase == "committed_no_blob_deleted":  # every blob of the batch is scheduled
        assert state["recordings_left"] == len(world.expired) + len(world.kept) - first_batch
        assert blob_files(root) == files_before
        assert state["scheduled_blobs"] == 410  # 400 merged blobs, 10 segments released
    else:  # deleted blobs' rows may stay scheduled (deleting twice is harmless)
        assert state["recordings_left"] == len(world.expired) + len(world.kept) - first_batch
        assert state["blob_files"] == len(files_before) - 100
        # The schedule's rows go after the blobs, up to 500 in one statement: all 410 stay.
        assert state["scheduled_blobs"] == 410

    Retention(svc.db, svc.blobs, svc.plans, svc.clock, on_delete=svc.on_delete).run_once(now)
    check(svc, world, root)
    while garbage.sweep(svc.db, svc.blobs, svc.clock.now_ms() + 3_600_000, 60_000):
        pass
    assert {r["id"] for r in svc.db.all("SELECT id FROM recordings")} == world.kept
    assert blob_files(root) == world.kept_keys
    assert not violations(svc.db, root)
