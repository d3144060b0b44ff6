"""Rendering a recording to MP4: headless Chromium (Debian's, never a downloaded one) steps
the replay frame by frame, ffmpeg (Debian's) encodes the screenshots.

Each frame is drawn at its own moment of the recording (`footageFrames.show(ms)` in
web/src/frames.ts), so the video has the recording's real duration however fast or slow the
machine draws. The page is the HTML download with a frame renderer instead of the player; it
may load nothing from the network (every request but the page itself is refused), so the server
never contacts an address found in a recording.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from footage.chromium import CHROMIUM_ARGS, chromium_path
from footage.errors import FootageError
from footage.rrweb import INACTIVE_AFTER_MS, META, data_of, is_activity

FPS = 10
# The longest recording a video shows: the recording cap's default (`max_recording_seconds`);
# the renderer passes the configured cap.
MAX_MS = 4 * 3600 * 1000
NICE = 10  # Chromium's and ffmpeg's CPU priority, below the server's (0)
URL_BAR = 36  # px, the page's URL bar above the replay (video.html)
# An idle stretch (longer than INACTIVE_AFTER_MS without visitor activity, as the player and
# the summary's active time define it) is cut down to this when skip_inactivity is on.
KEEP_IDLE_MS = 1000
# A video frame is the page alone: no scrollbars, no sound.
VIDEO_ARGS = [*CHROMIUM_ARGS, "--hide-scrollbars", "--mute-audio"]
MISSING = (
    "MP4 needs chromium and ffmpeg on the server ({what} not found); install them with "
    "scripts/install, or on Debian/Ubuntu: apt-get install chromium ffmpeg"
)


class Frames(Protocol):
    """What render_mp4 draws: the frames' moments, counted without listing them."""

    def __iter__(self) -> Iterator[int]: ...

    def __len__(self) -> int: ...


class VideoUnavailable(FootageError):
    status, code = 503, "video_unavailable"


def check_tools() -> None:
    """Raise VideoUnavailable, naming what is missing, unless MP4s can be made here."""
    missing = [
        name for name, path in (("chromium", chromium_path()), ("ffmpeg", _ffmpeg())) if not path
    ]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package (pip install 'footage[video]')")
    if missing:
        raise VideoUnavailable(MISSING.format(what=" and ".join(missing)))


def _ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


class FrameSchedule:
    """The recording moments (ms from its first event) of the video's frames, produced lazily.

    Plain: every 1/fps s from the start to the end. With skip_inactivity, idle stretches longer
    than INACTIVE_AFTER_MS keep only their first KEEP_IDLE_MS (the page still settles, visibly).

    Never more than `max_ms` of the recording (the recording cap, `max_recording_seconds`):
    a recording whose timestamps span years (forged, or stored before the cap) still makes a
    bounded video, and the schedule is a generator, so its memory does not grow with the span.
    """

    def __init__(
        self,
        events: list[dict[str, Any]],
        skip_inactivity: bool,
        fps: int = FPS,
        max_ms: int = MAX_MS,
    ) -> None:
        self.step = 1000 / fps
        self.cuts: list[tuple[int, int]] = []
        self.capped = False
        self._count: int | None = None
        if not events:
            self.total = 0
            return
        first = min(int(e["timestamp"]) for e in events)
        span = max(int(e["timestamp"]) for e in events) - first
        self.total = min(span, max(0, int(max_ms)))
        self.capped = span > self.total
        if skip_inactivity:
            inputs = sorted(int(e["timestamp"]) - first for e in events if is_activity(e))
            last = 0
            for moment in [*(m for m in inputs if m <= self.total), self.total]:
                if moment - last > INACTIVE_AFTER_MS:
                    self.cuts.append((last + KEEP_IDLE_MS, moment))
                last = max(last, moment)

    def __iter__(self) -> Iterator[int]:
        shift = 0.0  # recording time skipped so far
        cut = 0  # the next cut that may still lie ahead (cuts are sorted and apart)
        i = 0
        last = -1
        while True:
            t = i * self.step + shift
            while cut < len(self.cuts) and self.cuts[cut][1] <= t:
                cut += 1
            if cut < len(self.cuts) and self.cuts[cut][0] <= t:
                shift += self.cuts[cut][1] - t
                t = self.cuts[cut][1]
                cut += 1
            if t > self.total:
                break
            last = round(t)
            yield last
            i += 1
        if last < self.total:
            yield self.total  # the last frame shows the end

    def __len__(self) -> int:
        """How many frames (counted once, without keeping them: at most the cap's)."""
        if self._count is None:
            self._count = sum(1 for _ in self)
        return self._count


def frame_times(
    events: list[dict[str, Any]], skip_inactivity: bool, fps: int = FPS, max_ms: int = MAX_MS
) -> FrameSchedule:
    """The frames' moments of a recording (see FrameSchedule); iterate it, never list it."""
    return FrameSchedule(events, skip_inactivity, fps, max_ms)


def _positive(value: Any) -> bool:
    """A viewport's width or height as the recorder sends it: a finite number above 0."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1_000_000


def video_size(events: list[dict[str, Any]], width: int) -> tuple[int, int]:
    """The video's size: `width` wide, the recorded viewport's shape plus the URL bar; even."""
    meta = next(
        (
            data_of(e)
            for e in events
            if e.get("type") == META
            and _positive(data_of(e).get("width"))
            and _positive(data_of(e).get("height"))
        ),
        {"width": 1280, "height": 720},
    )
    height = round(width * meta["height"] / meta["width"]) + URL_BAR
    height = max(120, min(height, width * 3))  # a very tall phone screen stays watchable
    return width, height // 2 * 2


def render_mp4(
    html: bytes,
    times: Frames,
    size: tuple[int, int],
    out: Path,
    on_frame: Callable[[int, int], bool],
    fps: int = FPS,
) -> None:
    """Draw `times` frames of the page `html` and encode them into `out` (MP4, H.264).

    `on_frame(done, total)` is called after each frame, and about every second while the page
    loads (done = 0); returning False stops the render (VideoStopped is raised), and what it
    raises (a render past its time limit) ends the render with that error.

    Runs in a thread of its own: Playwright's sync API refuses a thread where an asyncio loop
    runs (a caller inside the server's loop, or another Playwright session).
    """
    check_tools()
    failure: list[BaseException] = []

    def run() -> None:
        _lower_priority()
        try:
            _render(html, times, size, out, on_frame, fps)
        except BaseException as exc:  # noqa: BLE001 — handed to the caller's thread below
            failure.append(exc)

    worker = threading.Thread(target=run, name="footage-video-render", daemon=True)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def _render(
    html: bytes,
    times: Frames,
    size: tuple[int, int],
    out: Path,
    on_frame: Callable[[int, int], bool],
    fps: int,
) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="footage-video-") as tmp:
        page_file = Path(tmp) / "recording.html"
        page_file.write_bytes(html)
        page_url = page_file.as_uri()
        encoder = _ffmpeg_process(out, fps)
        assert encoder.stdin is not None
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium_path(), args=VIDEO_ARGS)
                try:
                    context = browser.new_context(
                        viewport={"width": size[0], "height": size[1]},
                        java_script_enabled=True,
                        service_workers="block",
                    )
                    context.route(
                        "**/*",
                        lambda route: (
                            route.continue_() if route.request.url == page_url else route.abort()
                        ),
                    )
                    page = context.new_page()
                    # A background job on a busy machine: slow is fine, only stuck is not.
                    page.set_default_timeout(120_000)
                    total = len(times)
                    page.goto(page_url, wait_until="commit")
                    _wait_until_ready(page, lambda: on_frame(0, total))
                    for done, ms in enumerate(times, start=1):
                        page.evaluate("ms => window.footageFrames.show(ms)", ms)
                        encoder.stdin.write(page.screenshot(type="jpeg", quality=85))
                        if not on_frame(done, total):
                            raise VideoStopped()
                finally:
                    browser.close()
            encoder.stdin.close()
            if encoder.wait(timeout=600) != 0:
                error = encoder.stderr.read().decode(errors="replace") if encoder.stderr else ""
                raise RuntimeError(f"ffmpeg failed: {error.strip()[-300:]}")
        finally:
            if encoder.poll() is None:
                encoder.kill()
                encoder.wait()


def _wait_until_ready(page: Any, go_on: Callable[[], bool], limit_s: float = 120.0) -> None:
    """Wait for the frame renderer to have read the events, in short waits: a stop or a time
    limit is noticed within about a second even while a big recording loads."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + limit_s
    while True:
        if not go_on():
            raise VideoStopped()
        try:
            # A function, not an expression: the page's policy forbids eval, which Playwright
            # uses to poll an expression once the first look finds nothing.
            page.wait_for_function(
                "() => document.body && document.body.dataset.state", timeout=1000
            )
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the recording did not load in the renderer within {limit_s:.0f} s"
                ) from None
            continue
        state = page.evaluate("document.body.dataset.state")
        if state != "ready":
            raise RuntimeError("the recording could not be replayed (no events to show)")
        return


class VideoStopped(Exception):
    """The render was stopped (shutdown, or the job was taken away)."""


def _lower_priority() -> None:
    """Run this thread, and so what it starts (Playwright's driver, Chromium, ffmpeg: children
    inherit it), at a lower CPU priority. A render is background work; the server's requests
    share the machine's cores with it. (On Linux the nice value is per thread.)"""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


def _ffmpeg_process(out: Path, fps: int) -> subprocess.Popen[bytes]:
    ffmpeg = _ffmpeg()
    assert ffmpeg is not None
    return subprocess.Popen(
        [
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "image2pipe",
            "-framerate",
            str(fps),
            "-c:v",
            "mjpeg",
            "-i",
            "-",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "23",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            str(out),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
