"""The recorder through a 30-second server outage, in real Chromium on the demo shop.

The server is stopped (connections refused) while the visitor keeps clicking, typing and
changing the page, then started again on the same data dir and port. The recorder backs off
(1 s, 2 s, 4 s, … between tries, not a request per batch), keeps its batches, and after the
outage every batch arrives once: the page view's seq numbers have no gap and no repeat, and
every change made during the outage is in the recording.

When more than ~5 MB waits (a longer outage, big pages), the recorder drops its oldest
batches: what it keeps stays bounded, and the newest changes arrive.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from footage.demo.account import ensure_demo
from footage.settings import Settings
from tests.browser.test_ingest_limits import recorded_text, until
from tests.conftest import LiveServer, free_port, settings_for, start_server, wait_for

pytestmark = pytest.mark.browser

OUTAGE_S = 30.0

# Every call of fetch to the ingest endpoint, with its time and outcome (status, or 0 for a
# network error), recorded in the page before footage.js loads.
LOG_FETCH = """
(() => {
  const log = (window.__ingest = []);
  const real = window.fetch.bind(window);
  window.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input.url;
    if (!url.endsWith('/api/v1/ingest')) return real(input, init);
    const entry = { t: performance.now(), status: null };
    log.push(entry);
    return real(input, init).then(
      (r) => { entry.status = r.status; return r; },
      (e) => { entry.status = 0; throw e; },
    );
  };
})();
"""


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Settings, list[LiveServer]]]:
    # The default heartbeat timeout (120 s): a recording must outlive a 30 s outage.
    settings = settings_for(
        tmp_path,
        port=free_port(),
        background=True,
        demo=True,
        leave_grace_seconds=1.0,
        heartbeat_timeout_seconds=120.0,
        finalizer_interval_seconds=0.2,
    )
    servers = [start_server(settings)]
    assert ensure_demo(settings, servers[0].services.db, servers[0].services.clock)
    yield settings, servers
    servers[-1].stop()


def mark(page: Any, marker: str) -> None:
    page.evaluate(
        """(marker) => {
            const p = document.createElement('p');
            p.textContent = marker;
            document.body.appendChild(p);
        }""",
        marker,
    )


def test_recorder_backs_off_through_an_outage_and_loses_nothing(browser, demo):
    settings, servers = demo
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(LOG_FETCH)
    page = context.new_page()
    page.goto(f"{servers[0].url}/demo/")
    page.wait_for_function("typeof window.footage === 'function' && !window.footage.q")
    page.mouse.move(300, 300)
    page.mouse.move(400, 350, steps=5)
    ok = "() => window.__ingest.filter((e) => e.status === 200).length"
    until(page, lambda: page.evaluate(ok) >= 1, timeout=15)

    servers[0].stop()  # connections refused from now on
    down_at = page.evaluate("performance.now()")
    markers = []
    buttons = page.locator("button.add")
    i = 0
    while (left := OUTAGE_S * 1000 - (page.evaluate("performance.now()") - down_at)) > 0:
        buttons.nth(i % buttons.count()).click()
        page.click("#search")
        page.keyboard.type("ja"[i % 2])
        page.keyboard.press("Backspace")  # every product shown again
        page.mouse.move(200 + 40 * (i % 10), 300 + 20 * (i % 7), steps=3)
        markers.append(f"outage-{chr(97 + i // 26)}{chr(97 + i % 26)}")  # no digits: masked
        mark(page, markers[-1])
        page.wait_for_timeout(min(1500, max(0, left - 300)))
        i += 1
    servers.append(start_server(settings))  # the same data dir and port
    up_at = page.evaluate("performance.now()")

    db = servers[-1].services.db
    rec = wait_for(lambda: db.one("SELECT id FROM recordings"), timeout=5)
    # The next try after the outage comes within the longest backoff (30 s).
    until(page, lambda: all(m in recorded_text(servers[-1], rec["id"]) for m in markers), 40)
    text = recorded_text(servers[-1], rec["id"])
    assert all(text.count(m) == 1 for m in markers)

    # Every batch once, none missing: one page view, seq 0…n-1.
    rows = db.all("SELECT page_id, seq FROM chunks WHERE recording_id = :r", {"r": rec["id"]})
    assert len({r["page_id"] for r in rows}) == 1
    assert sorted(r["seq"] for r in rows) == list(range(len(rows)))
    assert len(rows) >= 4  # batches every ~5 s through 30 s of activity

    # Backing off: during the outage a few tries with growing gaps (1 s, 2 s, 4 s, …), not one
    # per batch; every try failed, and the first after it succeeded.
    log = page.evaluate("window.__ingest")
    tries = [e for e in log if down_at <= e["t"] < up_at]
    assert tries and all(e["status"] == 0 for e in tries), tries
    assert 3 <= len(tries) <= 7, tries
    gaps = [(b["t"] - a["t"]) / 1000 for a, b in zip(tries, tries[1:], strict=False)]
    assert all(gap >= 0.9 for gap in gaps), gaps
    assert all(later >= 1.8 * earlier for earlier, later in zip(gaps, gaps[1:], strict=False)), gaps
    after = [e for e in log if e["t"] >= up_at]
    assert after and after[0]["status"] == 200, after
    assert all(e["status"] == 200 for e in after), after
    context.close()


def test_the_buffer_stays_bounded_when_the_server_is_away_longer(browser, demo):
    """Past ~5 MB waiting, the recorder drops its oldest batches (never unbounded memory)."""
    settings, servers = demo
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(LOG_FETCH)
    page = context.new_page()
    page.goto(f"{servers[0].url}/demo/")
    page.wait_for_function("typeof window.footage === 'function' && !window.footage.q")
    page.mouse.move(300, 300, steps=5)
    ok = "() => window.__ingest.filter((e) => e.status === 200).length"
    until(page, lambda: page.evaluate(ok) >= 1, timeout=15)

    servers[0].stop()
    # Eight changes of ~1 MB each: ~8 MB to keep, more than the recorder's ~5 MB.
    big = [f"big-{chr(97 + i)}" for i in range(8)]
    for marker in big:
        mark(page, marker + " " + "x" * 1_000_000)
        page.wait_for_timeout(200)
    page.wait_for_timeout(2000)
    servers.append(start_server(settings))

    db = servers[-1].services.db
    rec = wait_for(lambda: db.one("SELECT id FROM recordings"), timeout=5)
    # The newest change always arrives (retries: 1 s, 2 s, 4 s, … after the first failure).
    until(page, lambda: big[-1] in recorded_text(servers[-1], rec["id"]), 30)
    text = recorded_text(servers[-1], rec["id"])
    kept = [m for m in big if m + " " in text]
    dropped = [m for m in big if m not in kept]
    # The oldest went, the newest stayed, and what was kept fits in ~5 MB.
    assert dropped and kept, (kept, dropped)
    assert kept == big[len(big) - len(kept) :] or kept[1:] == big[len(big) - len(kept) + 1 :]
    rows = db.all(
        "SELECT seq, raw_bytes FROM chunks WHERE recording_id = :r AND seq > 0 ORDER BY seq",
        {"r": rec["id"]},
    )
    assert sum(r["raw_bytes"] for r in rows) <= 5 * 1024 * 1024 + 1_100_000
    seqs = [r["seq"] for r in rows]
    assert seqs == sorted(set(seqs))  # each once, in order
    context.close()
