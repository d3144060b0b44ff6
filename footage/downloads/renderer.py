"""The video render job: claims queued videos and renders them, one at a time per process.

`footage serve` and `footage worker` kick it on every background pass; it renders in its own
thread, so a long video never delays the finalizer. `run_once` renders in the caller's thread
(tests, `footage export`).
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from footage.clock import Clock
from footage.downloads import videos
from footage.downloads.export import events_json, html_file, parse_events
from footage.downloads.render import (
    FPS,
    VideoStopped,
    VideoUnavailable,
    frame_times,
    render_mp4,
    video_size,
)
from footage.errors import FootageError
from footage.recordings.queries import get_recording
from footage.store.blobs import BlobStore
from footage.store.db import Database

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
HEARTBEAT_S = 10.0  # well inside videos.STALE_AFTER_MS


def blob_key(job: dict[str, Any]) -> str:
    return f"videos/{job['recording_id']}/{job['id']}.mp4"


class VideoRenderer:
    def __init__(self, db: Database, blobs: BlobStore, clock: Clock) -> None:
        self.db, self.blobs, self.clock = db, blobs, clock
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def kick(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Start rendering in the background if a job waits and none renders here yet."""
        if self._thread is not None and self._thread.is_alive():
            return
        if self._stopping.is_set() or not videos.waiting(self.db, self.clock.now_ms()):
            return
        self._thread = threading.Thread(
            target=self.run_once,
            kwargs={"should_stop": lambda: should_stop() or self._stopping.is_set()},
            name="footage-video",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current frame; the job goes back to the queue."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Render every waiting job; returns how many became ready."""
        done = 0
        while not should_stop():
            job = videos.claim(self.db, self.clock.now_ms())
            if job is None:
                break
            if self.render(job, should_stop):
                done += 1
        return done

    def render(
        self,
        job: dict[str, Any],
        should_stop: Callable[[], bool] = lambda: False,
        progress: Progress | None = None,
    ) -> bool:
        """Render one claimed job and store the file; True when it is ready."""
        try:
            return self._render(job, should_stop, progress)
        except VideoStopped:
            videos.release(self.db, job)
            log.info("video %s: stopped; it goes back to the queue", job["id"])
            return False
        except (VideoUnavailable, FootageError) as exc:
            videos.fail(self.db, job, exc.message, self.clock.now_ms())
            log.warning("video %s failed: %s", job["id"], exc.message)
            return False
        except Exception as exc:
            videos.fail(self.db, job, f"rendering failed: {exc}", self.clock.now_ms())
            log.exception("video %s failed", job["id"])
            return False

    def _render(
        self, job: dict[str, Any], should_stop: Callable[[], bool], progress: Progress | None
    ) -> bool:
        options = videos.VideoOptions.from_key(job["options"])
        recording = get_recording(self.db, job["account_id"], job["recording_id"])
        events = events_json(self.db, self.blobs, job["recording_id"])
        parsed = parse_events(events)
        times = frame_times(parsed, options.skip_inactivity, FPS)
        html = html_file(recording, events, for_video=True)
        last, beat = -1, time.monotonic()

        def on_frame(done: int, total: int) -> bool:
            nonlocal last, beat
            # Encoding the last frames and storing the file is the last percent.
            percent = min(99, done * 100 // total)
            # A heartbeat with each percent, and at least every HEARTBEAT_S: one percent of an
            # hours-long recording takes longer than the takeover timeout.
            if percent != last or time.monotonic() - beat >= HEARTBEAT_S:
                last, beat = percent, time.monotonic()
                if progress is not None:
                    progress(percent)
                if not videos.heartbeat(self.db, job, percent, self.clock.now_ms()):
                    return False  # the recording was deleted, or another renderer took over
            return not should_stop()

        with tempfile.TemporaryDirectory(prefix="footage-mp4-") as tmp:
            out = Path(tmp) / "video.mp4"
            render_mp4(html, times, video_size(parsed, options.width), out, on_frame, FPS)
            data = out.read_bytes()
        key = blob_key(job)
        self.blobs.put(key, data)
        if not videos.finish(self.db, job, key, len(data), self.clock.now_ms()):
            self.blobs.delete(key)  # the recording went while we rendered: keep nothing of it
            return False
        if progress is not None:
            progress(100)
        log.info(
            "video %s of recording %s: %d frames, %d bytes",
            job["id"],
            job["recording_id"],
            len(times),
            len(data),
        )
        return True
