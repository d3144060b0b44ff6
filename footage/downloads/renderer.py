"""The video render job: claims queued videos and renders them, one at a time per process.

`footage serve` and `footage worker` kick it on every background pass; it renders in its own
thread, so a long video never delays the finalizer. `run_once` renders in the caller's thread
(tests, `footage export`).

Every render is bounded: its frames never cover more than the recording cap
(`max_recording_seconds`), it is stopped and failed past `video_render_timeout_seconds`, and
it looks about every second whether it was cancelled or the process is stopping.
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
    MAX_MS,
    VideoStopped,
    VideoUnavailable,
    frame_times,
    render_mp4,
    video_size,
)
from footage.errors import FootageError
from footage.recordings.queries import get_recording
from footage.settings import Settings
from footage.store.blobs import BlobStore
from footage.store.db import Database

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
HEARTBEAT_S = 10.0  # well inside videos.STALE_AFTER_MS
CHECK_S = 1.0  # how often a render looks whether it was cancelled: a cancel stops it this fast
TIME_LIMIT_S = 1800.0  # video_render_timeout_seconds' default


class VideoTimedOut(FootageError):
    """The render ran past its time limit: it fails with the reason and is not retried."""

    status, code = 503, "video_timed_out"


def blob_key(job: dict[str, Any]) -> str:
    return f"videos/{job['recording_id']}/{job['id']}.mp4"


class VideoRenderer:
    def __init__(
        self, db: Database, blobs: BlobStore, clock: Clock, settings: Settings | None = None
    ) -> None:
        self.db, self.blobs, self.clock = db, blobs, clock
        self.max_ms = int(settings.max_recording_seconds * 1000) if settings else MAX_MS
        self.time_limit_s = settings.video_render_timeout_seconds if settings else TIME_LIMIT_S
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
            job = videos.claim(self.db, self.clock.now_ms(), time_limit_ms=self.time_limit_ms)
            if job is None:
                break
            if self.render(job, should_stop):
                done += 1
        return done

    @property
    def time_limit_ms(self) -> int:
        return int(self.time_limit_s * 1000)

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
            # Stopping (shutdown): back to the queue. Cancelled, deleted or taken over: the
            # claim is void already and this changes nothing.
            videos.release(self.db, job)
            log.info("video %s: stopped (cancelled, deleted or shutting down)", job["id"])
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
        times = frame_times(parsed, options.skip_inactivity, FPS, self.max_ms)
        if times.capped:
            log.warning(
                "video %s: the recording spans more than %d s; the video shows its first %d s",
                job["id"],
                self.max_ms // 1000,
                self.max_ms // 1000,
            )
        html = html_file(recording, events, for_video=True, max_ms=self.max_ms)
        size = video_size(parsed, options.width)
        del events, parsed  # the page holds them now; a long render need not keep them too
        started = time.monotonic()
        last, beat, checked = -1, started, started

        def on_frame(done: int, total: int) -> bool:
            nonlocal last, beat, checked
            now = time.monotonic()
            if now - started > self.time_limit_s:
                raise VideoTimedOut(videos.time_limit_error(self.time_limit_ms))
            if should_stop():
                return False
            # Encoding the last frames and storing the file is the last percent.
            percent = min(99, done * 100 // max(1, total))
            # A heartbeat with each percent, and at least every HEARTBEAT_S: one percent of an
            # hours-long recording takes longer than the takeover timeout.
            if percent != last or now - beat >= HEARTBEAT_S:
                last, beat, checked = percent, now, now
                if progress is not None:
                    progress(percent)
                # False: cancelled, the recording was deleted, or another renderer took over.
                return videos.heartbeat(self.db, job, percent, self.clock.now_ms())
            if now - checked >= CHECK_S:
                checked = now
                return videos.still_claimed(self.db, job)
            return True

        with tempfile.TemporaryDirectory(prefix="footage-mp4-") as tmp:
            out = Path(tmp) / "video.mp4"
            render_mp4(html, times, size, out, on_frame, FPS)
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
