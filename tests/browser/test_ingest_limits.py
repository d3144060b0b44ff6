"""The recorder under the server's limits, in real Chromium on the demo shop:

- rate limited (429 + Retry-After): it waits as asked, keeps its batches, and loses none;
- a recording at its size cap (409 recording_limit_reached): it starts a new recording (a new
  session beginning with a full snapshot) for the rest of the visit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import start_demo
from tests.conftest import LiveServer, wait_for

pytestmark = pytest.mark.browser

# Four big DOM changes: each one fills a batch (256 KB), so they leave within a second.
MARKERS = ["alpha", "bravo", "charlie", "delta"]


@pytest.fixture
def rate_limited(tmp_path: Path) -> Iterator[LiveServer]:
    # One batch every 2 s per address, no burst beyond one.
    server, _ = start_demo(tmp_path, ingest_ip_rate=0.5, ingest_ip_burst=1)
    yield server
    server.stop()


@pytest.fixture
def size_capped(tmp_path: Path) -> Iterator[LiveServer]:
    server, _ = start_demo(tmp_path, max_recording_bytes=400_000)
    yield server
    server.stop()


def until(page: Any, predicate: Any, timeout: float) -> Any:
    """wait_for, letting Playwright deliver its events (responses) while it waits."""
    return wait_for(lambda: page.wait_for_timeout(100) or predicate(), timeout=timeout)


def open_shop(browser: Any, base: str) -> tuple[Any, Any, list[tuple[int, str]]]:
    """The demo shop with the recorder running; returns (context, page, ingest answers)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    answers: list[tuple[int, str]] = []
    page.on(
        "response",
        lambda r: (
            answers.append((r.status, r.headers.get("retry-after", "")))
            if r.url.endswith("/api/v1/ingest")
            else None
        ),
    )
    page.goto(f"{base}/demo/")
    page.wait_for_function("typeof window.footage === 'function' && !window.footage.q")
    page.mouse.move(300, 300)
    page.mouse.move(400, 350, steps=5)
    until(page, lambda: any(status == 200 for status, _ in answers), timeout=15)
    return context, page, answers


def add_big_text(page: Any, marker: str) -> None:
    """A change of the page that rrweb records as one ~300 KB mutation."""
    page.evaluate(
        """(marker) => {
            const p = document.createElement('p');
            p.textContent = marker + ' ' + 'x'.repeat(300000);
            document.body.appendChild(p);
        }""",
        marker,
    )


def recorded_text(server: LiveServer, recording_id: str) -> str:
    from footage.store.chunks import decode_chunk

    svc = server.services
    chunks = svc.db.all(
        "SELECT blob_key, blob_offset, blob_length FROM chunks WHERE recording_id = :r",
        {"r": recording_id},
    )
    lines = []
    for c in chunks:
        lines += decode_chunk(svc.blobs.get(c["blob_key"], c["blob_offset"], c["blob_length"]))
    return b"\n".join(lines).decode()


def test_rate_limited_recorder_waits_and_loses_nothing(browser, rate_limited):
    server = rate_limited
    context, page, answers = open_shop(browser, server.url)
    for marker in MARKERS:
        add_big_text(page, marker)
        page.wait_for_timeout(50)
    # The server refuses most of them at first, then takes one every 2 s as they come back.
    until(page, lambda: any(status == 429 for status, _ in answers), timeout=15)
    db = server.services.db
    rec = wait_for(lambda: db.one("SELECT id FROM recordings"), timeout=15)
    until(page, lambda: all(m in recorded_text(server, rec["id"]) for m in MARKERS), timeout=40)
    refused = [a for a in answers if a[0] == 429]
    assert refused and all(retry in ("1", "2") for _, retry in refused)
    # Every batch arrived, once, in order: the page view's seq numbers have no gap.
    seqs = [r["seq"] for r in db.all("SELECT seq FROM chunks ORDER BY seq")]
    assert seqs == list(range(len(seqs))) and len(seqs) >= 1 + len(MARKERS)
    # Waiting as asked: after each 429 the next batch left no sooner than Retry-After said.
    timings = page.evaluate(
        """() => performance.getEntriesByType('resource')
            .filter((e) => e.name.endsWith('/api/v1/ingest'))
            .map((e) => [e.startTime, e.responseEnd, e.responseStatus])"""
    )
    assert [t[2] for t in timings] == [a[0] for a in answers][: len(timings)]
    waits = [
        (later[0] - t[1], int(retry) * 1000)
        for t, later, (_, retry) in zip(timings, timings[1:], answers, strict=False)
        if t[2] == 429
    ]
    assert waits and all(waited >= asked for waited, asked in waits), waits
    context.close()


def test_recording_at_its_size_cap_is_continued_by_a_new_one(browser, size_capped):
    server = size_capped
    context, page, answers = open_shop(browser, server.url)
    for marker in MARKERS[:2]:
        add_big_text(page, marker)
        page.wait_for_timeout(300)
    # The second change takes the recording past 400 KB: it ends, and a new one begins.
    until(page, lambda: any(status == 409 for status, _ in answers), timeout=15)
    db = server.services.db
    recs = until(
        page,
        lambda: (
            (rows := db.all("SELECT * FROM recordings ORDER BY created_at"))
            and len(rows) == 2
            and rows
        ),
        timeout=20,
    )
    first, second = recs
    page.mouse.move(200, 200, steps=5)
    page.close(run_before_unload=True)
    context.close()
    # The first recording is finished and kept whole; the rest of the visit is the second.
    assert first["visitor_id"] == second["visitor_id"]
    assert first["session_id"] != second["session_id"]
    assert first["raw_bytes"] <= 400_000
    wait_for(
        lambda: (
            db.one("SELECT status FROM recordings WHERE id = :r", {"r": first["id"]})["status"]
            == "ready"
        ),
        timeout=20,
    )
    text = recorded_text(server, second["id"])
    # The new recording begins with a full snapshot that already shows what was added.
    assert '"type":4' in text.splitlines()[0] or '"type":2' in text
    assert "bravo" in text and "alpha" in text
