"""Frustration signals end to end, in real Chromium: a visitor of the demo shop rage-clicks
"Add to cart" and clicks the heading, which does nothing; once the recording is finished, the
owner sees the counts in the list, finds it with the "Dead clicks" filter, sees both signals
on the player's timeline at the moments of those clicks, and finds the page in the Pages
report with its counts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import log_in, start_demo
from tests.conftest import LiveServer, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_server(tmp_path: Path, database_url: str) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    server, login = start_demo(tmp_path, database_url=database_url)
    yield server, login
    server.stop()


def wander(page: Any, ms: int) -> None:
    """The visitor looks around: the mouse moves, the page does not change."""
    for i in range(ms // 250):
        page.mouse.move(600 + (i % 4) * 40, 200 + (i % 3) * 30, steps=3)
        page.wait_for_timeout(250)


def frustrated_visit(browser: Any, base: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{base}/demo/")
    page.wait_for_function("typeof window.footage === 'function' && !window.footage.q")
    wander(page, 1000)
    # A click on the heading: nothing happens, and the visitor stays on the page.
    page.click("h1")
    wander(page, 2000)
    # Three quick clicks on one spot of "Add to cart": a rage click (the cart answers each).
    box = page.locator(".product .add").first.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for _ in range(3):
        page.mouse.click(x, y)
        page.wait_for_timeout(90)
    wander(page, 1500)
    page.close(run_before_unload=True)
    context.close()


def test_signals_in_the_list_the_filter_the_player_and_the_pages_report(
    browser: Any, demo_server: tuple[LiveServer, dict[str, str]], artifacts: Path
) -> None:
    server, login = demo_server
    frustrated_visit(browser, server.url)
    auth = {"Authorization": f"Bearer {login['api_token']}"}
    with server.client(headers=auth) as http:
        items = wait_for(lambda: http.get("/api/v1/recordings").json()["items"], timeout=40)
    rec = items[0]
    assert rec["rage_click_count"] >= 1 and rec["dead_click_count"] >= 1, rec

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    log_in(page, server.url, login)
    row = page.locator("table.recordings tbody tr").first
    assert page.locator("table.recordings tbody tr").count() == 1
    assert (
        row.locator(".tag[title^='Dead clicks']").inner_text() == f"{rec['dead_click_count']} dead"
    )
    assert "rage" in row.locator(".tag[title='Rage clicks']").inner_text()

    # The filter, as the owner sets it: the checkbox next to "Rage clicks".
    page.check("input[name=has_dead_clicks]")
    page.click("button:has-text('Show recordings')")
    page.wait_for_url("**has_dead_clicks=true**")
    assert page.locator(".play-link").count() == 1
    assert (
        page.locator("details:has(summary:has-text('More filters'))").get_attribute("open") is None
    )
    assert "Dead clicks: yes" in page.locator(".chips").inner_text()

    page.click(".play-link")
    page.wait_for_selector("#player[data-state=ready]", timeout=15_000)
    moments = page.locator(".moments li").all_inner_texts()
    assert moments and all("Dead click: Gear for your next trail" in m for m in moments)
    # The player opened at the dead click.
    start = int(page.get_attribute("#player", "data-start-ms") or 0)
    assert start > 500

    markers = page.evaluate("() => window.footagePlayer.markers")
    clicks = [m["time"] for m in markers if m["kind"] == "click"]
    dead = [m for m in markers if m["kind"] == "dead_click"]
    rage = [m for m in markers if m["kind"] == "rage_click"]
    assert len(dead) == rec["dead_click_count"] and len(rage) == rec["rage_click_count"]
    # On the player's own clock: each signal sits exactly on the click the player saw.
    for signal in dead + rage:
        assert min(abs(signal["time"] - t) for t in clicks) <= 1, (signal, clicks)
    assert dead[0]["time"] == start
    assert rage[0]["time"] > dead[0]["time"] + 2000

    marker = page.locator(".fp-markers .fp-signal-dead_click").first
    # Named by what the visitor saw; the selector is only in the tooltip's second line.
    label, selector = (marker.get_attribute("title") or "").split("\n")
    assert re.fullmatch(r"Dead click on “Gear for your next trail” at 0:0\d", label), label
    assert marker.get_attribute("aria-label") == label
    assert selector.startswith("body") and "h1" in selector, selector
    rage_marker = page.locator(".fp-markers .fp-signal-rage_click").first
    rage_label = rage_marker.get_attribute("aria-label") or ""
    assert re.fullmatch(r"Rage click on “Add to cart” at 0:\d\d", rage_label), rage_label
    assert "Rage click: Add to cart" in page.locator(".signals").inner_text()
    assert "add" in (
        page.locator(".signals [data-signal-kind=rage_click]").first.get_attribute("title") or ""
    )
    assert page.locator(".fp-markers .fp-signal-rage_click").count() == len(rage)
    legend = page.locator(".fp-signal-legend").inner_text()
    assert f"Dead clicks ({len(dead)})" in legend and f"Rage clicks ({len(rage)})" in legend
    # The side panel: the counts, and the signals as links that seek.
    counts = page.locator(".click-counts").inner_text()
    assert f"{rec['rage_click_count']} rage" in counts and f"{len(dead)} dead" in counts
    assert page.locator(".signals li").count() == len(dead) + len(rage)

    page.locator(".fp-markers .fp-signal-rage_click").first.click()
    wait_for(
        lambda: (
            abs(page.evaluate("() => window.footagePlayer.getCurrentTime()") - rage[0]["time"]) < 50
        ),
        timeout=5,
    )
    marker.hover()
    page.screenshot(path=str(artifacts / "player-signals.png"), full_page=True)

    page.click("nav a:has-text('Pages')")
    page.wait_for_url("**/pages")
    demo_page = page.locator("tr[data-page$='/demo']")
    assert demo_page.count() == 1
    dead_cell = demo_page.locator("td[data-signal=dead_clicks] a")
    assert dead_cell.inner_text() == str(rec["dead_click_count"])
    assert demo_page.locator("td[data-signal=rage_clicks] a").inner_text() == str(
        rec["rage_click_count"]
    )
    assert "/heatmaps?url=" in (demo_page.locator("td.page a").get_attribute("href") or "")
    page.screenshot(path=str(artifacts / "pages-report.png"), full_page=True)
    # Its dead-clicks count opens the list filtered to that page and that signal.
    dead_cell.click()
    page.wait_for_url("**has_dead_clicks=true**")
    assert page.locator(".play-link").count() == 1
    context.close()
