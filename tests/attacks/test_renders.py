"""Attacks on MP4 renders of a real `footage serve` (issue 16, findings 1 (render side) and
2): a stored recording whose events span decades asked for as a video, and a replayed page
that makes the viewer's browser GET a download with the login cookie.

Each attack runs while Bob's site is in use (the Probe); every one of Bob's requests must be
answered within 500 ms throughout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from footage.accounts.audit import entries
from footage.app import Services, build_services
from tests.attacks.server import Probe, ServedFootage, serve
from tests.conftest import login, settings_for, wait_for
from tests.downloads.recording import record, wait_ready
from tests.downloads.stored import span_decades

RSS_GROWTH_MB = 300  # the most a render of any stored recording may add to the server
SIGTERM_EXIT_S = 40  # what an operator's `systemctl stop` waits before it kills
FOUR_HOURS_S = 4 * 3600


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[ServedFootage]:
    served = serve(tmp_path, database_url)
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def services(tmp_path: Path, served: ServedFootage) -> Iterator[Services]:
    """The served database and blob store, opened from the test (as an operator's tools do)."""
    svc = build_services(settings_for(tmp_path, database_url=served.database_url))
    try:
        yield svc
    finally:
        svc.db.dispose()


def ready_recording(served: ServedFootage) -> str:
    with served.client("127.0.0.5") as http:
        rid = record(http, served.alice, start=int(time.time() * 1000), seconds=2)
        wait_ready(http, served.alice, rid)
    return rid


def video(services: Services, rid: str) -> dict[str, Any] | None:
    return services.db.one("SELECT * FROM recording_videos WHERE recording_id = :r", {"r": rid})


def test_a_recording_spanning_decades_renders_a_bounded_video_and_stops_on_sigterm(
    served: ServedFootage, services: Services
) -> None:
    rid = ready_recording(served)
    span_decades(services, rid, years=30)  # stored before ingest bounded a recording's span
    rss_before = served.rss_mb()
    peak = rss_before
    with Probe(served) as probe, served.client() as http:
        asked = http.post(
            f"/api/v1/recordings/{rid}/video?width=320",
            headers={"Authorization": f"Bearer {served.alice.api_token}"},
        )
        assert asked.status_code == 202, asked.text

        def drawing() -> bool:
            nonlocal peak
            peak = max(peak, served.rss_mb())
            row = video(services, rid)
            # A heartbeat after the claim: the frames were counted and Chromium has the page.
            return bool(
                row and row["status"] == "rendering" and row["heartbeat_at"] > row["claimed_at"]
            )

        wait_for(drawing, timeout=30, interval=0.2)
        # It draws frames for a while: the schedule is a generator capped at 4 hours.
        settle = time.monotonic() + 4
        while time.monotonic() < settle:
            peak = max(peak, served.rss_mb())
            time.sleep(0.2)
        row = video(services, rid)
        assert row is not None and row["status"] == "rendering", row
    probe.assert_answered_within(0.5)
    assert served.alive()
    assert f"shows its first {FOUR_HOURS_S} s" in served.log()  # bounded, said in the log
    assert peak - rss_before < RSS_GROWTH_MB, (rss_before, peak)

    stopping = time.monotonic()
    served.stop()
    stopped_after = time.monotonic() - stopping
    assert served.process.returncode is not None and stopped_after < SIGTERM_EXIT_S
    # The render went back to the queue for the next start (not lost, not counted as a try).
    row = video(services, rid)
    assert row is not None and row["status"] == "queued" and row["attempts"] == 0, row
    print(
        f"decades recording: RSS {rss_before:.0f} → peak {peak:.0f} MB; "
        f"SIGTERM exit after {stopped_after:.1f} s; {probe.report()}"
    )


def test_a_get_with_the_login_cookie_starts_no_render_and_logs_nothing(
    served: ServedFootage, services: Services
) -> None:
    rid = ready_recording(served)
    # What a replayed `<img src=…>` (or `<video>`, `<iframe>`) makes the viewer's browser
    # send; and a plain GET of the same URLs, as a followed link would.
    urls = [
        f"{prefix}/recordings/{rid}/download?format={fmt}"
        for prefix in ("/api/v1", "")
        for fmt in ("mp4", "json", "html")
    ]
    with Probe(served) as probe, served.client("127.0.0.9") as http:
        login(http, "alice@example.com")
        embedded = [
            http.get(url, headers={"Sec-Fetch-Dest": dest})
            for url in urls
            for dest in ("image", "video", "iframe", "style")
        ]
        mp4 = [http.get(url) for url in urls if "mp4" in url]
    probe.assert_answered_within(0.5)
    assert all(r.status_code in (401, 403) for r in embedded), [
        (r.request.url, r.status_code) for r in embedded if r.status_code not in (401, 403)
    ]
    assert all(r.status_code == 409 for r in mp4), [r.text for r in mp4]
    assert video(services, rid) is None  # no render queued under the viewer's name
    audit = entries(services.db, served.alice.account_id)
    assert [e for e in audit if e["action"] == "recording.downloaded"] == []
    assert served.alive()
