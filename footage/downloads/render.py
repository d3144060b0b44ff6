"""Rendering a recording to MP4: headless Chromium (Debian's, never a downloaded one) steps
the replay frame by frame, ffmpeg (Debian's) encodes the screenshots.

Each frame is drawn at its own moment of the recording (`footageFrames.show(ms)` in
web/src/frames.ts), so the video has the recording's real duration however fast or slow the
machine draws. The page is the HTML download with a frame renderer instead of the player; it
may load nothing from the network (every request but the page itself is refused), so the server
never contacts an address found in a recording.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from footage.errors import FootageError

FPS = 10
URL_BAR = 36  # px, the page's URL bar above the replay (video.html)
# An idle stretch longer than this (no mouse, scroll, input or touch) is cut down to
# KEEP_IDLE_MS when skip_inactivity is on; the same threshold as the player's.
INACTIVE_MS = 5000
KEEP_IDLE_MS = 1000
INPUT_SOURCES = {1, 2, 3, 4, 5, 6}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--mute-audio",
]
MISSING = (
    "MP4 needs chromium and ffmpeg on the server ({what} not found); install them with "
    "scripts/install, or on Debian/Ubuntu: apt-get install chromium ffmpeg"
)


class VideoUnavailable(FootageError):
    status, code = 503, "video_unavailable"


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def check_tools() -> None:
    """Raise VideoUnavailable, naming what is missing, unless MP4s can be made here."""
    missing = [
        name for name, path in (("chromium", chromium_path()), ("ffmpeg", _ffmpeg())) if not path
    ]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package")
    if missing:
        raise VideoUnavailable(MISSING.format(what=" and ".join(missing)))


def _ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


def frame_times(events: list[dict[str, Any]], skip_inactivity: bool, fps: int = FPS) -> list[int]:
    """The recording moment (ms from its first event) of every frame of the video.

    Plain: every 1/fps s from the start to the end. With skip_inactivity, idle stretches longer
    than INACTIVE_MS keep only their first KEEP_IDLE_MS (the page still settles, visibly).
    """
    if not events:
        return [0]
    first = min(int(e["timestamp"]) for e in events)
    total = max(int(e["timestamp"]) for e in events) - first
    step = 1000 / fps
    cuts: list[tuple[int, int]] = []
    if skip_inactivity:
        inputs = sorted(
            int(e["timestamp"]) - first
            for e in events
            if e.get("type") == 3 and (e.get("data") or {}).get("source") in INPUT_SOURCES
        )
        last = 0
        for moment in [*inputs, total]:
            if moment - last > INACTIVE_MS:
                cuts.append((last + KEEP_IDLE_MS, moment))
            last = max(last, moment)
    times: list[int] = []
    shift = 0.0  # recording time skipped so far
    i = 0
    while True:
        t = i * step + shift
        for start, end in cuts:
            if start <= t < end:
                shift += end - t
                t = end
        if t > total:
            break
        times.append(round(t))
        i += 1
    if not times or times[-1] < total:
        times.append(total)  # the last frame shows the end
    return times


def video_size(events: list[dict[str, Any]], width: int) -> tuple[int, int]:
    """The video's size: `width` wide, the recorded viewport's shape plus the URL bar; even."""
    meta = next(
        (
            e["data"]
            for e in events
            if e.get("type") == 4
            and (e.get("data") or {}).get("width", 0) > 0
            and (e.get("data") or {}).get("height", 0) > 0
        ),
        {"width": 1280, "height": 720},
    )
    height = round(width * meta["height"] / meta["width"]) + URL_BAR
    height = max(120, min(height, width * 3))  # a very tall phone screen stays watchable
    return width, height // 2 * 2


def render_mp4(
    html: bytes,
    times: list[int],
    size: tuple[int, int],
    out: Path,
    on_frame: Callable[[int, int], bool],
    fps: int = FPS,
) -> None:
    """Draw `times` frames of the page `html` and encode them into `out` (MP4, H.264).

    `on_frame(done, total)` is called after each frame; returning False stops the render
    (VideoStopped is raised).

    Runs in a thread of its own: Playwright's sync API refuses a thread where an asyncio loop
    runs (a caller inside the server's loop, or another Playwright session).
    """
    check_tools()
    failure: list[BaseException] = []

    def run() -> None:
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
    times: list[int],
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
                browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
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
                    page.goto(page_url)
                    page.wait_for_function("document.body.dataset.state === 'ready'")
                    for done, ms in enumerate(times, start=1):
                        page.evaluate("ms => window.footageFrames.show(ms)", ms)
                        encoder.stdin.write(page.screenshot(type="jpeg", quality=85))
                        if not on_frame(done, len(times)):
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


class VideoStopped(Exception):
    """The render was stopped (shutdown, or the job was taken away)."""


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
