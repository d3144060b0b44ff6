"""Pure pieces of downloads: which moments become frames, video sizes, options, file names,
and the escaping that keeps recorded text inside the events' <script>."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Generator

import pytest

from footage.downloads.export import check_format, filename, script_json
from footage.downloads.render import frame_times, video_size
from footage.downloads.videos import VideoOptions
from footage.errors import BadRequest
from tests.conftest import click, meta


def test_frames_cover_the_real_duration_at_ten_per_second():
    events = [meta(1000), click(1000 + 2500)]
    times = list(frame_times(events, skip_inactivity=False, fps=10))
    assert times[0] == 0 and times[-1] == 2500
    assert len(times) == 26 and times[1] == 100


def test_skip_inactivity_keeps_one_second_of_each_idle_stretch():
    # Input at 0–1 s, nothing for 20 s, input again at 21 s, the end at 22 s.
    events = [meta(0), click(500), click(1000), click(21_000), click(22_000)]
    plain = list(frame_times(events, skip_inactivity=False, fps=10))
    skipped = list(frame_times(events, skip_inactivity=True, fps=10))
    assert len(plain) == 221
    # 1 s before the gap, 1 s kept of it, 1 s after: about 3 s of video.
    assert 29 <= len(skipped) <= 32
    assert not any(2100 < t < 21_000 for t in skipped)
    assert skipped[-1] == 22_000 and skipped == sorted(skipped)


def test_video_size_follows_the_recorded_screen_plus_the_url_bar():
    assert video_size([meta(0, width=1280, height=720)], 1280) == (1280, 756)
    assert video_size([meta(0, width=390, height=844)], 640) == (640, 1420)
    assert video_size([], 1280) == (1280, 756)


def test_options_are_checked_and_keyed_canonically():
    assert VideoOptions.parse(None, None) == VideoOptions(1280, False)
    assert VideoOptions.parse("641", "true") == VideoOptions(640, True)
    assert VideoOptions.parse("640", "true").key() == '{"skip_inactivity":true,"width":640}'
    for width in ("10", "99999", "wide", "-5"):
        with pytest.raises(BadRequest, match="320 to 3840"):
            VideoOptions.parse(width, None)
    with pytest.raises(BadRequest, match="true or false"):
        VideoOptions.parse(None, "maybe")


def test_format_and_filename():
    assert check_format(" JSON ") == "json"
    with pytest.raises(BadRequest) as bad:
        check_format("avi")
    assert bad.value.code == "bad_format" and "html, json, mp4" in bad.value.message
    rec = {"id": "rec_Ab-9_x", "started_at": "2026-11-29T14:05:33.120Z"}
    assert filename(rec, "mp4") == "recording-2026-11-29-1405-rec_Ab-9_x.mp4"


def test_script_json_escapes_what_could_end_the_script_and_stays_the_same_json():
    data = json.dumps([{"text": "</script><!-- & </SCRIPT>"}]).encode()
    safe = script_json(data)
    assert "<" not in safe and ">" not in safe and "&" not in safe
    assert json.loads(safe) == json.loads(data)


FOUR_HOURS_MS = 4 * 3600 * 1000
DECADES = 30 * 365 * 86_400_000


def test_a_recording_spanning_decades_gets_a_lazy_schedule_capped_at_four_hours():
    events = [meta(0), click(500), click(DECADES)]  # forged: the last click 30 years on
    schedule = frame_times(events, skip_inactivity=False, fps=10)
    assert isinstance(iter(schedule), Generator)  # lazy: never a list over the span
    tracemalloc.start()
    try:
        count = len(schedule)
        seen, last = 0, -1
        for moment in schedule:
            seen, last = seen + 1, moment
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Every frame of 4 h at 10 fps, plus the last, and no more: frames past the cap are not
    # rendered. A list of them would take megabytes; the generator takes a few hundred bytes.
    assert count == seen == FOUR_HOURS_MS // 100 + 1
    assert last == FOUR_HOURS_MS and schedule.capped
    assert peak < 64 * 1024, peak


def test_the_cap_is_the_configured_one_and_skip_inactivity_stays_within_it():
    events = [meta(0), click(500), click(30_000), click(DECADES)]
    one_minute = list(frame_times(events, skip_inactivity=False, fps=10, max_ms=60_000))
    assert len(one_minute) == 601 and one_minute[-1] == 60_000
    skipped = list(frame_times(events, skip_inactivity=True, fps=10, max_ms=60_000))
    assert skipped[-1] == 60_000 and skipped == sorted(skipped)
    assert len(skipped) < 60  # the idle stretches are cut, within the minute
    short = [meta(0), click(2500)]
    assert not frame_times(short, skip_inactivity=False, max_ms=60_000).capped
    assert list(frame_times([], skip_inactivity=False)) == [0]
