"""The video render job on both databases, with a frozen clock: claiming, takeover of a job
whose renderer died, and the video deleted with its recording (erasure and retention)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from footage.app import Services
from footage.clock import FrozenClock
from footage.downloads import videos
from footage.downloads.renderer import VideoRenderer
from footage.privacy.erase import erase_visitor
from footage.retention.sweeper import Retention
from tests.conftest import NewAccount, wait_for
from tests.retention.world import ready_recording

SMALL = videos.VideoOptions(width=320)


def queued(svc: Services, account: NewAccount, clock: FrozenClock, options=SMALL) -> dict:
    rid = ready_recording(svc, account, clock)
    return videos.request(svc.db, account.account_id, rid, options, "user:test", clock.now_ms())


def rendered(svc: Services, account: NewAccount, clock: FrozenClock) -> dict:
    job = queued(svc, account, clock)
    assert VideoRenderer(svc.db, svc.blobs, svc.clock).run_once() == 1
    done = videos.find(svc.db, account.account_id, job["recording_id"], SMALL)
    assert done is not None and done["status"] == "ready" and done["size"] > 1000
    assert svc.blobs.exists(done["blob_key"])
    return done


def test_asking_twice_gives_one_job_and_each_job_one_renderer(svc, alice, clock):
    first = queued(svc, alice, clock)
    again = videos.request(
        svc.db, alice.account_id, first["recording_id"], SMALL, "user:x", clock.now_ms()
    )
    other = videos.request(
        svc.db, alice.account_id, first["recording_id"], videos.VideoOptions(), "u", clock.now_ms()
    )
    assert again["id"] == first["id"] and other["id"] != first["id"]
    a = videos.claim(svc.db, clock.now_ms())
    b = videos.claim(svc.db, clock.now_ms())
    assert a and b and {a["id"], b["id"]} == {first["id"], other["id"]}
    assert videos.claim(svc.db, clock.now_ms()) is None
    assert a["claim"] != b["claim"]


def test_a_render_whose_process_died_is_taken_over_after_the_timeout(svc, alice, clock):
    job = queued(svc, alice, clock)
    dead = videos.claim(svc.db, clock.now_ms())
    assert dead and dead["id"] == job["id"]
    assert videos.heartbeat(svc.db, dead, 40, clock.now_ms())
    clock.advance(videos.STALE_AFTER_MS / 1000 - 1)
    assert videos.claim(svc.db, clock.now_ms()) is None  # still within its heartbeat
    clock.advance(2)
    assert videos.waiting(svc.db, clock.now_ms())
    again = videos.claim(svc.db, clock.now_ms())
    assert again and again["id"] == job["id"] and again["attempts"] == 2 and again["progress"] == 0
    # The dead renderer's claim is void: it can neither report nor finish.
    assert not videos.heartbeat(svc.db, dead, 50, clock.now_ms())
    assert not videos.finish(svc.db, dead, "videos/x.mp4", 1, clock.now_ms())
    for _ in range(videos.MAX_ATTEMPTS - 2):
        clock.advance(videos.STALE_AFTER_MS / 1000 + 1)
        assert videos.claim(svc.db, clock.now_ms())
    clock.advance(videos.STALE_AFTER_MS / 1000 + 1)
    assert videos.claim(svc.db, clock.now_ms()) is None  # it failed, rather than loop
    row = videos.find(svc.db, alice.account_id, job["recording_id"], SMALL)
    assert row["status"] == "failed" and "stopped" in row["error"]
    # Asking again queues it anew.
    assert (
        videos.request(svc.db, alice.account_id, job["recording_id"], SMALL, "u", clock.now_ms())[
            "status"
        ]
        == "queued"
    )


def test_a_stopped_renderer_gives_its_job_back(svc, alice, clock):
    job = queued(svc, alice, clock)
    renderer = VideoRenderer(svc.db, svc.blobs, svc.clock)
    claimed = videos.claim(svc.db, clock.now_ms())
    assert claimed is not None
    assert renderer.render(claimed, should_stop=lambda: True) is False
    row = videos.find(svc.db, alice.account_id, job["recording_id"], SMALL)
    assert row["status"] == "queued" and row["attempts"] == 0


def test_erasing_the_visitor_deletes_the_video(svc, alice, clock):
    video = rendered(svc, alice, clock)
    visitor = svc.db.one(
        "SELECT visitor_id FROM recordings WHERE id = :r", {"r": video["recording_id"]}
    )["visitor_id"]
    result = erase_visitor(svc.db, svc.blobs, svc.clock, alice.account_id, visitor, "user:t")
    assert result["recordings"] == 1
    assert not svc.blobs.exists(video["blob_key"])
    assert svc.db.one("SELECT COUNT(*) AS n FROM recording_videos")["n"] == 0
    assert svc.db.one("SELECT COUNT(*) AS n FROM blob_garbage")["n"] == 0


def test_retention_deletes_the_video_with_the_recording(svc, alice, clock):
    video = rendered(svc, alice, clock)
    kept = Retention(svc.db, svc.blobs, svc.plans, svc.clock)
    days = svc.plans.of("pro").retention_days
    assert kept.run_once(clock.now_ms())["recordings"] == 0
    assert svc.blobs.exists(video["blob_key"])  # kept as long as the recording
    gone = kept.run_once(clock.now_ms() + (days + 1) * 86_400_000)
    assert gone["recordings"] == 1 and gone["blobs"] >= 2  # the recording's blob and its video
    assert not svc.blobs.exists(video["blob_key"])
    assert svc.db.one("SELECT COUNT(*) AS n FROM recording_videos")["n"] == 0


def test_a_recording_deleted_while_rendering_keeps_no_video(svc, alice, clock):
    job = queued(svc, alice, clock)
    claimed = videos.claim(svc.db, clock.now_ms())
    assert claimed is not None
    visitor = svc.db.one(
        "SELECT visitor_id FROM recordings WHERE id = :r", {"r": job["recording_id"]}
    )["visitor_id"]
    erase_visitor(svc.db, svc.blobs, svc.clock, alice.account_id, visitor, "user:t")
    assert VideoRenderer(svc.db, svc.blobs, svc.clock).render(claimed) is False
    assert not svc.blobs.exists(f"videos/{job['recording_id']}/{job['id']}.mp4")


def test_footage_worker_renders_queued_videos_and_stops_on_sigterm(svc, alice, clock):
    # The worker lives in real time (its retention sweeper too): so does this recording.
    clock.advance(time.time() - clock.now_ms() / 1000)
    job = queued(svc, alice, clock)
    settings = svc.settings
    flags = ["--data-dir", str(settings.data_dir), "--finalizer-interval-seconds", "0.2"]
    if settings.database_url:
        flags += ["--database-url", settings.database_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTAGE_")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "footage", "worker", *flags],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(
            lambda: (
                videos.find(svc.db, alice.account_id, job["recording_id"], SMALL)["status"]
                == "ready"
            ),
            timeout=90,
            interval=0.2,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err.decode()
    row = videos.find(svc.db, alice.account_id, job["recording_id"], SMALL)
    assert svc.blobs.get(row["blob_key"])[4:8] == b"ftyp"  # an MP4 file
