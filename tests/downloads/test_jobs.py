"""The video render job on both databases, with a frozen clock: claiming, takeover of a job
whose renderer died, and the video deleted with its recording (erasure and retention)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest

from footage.app import Services
from footage.clock import FrozenClock
from footage.downloads import videos
from footage.downloads.renderer import VideoRenderer
from footage.privacy.erase import erase_visitor
from footage.retention.sweeper import Retention
from tests.conftest import NewAccount, click, make_account, wait_for
from tests.downloads.stored import add_chunk, span_decades
from tests.downloads.test_api import ffprobe_duration
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
    result = erase_visitor(
        svc.db, svc.blobs, svc.clock, alice.account_id, visitor, "user:t", on_delete=svc.on_delete
    )
    assert result["recordings"] == 1
    assert not svc.blobs.exists(video["blob_key"])
    assert svc.db.one("SELECT COUNT(*) AS n FROM recording_videos")["n"] == 0
    assert svc.db.one("SELECT COUNT(*) AS n FROM blob_garbage")["n"] == 0


def test_retention_deletes_the_video_with_the_recording(svc, alice, clock):
    video = rendered(svc, alice, clock)
    kept = Retention(svc.db, svc.blobs, svc.plans, svc.clock, on_delete=svc.on_delete)
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
    erase_visitor(
        svc.db, svc.blobs, svc.clock, alice.account_id, visitor, "user:t", on_delete=svc.on_delete
    )
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


# ---- bounded renders (issue 16): per-account limit, fair turns, cancel, time limit, cap ----


@pytest.fixture
def carol(svc: Services) -> NewAccount:
    """Another account whose site is recorded on the same origin as Alice's (the helpers
    record from https://alice.example)."""
    return make_account(svc, "Carol", site_url="https://alice.example")


def test_an_account_has_at_most_its_limit_of_renders_queued_or_running(svc, alice, carol, clock):
    first, second, third = (ready_recording(svc, alice, clock) for _ in range(3))

    def ask(account: NewAccount, rid: str) -> dict:
        return videos.request(
            svc.db, account.account_id, rid, SMALL, "user:t", clock.now_ms(), limit=2
        )

    ask(alice, first)
    running = videos.claim(svc.db, clock.now_ms())
    assert running is not None  # a running render counts as much as a queued one
    ask(alice, second)
    with pytest.raises(videos.TooManyRenders) as refused:
        ask(alice, third)
    assert refused.value.status == 429 and refused.value.code == "too_many_videos"
    assert "at most 2 at once" in refused.value.message and "cancel" in refused.value.message
    assert ask(alice, second)["status"] == "queued"  # asking again for one it has is fine
    assert ask(carol, ready_recording(svc, carol, clock))["status"] == "queued"  # her own limit
    assert videos.find(svc.db, alice.account_id, third, SMALL) is None
    videos.cancel(svc.db, alice.account_id, first, SMALL, "user:t", clock.now_ms())
    assert ask(alice, third)["status"] == "queued"  # a cancelled render frees its place


def test_the_queue_takes_turns_between_accounts(svc, alice, carol, clock):
    a1, a2 = (queued(svc, alice, clock) for _ in range(2))
    clock.advance(1)
    b1 = queued(svc, carol, clock)  # asked for last
    order = [videos.claim(svc.db, clock.now_ms())["id"] for _ in range(3)]
    # Not first come, first served over all accounts: Carol's render comes before Alice's
    # second one, since Alice's first started.
    assert order == [a1["id"], b1["id"], a2["id"]]
    assert videos.claim(svc.db, clock.now_ms()) is None


def test_a_cancelled_render_fails_with_the_reason_and_its_renderer_loses_it(svc, alice, clock):
    waiting_job = queued(svc, alice, clock)
    row = videos.cancel(
        svc.db, alice.account_id, waiting_job["recording_id"], SMALL, "user:u1", clock.now_ms()
    )
    assert row["status"] == "failed" and row["error"] == "cancelled by user:u1"
    assert videos.claim(svc.db, clock.now_ms()) is None
    running = queued(svc, alice, clock)
    claimed = videos.claim(svc.db, clock.now_ms())
    assert claimed is not None and claimed["id"] == running["id"]
    assert videos.still_claimed(svc.db, claimed)
    videos.cancel(svc.db, alice.account_id, running["recording_id"], SMALL, "token:t1", 0)
    assert not videos.still_claimed(svc.db, claimed)
    assert not videos.heartbeat(svc.db, claimed, 10, clock.now_ms())
    assert not videos.finish(svc.db, claimed, "videos/x.mp4", 1, clock.now_ms())
    videos.release(svc.db, claimed)  # what a stopped renderer does: it stays cancelled
    clock.advance(videos.STALE_AFTER_MS / 1000 + 1)
    assert videos.claim(svc.db, clock.now_ms()) is None  # and it is never retried


def long_recording(svc: Services, alice: NewAccount, clock: FrozenClock, seconds: int) -> str:
    rid = ready_recording(svc, alice, clock)
    first = svc.db.one("SELECT MIN(first_ts) AS t FROM chunks WHERE recording_id = :r", {"r": rid})
    add_chunk(svc, rid, [click(int(first["t"]) + seconds * 1000)])
    return rid


def test_a_running_render_stops_within_seconds_when_cancelled(svc, alice, clock):
    rid = long_recording(svc, alice, clock, seconds=120)  # 1,200 frames: minutes to draw
    job = videos.request(svc.db, alice.account_id, rid, SMALL, "user:t", clock.now_ms())
    renderer = VideoRenderer(svc.db, svc.blobs, svc.clock, svc.settings)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(renderer.run_once()), daemon=True)
    thread.start()
    wait_for(
        lambda: videos.find(svc.db, alice.account_id, rid, SMALL)["progress"] >= 1,
        timeout=90,
        interval=0.2,
    )
    cancelled_at = time.monotonic()
    videos.cancel(svc.db, alice.account_id, rid, SMALL, "user:t", clock.now_ms())
    thread.join(timeout=60)
    stopped_after = time.monotonic() - cancelled_at
    assert not thread.is_alive() and result == [0]
    # CHECK_S (1 s) to notice, a frame, and closing the browser; generous on a busy machine.
    print(f"cancelled render stopped after {stopped_after:.1f} s")
    assert stopped_after < 15, stopped_after
    row = videos.find(svc.db, alice.account_id, rid, SMALL)
    assert row["status"] == "failed" and row["error"].startswith("cancelled")
    assert not svc.blobs.exists(f"videos/{rid}/{job['id']}.mp4")


def test_a_render_past_its_time_limit_fails_with_the_reason_and_is_not_retried(svc, alice, clock):
    rid = long_recording(svc, alice, clock, seconds=120)
    videos.request(svc.db, alice.account_id, rid, SMALL, "user:t", clock.now_ms())
    limited = replace(svc.settings, video_render_timeout_seconds=2.0)
    renderer = VideoRenderer(svc.db, svc.blobs, svc.clock, limited)
    started = time.monotonic()
    assert renderer.run_once() == 0
    assert time.monotonic() - started < 60  # stopped, not drawn for minutes
    row = videos.find(svc.db, alice.account_id, rid, SMALL)
    assert row["status"] == "failed"
    assert "took longer than 2 s" in row["error"] and "video_render_timeout_seconds" in row["error"]
    clock.advance(videos.STALE_AFTER_MS / 1000 + 1)
    assert videos.claim(svc.db, clock.now_ms(), time_limit_ms=2000) is None


def test_a_crashed_render_that_had_run_past_the_limit_is_failed_not_retried(svc, alice, clock):
    job = queued(svc, alice, clock)
    crashed = videos.claim(svc.db, clock.now_ms())
    assert crashed is not None
    clock.advance(30)
    assert videos.heartbeat(svc.db, crashed, 50, clock.now_ms())  # then the process died
    clock.advance(videos.STALE_AFTER_MS / 1000 + 1)
    assert videos.claim(svc.db, clock.now_ms(), time_limit_ms=20_000) is None
    row = videos.find(svc.db, alice.account_id, job["recording_id"], SMALL)
    assert row["status"] == "failed" and "took longer than 20 s" in row["error"]


def test_a_recording_spanning_decades_renders_no_more_than_the_cap(svc, alice, clock, tmp_path):
    rid = ready_recording(svc, alice, clock)
    span_decades(svc, rid)
    videos.request(svc.db, alice.account_id, rid, SMALL, "user:t", clock.now_ms())
    capped = replace(svc.settings, max_recording_seconds=3.0)
    assert VideoRenderer(svc.db, svc.blobs, svc.clock, capped).run_once() == 1
    row = videos.find(svc.db, alice.account_id, rid, SMALL)
    path = tmp_path / "capped.mp4"
    path.write_bytes(svc.blobs.get(row["blob_key"]))
    assert abs(ffprobe_duration(path) - 3.0) < 0.5  # 30 years recorded, 3 s (the cap) drawn
